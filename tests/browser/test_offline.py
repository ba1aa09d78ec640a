"""A first start on a machine with no network and an empty Hugging Face cache (`python app.py`, no stand-ins): the
page says at once which tabs need `--download` and which work, and a missing model fails at once with the fix."""

from __future__ import annotations

import pytest
from gradio_client import Client

import app as app_module
from shared.bundled import MINILM
from shared.hub_status import on_disk
from shared.runtime import Runtime
from shared.settings import Settings
from tests.helpers import free_port

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect

NOT_CACHED = "nobody/not-on-this-disk"


@pytest.fixture(scope="module")
def offline_url(cache_dir):
    """The real app without stand-ins; the tests run with HF_HUB_OFFLINE=1, and the sentiment default is a model no
    cache holds (the other defaults may or may not be cached on the machine running the tests)."""
    overrides = {"sentiment": NOT_CACHED, "tokens": NOT_CACHED}
    settings = Settings(cache_dir=cache_dir, device="cpu", port=free_port(), model_overrides=overrides)
    blocks = app_module.launch(Runtime(settings), block=False)
    yield f"http://127.0.0.1:{settings.port}/"
    blocks.close()


def test_offline_the_page_names_the_tabs_that_need_a_download_and_they_fail_at_once(browser, offline_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(offline_url)
    banner = page.locator(".offline-banner").first
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Offline")
    expect(banner).to_contain_text(f"Sentiment ({NOT_CACHED})")
    expect(banner).to_contain_text("python app.py --download")
    expect(banner).to_contain_text("--stand-ins tiny")
    assert "Attention" not in banner.inner_text()  # its model ships with the requirements: it works offline

    page.get_by_role("tab", name="Sentiment", exact=True).click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_label("Text").fill("I loved this film.")
    panel.get_by_role("button", name="Classify").click()
    expect(page.get_by_text("is not in the local Hugging Face cache").first).to_be_visible(timeout=15_000)
    context.close()


def test_offline_the_tokens_api_answers_with_the_tokenizers_it_has_and_names_the_others(offline_url):
    client = Client(offline_url, verbose=False)
    *_, numbers, _, status = client.predict("rumination", [NOT_CACHED, MINILM], api_name="/tokens")
    assert [record["model"] for record in numbers["tokenizers"]] == [MINILM]
    assert numbers["skipped"] == [NOT_CACHED]
    assert f"Skipped `{NOT_CACHED}`" in status and "--download" in status and "Served by" in status

    # None of those asked for is on this disk: the tokenizers that are answer in their place, and say so.
    *_, numbers, _, status = client.predict("rumination", [NOT_CACHED], api_name="/tokens")
    shown = [record["model"] for record in numbers["tokenizers"]]
    assert shown and all(on_disk(model_id) for model_id in shown)
    assert f"Skipped `{NOT_CACHED}`" in status and "Shown instead" in status


def test_offline_the_tokens_tab_shows_what_it_can_and_one_note_for_the_rest(browser, offline_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(offline_url)
    page.get_by_role("tab", name="Tokens", exact=True).click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_label("Text").first.fill("rumination")
    panel.get_by_role("button", name="Tokenize").click()
    expect(panel.get_by_text(f"Skipped {NOT_CACHED}", exact=False)).to_be_visible(timeout=30_000)
    expect(panel.get_by_test_id("highlighted-text").first).to_be_visible()
    assert panel.inner_text().count("Skipped") == 1
    context.close()
