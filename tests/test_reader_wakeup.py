"""A job waits for its reader (the unread-job defence in gradio_defences.FairQueue): browsers and REST clients post
a job first and open its event stream after, so on an idle queue every job waits for the stream. It must start as
soon as the stream opens, not at the next poll (a 50 ms poll once added ~50 ms to every answer)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import gradio as gr

from gradio_defences import FairQueue
from shared.limits import UNREAD_JOB_GRACE_SECONDS


def open_stream(fair: FairQueue, session_hash: str):
    """What the app does when a browser opens `queue/data` for its session: the counting middleware's request,
    held open until the returned event is set."""
    closing = asyncio.Event()

    async def gradio(scope, receive, send):
        await closing.wait()

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/gradio_api/queue/data",
        "query_string": f"session_hash={session_hash}".encode(),
        "headers": [],
    }
    return asyncio.ensure_future(fair.middleware(gradio)(scope, None, None)), closing


def test_a_waiting_job_starts_when_its_stream_opens_without_waiting_for_a_poll():
    async def scenario() -> tuple[bool, bool, bool]:
        fair = FairQueue(gr.Blocks(), max_per_client=8)
        job = SimpleNamespace(session_hash="tab-1", _id="job-1", enqueue_time=time.monotonic())
        other = SimpleNamespace(session_hash="tab-2", _id="job-2", enqueue_time=time.monotonic())
        waiting = asyncio.ensure_future(fair.wait_for_reader(job))
        still_waiting = asyncio.ensure_future(fair.wait_for_reader(other))
        for _ in range(5):
            await asyncio.sleep(0)
        before = waiting.done()
        stream, closing = open_stream(fair, "tab-1")
        for _ in range(10):  # a few turns of the event loop, far less than any poll interval
            await asyncio.sleep(0)
        started = waiting.done() and waiting.result()
        other_waits = not still_waiting.done()
        closing.set()
        still_waiting.cancel()
        await stream
        return before, started, other_waits

    before, started, other_waits = asyncio.run(scenario())
    assert not before, "the job started before anybody read it"
    assert started, "the job did not start when its reader arrived"
    assert other_waits, "another session's job started without its own reader"


def test_a_job_whose_reader_never_comes_is_not_started():
    async def scenario() -> bool:
        fair = FairQueue(gr.Blocks(), max_per_client=8)
        job = SimpleNamespace(
            session_hash="gone", _id="job", enqueue_time=time.monotonic() - UNREAD_JOB_GRACE_SECONDS + 0.05
        )
        return await fair.wait_for_reader(job)

    assert asyncio.run(scenario()) is False
