"""With --auth, the browser gets a login form whose page carries no API description, and a login opens the tabs."""

from __future__ import annotations

import pytest

from shared.runtime import Runtime
from tests.helpers import served, stand_in_settings

LOGIN = ("ada", "correct horse battery staple")


@pytest.fixture(scope="module")
def protected_url(cache_dir):
    with served(Runtime(stand_in_settings(cache_dir, auth=(LOGIN,)))) as (url, _):
        yield url


def test_the_login_form_works_without_the_api_description(browser, protected_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(protected_url)
        assert page.evaluate("window.gradio_api_info") is None
        page.get_by_label("username").fill(LOGIN[0])
        page.get_by_label("password").fill(LOGIN[1])
        page.get_by_role("button", name="Login").click()
        page.get_by_role("tab", name="Sentiment").wait_for()
        assert page.evaluate("Object.keys(window.gradio_api_info.named_endpoints)").count("/sentiment") == 1
        assert errors == []
    finally:
        context.close()
