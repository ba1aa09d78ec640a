"""The page, its config and its API description, served from memory. Gradio builds each anew for every request: a
copy of the whole app's config (about 400 KB for this app's 14 tabs), its root URL written into every file URL, and
the API description, about 100 ms of CPU each on a 2-core machine, paid by every visitor of a class that opens the
link at once, while the models need the same cores. They depend only on the request's path and query, the address
it was asked by (Gradio writes the root URL into them) and who is logged in, so each such variant is built once by
Gradio and kept for PAGE_CACHE_SECONDS. A client that accepts gzip gets it compressed (a tenth of the bytes over a
share link).

>>> accepts_gzip([(b"accept-encoding", b"gzip, deflate, br")])
True
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CACHE_SECONDS = 60.0
MAX_CACHED_PAGES = 32  # variants (paths × addresses × logins); each about 0.5 MB with its compressed copy
CACHED_PATHS = frozenset({"/", "/config", "/gradio_api/info"})
# What Gradio's root URL is made of (gradio.route_utils.get_request_origin), besides the scope's scheme and root path.
ROOT_HEADERS = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-gradio-server")


def accepts_gzip(headers: list[tuple[bytes, bytes]]) -> bool:
    for key, value in headers:
        if key == b"accept-encoding":
            return any(part.split(b";")[0].strip() == b"gzip" for part in value.lower().split(b","))
    return False


@dataclass
class CachedPage:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored_at: float
    compressed: bytes | None = None

    def gzipped(self) -> bytes:
        if self.compressed is None:
            self.compressed = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self.compressed


@dataclass
class PageCache:
    """The ASGI middleware. `visitor` names who a request is logged in as (None before login, or without a login):
    it is read per request, so a logout or an expired login is never served a page built for the login."""

    app: ASGIApp
    visitor: Callable[[Scope], Hashable] = lambda scope: None
    seconds: float = PAGE_CACHE_SECONDS
    max_pages: int = MAX_CACHED_PAGES
    clock: Callable[[], float] = time.monotonic
    pages: OrderedDict[Hashable, CachedPage] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, scope: Scope) -> Hashable:
        headers = dict(scope.get("headers", []))
        return (
            scope.get("path"),
            scope.get("query_string", b""),
            scope.get("scheme"),
            scope.get("root_path", ""),
            *(headers.get(name, b"") for name in ROOT_HEADERS),
            self.visitor(scope),
        )

    def cached(self, key: Hashable) -> CachedPage | None:
        with self.lock:
            page = self.pages.get(key)
            if page is None or self.clock() - page.stored_at > self.seconds:
                self.pages.pop(key, None)
                return None
            self.pages.move_to_end(key)
            return page

    def keep(self, key: Hashable, page: CachedPage) -> None:
        with self.lock:
            self.pages[key] = page
            self.pages.move_to_end(key)
            while len(self.pages) > self.max_pages:
                self.pages.popitem(last=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in CACHED_PATHS:
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        page = self.cached(key)
        if page is None:
            page = await self.built(scope, receive, send)
            if page is None:  # not cacheable: already sent as it came
                return
            self.keep(key, page)
        await self.send_page(page, accepts_gzip(scope.get("headers", [])), send)

    async def built(self, scope: Scope, receive: Receive, send: Send) -> CachedPage | None:
        """Gradio's answer, kept when it is a whole 200 that sets no cookie; anything else is passed on unchanged."""
        start: list[Message] = []
        body = bytearray()
        passed_on = False

        async def capture(message: Message) -> None:
            nonlocal passed_on
            if passed_on:
                await send(message)
            elif message["type"] == "http.response.start":
                start.append(message)
                headers = message.get("headers", [])
                if message["status"] != 200 or any(key.lower() == b"set-cookie" for key, _ in headers):
                    passed_on = True
                    await send(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, capture)
        if passed_on or not start:
            return None
        headers = [(key, value) for key, value in start[0].get("headers", []) if key.lower() != b"content-length"]
        return CachedPage(start[0]["status"], headers, bytes(body), self.clock())

    async def send_page(self, page: CachedPage, gzipped: bool, send: Send) -> None:
        body = page.gzipped() if gzipped else page.body
        headers = [*page.headers, (b"content-length", str(len(body)).encode()), (b"vary", b"Accept-Encoding")]
        if gzipped:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": page.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
