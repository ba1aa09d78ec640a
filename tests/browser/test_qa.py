"""The Question answering tab as a visitor reads it: the answers table fits the window with its scores short, and
the highlighted context wraps between words, never inside one."""

from __future__ import annotations

import pytest

from demos import TASKS, qa
from tests.browser.layout_checks import CHARACTER_LINES, HIDDEN_PART, split_words
from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def answer_the_first_example(page):
    panel = open_tab(page, TASKS["qa"].title)
    context, question, *_ = qa.EXAMPLES[0]
    panel.get_by_text(question).first.click()  # the example row
    expect(panel.get_by_label("Question").first).to_have_value(question)
    panel.get_by_role("button", name="Answer").click()
    panel.get_by_text("Served by").wait_for()
    return panel, context


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_the_answers_table_shows_every_column_and_short_scores(open_page, width, height):
    page = open_page(width, height)
    panel, _ = answer_the_first_example(page)
    table = panel.locator(".table-container, [role=grid]").filter(has=page.locator("th", has_text="score")).first
    headers = table.locator("th[role=columnheader]")
    expect(headers).to_have_count(4)
    assert [header.inner_text().strip() for header in headers.all()] == qa.TABLE_HEADERS
    cells = table.locator("[role=gridcell]")
    expect(cells).to_have_count(3 * 4)  # top_k = 3 answers
    for cell in [*headers.all(), *cells.all()]:
        hidden = cell.evaluate(HIDDEN_PART)
        assert hidden["left"] <= 1 and hidden["right"] <= 1, f"{cell.inner_text()!r} is cut off at {width} px: {hidden}"
    for row in range(3):
        score = table.get_by_test_id(f"cell-{row}-1").inner_text().strip()
        assert float(score) == qa.shown_score(float(score)) and len(score.lstrip("0.")) <= qa.SCORE_DIGITS, score


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_the_highlighted_context_wraps_between_words(open_page, width, height):
    page = open_page(width, height)
    panel, context = answer_the_first_example(page)
    text = panel.locator(".answer-in-context .textfield")
    expect(text.locator(".highlighted")).to_have_count(1)
    characters = page.evaluate(CHARACTER_LINES, [text.element_handle(), ".text"])  # not the "answer" badge
    assert "".join(character for character, _ in characters) == context
    assert len({line for _, line in characters}) > 2, "the context should wrap over several lines"
    assert split_words(characters) == []
