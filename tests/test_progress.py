"""Progress through the public API: a first request says its model is loading, segmentation reports its steps."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import pytest
from gradio_client import Client, handle_file
from gradio_client.utils import StatusUpdate

from demos import TASKS, segment
from shared.runtime import Runtime
from tests.helpers import free_port, served


@pytest.fixture(scope="module")
def fresh_client(tiny_settings):
    """An app of its own, so that no other test has loaded its models yet."""
    with served(Runtime(replace(tiny_settings, port=free_port()))) as (url, _):
        yield Client(url, verbose=False)


def progress_messages(job) -> list[str]:
    """Every progress description the server sent for a submitted job, in order."""
    messages: list[str] = []

    async def collect() -> None:
        async for update in job:
            if isinstance(update, StatusUpdate) and update.progress_data:
                messages.extend(unit.desc for unit in update.progress_data if unit.desc)

    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    reader = threading.Thread(target=asyncio.run, args=(collect(),))
    reader.start()
    reader.join(timeout=120)
    job.result()
    return messages


FIRST_REQUESTS = {
    "sentiment": ("I loved this film.",),
    "zero_shot": ("The striker scored twice.", "sports, politics"),
    "qa": ("Paris is the capital of France.", "What is the capital of France?"),
    "generate": ("Hello, I'm a language model,",),
}


@pytest.mark.parametrize("task", FIRST_REQUESTS)
def test_the_first_request_says_the_model_is_loading_and_the_next_does_not(fresh_client, task):
    model_id = TASKS[task].models[0].model_id
    extra = {"max_new_tokens": 5} if task == "generate" else {}
    first = progress_messages(fresh_client.submit(*FIRST_REQUESTS[task], api_name=f"/{task}", **extra))
    assert any(message.startswith(f"Loading model {model_id}…") for message in first), first
    again = progress_messages(fresh_client.submit(*FIRST_REQUESTS[task], api_name=f"/{task}", **extra))
    assert not any(message.startswith("Loading model") for message in again), again


def test_segmentation_reports_its_steps(fresh_client):
    job = fresh_client.submit(handle_file(str(segment.EXAMPLE_PHOTOS[1])), 0.85, 0.8, api_name="/segment")
    messages = progress_messages(job)
    assert any(message.startswith("Running") for message in messages), messages
    assert messages[-1].startswith("Drawing the overlay"), messages
