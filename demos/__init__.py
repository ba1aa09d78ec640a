"""The demos in tab order: each module declares `DEMO = Demo(...)` (demos/tab.py); this list is all that app.py,
`--download`, the benchmarks and the System tab read."""

from demos import attention, embeddings, fill_mask, generate, qa, segment, sentiment, tokens, zero_shot
from demos.tab import Demo

# The five task tabs, then the tabs that look inside the models.
DEMOS: list[Demo] = [
    module.DEMO for module in (sentiment, zero_shot, qa, generate, segment, tokens, fill_mask, embeddings, attention)
]
TASKS = {demo.task: demo for demo in DEMOS}
