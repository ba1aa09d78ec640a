"""CSS for the layout of single tabs, added to the page by app.py: the question-answering highlight that wraps between
words, the attention heatmaps, and the segmentation masks and legend chips in the colours of
`shared.mask_encoding.segment_colour`."""

from __future__ import annotations

from shared.mask_encoding import segment_hex

# DETR asks 100 object queries, so a photo has at most 100 segments.
MAX_LEGEND_CHIPS = 100

ANSWER_IN_CONTEXT = """
/* Question answering: the context flows as running text and wraps between words. Gradio's HighlightedText lays
   each piece out as its own flex box with `word-break: break-all`, which cut words ("e / ngineer") at any letter. */
.answer-in-context .textfield { display: block; word-break: normal; overflow-wrap: break-word; }
.answer-in-context .token-container { display: inline; }
"""


def relative_luminance(hex_colour: str) -> float:
    """WCAG's relative luminance of "#rrggbb"."""
    channels = [int(hex_colour[index : index + 2], 16) / 255 for index in (1, 3, 5)]
    red, green, blue = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def text_colour_on(hex_colour: str) -> str:
    """Black or white, whichever contrasts more with the background `hex_colour` (at least 4.58:1 either way)."""
    luminance = relative_luminance(hex_colour)
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


def segment_chips_css(count: int = MAX_LEGEND_CHIPS) -> str:
    """The segmentation tab in one palette: masks shown in the colours they are sent in (Gradio would hue-rotate a
    mask whose label has no `color_map` entry), and the n-th legend chip in the n-th segment's colour, opaque (Gradio
    draws chips translucent, which leaves some labels illegible in the dark theme) with black or white text, whichever
    contrasts more with it."""
    rules = [".segments-image img.mask { filter: none !important; }"]
    chip = ".segments-image .legend-item:nth-child({}) {{ background-color: {} !important; color: {} !important; }}"
    rules += [chip.format(index + 1, segment_hex(index), text_colour_on(segment_hex(index))) for index in range(count)]
    return "\n".join(rules) + "\n"


CSS = ANSWER_IN_CONTEXT + segment_chips_css()
