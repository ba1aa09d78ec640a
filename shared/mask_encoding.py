"""What the segmentation tab sends back, encoded without Gradio: each mask as the palette PNG layer
gr.AnnotatedImage draws, the photo with the masks painted on and a legend below (the PNG download), the masks as COCO
RLE (the JSON download), and the folder those downloads are written to. Every colour comes from `segment_colour`."""

from __future__ import annotations

import colorsys
import io
import json

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.detr_panoptic import Segment
from shared.downloads import new_download_folder

# Gradio copies returned files into its own cache, so ours are only needed for a moment.
# zlib level for the mask layers: a two-colour layer compresses almost as well at 1 as at PIL's default 6.
MASK_PNG_COMPRESSION = 1
ANNOTATION_RED = "#ff0000"  # gr.AnnotatedImage's colour for a label not in its color_map
# The overlay's legend strip, in pixels: chip side, gaps, and the label text size.
LEGEND_CHIP = 16
LEGEND_GAP = 8
LEGEND_TEXT = 14


def mask_layer(mask: np.ndarray, colour: str = ANNOTATION_RED) -> Image.Image:
    """One mask as gr.AnnotatedImage draws it: `colour` (hex), opaque, inside the mask; clear outside. A two-entry
    palette with the outside transparent: the same RGBA pixels in a quarter of the bytes to compress."""
    digits = colour.lstrip("#")
    step = len(digits) // 3  # read as Gradio reads it, "#f00" included
    layer = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.astype(np.uint8).tobytes())
    layer.putpalette([0, 0, 0, *(int(digits[index : index + step], 16) for index in range(0, 3 * step, step))])
    layer.info["transparency"] = bytes([0, 255])
    return layer


def mask_png(mask: np.ndarray, colour: str = ANNOTATION_RED) -> bytes:
    """`mask_layer` as PNG bytes, at the fast zlib level."""
    with io.BytesIO() as buffer:
        mask_layer(mask, colour).save(buffer, format="png", compress_level=MASK_PNG_COMPRESSION)
        return buffer.getvalue()


def table_rows(segments: list[Segment]) -> list[list]:
    """Per segment: its label, score (4 places) and area in % of the photo (2 places), for the table and the JSON."""
    return [
        [segment.label, round(segment.score, 4), round(100 * float(segment.mask.mean()), 2)] for segment in segments
    ]


def segment_colour(index: int) -> tuple[int, int, int]:
    """The colour of the n-th segment (0 is the best-scoring), the one palette of the tab: the masks on the page,
    their legend chips, the overlay PNG and its legend all take it from here. Golden-angle hues keep neighbours
    apart however many segments there are."""
    hue = (index * 137.508) % 360 / 360
    return tuple(round(255 * channel) for channel in colorsys.hsv_to_rgb(hue, 0.75, 0.95))


def segment_hex(index: int) -> str:
    """`segment_colour` as a CSS hex colour, "#rrggbb"."""
    return "#{:02x}{:02x}{:02x}".format(*segment_colour(index))


def painted(image: Image.Image, segments: list[Segment], opacity: float = 0.5) -> Image.Image:
    """The photo with each segment's mask painted in its colour."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    for index, segment in enumerate(segments):
        colour = np.array(segment_colour(index), dtype=np.float32)
        pixels[segment.mask] = (1 - opacity) * pixels[segment.mask] + opacity * colour
    return Image.fromarray(pixels.round().astype(np.uint8))


def legend_entries(labels: list[str], width: int) -> list[tuple[int, int, str]]:
    """Where each label's chip goes in a legend `width` pixels wide, as (x, y, label) of the chip's top-left corner:
    left to right, wrapping to a new row when the next entry would not fit."""
    font = ImageFont.load_default(size=LEGEND_TEXT)
    row_height = LEGEND_CHIP + LEGEND_GAP
    entries, x, y = [], LEGEND_GAP, LEGEND_GAP
    for label in labels:
        entry_width = LEGEND_CHIP + LEGEND_GAP // 2 + round(font.getlength(label)) + 2 * LEGEND_GAP
        if x > LEGEND_GAP and x + entry_width > width:
            x, y = LEGEND_GAP, y + row_height
        entries.append((x, y, label))
        x += entry_width
    return entries


def legend_strip(labels: list[str], width: int) -> Image.Image:
    """A white strip `width` pixels wide with a colour chip (`segment_colour`) and the label of each segment."""
    entries = legend_entries(labels, width)
    height = (entries[-1][1] if entries else 0) + LEGEND_CHIP + LEGEND_GAP
    strip = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default(size=LEGEND_TEXT)
    for index, (x, y, label) in enumerate(entries):
        draw.rectangle((x, y, x + LEGEND_CHIP - 1, y + LEGEND_CHIP - 1), fill=segment_colour(index))
        text_at = (x + LEGEND_CHIP + LEGEND_GAP // 2, y + LEGEND_CHIP // 2)
        draw.text(text_at, label, fill="black", font=font, anchor="lm")
    return strip


def overlay(image: Image.Image, segments: list[Segment], opacity: float = 0.5) -> Image.Image:
    """The downloadable PNG: the photo with the masks painted on (`painted`) and, below it, a legend strip with each
    segment's colour chip and label. Without segments it is the photo alone."""
    photo = painted(image, segments, opacity)
    if not segments:
        return photo
    strip = legend_strip([segment.label for segment in segments], photo.width)
    combined = Image.new("RGB", (photo.width, photo.height + strip.height), "white")
    combined.paste(photo, (0, 0))
    combined.paste(strip, (0, photo.height))
    return combined


def mask_rle(mask: np.ndarray) -> dict:
    """A boolean HxW mask as COCO's uncompressed RLE: run lengths over the pixels in column-major order, starting
    with a run of background (pycocotools' `frPyObjects` reads it as is)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def rle_mask(rle: dict) -> np.ndarray:
    """The inverse of `mask_rle`, for scripts reading the JSON download."""
    height, width = rle["size"]
    values = np.arange(len(rle["counts"])) % 2 == 1
    flat = np.repeat(values, rle["counts"])
    return flat.reshape((height, width), order="F")


def segments_record(
    segments: list[Segment], image: Image.Image, model_id: str, threshold: float, overlap_mask_area_threshold: float
) -> dict:
    """What the JSON download holds: the settings, and per segment its label, score, area, colour (on the page and
    in the PNG overlay), and mask as RLE."""
    return {
        "model_id": model_id,
        "width": image.width,
        "height": image.height,
        "threshold": threshold,
        "overlap_mask_area_threshold": overlap_mask_area_threshold,
        "mask_encoding": "COCO uncompressed RLE (column-major run lengths, background first)",
        "segments": [
            {
                "label": label,
                "score": score,
                "area_percent": area,
                "colour": list(segment_colour(index)),
                "mask": mask_rle(segment.mask),
            }
            for index, (segment, (label, score, area)) in enumerate(zip(segments, table_rows(segments), strict=True))
        ],
    }


def save_downloads(overlay_image: Image.Image, record: dict) -> tuple[str, str]:
    """Write the PNG overlay and the JSON into a fresh directory (Gradio copies them into its own cache); folders
    from earlier requests are removed once they are ten minutes old."""
    folder = new_download_folder("segments")
    png, data = folder / "segments.png", folder / "segments.json"
    # Fast deflate: `optimize=True` saves a few per cent of the size for many times the time.
    overlay_image.save(png, compress_level=1)
    data.write_text(json.dumps(record))
    return str(png), str(data)
