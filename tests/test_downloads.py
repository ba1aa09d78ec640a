"""Files a visitor downloads are never seen half written, even while an identical answer rewrites them, and pruning
old download folders survives a folder vanishing under it."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gradio import processing_utils
from PIL import Image

from demos.segment import cached_png
from gradio_defences import whole_cache_writes
from shared import downloads

REWRITES = 300


def noise_image(side: int = 96) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def reads_while_rewritten(write: Callable[[], str], expected: bytes) -> list[int]:
    """Write the same answer `REWRITES` times while another thread keeps downloading it; the sizes of the reads that
    came back short."""
    path = Path(write())
    stop, short = threading.Event(), []

    def download() -> None:
        while not stop.is_set():
            with path.open("rb") as file:
                data = file.read()
            if data != expected:
                short.append(len(data))

    reader = threading.Thread(target=download)
    reader.start()
    try:
        for _ in range(REWRITES):
            assert write() == str(path)
    finally:
        stop.set()
        reader.join()
    return short


def test_a_mask_rewritten_by_an_identical_answer_is_never_read_short(tmp_path):
    data = png_bytes(noise_image())
    assert reads_while_rewritten(lambda: cached_png(data, str(tmp_path)), data) == []


@pytest.mark.parametrize("format", ["webp", "png"])
def test_gradio_image_outputs_rewritten_by_an_identical_answer_are_never_read_short(tmp_path, format):
    whole_cache_writes()
    image = noise_image()
    expected = processing_utils.encode_pil_to_bytes(image, format)
    write = lambda: processing_utils.save_pil_to_cache(image, str(tmp_path), format=format)  # noqa: E731
    assert reads_while_rewritten(write, expected) == []


def test_gradio_bytes_outputs_rewritten_by_an_identical_answer_are_never_read_short(tmp_path):
    whole_cache_writes()
    data = png_bytes(noise_image())
    write = lambda: processing_utils.save_bytes_to_cache(data, "mask.png", str(tmp_path))  # noqa: E731
    assert reads_while_rewritten(write, data) == []


def test_pruning_downloads_skips_a_folder_that_vanished_after_listing(tmp_path):
    # Two answers prune at once: one lists a folder the other has just removed (a dangling link stands for it).
    (tmp_path / "segments-gone").symlink_to(tmp_path / "removed-meanwhile")
    (tmp_path / "segments-recent").mkdir()
    downloads.remove_old_downloads(tmp_path, max_age_seconds=600)
    assert (tmp_path / "segments-recent").exists()
