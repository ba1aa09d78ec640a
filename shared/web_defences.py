"""What the app's HTTP server does before any route sees a request, as one plain ASGI middleware (no Gradio): it
finds the client's address (reading `X-Forwarded-For` only from proxies the operator trusts), refuses host names it
does not serve and cross-origin form posts, adds the security headers, throttles failed logins per client, and keeps
uploads to photos and tables within a per-client budget and a total budget for the upload folder (whose oldest
uploads make room, never the recent ones a visitor may still need). Each refusal is a status code with a one-line
message saying what to do."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.labelled_data import TABLE_SUFFIXES

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Headers a client could forge to pose as someone else or as another host; kept only from trusted proxies.
PROXY_HEADERS = {b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"x-real-ip", b"forwarded"}
# Gradio builds its root URL from this one as well.
PROXY_HEADERS.add(b"x-gradio-server")

FREE_LOGIN_FAILURES = 5  # failed logins a client may make before it has to wait
FIRST_LOCKOUT_SECONDS = 30  # doubled with each further failure...
MAX_LOCKOUT_SECONDS = 15 * 60  # ...up to this
FORGET_FAILURES_AFTER_SECONDS = 30 * 60

UPLOAD_WINDOW_SECONDS = 10 * 60
DEFAULT_UPLOAD_MB_PER_CLIENT = 150  # in any UPLOAD_WINDOW_SECONDS
MAX_UPLOADS_PER_CLIENT = 60  # upload requests in any UPLOAD_WINDOW_SECONDS
DEFAULT_UPLOAD_FOLDER_MB = 1024
# Uploads this young are never deleted to make room for others (their jobs may still wait in the queue); when only
# such uploads are left, new uploads are refused until the oldest comes of age.
SPARE_NEW_UPLOADS_SECONDS = 10 * 60

# What uploads may be: the photos the segmentation tab reads, recognised by their first bytes, and the tables the
# evaluation and training tabs read, by their names (those tabs check the contents with messages of their own; a
# table is served as an inert download whatever it holds).
IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
NOT_ACCEPTED = (
    "That file is not one this app reads; upload a photo (PNG, JPEG, WebP, GIF, BMP or TIFF) or a table "
    f"({', '.join(sorted(TABLE_SUFFIXES))}). Nothing was kept."
)


def image_format(head: bytes) -> str | None:
    """The image format a file starts like ("PNG", "JPEG", ...), or None for anything else (HTML, SVG, ICO, ...).

    >>> image_format(b"\\x89PNG\\r\\n\\x1a\\n...."), image_format(b"<html>")
    ('PNG', None)
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((kind for signature, kind in IMAGE_SIGNATURES.items() if head.startswith(signature)), None)


def is_accepted_upload(path: Path) -> bool:
    """A photo (by its first bytes, whatever its name) or a table (by its name)."""
    if path.suffix.lower() in TABLE_SUFFIXES:
        return True
    try:
        with path.open("rb") as file:
            return image_format(file.read(16)) is not None
    except OSError:
        return False


def parse_networks(addresses: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Proxy addresses or networks as the operator writes them ("127.0.0.1", "10.0.0.0/8"); ValueError if not."""
    return tuple(ipaddress.ip_network(address.strip(), strict=False) for address in addresses if address.strip())


def in_networks(address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str, trusted: Iterable) -> str:
    """The client's address: the right-most `X-Forwarded-For` entry that is not a trusted proxy, when the peer is
    one; otherwise the peer itself (the header is then anybody's to write)."""
    trusted = tuple(trusted)
    if not in_networks(peer, trusted):
        return peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if not in_networks(hop, trusted):
            return hop
    return peer


def is_loopback(address: str) -> bool:
    """A client on this machine: told apart from others by session, never by its address."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """`example.org:7860` -> `example.org`, `[::1]:7860` -> `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_of(url: str) -> str:
    """`https://Example.org:443/path` -> `https://example.org:443` (scheme and host as a browser's Origin has them)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


@dataclass
class LoginThrottle:
    """Failed logins per client: FREE_LOGIN_FAILURES are free, then each further attempt waits a lockout that
    doubles with every failure (FIRST_LOCKOUT_SECONDS up to MAX_LOCKOUT_SECONDS). A success clears the record."""

    failures: dict[str, tuple[int, float]] = field(default_factory=dict)  # client -> (count, time of the last)
    max_clients: int = 100_000

    def wait_seconds(self, client: str, now: float) -> float:
        """How long `client` must wait before its next attempt is even checked (0 when it may try now)."""
        count, last = self.failures.get(client, (0, 0.0))
        if now - last > FORGET_FAILURES_AFTER_SECONDS:
            self.failures.pop(client, None)
            return 0.0
        return max(0.0, last + self.lockout_seconds(count) - now)

    @staticmethod
    def lockout_seconds(count: int) -> float:
        if count < FREE_LOGIN_FAILURES:
            return 0.0
        return min(MAX_LOCKOUT_SECONDS, FIRST_LOCKOUT_SECONDS * 2 ** (count - FREE_LOGIN_FAILURES))

    def failed(self, client: str, now: float) -> float:
        """Record a failure; return the lockout it starts (0 while the client still has free attempts)."""
        count, last = self.failures.pop(client, (0, 0.0))
        count = 1 if now - last > FORGET_FAILURES_AFTER_SECONDS else count + 1
        if len(self.failures) >= self.max_clients:  # forget the longest-quiet client first
            self.failures.pop(next(iter(self.failures)))
        self.failures[client] = (count, now)
        return self.lockout_seconds(count)

    def succeeded(self, client: str) -> None:
        self.failures.pop(client, None)


@dataclass
class UploadBudget:
    """Upload volume per client in a sliding window: at most `max_bytes` and `max_requests` per `window` seconds."""

    max_bytes: int = DEFAULT_UPLOAD_MB_PER_CLIENT * 2**20
    max_requests: int = MAX_UPLOADS_PER_CLIENT
    window: float = UPLOAD_WINDOW_SECONDS
    spent: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # client -> [(time, bytes)]

    def wait_seconds(self, client: str, size: int, now: float) -> float | None:
        """None if `client` may upload `size` bytes now, else how long until enough of its budget frees up; a size
        no window could hold waits the whole window."""
        recent = [(at, spent) for at, spent in self.spent.get(client, []) if now - at < self.window]
        self.spent[client] = recent
        if not recent:
            self.spent.pop(client)
        used = sum(spent for _, spent in recent)
        if len(recent) < self.max_requests and used + size <= self.max_bytes:
            return None
        freed, needed_bytes = 0, used + size - self.max_bytes
        needed_requests = len(recent) - self.max_requests + 1
        for count, (at, spent) in enumerate(recent, start=1):
            freed += spent
            if freed >= needed_bytes and count >= needed_requests:
                return at + self.window - now
        return self.window

    def spend(self, client: str, size: int, now: float) -> None:
        self.spent.setdefault(client, []).append((now, size))


@dataclass
class UploadFolder:
    """The uploads kept on disk, at most `max_bytes` of them: the oldest make room for a new one, but never one
    uploaded in the last `spare_seconds` (its job may still be waiting in the queue). Only uploads count and go: the
    app's answers and its examples' files are Gradio's to keep and to age out."""

    max_bytes: int = DEFAULT_UPLOAD_FOLDER_MB * 2**20
    spare_seconds: float = SPARE_NEW_UPLOADS_SECONDS
    kept: dict[Path, tuple[float, int]] = field(default_factory=dict)  # path -> (time kept, size), oldest first

    def add(self, path: Path, now: float) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        self.kept.pop(path, None)  # the same contents again: Gradio keeps them once, in the same place
        self.kept[path] = (now, size)

    def make_room(self, needed: int, now: float) -> tuple[float, list[Path]]:
        """Delete the oldest uploads until `needed` more bytes fit; returns 0 once they do, else the seconds until the
        oldest spared upload may go; and what was deleted."""
        self.kept = {path: record for path, record in self.kept.items() if path.exists()}
        total = sum(size for _, size in self.kept.values())
        deleted = []
        for path, (kept_at, size) in list(self.kept.items()):
            if total + needed <= self.max_bytes:
                break
            if now - kept_at < self.spare_seconds:
                return max(1.0, kept_at + self.spare_seconds - now), deleted
            path.unlink(missing_ok=True)
            del self.kept[path]
            total -= size
            deleted.append(path)
        return (0.0 if total + needed <= self.max_bytes else self.spare_seconds), deleted


def header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


async def refuse(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = message.encode()
    raw_headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(key.lower().encode(), value.encode()) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def drain(receive: Receive) -> None:
    """Read a refused request's body so the connection can be reused."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


@dataclass(frozen=True)
class WebPolicy:
    """What the middleware enforces; built from the settings in app.py."""

    trusted_proxies: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()  # host names served besides IP addresses and localhost
    frame_ancestors: tuple[str, ...] = ()  # origins that may show the app in a frame, besides itself
    login_path: str = "/login"
    upload_path: str = "/gradio_api/upload"
    file_path_prefix: str = "/gradio_api/file="  # user files are served from here: never run as a page
    upload_folder_bytes: int = DEFAULT_UPLOAD_FOLDER_MB * 2**20
    upload_bytes_per_client: int = DEFAULT_UPLOAD_MB_PER_CLIENT * 2**20  # in any UPLOAD_WINDOW_SECONDS


class WebDefences:
    """The ASGI middleware. `upload_folder` names the folder uploads land in (read per upload: the server may set
    it late); `extra_hosts` the host names known only once serving (a share link's); `app_files` the files the app
    itself keeps in that folder (its examples): an upload with the same contents lands on the same path (Gradio names
    files by their contents' hash), and is neither counted nor deleted as an upload."""

    def __init__(
        self,
        app: ASGIApp,
        policy: WebPolicy,
        upload_folder: Callable[[], Path | None] = lambda: None,
        extra_hosts: Callable[[], Iterable[str]] = tuple,
        app_files: Callable[[], Iterable[str]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.policy = policy
        self.trusted = parse_networks(policy.trusted_proxies)
        self.allowed_hosts = {name.lower() for name in policy.allowed_hosts} | {"localhost"}
        self.allowed_origins = {origin_of(origin) for origin in policy.frame_ancestors}
        self.upload_folder = upload_folder
        self.extra_hosts = extra_hosts
        self.app_files = app_files
        self.clock = clock
        self.logins = LoginThrottle()
        self.uploads = UploadBudget(max_bytes=policy.upload_bytes_per_client)
        self.kept_uploads = UploadFolder(max_bytes=policy.upload_folder_bytes)
        self.security_headers = self.build_security_headers()

    def build_security_headers(self) -> list[tuple[bytes, bytes]]:
        ancestors = " ".join(["'self'", *sorted(self.allowed_origins)])
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"content-security-policy", f"frame-ancestors {ancestors}".encode()),
        ]
        if not self.allowed_origins:  # X-Frame-Options cannot name origins; CSP alone speaks for them
            headers.append((b"x-frame-options", b"SAMEORIGIN"))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        scope = self.with_client(scope)
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        send = self.adding_headers(send, path)
        if (refusal := self.host_refusal(scope)) or (refusal := self.origin_refusal(scope, method)):
            await drain(receive)
            await refuse(send, *refusal)
            return
        if method == "POST" and path.rstrip("/") == self.policy.login_path:
            await self.login(scope, receive, send)
        elif method == "POST" and path.rstrip("/") == self.policy.upload_path:
            await self.upload(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def with_client(self, scope: Scope) -> Scope:
        """A copy of `scope` whose client is the real client, with proxy headers kept only from trusted proxies."""
        peer = (scope.get("client") or ("", 0))[0]
        scope = dict(scope)
        if in_networks(peer, self.trusted):
            client = forwarded_client(peer, header(scope, b"x-forwarded-for"), self.trusted)
            scope["client"] = (client, 0)
            scope["trusted_proxy"] = True
        else:
            scope["headers"] = [(key, value) for key, value in scope.get("headers", []) if key not in PROXY_HEADERS]
            scope["trusted_proxy"] = False
        return scope

    def host_refusal(self, scope: Scope) -> tuple[int, str] | None:
        """Host names other than this server's are refused (Gradio writes the Host into page URLs and code
        snippets, and a DNS-rebinding page would reach the app under its own name); a trusted proxy vouches for its
        own."""
        if scope["trusted_proxy"]:
            return None
        name = host_name(header(scope, b"host"))
        if not name or is_ip_literal(name) or name in self.allowed_hosts:
            return None
        if name in {host_name(extra) for extra in self.extra_hosts()}:
            return None
        return 421, f"This app does not serve the host name {name!r}; its operator can add it with --allowed-host."

    def origin_refusal(self, scope: Scope, method: str) -> tuple[int, str] | None:
        """A POST, PUT or DELETE sent by a page of another site is refused: browsers send such forms (an upload, a
        login, a queued job) without asking first, and with the visitor's cookies."""
        if method in {"GET", "HEAD", "OPTIONS"}:
            return None
        origin = header(scope, b"origin").strip().lower()
        if not origin:
            return None  # scripts and gradio_client send none; every browser sends one with a POST
        host = header(scope, b"x-forwarded-host") if scope["trusted_proxy"] else ""
        host = (host.split(",")[0] or header(scope, b"host")).strip().lower()
        if origin != "null" and (urlsplit(origin).netloc == host or origin in self.allowed_origins):
            return None
        return 403, "Requests from other sites are refused: open the app's own page to use it."

    def adding_headers(self, send: Send, path: str) -> Send:
        extra = list(self.security_headers)
        if path.startswith(self.policy.file_path_prefix):
            # An uploaded file, whatever it claims to be, is never a page that runs scripts.
            extra = [item for item in extra if item[0] != b"content-security-policy"]
            extra.append((b"content-security-policy", b"sandbox; default-src 'none'; frame-ancestors 'self'"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in extra}
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        return send_with_headers

    async def login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope["client"][0]
        now = self.clock()
        if wait := self.logins.wait_seconds(client, now):
            await drain(receive)
            await refuse(
                send,
                429,
                f"Too many failed logins; try again in {math.ceil(wait)} seconds.",
                {"Retry-After": str(math.ceil(wait))},
            )
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] == 200:
            self.logins.succeeded(client)
        elif status and status[0] in {400, 401} and (lockout := self.logins.failed(client, self.clock())):
            count = self.logins.failures[client][0]
            logger.warning("Login locked for %s for %d s after %d failed attempts", client, lockout, count)

    async def upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope["client"][0]
        length = header(scope, b"content-length")
        if not length.isdigit():
            await drain(receive)
            await refuse(send, 411, "Uploads must say their size (Content-Length).")
            return
        # This machine's own clients are not budgeted (a share link's visitors come with X-Forwarded-For).
        if not is_loopback(client) and (refusal := self.spend_upload_budget(client, int(length))):
            await drain(receive)
            await refuse(send, *refusal)
            return
        if refusal := self.folder_refusal(int(length)):
            await drain(receive)
            await refuse(send, *refusal)
            return
        # Hold the answer until the files are in place (Gradio moves them after answering), then check them.
        start: list[Message] = []
        body = bytearray()

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, hold)
        if not start:
            return
        stored = self.stored_uploads(start[0]["status"], bytes(body))
        app_files = {Path(file).resolve() for file in self.app_files()}
        stored = [path for path in stored if path.resolve() not in app_files]
        if any(not is_accepted_upload(path) for path in stored):
            for path in stored:
                path.unlink(missing_ok=True)
            await refuse(send, 415, NOT_ACCEPTED)
            return
        headers = [(key, value) for key, value in start[0].get("headers", []) if key.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start[0], "headers": headers})
        await send({"type": "http.response.body", "body": bytes(body)})
        for path in stored:
            self.kept_uploads.add(path, self.clock())

    def folder_refusal(self, size: int) -> tuple[int, str, dict[str, str]] | None:
        """Room for `size` more bytes of uploads, made by deleting the oldest; when only recent uploads are left, the
        new one waits instead (507 with `Retry-After`)."""
        wait, deleted = self.kept_uploads.make_room(size, self.clock())
        if deleted:
            logger.info("Upload folder over its budget: removed the %d oldest uploads", len(deleted))
        if not wait:
            return None
        budget = self.kept_uploads.max_bytes / 2**20
        logger.warning("Upload folder full of recent uploads (%g MB): uploads refused for %d s", budget, wait)
        return (
            507,
            f"The app's folder for uploads is full ({budget:g} MB of recent uploads); try again in "
            f"{math.ceil(wait)} seconds.",
            {"Retry-After": str(math.ceil(wait))},
        )

    def spend_upload_budget(self, client: str, size: int) -> tuple[int, str, dict[str, str]] | None:
        now = self.clock()
        if (wait := self.uploads.wait_seconds(client, size, now)) is None:
            self.uploads.spend(client, size, now)
            return None
        budget = f"{self.uploads.max_requests} uploads or {self.uploads.max_bytes / 2**20:g} MB"
        return (
            429,
            f"Upload budget spent ({budget} per {self.uploads.window / 60:g} minutes); try again in "
            f"{math.ceil(wait)} seconds.",
            {"Retry-After": str(math.ceil(wait))},
        )

    def stored_uploads(self, status: int, body: bytes) -> list[Path]:
        """The files an upload answer lists (only paths inside the upload folder are trusted as such)."""
        if status != 200:
            return []
        try:
            paths = json.loads(body)
        except ValueError:
            return []
        folder = self.upload_folder()
        stored = []
        for item in paths if isinstance(paths, list) else []:
            path = Path(str(item)).resolve()
            if folder is not None and path.is_relative_to(folder.resolve()):
                stored.append(path)
        return stored
