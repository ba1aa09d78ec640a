"""CSS for the layout of single tabs, added to the page by app.py: the question-answering highlight that wraps between
words, the attention heatmaps, and the segmentation masks and legend chips in the colours of
`shared.mask_encoding.segment_colour`."""

from __future__ import annotations

ANSWER_IN_CONTEXT = """
/* Question answering: the context flows as running text and wraps between words. Gradio's HighlightedText lays
   each piece out as its own flex box with `word-break: break-all`, which cut words ("e / ngineer") at any letter. */
.answer-in-context .textfield { display: block; word-break: normal; overflow-wrap: break-word; }
.answer-in-context .token-container { display: inline; }
"""


CSS = ANSWER_IN_CONTEXT
