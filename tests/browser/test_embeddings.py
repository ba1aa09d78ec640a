"""The Embeddings tab as a visitor uses it: compare "bank" across sentences (a plotly heatmap), then search."""

from __future__ import annotations

import re

import pytest

from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_the_embeddings_tab_draws_a_heatmap_and_a_ranked_bar_plot(page, screenshot):
    open_tab(page, "Embeddings")
    panel = page.get_by_role("tabpanel")
    panel.get_by_text("The children play in the park.").first.click()  # an example fills word and sentences
    expect(panel.get_by_label("Word")).to_have_value("play")

    panel.get_by_role("button", name="Compare", exact=True).click()
    heatmap = panel.locator(".js-plotly-plot")
    expect(heatmap).to_be_visible()
    expect(heatmap.locator("g.hm, image").first).to_be_attached()  # plotly draws the heatmap cells
    expect(heatmap).to_contain_text("play · 2. We saw a play at the theatre.")
    expect(heatmap).to_contain_text("input embedding (no context)")
    served = panel.get_by_text(re.compile(r"Served by sentence-transformers/all-MiniLM-L6-v2 on cpu"))
    expect(served).to_have_count(1)

    panel.get_by_role("button", name="Search", exact=True).click()
    chart = panel.locator(".vega-embed canvas, .vega-embed svg").first
    expect(chart).to_be_visible()
    expect(served).to_have_count(2)  # the search's own status line
    screenshot(page, "embeddings")
