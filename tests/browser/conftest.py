"""Headless Chromium driven by Playwright against the app the `app_url` fixture serves. Every test here is marked
`browser` (skip them with `-m "not browser"`); they skip with the reason when Playwright or Chromium is missing."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# No sandbox (CI containers run as root), no GPU, and no calls home: the browser talks only to the app under test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REPOSITORY = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
# Screenshots of every tab in both themes and at phone width, kept after the run (git-ignored) for a person to look at.
ARTEFACTS = Path(os.environ.get("ARTEFACTS_DIR") or REPOSITORY / "test-artifacts")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


def missing(reason: str) -> None:
    """Skip locally; fail in CI (.ci/run sets REQUIRE_BROWSER=1), where the browser tests must run."""
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="package")  # closed when tests/browser ends: Playwright's sync API keeps an event loop running
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright is not installed: pip install -r requirements-dev.txt")
    if not Path(CHROMIUM).is_file():
        missing(f"Chromium is not at {CHROMIUM}: apt-get install chromium (or set CHROMIUM=/path/to/chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.get_by_role("tab", name="Sentiment").wait_for()
    yield page
    context.close()


@pytest.fixture
def screenshot(tmp_path_factory: pytest.TempPathFactory):
    """Save the whole page as <name>.png: into docs/screenshots/, the pictures the README shows, when the environment
    sets UPDATE_SCREENSHOTS=1, else into a temp dir so a test run leaves the checkout clean."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")

    def save(page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
        # 256 colours keep a page with a photo on it to a few hundred KB in the repository.
        shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        assert path.stat().st_size < 600_000, f"{path.name} is {path.stat().st_size:,} bytes"
        return path

    return save


@pytest.fixture
def open_page(browser, app_url):
    """`open_page(width, height, dark=False)`: a fresh page of the app at that window size, in the dark theme if
    asked (Gradio's `?__theme=dark`)."""
    contexts = []

    def open_at(width: int, height: int, dark: bool = False):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url + ("?__theme=dark" if dark else ""))
        page.get_by_role("tab", name="Sentiment").wait_for()
        return page

    yield open_at
    for context in contexts:
        context.close()


@pytest.fixture
def artefact():
    """Save the whole page as ARTEFACTS/<name>.png (test-artifacts/ unless ARTEFACTS_DIR says otherwise); `name` may
    hold folders."""

    def save(page, name: str) -> Path:
        path = ARTEFACTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
