"""The page as a visitor first meets it, at a laptop's and a phone's width and in both themes: every tab one click
away, and every custom-styled element legible. Each tab is saved as a screenshot under tmp/artefacts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from demos import DEMOS, system
from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect

TAB_TITLES = [*(demo.title for demo in DEMOS), system.TITLE]
CONTRAST = (Path(__file__).parent / "contrast.js").read_text()


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (1440, 900), (390, 844)])
def test_every_tab_is_one_visible_click_away(open_page, width, height):
    page = open_page(width, height)
    more = page.get_by_role("button", name="More tabs")
    assert not any(button.is_visible() for button in more.all()), "tabs are hidden behind the ⋯ menu"
    for title in TAB_TITLES:
        tab = page.get_by_role("tab", name=title, exact=True)
        expect(tab).to_be_visible()
        box = tab.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{title} is outside the window"
    for title in reversed(TAB_TITLES):
        tab = page.get_by_role("tab", name=title, exact=True)
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")


@pytest.mark.parametrize(("theme", "width", "height"), [("dark", 1280, 900), ("light", 390, 844), ("dark", 390, 844)])
def test_every_tab_is_legible_in_both_themes_and_on_a_phone(open_page, artefact, theme, width, height):
    page = open_page(width, height, dark=theme == "dark")
    assert page.evaluate("() => document.body.classList.contains('dark')") == (theme == "dark")
    checked = []
    for title in TAB_TITLES:
        panel = open_tab(page, title)
        page.wait_for_timeout(300)
        for text, ratio, wanted in panel.evaluate(CONTRAST):
            checked.append(text)
            assert ratio >= wanted, f"{title}, {theme} theme: {text!r} has contrast {ratio}, below {wanted}"
        artefact(page, f"{slug(title)}-{theme}-{width}")
    assert any("Stand-in models" in text for text in checked), "the stand-in banner was not checked"
