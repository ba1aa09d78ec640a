"""Faults and overload, injected into a second app: a model that fails to load (damaged files, out of memory) fails
only its own requests with a clear message and is loaded on the next request once fixed; the cache never keeps a
half-loaded model; a crowd past the queue's bound gets a clear "queue is full" instead of a hang.
(A generation cancelled mid-stream freeing its slot: tests/test_generate.py::test_cancelling_a_request_stops_...)"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError

from shared import loading
from shared.batching import CONCURRENT_REQUESTS
from shared.errors import ModelUnavailable
from shared.generation import GENERATION_LOCK
from shared.loading import PipelineLoader
from shared.model_cache import ModelCache
from shared.queue_bounds import queue_places
from shared.runtime import Runtime
from shared.stand_ins import ensure_stand_in
from tests.helpers import served, stand_in_settings

QUEUE_WAIT_SECONDS = 1.0  # a short target wait: the unmeasured generation queue then holds a few places only


@pytest.fixture(scope="module")
def fault_app(cache_dir, tmp_path_factory):
    """The app with sentiment served from a local directory the tests can damage and repair."""
    local = tmp_path_factory.mktemp("operator-model") / "sentiment"
    shutil.copytree(ensure_stand_in("distilbert-sentiment", "tiny", cache_dir / "stand-ins"), local)
    with served(
        Runtime(
            stand_in_settings(
                cache_dir,
                model_overrides={"sentiment": str(local)},
                max_queued_per_client=256,
                queue_wait_seconds=QUEUE_WAIT_SECONDS,
            )
        )
    ) as (url, _):
        yield Client(url, verbose=False, max_workers=64), local


def loaded_tasks(client: Client) -> set[str]:
    _, table = client.predict(api_name="/system")
    return {row[0] for row in table["data"] if row and row[0]}


def test_a_damaged_model_fails_only_its_own_requests_and_is_loaded_once_repaired(fault_app):
    client, local = fault_app
    weights = local / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:1000])
    for _ in range(2):  # every request retries the load, none is served from a half-loaded model
        with pytest.raises(AppError, match="could not be loaded.*damaged") as error:
            client.predict("I loved it.", None, api_name="/sentiment")
        assert "Traceback" not in str(error.value) and len(str(error.value)) < 600
    assert "sentiment" not in loaded_tasks(client)
    # The other tabs are unaffected.
    *_, status = client.predict("The keys were in the bowl.", "Where were the keys?", api_name="/qa")
    assert "Served by" in status
    weights.write_bytes(good)
    *_, status = client.predict("I loved it.", None, api_name="/sentiment")
    assert "Served by" in status and str(local) in status
    assert "sentiment" in loaded_tasks(client)


def test_a_model_that_runs_out_of_memory_fails_clearly_and_is_retried(fault_app, monkeypatch):
    client, _ = fault_app

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loading.transformers, "pipeline", out_of_memory)  # the module object the loader calls
    with pytest.raises(AppError, match="does not fit in memory"):
        client.predict("The striker scored.", "sports, politics", api_name="/zero_shot")
    assert "zero_shot" not in loaded_tasks(client)
    monkeypatch.undo()
    scores, status = client.predict("The striker scored.", "sports, politics", api_name="/zero_shot")
    assert "Served by" in status and len(scores["confidences"]) == 2


def test_a_crowd_past_the_queue_bound_is_told_the_queue_is_full_and_nothing_hangs(fault_app):
    client, _ = fault_app
    running = CONCURRENT_REQUESTS  # the /generate event's concurrency limit
    places = queue_places(None, running, QUEUE_WAIT_SECONDS)  # no generation has been answered yet in this app
    crowd = places + running + 16
    # Hold the model: beam search runs `generate` alone, under the lock; the first generations take the event's
    # slots and the others wait in the queue.
    with GENERATION_LOCK:
        jobs = [client.submit("Hello", None, "beam search", 5, num_beams=2, api_name="/generate") for _ in range(crowd)]
        deadline = time.monotonic() + 60
        while sum(job.done() for job in jobs) < crowd - places - running and time.monotonic() < deadline:
            time.sleep(0.1)
    answered, busy = 0, 0
    for job in jobs:
        try:
            _, status = job.result(timeout=120)
            answered += "Served by" in status
        except QueueError as error:
            assert "Queue is full" in str(error)
            busy += 1
    assert answered + busy == crowd and busy >= crowd - places - running
    assert answered >= places
    *_, status = client.predict("Fine.", None, api_name="/sentiment")  # and the app serves the next request
    assert "Served by" in status


class FailsFirst:
    """A load function that fails on its first call, after starting work, and succeeds after."""

    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, 0

    def __call__(self, loader, source, device, dtype, model_id):
        self.calls += 1
        if self.calls == 1:
            raise self.error
        return object()


@pytest.mark.parametrize(
    "error", [ModelUnavailable("damaged"), RuntimeError("killed half way")], ids=["user-error", "crash"]
)
def test_the_cache_never_keeps_a_failed_load_and_retries_it(error):
    load = FailsFirst(error)
    cache = ModelCache("cpu", lambda model_id, family: (model_id, False), load_function=load)
    loader = PipelineLoader("text-classification")
    results: list[object] = []

    def request() -> None:
        try:
            with cache.use("sentiment", "m", loader) as entry:
                results.append(entry.built)
        except Exception as failure:
            results.append(failure)

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results.count(error) == 1 and len(results) == 6
    served = [result for result in results if result is not error]
    assert len({id(result) for result in served}) == 1, "the model was loaded once after the failure"
    assert load.calls == 2 and [entry.model_id for entry in cache.loaded_models()] == ["m"]
    assert cache.loading_models() == []


def test_a_request_runs_while_another_model_fails_to_load():
    release = threading.Event()

    def load(loader, source, device, dtype, model_id):
        if model_id == "broken":
            release.wait(10)
            raise ModelUnavailable("broken")
        return model_id

    cache = ModelCache("cpu", lambda model_id, family: (model_id, False), load_function=load)
    loader = PipelineLoader("text-classification")
    with ThreadPoolExecutor(2) as pool:
        broken = pool.submit(lambda: cache.use("qa", "broken", loader).__enter__())
        with cache.use("sentiment", "fine", loader) as entry:  # not blocked behind the other load
            assert entry.built == "fine"
        release.set()
        with pytest.raises(ModelUnavailable):
            broken.result(10)
    assert [entry.model_id for entry in cache.loaded_models()] == ["fine"]
