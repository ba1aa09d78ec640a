"""The defences that need Gradio's insides, installed by `app.launch`: a private temp folder per app, the login page
without the API description, every API value checked for its kind before Gradio reads it, output files written
whole, and a fair queue. Fair means one client (a session, and an address) holds only a few places across all
endpoints, each endpoint holds as many requests as it serves within the target wait (from its measured service
times, `shared/queue_bounds.py`), a refused request is told when to come back (Retry-After), and a job nobody reads
is dropped within seconds (Gradio would run it to the end). The plain-HTTP defences are in `shared/web_defences.py`."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import HTTPException
from gradio import processing_utils
from gradio.server_messages import ProcessCompletedMessage
from starlette.middleware import Middleware
from starlette.requests import Request

from shared.downloads import write_whole
from shared.limits import MAX_QUEUED_REQUESTS, QUEUE_WAIT_SECONDS, UNREAD_JOB_GRACE_SECONDS
from shared.page_cache import PageCache
from shared.queue_bounds import (
    ServiceTimes,
    backlog_seconds,
    busy_message,
    queue_places,
    retry_after_seconds,
    whole_seconds,
)
from shared.settings import Settings
from shared.web_defences import ASGIApp, Receive, Scope, Send, WebDefences, WebPolicy, drain, is_loopback, refuse

logger = logging.getLogger(__name__)

API_INFO_SCRIPT = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.DOTALL)  # toorjson escapes "<"
READER_ROUTES = re.compile(r"^/gradio_api/(?:queue/data|call/(?:v2/)?[^/]+/(?P<event_id>[^/]+))/?$")

UNREAD_MESSAGE = (
    f"Dropped: nobody was reading this request's result within {UNREAD_JOB_GRACE_SECONDS:g} seconds. Read the "
    "event stream (GET /gradio_api/call/<api_name>/<event_id>) right after posting."
)

_temp_folder: Path | None = None


def private_temp_folder() -> Path:
    """This process's own folder (mode 0700) for Gradio's uploads and outputs, instead of the `/tmp/gradio` every
    Gradio app on the machine shares; removed when the process exits. Gradio reads GRADIO_TEMP_DIR when it builds
    components and the server, so this runs before either."""
    global _temp_folder
    if _temp_folder is None:
        _temp_folder = Path(tempfile.mkdtemp(prefix="transformers-demo-suite-", dir=os.environ.get("GRADIO_TEMP_DIR")))
        os.environ["GRADIO_TEMP_DIR"] = str(_temp_folder)
        atexit.register(shutil.rmtree, _temp_folder, ignore_errors=True)
        # A few Gradio modules read it once, when imported (screen recordings, edit history): point them here too.
        for name in ["gradio.route_utils", "gradio.routes", "gradio.screen_recording_utils", "gradio.mcp"]:
            if hasattr(module := sys.modules.get(name), "DEFAULT_TEMP_DIR"):
                module.DEFAULT_TEMP_DIR = str(_temp_folder)
    return _temp_folder


def whole_cache_writes() -> None:
    """Gradio writes an image or bytes output in place, in a folder named by the contents' hash: answers with the
    same picture rewrite the same file, and a visitor downloading it meanwhile got it cut short (a lost /segment
    answer in the load test). Here such files are written under another name and renamed into place."""

    def save_pil_to_cache(img: Any, cache_dir: str, name: str = "image", format: str = "webp") -> str:  # noqa: A002
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        return str(write_whole(folder / f"{name}.{format}", data).resolve())

    def save_bytes_to_cache(data: bytes, file_name: str, cache_dir: str) -> str:
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        if not Path(file_name).suffix:
            file_name += processing_utils.detect_audio_format(data)
        return str(write_whole(folder / Path(file_name).name, data).resolve())

    processing_utils.save_pil_to_cache = save_pil_to_cache
    processing_utils.save_bytes_to_cache = save_bytes_to_cache


def keep_built_files(blocks: gr.Blocks) -> None:
    """The files a Blocks copies into Gradio's cache while it is built (its examples' and default values' files) stay
    for the app's life. Gradio 6.31 marks an Image example `keep_in_cache` but not a File example, so its hourly
    `delete_cache` sweep deleted the Evaluate tab's reviews.csv an hour after start (as did the close of any other
    app in the same process, their copies being the same file): the example then answered a bare "Error"."""
    for block in blocks.blocks.values():
        if isinstance(getattr(block, "keep_in_cache", None), set):
            block.keep_in_cache.update(getattr(block, "temp_files", ()))


def kept_files(blocks: gr.Blocks) -> set[str]:
    """The files Gradio keeps in its cache for the app's life (`keep_in_cache`)."""
    return {file for block in blocks.blocks.values() for file in getattr(block, "keep_in_cache", ())}


def is_logged_in(blocks: gr.Blocks, scope: Scope) -> bool:
    server = blocks.server_app
    if server is None or not server.auth:
        return True
    return logged_in_as(blocks, scope) is not None


def logged_in_as(blocks: gr.Blocks, scope: Scope) -> str | None:
    """The user name of the request's login, as Gradio reads it; None before login or without a login."""
    server = blocks.server_app
    if server is None or not server.auth:
        return None
    cookies = Request(scope).cookies
    token = cookies.get(f"access-token-{server.cookie_id}") or cookies.get(f"access-token-unsecure-{server.cookie_id}")
    return server.tokens.get(token) if token is not None else None


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
        page: list[dict] = []  # the start of an HTML answer, held until its body is complete
        body = bytearray()

        async def rewrite_html(message: dict) -> None:
            if message["type"] == "http.response.start":
                if not dict(message.get("headers", [])).get(b"content-type", b"").startswith(b"text/html"):
                    await send(message)  # scripts, styles, images: passed on as they come
                    return
                page.append(message)
            elif not page:
                await send(message)
            else:
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    html = API_INFO_SCRIPT.sub(b"window.gradio_api_info = null;</script>", bytes(body))
                    headers = [(key, value) for key, value in page[0].get("headers", []) if key != b"content-length"]
                    await send({**page[0], "headers": [*headers, (b"content-length", str(len(html)).encode())]})
                    await send({"type": "http.response.body", "body": html if scope["method"] == "GET" else b""})

        await self.app(scope, receive, rewrite_html)


# Gradio routes that answer without a login even when the app has one: MCP (tool list, schema and calls), cancelling
# and resetting events, heartbeats (an open stream each), streamed inputs and run history.
ROUTES_GRADIO_LEAVES_OPEN = re.compile(
    r"^/gradio_api/(?:mcp(?:/|$)|cancel/?$|reset/?$|heartbeat/|stream/|run-history/)"
)


class ApiBehindLogin:
    """With a login, the Gradio routes that skip Gradio's own login check answer 401 before login too."""

    def __init__(self, app: ASGIApp, blocks: gr.Blocks) -> None:
        self.app = app
        self.blocks = blocks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and ROUTES_GRADIO_LEAVES_OPEN.match(scope.get("path", ""))
            and not is_logged_in(self.blocks, scope)
        ):
            await drain(receive)
            await refuse(send, 401, "Not authenticated: log in first (the login cookie is needed here too).")
            return
        await self.app(scope, receive, send)


class FairQueue:
    """Limits on Gradio's queue, checked when a job joins: per session, per client address, per endpoint (as many
    places as its measured service time lets it serve within `target_wait` seconds) and for the whole queue; a
    refusal by a full queue is a 503 whose Retry-After and message say when to come back. The service times measured
    here are also what Gradio's queue position messages estimate the wait from. And nobody's jobs run unread: a job
    whose session (or, for the REST route, whose id) has no open event stream waits at most UNREAD_JOB_GRACE_SECONDS
    for one before it starts, and is dropped with an error otherwise; a watcher drops the queued or running jobs whose
    reader has been gone as long."""

    def __init__(self, blocks: gr.Blocks, max_per_client: int, target_wait: float = QUEUE_WAIT_SECONDS) -> None:
        self.queue = blocks._queue
        self.max_per_client = max_per_client
        self.target_wait = target_wait
        self.service_times = ServiceTimes()
        self.readers: Counter[str] = Counter()  # session hash or event id -> open event streams
        self.last_read: dict[str, float] = {}
        self.dropped: set[str] = set()
        self.watcher: asyncio.Task | None = None
        self._readers_changed: asyncio.Condition | None = None
        self.join = self.queue.push
        self.queue.push = self.push
        self.run = self.queue.process_events
        self.queue.process_events = self.process_events

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Counts the open event streams, which is how the queue knows that somebody reads a job's result."""

        async def counting_readers(scope: Scope, receive: Receive, send: Send) -> None:
            match = READER_ROUTES.match(scope.get("path", "")) if scope["type"] == "http" else None
            if match is None or scope.get("method") != "GET":
                await app(scope, receive, send)
                return
            key = match["event_id"] or Request(scope).query_params.get("session_hash", "")
            self.readers[key] += 1
            async with self.readers_changed():
                self.readers_changed().notify_all()
            try:
                await app(scope, receive, send)
            finally:
                self.readers[key] -= 1
                if self.readers[key] <= 0:
                    del self.readers[key]

        return counting_readers

    def jobs(self) -> list:
        return list(self.queue.event_ids_to_events.values())  # queued and running, until they finish

    async def push(self, body: Any, request: Any, username: str | None) -> Any:
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.get_running_loop().create_task(self.watch_readers())
        address = request.client.host if request.client else ""
        jobs = self.jobs()  # a dropped job that still runs still counts: it still takes the CPU
        if body.session_hash and sum(job.session_hash == body.session_hash for job in jobs) >= self.max_per_client:
            raise self.refusal(f"This session already has {self.max_per_client} requests waiting or running")
        # Loopback clients are this machine's own (a share link's visitors come with X-Forwarded-For).
        if not is_loopback(address) and sum(client_of(job) == address for job in jobs) >= self.max_per_client:
            raise self.refusal(f"Your address already has {self.max_per_client} requests waiting or running")
        fn = self.queue.blocks.fns.get(body.fn_index) if body.fn_index is not None else None
        endpoint_queue = self.queue.event_queue_per_concurrency_id.get(fn.concurrency_id) if fn else None
        if endpoint_queue is not None:
            waiting, seconds = len(endpoint_queue.queue), self.service_times.average(fn.concurrency_id)
            concurrency = self.concurrency(endpoint_queue)
            if waiting >= queue_places(seconds, concurrency, self.target_wait):
                raise self.busy(
                    retry_after_seconds(waiting, seconds, concurrency),
                    f"/{fn.api_name} has {waiting} requests waiting, as many as it answers in about "
                    f"{self.target_wait:g} s; the other tabs still answer.",
                )
        if len(self.queue) >= MAX_QUEUED_REQUESTS:
            raise self.busy(
                whole_seconds(self.backlog()), f"The app has {len(self.queue)} requests waiting, its limit."
            )
        return await self.join(body=body, request=request, username=username)

    def concurrency(self, endpoint_queue: Any) -> int:
        return endpoint_queue.concurrency_limit or self.queue.max_thread_count

    def backlog(self) -> float:
        """Seconds until every request waiting now has been served."""
        return backlog_seconds(
            (len(endpoint_queue.queue), self.service_times.average(key), self.concurrency(endpoint_queue))
            for key, endpoint_queue in list(self.queue.event_queue_per_concurrency_id.items())
        )

    @staticmethod
    def busy(retry_after: int, reason: str) -> HTTPException:
        return HTTPException(
            status_code=503, detail=busy_message(retry_after, reason), headers={"Retry-After": str(retry_after)}
        )

    @staticmethod
    def refusal(reason: str) -> HTTPException:
        return HTTPException(
            status_code=429,
            detail=f"{reason}; wait for their answers before sending more.",
            headers={"Retry-After": str(math.ceil(UNREAD_JOB_GRACE_SECONDS))},
        )

    def is_read(self, job: Any) -> bool:
        return self.readers[job.session_hash] > 0 or self.readers[job._id] > 0

    def readers_changed(self) -> asyncio.Condition:
        """Notified when an event stream opens, for the jobs waiting for their reader (a browser and a REST client
        post the job first and open its stream after: a job that polled for it started up to 50 ms late)."""
        if self._readers_changed is None:
            self._readers_changed = asyncio.Condition()
        return self._readers_changed

    async def wait_for_reader(self, job: Any) -> bool:
        left = job.enqueue_time + UNREAD_JOB_GRACE_SECONDS - time.monotonic()
        if not self.is_read(job) and left > 0:
            async with self.readers_changed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.readers_changed().wait_for(lambda: self.is_read(job)), timeout=left)
        return self.is_read(job)

    async def process_events(self, events: list, *args: Any) -> None:
        for job in events:
            if not await self.wait_for_reader(job):
                await self.drop(job)
        started = time.monotonic()
        await self.run(events, *args)
        if events and not any(job._id in self.dropped or not job.alive for job in events):
            self.measured(events[0].fn, time.monotonic() - started)

    def measured(self, fn: Any, seconds: float) -> None:
        """A run's service time goes into its endpoint's average, which Gradio's queue then estimates waits from
        (its own figure is the mean since start-up, the first model load included)."""
        average = self.service_times.record(fn.concurrency_id, seconds)
        if fn in self.queue.process_time_per_fn:
            self.queue.process_time_per_fn[fn].avg_time = average

    async def drop(self, job: Any) -> None:
        """The job ends with an error for whoever reads late, and is taken off the queue (or, running, stops at its
        next update: a function that returns once runs to its end)."""
        if job._id in self.dropped:
            return
        self.dropped.add(job._id)
        logger.info("Dropped a /%s job of %s: nobody read its result", job.fn.api_name, client_of(job))
        self.queue.send_message(job, ProcessCompletedMessage(output={"error": UNREAD_MESSAGE}, success=False))
        await self.queue.clean_events(event_id=job._id)
        job.alive = False

    async def watch_readers(self) -> None:
        while not self.queue.stopped:
            await asyncio.sleep(UNREAD_JOB_GRACE_SECONDS / 5)
            now = time.monotonic()
            jobs = self.jobs()
            for job in jobs:
                if self.is_read(job):
                    self.last_read[job._id] = now
                elif now - self.last_read.get(job._id, job.enqueue_time) > UNREAD_JOB_GRACE_SECONDS:
                    await self.drop(job)
            alive = {job._id for job in jobs}
            self.last_read = {key: value for key, value in self.last_read.items() if key in alive}
            self.dropped &= alive


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string" if len(value) > 40 else repr(value)
    return {bool: "a boolean", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def lone_surrogate(text: str) -> str | None:
    """The first UTF-16 surrogate in `text` that JSON let through on its own (no character is made of it)."""
    return next((char for char in text if "\ud800" <= char <= "\udfff"), None)


def input_problem(component: Any, value: Any) -> str | None:
    """What is wrong with a raw API value for `component`, in words ("must be a number; got 'abc'"), or None. Gradio
    would otherwise fail inside the component with no message at all."""
    if isinstance(component, gr.Slider | gr.Number):
        if value is None and isinstance(component, gr.Number):
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"must be a number; got {describe(value)}"
    elif isinstance(component, gr.Checkbox):
        if not isinstance(value, bool):
            return f"must be true or false; got {describe(value)}"
    elif isinstance(component, gr.CheckboxGroup):
        if not isinstance(value, list) or not all(isinstance(item, str | int | float) for item in value):
            return f"must be a list of choices; got {describe(value)}"
    elif isinstance(component, gr.Textbox):
        if not isinstance(value, str):
            return f"must be text; got {describe(value)}"
    elif isinstance(component, gr.Dropdown | gr.Radio):
        allowed = (str, int, float, type(None)) + ((list,) if getattr(component, "multiselect", False) else ())
        if not isinstance(value, allowed):
            return f"must be one of the choices; got {describe(value)}"
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(text, str) and lone_surrogate(text) for text in texts):
        return "holds a lone UTF-16 surrogate (such as \\ud800), which is not a character; send valid Unicode text"
    return None


def parameter_names(block_fn: Any) -> list[str]:
    """The API's names for an event's inputs: its function's parameters, less the progress tracker."""
    try:
        parameters = inspect.signature(block_fn.fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [parameter.name for parameter in parameters if not isinstance(parameter.default, gr.Progress)]


def check_inputs(blocks: gr.Blocks) -> None:
    """Before Gradio preprocesses a request's values: too few of them, or a value of the wrong kind, is a message
    naming the field and what it must be (Gradio answers those with `{"error": null}`)."""
    validate = blocks.validate_inputs

    def validate_inputs(block_fn: Any, inputs: list[Any]) -> None:
        names = parameter_names(block_fn)
        if len(names) != len(block_fn.inputs):
            names = [
                getattr(component, "label", None) or f"value {n + 1}" for n, component in enumerate(block_fn.inputs)
            ]
        if len(inputs) < len(block_fn.inputs):
            raise gr.Error(
                f"/{block_fn.api_name} takes {len(block_fn.inputs)} values ({', '.join(names)}); got {len(inputs)}."
            )
        for name, component, value in zip(names, block_fn.inputs, inputs, strict=False):
            if (problem := input_problem(component, value)) is not None:
                raise gr.Error(f"{name} {problem}.")
        validate(block_fn, inputs)

    blocks.validate_inputs = validate_inputs


def client_of(job: Any) -> str:
    return job.request.client.host if job.request is not None and job.request.client else "?"


def web_policy(settings: Settings) -> WebPolicy:
    return WebPolicy(
        # A share link's tunnel connects from this machine and names the visitor in X-Forwarded-For.
        trusted_proxies=settings.trusted_proxies + (("127.0.0.1", "::1") if settings.share else ()),
        allowed_hosts=settings.allowed_hosts,
        frame_ancestors=settings.frame_ancestors,
        upload_folder_bytes=int(settings.upload_folder_mb * 2**20),
        upload_bytes_per_client=int(settings.upload_mb_per_client * 2**20),
    )


def share_hosts(blocks: gr.Blocks) -> tuple[str, ...]:
    return (blocks.share_url.split("//")[-1].split("/")[0],) if blocks.share_url else ()


def app_kwargs(blocks: gr.Blocks, settings: Settings) -> dict[str, Any]:
    """What `Blocks.launch(app_kwargs=...)` needs for the defences; call after `blocks.queue()`. FastAPI's own
    /openapi.json (every route, readable before login) is switched off."""
    fair_queue = FairQueue(blocks, settings.max_queued_per_client, settings.queue_wait_seconds)
    check_inputs(blocks)
    whole_cache_writes()
    folder = private_temp_folder()
    return {
        "openapi_url": None,
        "middleware": [
            Middleware(
                WebDefences,
                policy=web_policy(settings),
                upload_folder=lambda: folder,
                extra_hosts=lambda: share_hosts(blocks),
                app_files=lambda: kept_files(blocks),
            ),
            Middleware(PageCache, visitor=lambda scope: logged_in_as(blocks, scope)),
            Middleware(LoginPageWithoutApi, blocks=blocks),
            Middleware(ApiBehindLogin, blocks=blocks),
            Middleware(fair_queue.middleware),
        ],
    }
