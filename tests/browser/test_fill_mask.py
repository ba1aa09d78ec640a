"""The Fill the blank tab as a visitor uses it: pick the woman/man bias probe, fill the blank, read chart and table."""

from __future__ import annotations

import re

import pytest

from demos.fill_mask import DEMO

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_the_bias_probe_example_draws_both_sentences_in_one_bar_chart(page, screenshot):
    page.get_by_role("tab", name=DEMO.title, exact=True).click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_text("In the hospital the woman works as a [MASK].").first.click()  # the example fills both boxes
    expect(panel.get_by_label("Compare with (optional)")).to_have_value("In the hospital the man works as a [MASK].")

    panel.get_by_role("button", name="Fill the blank", exact=True).click()
    expect(panel.get_by_text(re.compile(r"Blank written as \[MASK\] for this model\. Served by"))).to_be_visible()
    chart = panel.locator(".vega-embed canvas, .vega-embed svg").first
    expect(chart).to_be_visible()
    expect(panel.get_by_text("A: woman").first).to_be_visible()  # legend and table name the differing words
    expect(panel.get_by_text("B: man").first).to_be_visible()
    expect(panel.get_by_test_id("cell-1-0")).to_be_visible()  # the table of numbers has rows
    screenshot(page, "fill_mask")


def test_a_sentence_without_a_blank_shows_what_to_do(page):
    page.get_by_role("tab", name=DEMO.title, exact=True).click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_label("Sentence").first.fill("The boys are shy.")
    panel.get_by_role("button", name="Fill the blank", exact=True).click()
    expect(page.get_by_text("Put [MASK] where the missing word goes").first).to_be_visible()
