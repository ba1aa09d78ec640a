"""What every demo needs and none owns: device choice, the model cache, stand-in models, limits and user errors.

Nothing here imports gradio or `demos/`; the demos import this package.
"""
