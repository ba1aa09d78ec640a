"""The defences that need Gradio's insides, installed by `app.launch`: a private temp folder per app, the login page
without the API description, and a fair queue. Fair means one client (a session, and an address) holds only a few
places across all endpoints, one endpoint cannot take the whole queue, and a job nobody reads is dropped within
seconds (Gradio would run it to the end). The plain-HTTP defences are in `shared/web_defences.py`."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request

from shared.limits import MAX_QUEUED_PER_ENDPOINT, MAX_QUEUED_PER_SESSION, UNREAD_JOB_GRACE_SECONDS
from shared.settings import Settings
from shared.web_defences import ASGIApp, Receive, Scope, Send, WebDefences, WebPolicy

logger = logging.getLogger(__name__)

API_INFO_SCRIPT = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.DOTALL)  # toorjson escapes "<"
READER_ROUTES = re.compile(r"^/gradio_api/(?:queue/data|call/(?:v2/)?[^/]+/(?P<event_id>[^/]+))/?$")

_temp_folder: Path | None = None


def private_temp_folder() -> Path:
    """This process's own folder (mode 0700) for Gradio's uploads and outputs, instead of the `/tmp/gradio` every
    Gradio app on the machine shares; removed when the process exits. Gradio reads GRADIO_TEMP_DIR when it builds
    components and the server, so this runs before both."""
    global _temp_folder
    if _temp_folder is None:
        _temp_folder = Path(tempfile.mkdtemp(prefix="transformers-demo-suite-", dir=os.environ.get("GRADIO_TEMP_DIR")))
        os.environ["GRADIO_TEMP_DIR"] = str(_temp_folder)
        atexit.register(shutil.rmtree, _temp_folder, ignore_errors=True)
    return _temp_folder


def is_logged_in(blocks: gr.Blocks, scope: Scope) -> bool:
    server = blocks.server_app
    if server is None or not server.auth:
        return True
    cookies = Request(scope).cookies
    token = cookies.get(f"access-token-{server.cookie_id}") or cookies.get(f"access-token-unsecure-{server.cookie_id}")
    return token is not None and token in server.tokens


class LoginPageWithoutApi:
    """Gradio embeds the whole API description (every endpoint, parameter, default and model choice, a local model's
    server path included) in every page, the login page too. Before login, a page gets none."""

    def __init__(self, app: ASGIApp, blocks: gr.Blocks) -> None:
        self.app = app
        self.blocks = blocks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in {"GET", "HEAD"} or is_logged_in(self.blocks, scope):
            await self.app(scope, receive, send)
            return
        start: list[dict] = []
        body = bytearray()

        async def hold(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, hold)
        if not start:
            return
        page = bytes(body)
        content_type = dict(start[0].get("headers", [])).get(b"content-type", b"")
        if content_type.startswith(b"text/html"):
            page = API_INFO_SCRIPT.sub(b"window.gradio_api_info = null;</script>", page)
        headers = [(key, value) for key, value in start[0].get("headers", []) if key.lower() != b"content-length"]
        await send({**start[0], "headers": [*headers, (b"content-length", str(len(page)).encode())]})
        await send({"type": "http.response.body", "body": page if scope["method"] == "GET" else b""})


class FairQueue:
    """Limits on Gradio's queue, checked when a job joins: per session, per client address and per endpoint; and a
    watcher that drops the jobs whose results nobody is reading (no open event stream for their session or id)."""

    def __init__(self, blocks: gr.Blocks, max_per_address: int) -> None:
        self.queue = blocks._queue
        self.max_per_address = max_per_address
        self.readers: Counter[str] = Counter()  # session hash or event id -> open event streams
        self.last_read: dict[str, float] = {}
        self.dropped: set[str] = set()
        self.watcher: asyncio.Task | None = None
        self.join = self.queue.push
        self.queue.push = self.push

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Counts the open event streams, which is how the watcher knows that somebody reads a job's result."""

        async def counting_readers(scope: Scope, receive: Receive, send: Send) -> None:
            match = READER_ROUTES.match(scope.get("path", "")) if scope["type"] == "http" else None
            if match is None or scope.get("method") != "GET":
                await app(scope, receive, send)
                return
            key = match["event_id"] or Request(scope).query_params.get("session_hash", "")
            self.readers[key] += 1
            try:
                await app(scope, receive, send)
            finally:
                self.readers[key] -= 1
                if self.readers[key] <= 0:
                    del self.readers[key]

        return counting_readers

    def waiting(self) -> list:
        return list(self.queue.event_ids_to_events.values())  # queued and running, until they finish

    async def push(self, body: Any, request: Any, username: str | None) -> Any:
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.get_running_loop().create_task(self.drop_unread_jobs())
        address = request.client.host if request.client else ""
        events = self.waiting()
        if body.session_hash and sum(event.session_hash == body.session_hash for event in events) >= (
            MAX_QUEUED_PER_SESSION
        ):
            raise self.refusal(f"This session already has {MAX_QUEUED_PER_SESSION} requests waiting or running")
        if sum(event.request.client.host == address for event in events if event.request.client) >= (
            self.max_per_address
        ):
            raise self.refusal(f"Your address already has {self.max_per_address} requests waiting or running")
        fn = self.queue.blocks.fns.get(body.fn_index) if body.fn_index is not None else None
        endpoint_queue = self.queue.event_queue_per_concurrency_id.get(fn.concurrency_id) if fn else None
        if endpoint_queue is not None and len(endpoint_queue.queue) >= MAX_QUEUED_PER_ENDPOINT:
            raise HTTPException(
                status_code=503,
                detail=f"/{fn.api_name} has {MAX_QUEUED_PER_ENDPOINT} requests waiting, its limit; the other tabs "
                "still answer. Try again in a minute.",
            )
        return await self.join(body=body, request=request, username=username)

    @staticmethod
    def refusal(reason: str) -> HTTPException:
        return HTTPException(
            status_code=429,
            detail=f"{reason}; wait for their answers before sending more.",
            headers={"Retry-After": "5"},
        )

    def is_read(self, event: Any) -> bool:
        return self.readers[event.session_hash] > 0 or self.readers[event._id] > 0

    async def drop_unread_jobs(self) -> None:
        while not self.queue.stopped:
            await asyncio.sleep(UNREAD_JOB_GRACE_SECONDS / 4)
            now = time.monotonic()
            events = self.waiting()
            for event in events:
                if event._id in self.dropped:
                    continue
                if self.is_read(event):
                    self.last_read[event._id] = now
                elif now - self.last_read.get(event._id, event.enqueue_time) > UNREAD_JOB_GRACE_SECONDS:
                    self.dropped.add(event._id)
                    logger.info("Dropping /%s for %s: nobody reads its result", event.fn.api_name, client_of(event))
                    await self.queue.clean_events(event_id=event._id)
            alive = {event._id for event in events}
            self.last_read = {key: value for key, value in self.last_read.items() if key in alive}
            self.dropped &= alive


def client_of(event: Any) -> str:
    return event.request.client.host if event.request is not None and event.request.client else "?"


def web_policy(settings: Settings) -> WebPolicy:
    return WebPolicy(
        trusted_proxies=settings.trusted_proxies,
        allowed_hosts=settings.allowed_hosts,
        frame_ancestors=settings.frame_ancestors,
        upload_folder_bytes=int(settings.upload_folder_mb * 2**20),
    )


def share_hosts(blocks: gr.Blocks) -> tuple[str, ...]:
    return (blocks.share_url.split("//")[-1].split("/")[0],) if blocks.share_url else ()


def app_kwargs(blocks: gr.Blocks, settings: Settings) -> dict[str, Any]:
    """What `Blocks.launch(app_kwargs=...)` needs for the defences; call after `blocks.queue()`. FastAPI's own
    /openapi.json (every route, readable before login) is switched off."""
    fair_queue = FairQueue(blocks, settings.max_queued_per_address)
    folder = private_temp_folder()
    return {
        "openapi_url": None,
        "middleware": [
            Middleware(
                WebDefences,
                policy=web_policy(settings),
                upload_folder=lambda: folder,
                extra_hosts=lambda: share_hosts(blocks),
            ),
            Middleware(LoginPageWithoutApi, blocks=blocks),
            Middleware(fair_queue.middleware),
        ],
    }
