"""The Tokens tab driven as a visitor drives it: an example compared across three tokenizers, then ids decoded."""

from __future__ import annotations

import pytest

from demos import TASKS, tokens

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_tokens_are_coloured_over_the_text_and_ids_decode_back(page, screenshot):
    page.get_by_role("tab", name=TASKS["tokens"].title, exact=True).click()
    panel = page.get_by_role("tabpanel")
    example = tokens.EXAMPLES[0][0]
    panel.get_by_text(example).first.click()
    expect(panel.get_by_label("Text").first).to_have_value(example)
    panel.get_by_role("button", name="Tokenize").click()

    highlights = panel.get_by_test_id("highlighted-text")
    expect(highlights).to_have_count(len(tokens.EXAMPLES[0][1]))
    first = highlights.first
    expect(first).to_contain_text("Ciao")
    expect(first).to_contain_text("#0 id")  # each token carries its position and id
    expect(first).to_contain_text("special")  # [CLS] and [SEP] are marked
    # Neighbouring tokens get different background colours.
    colours = first.locator(".label").evaluate_all(
        "labels => labels.slice(1, 4).map(label => getComputedStyle(label).backgroundColor)"
    )
    assert len(colours) == 3 and len(set(colours)) == 3
    panel.get_by_test_id("cell-2-0").wait_for()  # a comparison row per tokenizer
    assert panel.get_by_test_id("cell-1-1").inner_text().strip() == "byte-level BPE"
    assert panel.inner_text().count("Served by") == 3
    screenshot(page, "tokens")

    ids = tokens.DECODE_EXAMPLES[0][1]
    panel.get_by_text(ids).first.click()
    expect(panel.get_by_label("Token ids")).to_have_value(ids)
    panel.get_by_role("button", name="Decode").click()
    expect(panel.get_by_label("Text without special tokens")).to_have_value("rumination")
    expect(panel.get_by_label("Text", exact=True).last).to_have_value("[CLS] rumination [SEP]")
