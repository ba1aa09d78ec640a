"""The demos in tab order: each module declares `DEMO = Demo(...)` (demos/tab.py); this list is all that app.py,
`--download`, the benchmarks and the System tab read."""

from demos import (
    attention,
    attention_steps,
    embeddings,
    evaluate,
    fill_mask,
    generate,
    pipeline_steps,
    qa,
    segment,
    sentiment,
    tokens,
    train_classifier,
    zero_shot,
)
from demos.tab import Demo

# The five task tabs, the tabs that look inside the models, then the notebooks' hands-on lessons.
DEMOS: list[Demo] = [
    module.DEMO
    for module in (
        sentiment,
        zero_shot,
        qa,
        generate,
        segment,
        tokens,
        fill_mask,
        embeddings,
        attention,
        attention_steps,
        pipeline_steps,
        evaluate,
        train_classifier,
    )
]
TASKS = {demo.task: demo for demo in DEMOS}
