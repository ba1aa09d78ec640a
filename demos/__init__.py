"""The demos in tab order. Each module declares TASK, TITLE, MODELS, LOADER and `build_tab(runtime)`."""

from demos import attention, embeddings, fill_mask, generate, qa, segment, sentiment, tokens, zero_shot

# The five task tabs, then the tabs that look inside the models.
DEMOS = [sentiment, zero_shot, qa, generate, segment, tokens, fill_mask, embeddings, attention]
TASKS = {demo.TASK: demo for demo in DEMOS}
