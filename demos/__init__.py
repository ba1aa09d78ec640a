"""The demos in tab order. Each module declares TASK, TITLE, MODELS, LOADER and `build_tab(runtime)`."""

from demos import generate, qa, segment, sentiment, zero_shot

DEMOS = [sentiment, zero_shot, qa, generate, segment]
TASKS = {demo.TASK: demo for demo in DEMOS}
