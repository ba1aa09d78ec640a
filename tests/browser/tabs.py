"""Reaching a tab as a visitor does: Gradio moves the tabs that do not fit the tab row into a "More tabs" menu."""

from __future__ import annotations


def open_tab(page, name: str):
    """Click the tab, from the "More tabs" menu when the row is too narrow to show it; return its panel."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count():
        tab.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown").get_by_role("button", name=name, exact=True).click()
    return page.get_by_role("tabpanel")


def tab_names(page) -> list[str]:
    """Every tab's name in order: those in the row, then those in the "More tabs" menu."""
    names = [tab.inner_text().strip() for tab in page.get_by_role("tab").all()]
    more = page.get_by_role("button", name="More tabs")
    if more.count():
        more.click()
        names += [item.inner_text().strip() for item in page.locator(".overflow-dropdown").get_by_role("button").all()]
        more.click()
    return names
