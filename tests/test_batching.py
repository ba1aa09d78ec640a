"""Request batching: length buckets, and concurrent /sentiment and /zero_shot requests sharing forward passes
through the running app with answers equal to unbatched ones."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from demos import sentiment, zero_shot
from demos.tab import Tab
from shared.batching import length_buckets
from tests.helpers import confidences

SENTIMENT_TEXTS = [
    "I loved this movie.",
    "The plot was a mess and the acting was worse, a real letdown from start to finish.",
    "Fine.",
    "Ce film était vraiment magnifique !",
]
ZERO_SHOT_CASES = [  # text, labels, multi_label, template, model
    ("We went to the river bank.", "finance, geography, sports", False, "This example is {}.", 0),
    ("We went to the river bank.", "finance, geography, sports", True, "This example is {}.", 0),
    ("Great camera, poor battery life.", "camera, battery, price, delivery", True, "This review is about {}.", 0),
    ("The striker scored twice in the final minutes of a tense match.", "sports, politics", False, "{}", 1),
    ("Anything at all.", "news", False, "This example is {}.", 1),
    ("Stocks fell sharply.", "finance, cooking, travel, music, art", False, "Topic: {}.", 1),
]


def test_length_buckets_sort_by_length_and_split_where_padding_would_dominate():
    lengths = [12, 200, 10, 11, 190, 9]
    buckets = length_buckets(lengths, max_padding_share=0.25, slack_tokens=16)
    assert buckets == [[5, 2, 3, 0], [4, 1]]


def test_length_buckets_tolerate_a_little_padding_and_respect_the_caps():
    assert length_buckets([8, 30], slack_tokens=64) == [[0, 1]]
    assert length_buckets([10] * 5, max_sequences=2) == [[0, 1], [2, 3], [4]]
    assert length_buckets([100] * 4, max_tokens=250) == [[0, 1], [2, 3]]
    assert length_buckets([]) == []


def pipeline_of(runtime, module, model_id):
    with Tab(module.DEMO, runtime).model(model_id) as served:
        return served.model.pipeline


class ForwardGate:
    """Holds every forward pass of `pipelines` until opened, so that concurrent requests queue up behind the first
    one deterministically; with `fail_when(model_inputs)`, passes holding a poisoned input fail as a model fault."""

    def __init__(self, monkeypatch, pipelines, fail_when=None) -> None:
        self.opened = threading.Event()
        self.entered = 0
        for pipeline in pipelines:
            monkeypatch.setattr(pipeline, "forward", self.gated(pipeline.forward, fail_when))

    def gated(self, original, fail_when):
        def forward(model_inputs, **forward_params):
            self.entered += 1
            if not self.opened.wait(timeout=60):
                raise RuntimeError("the test never opened the gate")
            if fail_when is not None and fail_when(model_inputs):
                raise RuntimeError("injected model fault")
            return original(model_inputs, **forward_params)

        return forward

    def wait_until(self, condition, what: str) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            if time.monotonic() > deadline:
                self.opened.set()
                pytest.fail(f"timed out waiting until {what}")
            time.sleep(0.02)

    def open_when_waiting(self, batcher, count: int) -> None:
        self.wait_until(lambda: batcher.waiting_requests() >= count, f"{count} requests wait for a batch")
        self.opened.set()


def test_concurrent_sentiment_requests_share_forward_passes_and_equal_unbatched_results(runtime, client, monkeypatch):
    models = [choice.model_id for choice in sentiment.DEMO.models][:2]
    runtime.answers.clear()  # answers kept by earlier tests would never reach the batch
    requests = [(text, models[i % 2]) for i, text in enumerate(SENTIMENT_TEXTS * 3)]
    requests.append(("\n".join(SENTIMENT_TEXTS), models[0]))
    pipelines = {model_id: pipeline_of(runtime, sentiment, model_id) for model_id in models}
    # Unbatched: the pipeline alone, one text per forward pass.
    expected = {
        (text, model_id): {item["label"]: item["score"] for item in pipelines[model_id](text, top_k=None)}
        for model_id in models
        for text in SENTIMENT_TEXTS
    }
    gate = ForwardGate(monkeypatch, pipelines.values())
    passes_before = runtime.batcher.forward_passes

    jobs = [client.submit(text, model_id, api_name="/sentiment") for text, model_id in requests]
    # One request per model is in a held forward pass; the rest queue up for the next one.
    gate.open_when_waiting(runtime.batcher, len(requests) - len(models))
    answers = [job.result(timeout=60) for job in jobs]

    for (text, model_id), (label, table, status) in zip(requests, answers, strict=True):
        first_line = text.splitlines()[0]
        assert confidences(label) == pytest.approx(expected[first_line, model_id], abs=1e-5)
        for line, (row_text, row_label, row_score) in zip(text.splitlines(), table["data"], strict=True):
            best = max(expected[line, model_id], key=expected[line, model_id].get)
            assert (row_text, row_label) == (line, best)
            assert row_score == pytest.approx(expected[line, model_id][best], abs=1e-4)  # the table rounds
        assert model_id in status and "cpu" in status
    assert sum("batched with" in status for _, _, status in answers) == len(requests) - len(models)
    # 13 requests, 16 texts, two models: the held pass per model, then the rest in one or two length buckets each.
    assert runtime.batcher.forward_passes - passes_before <= 3 * len(models)


def test_concurrent_zero_shot_requests_mix_models_and_options_and_equal_unbatched_results(runtime, client, monkeypatch):
    models = [choice.model_id for choice in zero_shot.DEMO.models]
    runtime.answers.clear()  # answers kept by earlier tests would never reach the batch
    pipelines = {model_id: pipeline_of(runtime, zero_shot, model_id) for model_id in models}
    expected = []
    for text, labels, multi_label, template, model in ZERO_SHOT_CASES:
        # Unbatched: the pipeline alone runs one forward pass per label.
        result = pipelines[models[model]](
            text,
            candidate_labels=zero_shot.parse_candidate_labels(labels),
            multi_label=multi_label,
            hypothesis_template=template,
        )
        expected.append(dict(zip(result["labels"], result["scores"], strict=True)))
    gate = ForwardGate(monkeypatch, pipelines.values())
    passes_before = runtime.batcher.forward_passes

    cases = ZERO_SHOT_CASES * 2
    jobs = [
        client.submit(text, labels, multi_label, template, models[model], api_name="/zero_shot")
        for text, labels, multi_label, template, model in cases
    ]
    gate.open_when_waiting(runtime.batcher, len(cases) - len(models))
    answers = [job.result(timeout=60) for job in jobs]

    for index, (scores, status) in enumerate(answers):
        want = expected[index % len(ZERO_SHOT_CASES)]
        assert confidences(scores) == pytest.approx(want, abs=1e-5)
        assert scores["label"] == max(want, key=want.get)
        assert models[cases[index][4]] in status
    assert sum("batched with" in status for _, status in answers) == len(cases) - len(models)
    assert runtime.batcher.forward_passes - passes_before <= 3 * len(models)


def test_a_request_that_fails_in_a_batch_gets_its_own_error_and_the_others_their_answers(
    runtime, client, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="shared.batching")
    model_id = sentiment.DEMO.models[0].model_id
    pipeline = pipeline_of(runtime, sentiment, model_id)
    poison = pipeline.tokenizer("zebra zebra zebra zebra", add_special_tokens=False)["input_ids"]

    def holds_poison(model_inputs) -> bool:
        return any(poison == row[1 : 1 + len(poison)] for row in model_inputs["input_ids"].tolist())

    # Texts no other test sends: an answer kept in memory would never reach the batch.
    good = [f"{text} (in a batch that fails)" for text in ("I loved it.", "Awful.", "Fine.", "Not bad.", "Wow.")]
    expected = {text: {item["label"]: item["score"] for item in pipeline(text, top_k=None)} for text in good}
    gate = ForwardGate(monkeypatch, [pipeline], fail_when=holds_poison)

    jobs = [client.submit(good[0], model_id, api_name="/sentiment")]
    # The first runs alone; the others queue behind it and go in one batch with the bad one.
    gate.wait_until(lambda: gate.entered == 1, "the first request is in its forward pass")
    jobs.append(client.submit(good[1], model_id, api_name="/sentiment"))
    bad = client.submit("zebra zebra zebra zebra", model_id, api_name="/sentiment")
    jobs += [client.submit(text, model_id, api_name="/sentiment") for text in good[2:]]
    gate.open_when_waiting(runtime.batcher, len(good))

    for text, job in zip(good, jobs, strict=True):
        label, _, status = job.result(timeout=60)
        assert confidences(label) == pytest.approx(expected[text], abs=1e-5)
        assert model_id in status
    with pytest.raises(Exception, match="Something went wrong on the server"):
        bad.result(timeout=60)
    assert "A batch of 5 requests failed; running them one by one" in caplog.text


def test_a_lone_request_is_not_held_back_and_says_nothing_about_batching(client):
    started = time.perf_counter()
    _, _, status = client.predict("Just me.", None, api_name="/sentiment")
    assert time.perf_counter() - started < 5
    assert "Served by" in status and "batched" not in status
