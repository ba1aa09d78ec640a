"""The queue's bound per endpoint and the refused visitor's retry time, from measured service times
(shared/queue_bounds.py, gradio_defences.FairQueue): the pure rules, then a one-endpoint app served with the app's
production queue and defences (`app.serve`), whose slow endpoint is filled on loopback until it refuses."""

from __future__ import annotations

import math
import re
import threading
import time
from concurrent.futures import wait

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from gradio_client.utils import QueueError, Status

from app import serve
from shared.limits import MAX_QUEUE_PLACES, MAX_RETRY_AFTER_SECONDS, MIN_QUEUE_PLACES, PRIOR_SERVICE_SECONDS
from shared.queue_bounds import (
    ServiceTimes,
    backlog_seconds,
    busy_message,
    expected_wait,
    queue_places,
    retry_after_seconds,
)
from shared.settings import Settings
from tests.helpers import free_port


def test_an_endpoint_holds_what_it_serves_within_the_target_wait():
    assert queue_places(service_seconds=1.0, concurrency=2, target_wait=30) == 60
    assert queue_places(service_seconds=2.0, concurrency=2, target_wait=30) == 30
    assert queue_places(service_seconds=1.0, concurrency=1, target_wait=30) == 30
    assert queue_places(service_seconds=1.0, concurrency=2, target_wait=60) == 120


def test_the_bound_stays_between_its_floor_and_ceiling():
    assert queue_places(service_seconds=60.0, concurrency=1, target_wait=30) == MIN_QUEUE_PLACES
    assert queue_places(service_seconds=0.001, concurrency=2, target_wait=30) == MAX_QUEUE_PLACES
    assert queue_places(service_seconds=0.0, concurrency=0, target_wait=30) == MAX_QUEUE_PLACES


def test_an_endpoint_not_measured_yet_is_taken_at_the_prior_service_time():
    assert queue_places(None, 2, 30) == queue_places(PRIOR_SERVICE_SECONDS, 2, 30)
    assert expected_wait(10, None, 2) == pytest.approx(10 * PRIOR_SERVICE_SECONDS / 2)


def test_the_retry_time_is_what_the_requests_ahead_take_in_whole_seconds():
    assert retry_after_seconds(waiting=30, service_seconds=2.0, concurrency=2) == 30
    assert retry_after_seconds(waiting=7, service_seconds=0.5, concurrency=2) == math.ceil(7 * 0.5 / 2)
    assert retry_after_seconds(waiting=0, service_seconds=0.5, concurrency=2) == 1
    assert retry_after_seconds(waiting=10_000, service_seconds=30.0, concurrency=1) == MAX_RETRY_AFTER_SECONDS


def test_the_backlog_adds_up_every_endpoints_wait():
    assert backlog_seconds([(4, 1.0, 2), (3, 2.0, 1), (0, None, 2)]) == pytest.approx(2.0 + 6.0)


def test_the_service_time_follows_recent_runs():
    times = ServiceTimes(recent_weight=0.5)
    assert times.average("slow") is None
    assert times.record("slow", 8.0) == 8.0  # the first run, model load and all
    for _ in range(10):
        times.record("slow", 1.0)
    assert 1.0 < times.average("slow") < 1.01
    assert times.averages() == {"slow": times.average("slow")}


def test_the_refusal_says_when_to_come_back_first():
    assert busy_message(12, "/generate has 40 requests waiting.").startswith("Busy: try again in about 12 s.")


SERVICE_SECONDS = 0.25
TARGET_WAIT = 1.0  # so that the slow endpoint holds a few places: about 1.0 * 2 / 0.25 = 8


@pytest.fixture(scope="module")
def slow_app():
    """One slow endpoint (SERVICE_SECONDS a run, then held while `gate` is closed), served as the app is served."""
    gate = threading.Event()
    gate.set()

    def slow(text: str) -> str:
        time.sleep(SERVICE_SECONDS)
        gate.wait(timeout=60)
        return text

    with gr.Blocks() as blocks:
        text, answer = gr.Textbox(), gr.Textbox()
        gr.Button().click(slow, text, answer, api_name="slow")
    settings = Settings(port=free_port(), queue_wait_seconds=TARGET_WAIT, max_queued_per_client=64)
    app = serve(blocks, settings, block=False)
    try:
        yield f"http://127.0.0.1:{settings.port}/", app, gate
    finally:
        gate.set()
        app.close()


def retry_after(response: httpx.Response) -> int:
    return int(response.headers["Retry-After"])


def test_a_full_endpoint_refuses_with_a_retry_time_and_a_waiting_visitor_sees_position_and_eta(slow_app):
    url, app, gate = slow_app
    client = Client(url, verbose=False)
    for turn in range(4):  # measured: four runs of SERVICE_SECONDS
        assert client.predict(f"measure {turn}", api_name="/slow") == f"measure {turn}"
    gate.clear()
    most_held = 2 + math.floor(TARGET_WAIT * 2 / SERVICE_SECONDS)  # two running, the rest waiting
    jobs = [client.submit(f"fill {n}", api_name="/slow") for n in range(most_held + 8)]
    try:
        deadline = time.monotonic() + 30
        while sum(job.done() for job in jobs) < 8 and time.monotonic() < deadline:  # the refused ones end at once
            time.sleep(0.1)
        time.sleep(0.5)

        rest = httpx.post(f"{url}gradio_api/call/slow", json={"data": ["one more"]}, timeout=30)
        fn_index = next(fn._id for fn in app.fns.values() if fn.api_name == "slow")
        browser_protocol = httpx.post(
            f"{url}gradio_api/queue/join",
            json={"data": ["one more"], "fn_index": fn_index, "session_hash": "a-new-visitor"},
            timeout=30,
        )
        for refusal in (rest, browser_protocol):
            assert refusal.status_code == 503, refusal.text
            seconds = retry_after(refusal)
            assert 1 <= seconds <= MAX_RETRY_AFTER_SECONDS
            detail = refusal.json()["detail"]
            assert detail.startswith(f"Busy: try again in about {seconds} s.")
            waiting = int(re.search(r"/slow has (\d+) requests waiting", detail)[1])
            # The bound comes from the measured service time (at least SERVICE_SECONDS a run), not a fixed figure.
            assert MIN_QUEUE_PLACES <= waiting <= math.floor(TARGET_WAIT * 2 / SERVICE_SECONDS)
            assert seconds >= math.ceil(waiting * SERVICE_SECONDS / 2)

        # A visitor waiting in the queue is told its position and an estimated wait.
        # (Any job still waiting: the submits race, so which ones run first is not their order.)
        deadline = time.monotonic() + 10
        while True:
            statuses = [job.status() for job in jobs if not job.done()]
            status = next((s for s in statuses if s.code == Status.IN_QUEUE and s.eta), statuses[-1])
            if (status.code == Status.IN_QUEUE and status.eta) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status.code == Status.IN_QUEUE and status.rank is not None and status.queue_size >= status.rank
        assert 0 < status.eta < 60
    finally:
        gate.set()
    wait(jobs, timeout=60)
    answered = refused = 0
    for job in jobs:
        try:
            answered += job.result(timeout=60).startswith("fill")
        except QueueError:
            refused += 1
    assert refused and answered + refused == len(jobs)
    assert client.predict("after", api_name="/slow") == "after"  # and the endpoint answers again
