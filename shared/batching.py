"""Request batching: concurrent requests to the same pipeline share padded forward passes.

Each request runs the pipeline's own `preprocess` and `postprocess` in its own thread; only `forward` is shared,
so every request gets exactly what `pipeline(inputs, **kwargs)` would give it alone, with its own options (model,
`multi_label`, template). There is no thread and no waiting window of our own: a request that finds the model idle
runs at once (one client sees no delay), and the requests that arrive while a forward pass runs go together into
the next one. Within a batch, sequences are sorted by length and split where padding would waste too much.
Callers hold their model from the cache (`ModelCache.use`) while they wait, so no model is evicted mid-batch.

    >>> batcher = ForwardBatcher()
    >>> with runtime.model("sentiment", choices, None, LOADER) as loaded:  # doctest: +SKIP
    ...     batched = run_pipeline(batcher, loaded.pipeline, ["Great!", "Awful."], top_k=None, truncation=True)
    >>> batched.results  # doctest: +SKIP
    [[{'label': 'POSITIVE', 'score': 0.99...}, ...], [{'label': 'NEGATIVE', ...}, ...]]
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.pipelines.base import ChunkPipeline, Pipeline, pad_collate_fn

logger = logging.getLogger(__name__)

# How many requests of a batched endpoint the queue lets run at once: they wait together for shared forward passes,
# so more than the CPU count is the point (Gradio's default of one or two at a time would leave nothing to batch).
CONCURRENT_REQUESTS = 16
# A forward pass holds at most this many sequences and this many tokens, padding included.
MAX_BATCH_SEQUENCES = 64
MAX_BATCH_TOKENS = 16_384
# Padding is cheap next to a forward pass of its own, until it is a large share of the batch.
MAX_PADDING_SHARE = 0.25
PADDING_SLACK_TOKENS = 64


def length_buckets(
    lengths: Sequence[int],
    max_padding_share: float = MAX_PADDING_SHARE,
    slack_tokens: int = PADDING_SLACK_TOKENS,
    max_sequences: int = MAX_BATCH_SEQUENCES,
    max_tokens: int = MAX_BATCH_TOKENS,
) -> list[list[int]]:
    """Indices of `lengths` grouped into forward passes: shortest first, a new group wherever padding to the
    longest would waste more than `max_padding_share` of the group (and more than `slack_tokens`), or where the
    group would exceed `max_sequences` sequences or `max_tokens` padded tokens."""
    buckets: list[list[int]] = []
    current: list[int] = []
    real_tokens = 0
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        length = lengths[index]
        if current:
            padded = length * (len(current) + 1)
            waste = padded - (real_tokens + length)
            too_wasteful = waste > max_padding_share * padded and waste > slack_tokens
            if too_wasteful or len(current) >= max_sequences or padded > max_tokens:
                buckets.append(current)
                current, real_tokens = [], 0
        current.append(index)
        real_tokens += length
    if current:
        buckets.append(current)
    return buckets


def sequence_length(model_inputs: dict[str, Any]) -> int:
    input_ids = model_inputs.get("input_ids")
    return int(input_ids.shape[-1]) if isinstance(input_ids, torch.Tensor) else 1


def unbatch(outputs: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Split a forward pass's outputs into one batch-of-one per sequence, as the pipeline's `postprocess` expects."""
    items: list[dict[str, Any]] = [{} for _ in range(count)]
    for key, value in outputs.items():
        for index, item in enumerate(items):
            if isinstance(value, torch.Tensor):
                item[key] = value[index : index + 1]
            elif isinstance(value, tuple) and value and isinstance(value[0], torch.Tensor):
                item[key] = tuple(tensor[index : index + 1] for tensor in value)
            elif isinstance(value, list) and len(value) == count:
                item[key] = value[index]
            else:
                item[key] = value
    return items


@dataclass(eq=False)
class BatchRequest:
    """One request's preprocessed sequences, waiting for (or holding) their forward outputs."""

    pipeline: Pipeline
    model_inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]] | None = None
    error: BaseException | None = None
    done: bool = False
    batch_requests: int = 1  # the most requests that shared a forward pass with this one, itself included


@dataclass
class ForwardBatcher:
    """Runs the forward passes of concurrent requests to one pipeline together; one batch per pipeline at a time."""

    max_sequences: int = MAX_BATCH_SEQUENCES
    max_tokens: int = MAX_BATCH_TOKENS
    forward_passes: int = 0
    batched_requests: int = 0
    _condition: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _waiting: dict[int, list[BatchRequest]] = field(default_factory=dict, repr=False)
    _busy: set[int] = field(default_factory=set, repr=False)
    _tokenizer_locks: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary, repr=False)

    def preprocess(self, pipeline: Pipeline, inputs: Any, **params: Any) -> list[dict[str, Any]]:
        """`pipeline.preprocess` as a list of sequences, one call per pipeline at a time: a fast tokenizer that two
        threads set up at once fails with "Already borrowed"."""
        with self._condition:
            lock = self._tokenizer_locks.setdefault(pipeline, threading.Lock())
        with lock:
            preprocessed = pipeline.preprocess(inputs, **params)
            return list(preprocessed) if isinstance(pipeline, ChunkPipeline) else [preprocessed]

    def waiting_requests(self) -> int:
        """Requests queued for the next forward pass of their pipeline (not those in a running one)."""
        with self._condition:
            return sum(len(waiting) for waiting in self._waiting.values())

    def forward(self, pipeline: Pipeline, model_inputs: list[dict[str, Any]]) -> BatchRequest:
        """The forward outputs for `model_inputs` (one dict per sequence, from `pipeline.preprocess`), in order."""
        request = BatchRequest(pipeline, model_inputs)
        key = id(pipeline)  # the waiting requests hold the pipeline, so its id is not reused meanwhile
        with self._condition:
            self._waiting.setdefault(key, []).append(request)
        while True:
            with self._condition:
                while not request.done and key in self._busy:
                    self._condition.wait()
                if request.done:
                    break
                # This request leads: it takes what is waiting, itself included unless the queue is long.
                batch = self._take(key)
                self._busy.add(key)
            try:
                self._run(batch)
            finally:
                with self._condition:
                    self._busy.discard(key)
                    self._condition.notify_all()
        if request.error is not None:
            raise request.error
        return request

    def _take(self, key: int) -> list[BatchRequest]:
        waiting = self._waiting[key]
        batch, sequences = [], 0
        while waiting and (not batch or sequences + len(waiting[0].model_inputs) <= self.max_sequences):
            request = waiting.pop(0)
            batch.append(request)
            sequences += len(request.model_inputs)
        if not waiting:
            del self._waiting[key]
        return batch

    def _run(self, batch: list[BatchRequest]) -> None:
        try:
            self._fill(batch)
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
            else:
                # One bad request must not fail the others: run each on its own, so only it gets the error.
                logger.info("A batch of %d requests failed; running them one by one", len(batch))
                for request in batch:
                    try:
                        self._fill([request])
                    except Exception as own_error:
                        request.error = own_error
        finally:
            with self._condition:
                self.batched_requests += len(batch)
                for request in batch:
                    if request.outputs is None and request.error is None:
                        request.error = RuntimeError("The batched forward pass gave no output for this request.")
                    request.done = True

    def _fill(self, batch: list[BatchRequest]) -> None:
        outputs = self._forward_all(batch[0].pipeline, [item for request in batch for item in request.model_inputs])
        start = 0
        for request in batch:
            request.outputs = outputs[start : start + len(request.model_inputs)]
            request.batch_requests = len(batch)
            start += len(request.model_inputs)

    def _forward_all(self, pipeline: Pipeline, model_inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        collate = pad_collate_fn(pipeline.tokenizer, None)
        outputs: list[dict[str, Any] | None] = [None] * len(model_inputs)
        lengths = [sequence_length(item) for item in model_inputs]
        for bucket in length_buckets(lengths, max_sequences=self.max_sequences, max_tokens=self.max_tokens):
            batched = pipeline.forward(collate([model_inputs[index] for index in bucket]))
            with self._condition:
                self.forward_passes += 1
            for index, item in zip(bucket, unbatch(batched, len(bucket)), strict=True):
                outputs[index] = item
        return outputs


@dataclass
class BatchedResult:
    results: list[Any]
    batch_requests: int  # the most requests that shared a forward pass with this one, itself included


def run_pipeline(batcher: ForwardBatcher, pipeline: Pipeline, inputs: list[Any], **kwargs: Any) -> BatchedResult:
    """What `pipeline(inputs, batch_size=len(inputs), **kwargs)` returns, one result per input, with the forward
    passes shared with concurrent requests to the same pipeline."""
    preprocess_params, forward_params, postprocess_params = pipeline._sanitize_parameters(**kwargs)
    preprocess_params = {**pipeline._preprocess_params, **preprocess_params}
    postprocess_params = {**pipeline._postprocess_params, **postprocess_params}
    if forward_params or pipeline._forward_params:
        raise ValueError("Batched pipelines take no forward parameters.")
    per_input = [batcher.preprocess(pipeline, item, **preprocess_params) for item in inputs]
    request = batcher.forward(pipeline, [item for items in per_input for item in items])
    chunked = isinstance(pipeline, ChunkPipeline)
    results, start = [], 0
    for items in per_input:
        outputs = request.outputs[start : start + len(items)]
        results.append(pipeline.postprocess(outputs if chunked else outputs[0], **postprocess_params))
        start += len(items)
    return BatchedResult(results, request.batch_requests)
