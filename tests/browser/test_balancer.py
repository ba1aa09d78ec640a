"""A browser behind the checked-in nginx balancer with two fronts: every request one page makes (its queue's `join`
and `data` included) is answered by one front, named by the balancer's X-Served-By header; pages spread."""

from __future__ import annotations

import pytest

from tests.balancer import two_fronts_behind_nginx
from tests.browser.tabs import open_tab

MAX_PAGES = 12  # pages opened before concluding that sessions do not spread (each front gets about half)


@pytest.fixture(scope="module")
def balanced(cache_dir, tmp_path_factory):
    with two_fronts_behind_nginx(cache_dir, tmp_path_factory.mktemp("nginx")) as (url, runtimes):
        yield url, runtimes


def fronts_of_one_page(browser, url: str) -> dict[str, set[str]]:
    """Open the app in a fresh browser session, classify a text, and return the fronts that answered each kind of
    request: "queue" for the queue's join and data stream, "other" for the page, its assets and its config."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    served_by: dict[str, set[str]] = {"queue": set(), "other": set()}

    def record(response) -> None:
        front = response.headers.get("x-served-by")
        if front:
            served_by["queue" if "/queue/" in response.url else "other"].add(front)

    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("response", record)
        page.goto(url)
        page.get_by_role("tab", name="Sentiment").wait_for()
        panel = open_tab(page, "Sentiment")
        panel.get_by_label("Text").fill("What a lovely afternoon.")
        panel.get_by_role("button", name="Classify").click()
        panel.get_by_text("Served by").wait_for()
    finally:
        context.close()
    return served_by


def test_a_page_talks_to_one_front_and_pages_spread_over_both(browser, balanced):
    url, runtimes = balanced
    seen = set()
    for _ in range(MAX_PAGES):
        served_by = fronts_of_one_page(browser, url)
        assert len(served_by["queue"]) == 1, served_by
        assert served_by["other"] <= served_by["queue"], served_by
        seen |= served_by["queue"]
        if seen == set(runtimes):
            break
    assert seen == set(runtimes), f"{MAX_PAGES} browser sessions all went to {seen}"
