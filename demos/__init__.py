"""The demos in tab order: each module declares `DEMO = Demo(...)` (demos/tab.py)."""

from types import ModuleType

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


def _described(module: ModuleType) -> Demo:
    # Transitional: modules not yet converted to `DEMO` are described from their old constants.
    if hasattr(module, "DEMO"):
        return module.DEMO
    return Demo(
        task=module.TASK,
        title=module.TITLE,
        description=module.DESCRIPTION,
        models=tuple(module.MODELS),
        loader=module.LOADER,
        build_tab=lambda tab: module.build_tab(tab.runtime),
        default_model_ids=getattr(module, "default_model_ids", lambda choices: [choices[0].model_id]),
    )


# The five task tabs, then the tabs that look inside the models.
DEMOS: list[Demo] = [
    _described(module)
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
