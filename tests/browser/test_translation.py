"""The page follows the browser's language: Spanish for a Spanish browser, English otherwise (demos/translation.py)."""

from __future__ import annotations

import re

import pytest

from tests.browser.tabs import open_tab, tab_names

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


@pytest.fixture
def page_in(browser, app_url):
    """A page opened by a browser whose language is `locale`."""
    contexts = []

    def open_page(locale: str, first_tab: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url)
        page.get_by_role("tab", name=first_tab).wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()


def test_a_spanish_browser_gets_the_page_in_spanish(page_in):
    page = page_in("es-ES", "Sentimiento")
    names = tab_names(page)
    assert names[:3] == ["Sentimiento", "Clasificación zero-shot", "Respuesta a preguntas"]
    assert "Atención desde cero" in names and names[-1] == "Sistema"
    assert page.get_by_role("heading", name="Demostraciones de Transformers").is_visible()
    panel = open_tab(page, "Sentimiento")
    expect(panel.get_by_role("button", name="Clasificar")).to_be_visible()
    expect(panel.get_by_role("combobox", name="Modelo", exact=True)).to_be_visible()
    assert "Solo se ofrecen estos modelos" in panel.inner_text()
    panel = open_tab(page, "Generación de texto")
    expect(panel.get_by_text("Estrategia de decodificación", exact=True)).to_be_visible()
    beam_search = panel.get_by_role("radio", name="búsqueda por haz")  # a choice's label; its value stays
    expect(beam_search).to_be_visible()
    assert beam_search.get_attribute("value") == "beam search"


def test_an_english_browser_keeps_the_page_in_english(page_in):
    page = page_in("en-US", "Sentiment")
    names = tab_names(page)
    assert names[:3] == ["Sentiment", "Zero-shot classification", "Question answering"]
    assert page.title() == "Transformers demo suite"
    panel = open_tab(page, "Sentiment")
    expect(panel.get_by_role("button", name="Classify")).to_be_visible()
    expect(panel.get_by_role("combobox", name="Model", exact=True)).to_be_visible()
    panel = open_tab(page, "Text generation")
    expect(panel.get_by_role("radio", name="beam search")).to_be_visible()


def test_a_spanish_browser_gets_status_lines_and_errors_in_spanish(page_in):
    page = page_in("es-ES", "Sentimiento")
    panel = open_tab(page, "Sentimiento")
    panel.get_by_label("Texto").first.fill("Me encantó esta película.")
    panel.get_by_role("button", name="Clasificar").click()
    expect(panel.get_by_text(re.compile(r"Servido por \S+ en cpu"))).to_be_visible(timeout=60_000)
    assert "Served by" not in panel.inner_text()
    panel.get_by_label("Texto").first.fill("")
    panel.get_by_role("button", name="Clasificar").click()
    expect(page.get_by_text("Escribe un texto que clasificar (un texto por línea si son varios).")).to_be_visible()


def test_an_english_browser_gets_status_lines_and_errors_in_english(page_in):
    page = page_in("en-US", "Sentiment")
    panel = open_tab(page, "Sentiment")
    panel.get_by_label("Text").first.fill("I loved this film.")
    panel.get_by_role("button", name="Classify").click()
    expect(panel.get_by_text(re.compile(r"Served by \S+ on cpu"))).to_be_visible(timeout=60_000)
    panel.get_by_label("Text").first.fill("")
    panel.get_by_role("button", name="Classify").click()
    expect(page.get_by_text("Type some text to classify (one text per line for several).")).to_be_visible()
