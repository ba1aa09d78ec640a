"""The shared model cache: one load per key under concurrency, eviction within budget, failures not cached."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from shared.errors import ModelUnavailable
from shared.loading import ModelLoader, PipelineLoader
from shared.model_cache import ModelCache

LOADER = PipelineLoader("text-classification")


class FakeModel(torch.nn.Module):
    def __init__(self, megabytes: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(megabytes * 2**20 // 4))


class CountingLoad:
    """Stands in for `shared.loading.load`: slow, counted, and sized, so concurrency and eviction show."""

    def __init__(self, megabytes: int = 1, seconds: float = 0.2, fail_times: int = 0) -> None:
        self.megabytes, self.seconds, self.fail_times = megabytes, seconds, fail_times
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, loader, source, device, dtype, model_id):
        with self._lock:
            self.calls.append(model_id)
            failing = len(self.calls) <= self.fail_times
        time.sleep(self.seconds)
        if failing:
            raise ModelUnavailable(f"Model {model_id!r} could not be loaded.")
        pipeline = type("FakePipeline", (), {})()
        pipeline.model = FakeModel(self.megabytes)
        return pipeline


def make_cache(load, budget_mb: float | None = None) -> ModelCache:
    budget = None if budget_mb is None else int(budget_mb * 2**20)
    return ModelCache("cpu", lambda model_id, family: (model_id, False), budget, load_function=load)


def test_twenty_concurrent_requests_load_the_model_once():
    load = CountingLoad(seconds=0.3)
    cache = make_cache(load)
    start = threading.Barrier(20)

    def request(_):
        start.wait()
        with cache.use("sentiment", "model-a", LOADER) as loaded:
            return id(loaded.built)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(request, range(20)))
    assert load.calls == ["model-a"]
    assert len(set(results)) == 1
    assert cache.loaded_models()[0].hits == 20


def test_different_models_load_in_parallel_not_one_after_another():
    load = CountingLoad(seconds=0.5)
    cache = make_cache(load)

    def request(model_id):
        with cache.use("sentiment", model_id, LOADER):
            pass

    started = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(request, ["a", "b", "c"]))
    assert sorted(load.calls) == ["a", "b", "c"]
    assert time.perf_counter() - started < 1.4  # three serial loads would take 1.5 s


def test_least_recently_used_idle_model_is_evicted_to_stay_in_budget():
    cache = make_cache(CountingLoad(megabytes=4, seconds=0), budget_mb=9)
    for model_id in ["a", "b"]:
        with cache.use("t", model_id, LOADER):
            pass
    with cache.use("t", "a", LOADER):  # a is now the most recently used
        pass
    with cache.use("t", "c", LOADER):
        pass
    assert [entry.model_id for entry in cache.loaded_models()] == ["a", "c"]
    assert cache.total_memory_bytes() <= 9 * 2**20


def test_a_model_in_use_is_never_evicted():
    cache = make_cache(CountingLoad(megabytes=4, seconds=0), budget_mb=5)
    with cache.use("t", "a", LOADER) as first:
        with cache.use("t", "b", LOADER):
            assert {entry.model_id for entry in cache.loaded_models()} == {"a", "b"}
        assert first.in_use == 1
        assert [entry.model_id for entry in cache.loaded_models()] == ["a"]


def test_a_failed_load_is_not_cached_and_is_retried_on_the_next_request():
    load = CountingLoad(seconds=0, fail_times=1)
    cache = make_cache(load)
    with pytest.raises(ModelUnavailable), cache.use("t", "flaky", LOADER):
        pass
    assert cache.loaded_models() == [] and cache.loading_models() == []
    with cache.use("t", "flaky", LOADER) as loaded:
        assert loaded.model_id == "flaky"
    assert load.calls == ["flaky", "flaky"]


def test_memory_of_a_loaded_model_is_its_parameter_bytes():
    cache = make_cache(CountingLoad(megabytes=3, seconds=0))
    with cache.use("t", "a", LOADER) as loaded:
        assert loaded.memory_bytes == 3 * 2**20


def test_a_missing_hub_model_is_a_clear_error_naming_the_model_and_the_fix(tmp_path):
    cache = ModelCache("cpu", lambda model_id, family: (model_id, False))
    loader = ModelLoader("AutoModelForSequenceClassification")
    with pytest.raises(ModelUnavailable) as error, cache.use("t", "nobody/no-such-model", loader):
        pass
    message = str(error.value)
    assert "nobody/no-such-model" in message and "--download" in message and "--stand-ins" in message


def test_real_stand_in_loads_once_through_the_runtime(runtime):
    from demos import sentiment

    choices = runtime.choices(sentiment.DEMO.task, sentiment.DEMO.models)
    before = runtime.cache.load_count
    for _ in range(3):
        with runtime.model(sentiment.DEMO.task, choices, None, sentiment.DEMO.loader) as loaded:
            assert loaded.stand_in and loaded.device == "cpu" and loaded.dtype == torch.float32
    assert runtime.cache.load_count - before <= 1
