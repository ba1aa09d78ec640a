"""The keyboard rule of the whole app, in every text field of every tab, on one page load: Enter in a one-line box
and Shift+Enter in a box of several lines run the endpoint the box belongs to (demos/common.py, `KEYBOARD_HINT`,
which the page shows)."""

from __future__ import annotations

import pytest

from demos.common import KEYBOARD_HINT
from tests.browser.tabs import open_tab, tab_names

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect

# Text boxes and number boxes a visitor types in (a slider's number box belongs to the slider).
FIELDS = "[data-testid=textbox]:not([disabled]):not([readonly]), input[type=number]:not([data-testid]):not([disabled])"
LABEL = """field => field.closest('label')?.querySelector('[data-testid=block-info]')?.innerText
    || field.getAttribute('aria-label') || field.placeholder"""
# Each event's id (what a run sends as `fn_index`) and its API name if it is a public endpoint.
PUBLIC_ENDPOINTS = """() => window.gradio_config.dependencies.map(
    event => [event.id, event.api_visibility === 'public' ? event.api_name : null])"""
# Boxes whose Enter runs the tab's second endpoint; every other box runs the tab's first.
SECOND_ENDPOINT = {
    ("Tokens", "Token ids"): "decode_ids",
    ("Embeddings", "Query"): "semantic_search",
    ("Embeddings", "Sentences to search"): "semantic_search",
    ("Train a classifier", "New sentences"): "classify_sentences",
}


def test_enter_in_every_text_field_of_every_tab_runs_its_endpoint(page):
    expect(page.get_by_text("Shift+Enter").first).to_be_visible()
    assert "Shift+Enter" in KEYBOARD_HINT
    endpoints = dict(page.evaluate(PUBLIC_ENDPOINTS))
    ran: dict[tuple[str, str], str | None] = {}
    for tab in tab_names(page):
        panel = open_tab(page, tab)
        fields = panel.locator(FIELDS)
        for index in range(fields.count()):
            field = fields.nth(index)
            if not field.is_visible():
                continue
            label = field.evaluate(LABEL).strip()
            several_lines = field.evaluate("field => field.tagName === 'TEXTAREA' && field.rows > 1")
            with page.expect_request(lambda request: "/queue/join" in request.url, timeout=10_000) as joined:
                field.press("Shift+Enter" if several_lines else "Enter")
            ran[(tab, label)] = endpoints.get(joined.value.post_data_json["fn_index"])
            # Gradio runs an event once at a time; a first use loads the model.
            expect(panel.locator(".pending, .generating")).to_have_count(0, timeout=60_000)

    assert len(ran) >= 25, ran  # every tab's boxes were found
    assert all(ran.values()), {field: endpoint for field, endpoint in ran.items() if not endpoint}
    for field, endpoint in SECOND_ENDPOINT.items():
        assert ran[field] == endpoint, (field, ran.get(field))
    for tab in {tab for tab, _ in ran}:
        first = {
            endpoint
            for (in_tab, label), endpoint in ran.items()
            if in_tab == tab and (tab, label) not in SECOND_ENDPOINT
        }
        assert len(first) == 1, (tab, first)
