"""The page, its config and the API description come from memory once Gradio has built them (shared/page_cache.py):
checked on the running app (built once per minute, gzip for clients that take it, each root URL its own copy) and
on the middleware alone (who is logged in, expiry, answers that are never kept)."""

from __future__ import annotations

import gzip

import httpx
import pytest
from gradio import route_utils

from shared.page_cache import PageCache
from tests.helpers import asgi_call


@pytest.fixture
def root_rewrites(monkeypatch) -> list[str]:
    """The root URLs Gradio writes into a page or config while the test runs (once per page it builds)."""
    seen: list[str] = []
    rewrite = route_utils.update_root_in_config

    def counted(config, root):
        seen.append(root)
        return rewrite(config, root)

    monkeypatch.setattr(route_utils, "update_root_in_config", counted)
    return seen


def test_the_page_and_config_are_built_once_for_a_class_of_visitors(app_url, root_rewrites):
    pages = [httpx.get(app_url, timeout=30) for _ in range(5)]
    configs = [httpx.get(f"{app_url}config", timeout=30) for _ in range(5)]
    assert all(answer.status_code == 200 for answer in pages + configs)
    assert len({answer.content for answer in pages}) == len({answer.content for answer in configs}) == 1
    assert len(root_rewrites) <= 2, f"Gradio built the page or config {len(root_rewrites)} times for 10 requests"


def test_a_client_that_takes_gzip_gets_a_tenth_of_the_bytes(app_url):
    plain = httpx.get(f"{app_url}config", headers={"accept-encoding": "identity"}, timeout=30)
    with httpx.stream("GET", f"{app_url}config", headers={"accept-encoding": "gzip"}, timeout=30) as answer:
        compressed = b"".join(answer.iter_raw())
        assert answer.headers["content-encoding"] == "gzip" and "Accept-Encoding" in answer.headers["vary"]
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(compressed) == plain.content and len(compressed) < len(plain.content) / 5
    assert plain.headers["x-content-type-options"] == "nosniff"  # the security headers are still added


def test_each_address_gets_its_own_root_url(app_url):
    """Gradio writes the address a page was asked by into it (file URLs start with it)."""
    by_name = httpx.get(
        f"{app_url}config",
        headers={"host": app_url.split("//")[1].replace("127.0.0.1", "localhost").rstrip("/")},
        timeout=30,
    )
    by_number = httpx.get(f"{app_url}config", timeout=30)
    assert by_name.json()["root"].startswith("http://localhost:")
    assert by_number.json()["root"].startswith("http://127.0.0.1:")


class Gradio:
    """A stand-in for Gradio's routes: answers with a count of the pages it built, and the login it saw."""

    def __init__(self, status: int = 200, set_cookie: bool = False) -> None:
        self.built = 0
        self.status = status
        self.set_cookie = set_cookie

    async def __call__(self, scope, receive, send) -> None:
        self.built += 1
        headers = [(b"content-type", b"text/html")] + ([(b"set-cookie", b"a=b")] if self.set_cookie else [])
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": f"page {self.built}".encode()})


def get(cache: PageCache, path: str = "/", login: str | None = None) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "scheme": "http",
        "headers": [(b"host", b"127.0.0.1:7860")] + ([(b"cookie", login.encode())] if login else []),
    }
    sent = asgi_call(cache, scope)
    return sent[0]["status"], b"".join(message.get("body", b"") for message in sent[1:])


def test_each_login_has_its_own_page_and_a_logout_is_never_served_the_logins():
    logins = {"token=ada": "ada"}  # what Gradio's token table says now
    gradio = Gradio()
    cache = PageCache(gradio, visitor=lambda scope: logins.get(dict(scope["headers"]).get(b"cookie", b"").decode()))
    assert get(cache) == (200, b"page 1")  # before login
    assert get(cache, login="token=ada") == (200, b"page 2")
    assert get(cache, login="token=ada") == (200, b"page 2")
    del logins["token=ada"]  # logged out: the token no longer names anyone
    assert get(cache, login="token=ada") == (200, b"page 1")
    assert gradio.built == 2


def test_a_kept_page_is_built_again_after_its_time():
    now = [0.0]
    gradio = Gradio()
    cache = PageCache(gradio, seconds=60, clock=lambda: now[0])
    assert get(cache, "/config") == get(cache, "/config") == (200, b"page 1")
    now[0] = 61
    assert get(cache, "/config") == (200, b"page 2")


@pytest.mark.parametrize(
    ("gradio", "path"),
    [(Gradio(status=401), "/"), (Gradio(set_cookie=True), "/"), (Gradio(), "/gradio_api/queue/status")],
)
def test_errors_cookies_and_other_routes_are_never_kept(gradio, path):
    cache = PageCache(gradio)
    first, second = get(cache, path), get(cache, path)
    assert first[1] == b"page 1" and second[1] == b"page 2"
