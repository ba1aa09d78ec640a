"""What several test files need: a free port, the app served as production serves it, settings for tiny stand-ins,
and the shared readings of an answer. Fixtures live in conftest.py; tests import these plain functions from here."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gradio as gr

from app import launch
from shared.runtime import Runtime
from shared.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stand_in_settings(cache_dir: Path, **changes: Any) -> Settings:
    """Tiny stand-ins built under `cache_dir`, on the CPU, served on a free port; `changes` set any other field."""
    return Settings(**{"stand_ins": "tiny", "cache_dir": cache_dir, "device": "cpu", "port": free_port(), **changes})


@contextmanager
def served(runtime: Runtime) -> Iterator[tuple[str, gr.Blocks]]:
    """The app served by `app.launch` (the production queue and launch settings) until the block ends: its URL and
    the running Blocks. A test that needs other settings (a login, other models) passes them in `runtime.settings`."""
    app = launch(runtime, block=False)
    try:
        yield f"http://{runtime.settings.host}:{runtime.settings.port}/", app
    finally:
        app.close()


def asgi_call(app: Any, scope: dict) -> list[dict]:
    """Call an ASGI app (a middleware) with a request that has no body; return the messages it sent."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def confidences(label: dict) -> dict[str, float]:
    """A gr.Label value as the API returns it, as label -> confidence."""
    return {item["label"]: item["confidence"] for item in label["confidences"]}


def untimed(status: str) -> str:
    """A status line without its timing, the one part two calls of an endpoint do not share."""
    return re.sub(r" in \d+\.\d\d s", " in … s", status)


def final_event(lines: Iterable[str]) -> tuple[str | None, object]:
    """The last event of a Gradio REST job's server-sent stream (`complete` or `error`, or the last one seen) and
    its data, read from the stream's lines."""
    event, payload = None, None
    for line in lines:
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            payload = json.loads(line.removeprefix("data:").strip() or "null")
            if event in {"complete", "error"}:
                break
    return event, payload


@contextmanager
def slowed_without_end(model: Any, end_token_id: int, seconds_per_pass: float = 0.02) -> Iterator[list[int]]:
    """`model` (a causal LM the app's cache holds) made slow, `seconds_per_pass` a forward pass, and unable to choose
    its end token until the block ends, so a long generation runs for seconds and only Stop can end it early. Yields
    a list that grows by one each forward pass."""
    forward = model.forward
    calls: list[int] = []

    @functools.wraps(forward)
    def slow_forward(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        time.sleep(seconds_per_pass)
        output = forward(*args, **kwargs)
        output.logits[..., end_token_id] = float("-inf")
        return output

    model.forward = slow_forward
    try:
        yield calls
    finally:
        del model.forward
