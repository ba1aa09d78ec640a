"""What the segmentation tab sends back: masks as COCO RLE, the painted overlay, and the downloads folder kept
small."""

from __future__ import annotations

import os
import time

import numpy as np
from PIL import Image

from shared import downloads, mask_encoding
from shared.detr_panoptic import Segment


def test_mask_rle_round_trips_and_counts_background_first():
    mask = np.array([[1, 0, 0], [1, 1, 0]], dtype=bool)
    rle = mask_encoding.mask_rle(mask)
    assert rle == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}  # column-major: 1,1 | 0,1 | 0,0
    assert np.array_equal(mask_encoding.rle_mask(rle), mask)
    empty = np.zeros((4, 5), dtype=bool)
    assert mask_encoding.mask_rle(empty)["counts"] == [20]
    assert np.array_equal(mask_encoding.rle_mask(mask_encoding.mask_rle(empty)), empty)


def test_overlay_paints_each_segment_and_leaves_the_rest_alone():
    image = Image.new("RGB", (4, 2), (0, 0, 0))
    mask = np.zeros((2, 4), dtype=bool)
    mask[:, :2] = True
    painted = np.asarray(mask_encoding.painted(image, [Segment("cup", 0.9, mask)], opacity=1.0))
    assert tuple(painted[0, 0]) == mask_encoding.segment_colour(0) and tuple(painted[1, 3]) == (0, 0, 0)


def test_the_palette_gives_neighbouring_segments_distinct_colours_in_rgb_and_hex():
    colours = [mask_encoding.segment_colour(index) for index in range(100)]
    assert len(set(colours)) == 100
    assert mask_encoding.segment_hex(0) == "#{:02x}{:02x}{:02x}".format(*colours[0])
    for first, second in zip(colours, colours[1:], strict=False):
        assert sum(abs(a - b) for a, b in zip(first, second, strict=True)) > 60


def test_the_overlay_has_a_legend_strip_with_each_segment_in_its_mask_colour():
    photo = Image.new("RGB", (200, 120), (128, 128, 128))
    masks = [np.zeros((120, 200), dtype=bool) for _ in range(3)]
    for index, mask in enumerate(masks):
        mask[:, 60 * index : 60 * index + 50] = True
    segments = [Segment(label, 0.9, mask) for label, mask in zip(["sky", "person #1", "person #2"], masks, strict=True)]
    drawn = mask_encoding.overlay(photo, segments, opacity=0.5)
    assert drawn.width == 200 and drawn.height > 120
    pixels = np.asarray(drawn)
    for index, (x, y, label) in enumerate(mask_encoding.legend_entries([s.label for s in segments], 200)):
        colour = mask_encoding.segment_colour(index)
        # The chip in the legend is the colour; the mask on the photo is the colour laid half over grey.
        assert tuple(pixels[120 + y + 2, x + 2]) == colour, label
        blended = tuple(round(0.5 * 128 + 0.5 * channel) for channel in colour)
        assert np.abs(pixels[60, 60 * index + 25].astype(int) - blended).max() <= 1, label
    # The labels are written beside the chips: dark pixels in the strip.
    assert (pixels[120:].min(axis=2) < 80).sum() > 50


def test_the_legend_wraps_to_new_rows_within_the_width():
    labels = [f"label number {index}" for index in range(12)]
    entries = mask_encoding.legend_entries(labels, 300)
    rows = sorted({y for _, y, _ in entries})
    assert len(rows) > 2
    assert all(0 < x < 300 for x, _, _ in entries)
    assert mask_encoding.legend_strip(labels, 300).height > rows[-1]


def test_the_overlay_without_segments_is_the_photo():
    photo = Image.new("RGB", (20, 10), (1, 2, 3))
    assert mask_encoding.overlay(photo, []).size == (20, 10)


def test_the_page_css_colours_each_legend_chip_as_its_mask():
    from demos import layout

    css = layout.segment_chips_css(3)
    for index in range(3):
        assert f"nth-child({index + 1}) {{ background-color: {mask_encoding.segment_hex(index)} !important" in css
    assert "img.mask { filter: none" in css


def test_download_folders_older_than_the_limit_are_removed(tmp_path):
    old, recent = tmp_path / "segments-old", tmp_path / "segments-recent"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "segments.json").write_text("{}")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    downloads.remove_old_downloads(tmp_path, max_age_seconds=600)
    assert not old.exists() and recent.exists()
