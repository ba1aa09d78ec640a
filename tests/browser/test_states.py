"""What the page says after a visitor acts: Stop says where the text stopped and with which seed, an error takes
away the earlier answer's "Served by …" line, and the System table and the sampling sliders fit the screen."""

from __future__ import annotations

import re
import time

import pytest

from demos import generate
from demos.tab import Tab
from tests.browser.tabs import open_tab
from tests.helpers import slowed_without_end

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


@pytest.fixture
def slow_generation(runtime):
    """The app's GPT-2 stand-in slowed down and without an end token, so a long generation is still running when
    the test presses Stop."""
    with Tab(generate.DEMO, runtime).model(None) as served:
        gpt2 = served.model
    with slowed_without_end(gpt2.bundle.model, gpt2.tokenizer.eos_token_id, seconds_per_pass=0.05):
        yield


def set_slider(panel, label: str, value: str) -> None:
    box = panel.get_by_label(f"number input for {label}")
    box.fill(value)
    box.press("Tab")


def test_stop_says_it_stopped_after_how_many_tokens_and_with_which_seed(page, slow_generation):
    panel = open_tab(page, "Text generation")
    set_slider(panel, "max_new_tokens", "512")
    panel.get_by_label("seed").fill("4242")
    panel.get_by_role("button", name="Generate").click()
    status = panel.get_by_text(re.compile(r"^Served by .* · sampling · seed 4242 · \d+ new tokens · generating…$"))
    expect(status).to_be_visible()
    page.wait_for_timeout(500)  # a few more tokens
    panel.get_by_role("button", name="Stop").click()

    stopped = panel.get_by_text(re.compile(r"sampling · seed 4242 · (\d+) new tokens · stopped$"))
    expect(stopped).to_be_visible()
    new_tokens = int(re.search(r"(\d+) new tokens", stopped.inner_text()).group(1))
    assert 0 < new_tokens < 512
    output = panel.locator("textarea[disabled]").first  # the generated text (read-only)
    text = output.input_value()
    assert text.startswith(generate.PROMPT) and len(text) > len(generate.PROMPT)
    page.wait_for_timeout(1000)  # nothing the server sent before it stopped writes "generating…" back
    expect(stopped).to_be_visible()
    assert output.input_value() == text


def eventually(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def served_by_lines(panel) -> int:
    return panel.inner_text().count("Served by")


def test_an_error_takes_away_the_previous_answers_served_by_line(page):
    panel = open_tab(page, "Sentiment")
    text = panel.get_by_label("Text")
    text.fill("I loved this film.")
    panel.get_by_role("button", name="Classify").click()
    expect(panel.get_by_text(re.compile(r"^Served by "))).to_be_visible(timeout=30_000)  # a first use loads the model
    text.fill("")
    panel.get_by_role("button", name="Classify").click()
    expect(page.locator(".toast-body").first).to_be_visible()
    expect(panel.get_by_text(re.compile(r"^Served by "))).to_have_count(0)

    # A tab with two endpoints: the one that failed loses its line, the other keeps its own.
    panel = open_tab(page, "Tokens")
    panel.get_by_label("Text").first.fill("Hello there")
    panel.get_by_role("button", name="Tokenize").click()
    ids = panel.get_by_label("Token ids")
    ids.fill("101, 102")
    panel.get_by_role("button", name="Decode").click()
    expect(panel.get_by_label("Text without special tokens")).not_to_have_value("")
    assert served_by_lines(panel) == 4  # one per tokenizer compared, and the decoder's
    ids.fill("")
    panel.get_by_role("button", name="Decode").click()
    assert eventually(lambda: served_by_lines(panel) == 3), panel.inner_text()  # the comparison's lines stay


def test_the_next_token_summary_names_greedys_token_by_its_bar_and_its_id(page):
    panel = open_tab(page, "Text generation")
    panel.get_by_role("button", name=re.compile(r"^Next-token odds")).click()
    panel.get_by_role("button", name="Show next-token odds").click()
    summary = panel.get_by_text(re.compile(r"Greedy decoding would take"))
    expect(summary).to_be_visible(timeout=30_000)  # a first use loads the model
    chosen = re.search(r"the first bar: (.+?) \(token id (\d+)\)\.", summary.inner_text())
    assert chosen, summary.inner_text()
    first_bar = panel.locator(".vega-embed text").filter(has_text=re.compile(r"^1\. .+ · raw$")).first
    expect(first_bar).to_have_text(f"1. {chosen.group(1)} · raw")


def test_the_system_table_shows_every_column_on_a_laptop_and_scrolls_on_a_phone(open_page):
    for width, height in ((1280, 900), (390, 844)):
        page = open_page(width, height)
        panel = open_tab(page, "Sentiment")
        panel.get_by_label("Text").fill("I loved this film.")
        panel.get_by_role("button", name="Classify").click()
        expect(panel.get_by_text(re.compile(r"^Served by "))).to_be_visible()
        panel = open_tab(page, "System")
        last_header = panel.locator("th").filter(has_text="served by").first
        expect(last_header).to_be_visible()
        viewport = panel.locator(".virtual-table-viewport").first
        header, table_box = last_header.bounding_box(), viewport.bounding_box()
        if width == 1280:
            assert header["x"] + header["width"] <= table_box["x"] + table_box["width"] + 1, (header, table_box)
        else:
            viewport.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
            page.wait_for_timeout(200)
            header = last_header.bounding_box()
            assert (
                table_box["x"] <= header["x"]
                and header["x"] + header["width"] <= table_box["x"] + table_box["width"] + 1
            ), (header, table_box)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_sampling_sliders_each_get_room_for_their_label_and_box(open_page, width):
    page = open_page(width, 900)
    panel = open_tab(page, "Text generation")
    for label in ("temperature", "top_k", "top_p"):
        block = panel.get_by_label(f"number input for {label}").locator(
            "xpath=ancestor::div[contains(@class, 'block')][1]"
        )
        assert block.bounding_box()["width"] >= generate.SLIDER_WIDTH - 1, label
