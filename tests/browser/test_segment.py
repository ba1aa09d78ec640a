"""The Panoptic segmentation tab in one palette: each segment's mask on the page, its legend chip and its colour in
the downloaded overlay (on the photo and in the overlay's own legend) agree; the downloads are offered only while
there is a result for the photo shown; a file that is not an image is answered at upload."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from demos import TASKS, segment
from demos.common import NOT_AN_IMAGE
from shared.mask_encoding import segment_colour
from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect

PHOTO = segment.EXAMPLE_PHOTOS[2]


def segment_photo(page, photo=PHOTO):
    panel = open_tab(page, TASKS["segment"].title)
    panel.locator("input[type=file]").first.set_input_files(str(photo))
    expect(panel.get_by_test_id("image").locator(".image-frame img")).to_be_visible()
    panel.get_by_role("button", name="Segment", exact=True).click()
    expect(panel.get_by_text(re.compile(r"\d+ segments\."))).to_be_visible(timeout=60_000)
    return panel


def downloads(panel):
    return [panel.get_by_role("button", name=name) for name in ("Download overlay (PNG)", "Download segments (JSON)")]


def rgb(css_colour: str) -> tuple[int, int, int]:
    return tuple(int(part) for part in re.findall(r"[\d.]+", css_colour)[:3])


def test_masks_legend_chips_and_the_overlay_share_one_palette(page, tmp_path):
    panel = open_tab(page, TASKS["segment"].title)
    for button in downloads(panel):
        expect(button).to_be_disabled()  # nothing to download yet
    panel = segment_photo(page)
    masks, chips = panel.locator(".segments-image img.mask"), panel.locator(".segments-image .legend-item")
    count = masks.count()
    assert count >= 3
    expect(chips).to_have_count(count)
    labels = [chip.inner_text().strip() for chip in chips.all()]

    photo = np.asarray(segment.fit_image(Image.open(PHOTO)), dtype=int)
    with page.expect_download() as download:
        downloads(panel)[0].click()
    overlay = np.asarray(Image.open(download.value.path()).convert("RGB"), dtype=int)
    on_photo, legend = overlay[: photo.shape[0]], overlay[photo.shape[0] :]
    legend_colours = {tuple(pixel) for pixel in legend.reshape(-1, 3).tolist()}

    for index, (mask, chip) in enumerate(zip(masks.all(), chips.all(), strict=True)):
        colour = segment_colour(index)
        assert mask.evaluate("element => getComputedStyle(element).filter") == "none", "the page recolours the mask"
        layer = np.asarray(Image.open(io.BytesIO(page.request.get(mask.get_attribute("src")).body())).convert("RGBA"))
        inside = layer[..., 3] == 255
        assert inside.any()
        assert {tuple(pixel) for pixel in layer[inside][:, :3].tolist()} == {colour}, labels[index]
        assert rgb(chip.evaluate("element => getComputedStyle(element).backgroundColor")) == colour, labels[index]
        # The overlay lays the same colour half over the photo, and its legend strip has the colour's chip.
        expected = (photo[inside] + np.array(colour)) / 2
        assert np.abs(on_photo[inside] - expected).max() <= 1, labels[index]
        assert colour in legend_colours, labels[index]


def test_downloads_are_withdrawn_after_an_error(page):
    panel = segment_photo(page)
    for button in downloads(panel):
        expect(button).to_be_enabled()
    panel.get_by_role("button", name="Remove Image").first.click()  # no photo: Segment answers with an error
    panel.get_by_role("button", name="Segment", exact=True).click()
    expect(page.get_by_text("Upload an image").first).to_be_visible()
    for button in downloads(panel):
        expect(button).to_be_disabled()


def test_a_file_that_is_not_an_image_is_answered_at_upload(page, tmp_path):
    panel = segment_photo(page)
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"a JPEG's first bytes, then text" * 20)  # past the upload filter
    panel.locator("input[type=file]").first.set_input_files(str(broken))
    expect(page.get_by_text(NOT_AN_IMAGE).first).to_be_visible()  # before anyone presses Segment
    for button in downloads(panel):
        expect(button).to_be_disabled()
    expect(panel.get_by_test_id("image").locator(".image-frame img")).to_have_count(0)  # no broken picture
