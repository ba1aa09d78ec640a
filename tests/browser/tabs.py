"""Reaching a tab as a visitor does: the tab row wraps when the window is narrow, so every tab is one click away."""

from __future__ import annotations


def open_tab(page, name: str):
    """Click the tab; return its panel."""
    page.get_by_role("tab", name=name, exact=True).click()
    return page.get_by_role("tabpanel")


def tab_names(page) -> list[str]:
    """Every tab's name in order."""
    return [tab.inner_text().strip() for tab in page.get_by_role("tab").all()]
