"""Each tab driven as a visitor drives it, in headless Chromium; each test saves the screenshot the README shows."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from demos import DEMOS, generate, segment
from demos.tab import Tab
from shared.generation import running_generations
from tests.browser.tabs import open_tab, tab_names

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect

TAB_NAMES = [demo.title for demo in DEMOS]


def test_the_page_has_the_suite_title_header_and_a_tab_per_task(page):
    assert page.title() == "Transformers demo suite"
    assert page.get_by_role("heading", name="Transformers demo suite").is_visible()
    assert tab_names(page) == [*TAB_NAMES, "System"]


def test_sentiment_shows_the_label_and_a_row_per_line(page, screenshot):
    panel = open_tab(page, "Sentiment")
    panel.get_by_label("Text").fill("I loved this film.\nThe ending was a letdown.")
    panel.get_by_role("button", name="Classify").click()
    label = panel.get_by_test_id("label-output-value")
    label.wait_for()
    assert label.inner_text().strip() in {"POSITIVE", "NEGATIVE"}  # the stand-in's SST-2 labels
    panel.get_by_test_id("cell-1-0").wait_for()
    assert panel.get_by_test_id("cell-1-0").inner_text().strip() == "The ending was a letdown."
    assert "Served by" in panel.inner_text()
    screenshot(page, "sentiment")


def test_an_example_fills_the_zero_shot_tab(page, screenshot):
    panel = open_tab(page, "Zero-shot classification")
    panel.get_by_text("I need to go to the bank to make a deposit.").first.click()
    expect(panel.get_by_label("Text").first).to_have_value("I need to go to the bank to make a deposit.")
    panel.get_by_role("button", name="Classify").click()
    panel.get_by_test_id("label-output-value").wait_for()
    assert panel.get_by_test_id("label-output-value").inner_text().strip() in {"finance", "geography", "sports"}
    screenshot(page, "zero_shot")


def test_question_answering_highlights_the_answer(page, screenshot):
    panel = open_tab(page, "Question answering")
    panel.get_by_text("Where did I leave the keys?").first.click()
    expect(panel.get_by_label("Question").first).to_have_value("Where did I leave the keys?")
    panel.get_by_role("button", name="Answer", exact=True).click()
    page.wait_for_function("() => document.body.innerText.includes('Served by')")
    assert "fruit bowl" in panel.inner_text()
    screenshot(page, "qa")


def test_segmentation_of_an_uploaded_photo_shows_masks_a_table_and_downloads(page, screenshot, tmp_path):
    panel = open_tab(page, "Panoptic segmentation")
    panel.get_by_test_id("image").get_by_test_id("file-upload").set_input_files(str(segment.EXAMPLE_PHOTOS[1]))
    panel.get_by_role("button", name="Segment", exact=True).click()
    status = panel.get_by_text(re.compile(r"\d+ segments\. Served by"))
    status.wait_for()
    rows = int(status.inner_text().split()[0])
    assert rows >= 3
    expect(panel.locator("img.mask")).to_have_count(rows)  # one mask over the photo per segment
    # ...each decoded by the browser at the photo's size (the masks are palette PNGs with a transparent entry)
    sizes = panel.locator("img.mask").evaluate_all(
        "masks => Promise.all(masks.map(m => m.decode().then(() => [m.naturalWidth, m.naturalHeight])))"
    )
    with Image.open(segment.EXAMPLE_PHOTOS[1]) as photo:
        assert sizes == [list(photo.size)] * rows
    panel.get_by_test_id(f"cell-{rows - 1}-0").wait_for()  # and one table row
    screenshot(page, "segment")

    with page.expect_download() as download:
        panel.get_by_role("button", name="Download overlay (PNG)").click()
    overlay = tmp_path / "overlay.png"
    download.value.save_as(overlay)
    with Image.open(overlay) as picture, Image.open(segment.EXAMPLE_PHOTOS[1]) as photo:
        # The photo's size, and below it the legend strip
        assert picture.format == "PNG" and picture.width == photo.width and picture.height > photo.height
    with page.expect_download() as download:
        panel.get_by_role("button", name="Download segments (JSON)").click()
    record = json.loads(Path(download.value.path()).read_text())
    assert len(record["segments"]) == rows


@pytest.fixture
def slow_generation(runtime):
    """The tiny GPT-2 stand-in, slowed to at least 30 ms a token, so that a 512-token run lasts over 15 s and Stop
    lands mid-run even when a busy machine makes the page lag the server by seconds."""
    with Tab(generate.DEMO, runtime).model(None) as served:
        hook = served.model.bundle.model.register_forward_pre_hook(lambda module, args: time.sleep(0.03))
        yield
        hook.remove()


def test_generation_streams_and_stop_ends_it(page, screenshot, slow_generation):
    panel = open_tab(page, "Text generation")
    panel.get_by_label("greedy").check()
    panel.get_by_test_id("number-input").first.fill("512")  # max_new_tokens
    panel.get_by_test_id("number-input").first.press("Enter")
    output = panel.locator("label", has_text="Generated text").locator("textarea")
    panel.get_by_role("button", name="Generate").click()
    seen = []
    deadline = time.monotonic() + 30
    while len({text for text in seen if text}) < 3 and time.monotonic() < deadline:
        seen.append(output.input_value())
    grown = [text for text in seen if text]
    assert len(set(grown)) >= 3, "the text did not stream in"
    assert all(later.startswith(earlier) for earlier, later in zip(grown, grown[1:], strict=False))
    assert running_generations() == 1
    panel.get_by_role("button", name="Stop").click()
    deadline = time.monotonic() + 10
    while running_generations() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_generations() == 0, "the generation still runs on the server after Stop"
    stopped = output.input_value()
    page.wait_for_timeout(1000)
    assert output.input_value() == stopped, "the text kept growing after Stop"
    assert "512 new tokens" not in panel.inner_text(), "the generation ran to the end"
    screenshot(page, "generate")


def test_the_decoding_strategy_greys_out_the_settings_it_ignores(page):
    panel = open_tab(page, "Text generation")
    setting = {name: panel.get_by_label(f"number input for {name}") for name in ("temperature", "num_beams", "top_k")}
    expect(setting["temperature"]).to_be_enabled()
    expect(setting["num_beams"]).to_be_disabled()
    panel.get_by_label("beam search", exact=True).check()
    expect(setting["temperature"]).to_be_disabled()
    expect(setting["num_beams"]).to_be_enabled()
    panel.get_by_label("greedy", exact=True).check()
    expect(setting["num_beams"]).to_be_disabled()
    expect(panel.get_by_label("number input for max_new_tokens")).to_be_enabled()
    panel.get_by_label("sampling", exact=True).check()
    expect(setting["top_k"]).to_be_enabled()
    expect(setting["num_beams"]).to_be_disabled()


def test_system_tab_lists_the_device_and_the_loaded_models(page, screenshot):
    panel = open_tab(page, "System")
    page.wait_for_function("() => document.body.innerText.includes('cpu')")
    panel.get_by_test_id("cell-0-0").wait_for()
    assert "cpu" in panel.inner_text()
    screenshot(page, "system")
