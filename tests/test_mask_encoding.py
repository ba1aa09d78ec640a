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
    painted = np.asarray(mask_encoding.overlay(image, [Segment("cup", 0.9, mask)], opacity=1.0))
    assert tuple(painted[0, 0]) == mask_encoding.segment_colour(0) and tuple(painted[1, 3]) == (0, 0, 0)


def test_download_folders_older_than_the_limit_are_removed(tmp_path):
    old, recent = tmp_path / "segments-old", tmp_path / "segments-recent"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "segments.json").write_text("{}")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    downloads.remove_old_downloads(tmp_path, max_age_seconds=600)
    assert not old.exists() and recent.exists()
