"""The next-token odds in the text generation tab, as a visitor uses them: ask for the odds, see the bar chart, then
move a setting and see the chart and its summary follow."""

from __future__ import annotations

import re

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def set_slider(panel, label: str, value: str) -> None:
    box = panel.get_by_label(f"number input for {label}")
    box.fill(value)
    box.press("Tab")


def test_next_token_odds_chart_follows_the_sliders(page, screenshot):
    page.get_by_role("tab", name="Text generation", exact=True).click()
    panel = page.get_by_role("tabpanel")
    summary = panel.get_by_text(re.compile(r"sampling draws the next token from"))
    set_slider(panel, "top_k", "7")
    page.wait_for_timeout(500)
    expect(summary).to_have_count(0)  # no odds until the visitor asks for them

    panel.get_by_role("button", name=re.compile(r"^Next-token odds")).click()  # opens the accordion
    panel.get_by_role("button", name="Show next-token odds").click()
    expect(summary).to_contain_text("top_k 7")
    expect(summary).to_contain_text(re.compile(r"from 7 of \d+ tokens"))
    chart = panel.locator(".vega-embed")
    expect(chart.locator("svg").first).to_be_visible()
    expect(chart.get_by_text("after settings", exact=True)).to_be_visible()  # the legend
    # Two bars per token for the 10 tokens shown: each has its label on the x axis.
    expect(chart.locator("text").filter(has_text=re.compile(r"^1?\d\. .+ · raw$"))).to_have_count(10)
    expect(chart.locator("text").filter(has_text=re.compile(r"^1?\d\. .+ · after$"))).to_have_count(10)
    expect(panel.get_by_text("Served by")).to_be_visible()

    set_slider(panel, "top_k", "3")
    expect(summary).to_contain_text(re.compile(r"top_k 3, .* from 3 of \d+ tokens"))
    set_slider(panel, "top_k", "0")
    set_slider(panel, "top_p", "1")
    expect(summary).to_contain_text(re.compile(r"top_k off, top_p off, .* from (\d+) of \1 tokens"))
    screenshot(page, "next_token")
