"""The Attention tab as a teacher uses it: the "flies" example, two heatmaps (one above the other) and the focus word's
bars."""

from __future__ import annotations

import pytest

from demos import TASKS, attention
from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_the_flies_example_shows_two_heatmaps_and_where_flies_looks(page, screenshot):
    panel = open_tab(page, TASKS["attention"].title)
    sentence_a, sentence_b, focus_word, layer, head = attention.EXAMPLES[0]
    panel.get_by_text(sentence_b).first.click()  # the example row
    expect(panel.get_by_label("Sentence A").first).to_have_value(sentence_a)
    expect(panel.get_by_label("Sentence B (optional)").first).to_have_value(sentence_b)
    expect(panel.get_by_label("Focus word (optional)").first).to_have_value(focus_word)
    panel.get_by_role("button", name="Show attention").click()

    status = panel.get_by_text("Served by")
    status.wait_for()
    assert f"Layer {layer} of 6, head {head} of 12" in panel.inner_text()  # the real MiniLM, even in tests

    heatmaps = panel.locator(".js-plotly-plot")
    expect(heatmaps).to_have_count(1, timeout=30_000)  # plotly.js loads on first use
    expect(heatmaps.locator(".heatmaplayer")).to_have_count(2)  # sentence A, and sentence B under it
    row_labels = heatmaps.locator(".ytick text, .y2tick text").all_text_contents()
    assert row_labels.count("flies") == 2 and "time" in row_labels and "fruit" in row_labels

    # The bar chart: one bar per token of each sentence ([CLS] time flies like an arrow . [SEP], and 7 in B).
    bars = panel.locator(".vega-embed .mark-rect path")
    expect(bars).to_have_count(8 + 7, timeout=30_000)
    expect(bars.first).to_be_visible()
    axis_labels = panel.locator(".vega-embed .role-axis-label text").all_text_contents()
    tokens = [label for label in axis_labels if label.startswith(("A: ", "B: "))]
    assert tokens == [  # in sentence order, not sorted alphabetically
        *("A: [CLS]", "A: time", "A: flies", "A: like", "A: an", "A: arrow", "A: .", "A: [SEP]"),
        *("B: [CLS]", "B: fruit", "B: flies", "B: like", "B: bananas", "B: .", "B: [SEP]"),
    ]
    screenshot(page, "attention")
