"""The page as a visitor first meets it, at a laptop's and a phone's width: every tab one click away. (Each tab run in
both themes and at phone width, legibility included: test_themes.py.)"""

from __future__ import annotations

import pytest

from demos import DEMOS, system

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect

TAB_TITLES = [*(demo.title for demo in DEMOS), system.TITLE]


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
