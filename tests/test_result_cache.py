"""The answer cache (shared/result_cache.py): bounded per model, copied in and out, and emptied for a model the
model cache evicts."""

from __future__ import annotations

import torch

from shared.loading import PipelineLoader
from shared.model_cache import ModelCache
from shared.result_cache import MISSING, ResultCache

LOADER = PipelineLoader("text-classification")


def test_a_repeated_request_is_answered_from_memory_without_computing():
    answers = ResultCache()
    calls = []

    def compute():
        calls.append(1)
        return {"label": "POSITIVE", "score": 0.9}

    first, first_cached = answers.remember("model-a", ("sentiment", "Great!"), compute)
    again, again_cached = answers.remember("model-a", ("sentiment", "Great!"), compute)
    assert (first_cached, again_cached) == (False, True)
    assert again == first and len(calls) == 1
    assert (answers.hits, answers.misses) == (1, 1)


def test_answers_are_kept_per_model_and_per_request():
    answers = ResultCache()
    answers.put("model-a", "text", "a's answer")
    assert answers.get("model-b", "text") is MISSING
    assert answers.get("model-a", "other text") is MISSING
    assert answers.get("model-a", "text") == "a's answer"


def test_each_model_keeps_only_its_most_recently_used_answers():
    answers = ResultCache(entries_per_model=2)
    answers.put("model-a", 1, "one")
    answers.put("model-a", 2, "two")
    answers.get("model-a", 1)
    answers.put("model-a", 3, "three")
    answers.put("model-b", 1, "b one")
    assert answers.get("model-a", 2) is MISSING
    assert answers.get("model-a", 1) == "one" and answers.get("model-a", 3) == "three"
    assert len(answers) == 3


def test_a_caller_changing_its_answer_does_not_change_the_kept_one():
    answers = ResultCache()
    original = {"labels": ["a", "b"]}
    answers.put("model-a", "text", original)
    original["labels"].append("c")
    served = answers.get("model-a", "text")
    served["labels"].clear()
    assert answers.get("model-a", "text") == {"labels": ["a", "b"]}


class SizedPipeline:
    def __init__(self, megabytes: int) -> None:
        self.model = torch.nn.Linear(1, megabytes * 2**20 // 4, bias=False)


def test_an_evicted_models_answers_are_forgotten():
    cache = ModelCache(
        "cpu", lambda model_id, family: (model_id, False), 3 * 2**20, load_function=lambda *args: SizedPipeline(2)
    )
    answers = ResultCache()
    cache.eviction_listeners.append(answers.forget_model)
    with cache.use("sentiment", "model-a", LOADER) as model_a:
        answers.put(model_a.key, "text", "a's answer")
    with cache.use("sentiment", "model-b", LOADER) as model_b:  # over budget: model-a goes
        answers.put(model_b.key, "text", "b's answer")
    assert not cache.is_loaded("sentiment", "model-a")
    assert answers.get(model_a.key, "text") is MISSING
    assert answers.get(model_b.key, "text") == "b's answer"


def test_the_same_sentiment_request_again_is_answered_from_memory(client):
    text = "A repeated example click, word for word."
    first = client.predict(text, None, api_name="/sentiment")
    again = client.predict(text, None, api_name="/sentiment")
    other = client.predict(text + " And one more sentence.", None, api_name="/sentiment")
    assert "cached" not in first[2] and "cached" in again[2] and "cached" not in other[2]
    assert again[:2] == first[:2]
