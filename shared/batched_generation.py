"""Batched decoding: concurrent generation requests to one causal language model share each token's forward pass,
while every request keeps its own settings, seed, streamer and Stop.

A request's prompt runs alone (one forward pass, as `generate` runs it), so its first token is out after that pass;
the request then joins the running batch at the next token boundary: its KV cache is left-padded to the batch's
length and stacked under the others', with an attention mask and position ids that hide the padding. Each step
feeds every running request's last token in one forward pass; each row's next token is chosen with that request's
own logits processors (repetition penalty, temperature, top-k, top-p, in `generate`'s order) and, when sampling,
its own seeded `torch.Generator`. A request leaves the batch when it writes end-of-text, reaches `max_new_tokens`
or its deadline, or is stopped; the others carry on. One decoding thread per model runs while there is work and
ends when there is none. Greedy text equals a solo `model.generate` run's; beam search and several sequences are
not handled here (callers keep `generate` for them).

    >>> decoder = batched_decoder(model)  # doctest: +SKIP
    >>> request = decoder.submit(tokenizer("Hello", return_tensors="pt").input_ids[0], Decoding(max_new_tokens=8))
    >>> request.wait()  # doctest: +SKIP
    >>> tokenizer.decode(request.new_tokens)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer
from transformers.generation.logits_process import (
    LogitsProcessorList,
)

from shared.decoding import generate_processors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decoding:
    """One request's decoding settings, named and defaulted as `generate`'s (top_k 50 when sampling)."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    max_time: float | None = None  # seconds from submission, as `generate(max_time=...)`


def logits_processors(decoding: Decoding) -> LogitsProcessorList:
    """The processors `generate` applies for these settings (shared/decoding.py builds them for both paths)."""
    return generate_processors(
        decoding.repetition_penalty, decoding.do_sample, decoding.temperature, decoding.top_k, decoding.top_p
    )


def end_token_ids(model: PreTrainedModel) -> set[int]:
    eos = model.generation_config.eos_token_id
    if eos is None:
        return set()
    return {int(token) for token in (eos if isinstance(eos, list | tuple) else [eos])}


def left_pad(tensor: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    """`tensor` with zeros added before its contents along `dim` up to `length`."""
    missing = length - tensor.shape[dim]
    if missing <= 0:
        return tensor
    padding = [0, 0] * (tensor.dim() - 1 - dim % tensor.dim()) + [missing, 0]
    return F.pad(tensor, padding)


def can_batch(model: Any) -> bool:
    """Whether this model's cache is the plain per-layer key/value kind the batch can pad, stack and cut."""
    if not isinstance(model, PreTrainedModel) or model.config.is_encoder_decoder:
        return False
    try:
        cache = DynamicCache(config=model.config)
    except Exception:
        return False
    return all(type(layer) is DynamicLayer for layer in cache.layers)


@dataclass(eq=False)
class GenerationRequest:
    """One request in (or waiting for) the batch. `new_tokens` grows as tokens are chosen; `done` is set at the end."""

    prompt_ids: torch.Tensor  # 1-D
    decoding: Decoding
    streamer: Any = None  # a transformers streamer: `put` the prompt, then each token; `end`
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    new_tokens: list[int] = field(default_factory=list)
    error: BaseException | None = None
    most_batched: int = 1  # the most requests that shared a forward pass with this one, itself included
    hit_deadline: bool = False
    _processors: LogitsProcessorList = field(default_factory=LogitsProcessorList)
    _generator: torch.Generator | None = None
    _deadline: float | None = None

    @property
    def sequence(self) -> torch.Tensor:
        """Prompt and new tokens as one `[1, length]` tensor, as `generate` returns them."""
        new = torch.tensor(self.new_tokens, dtype=self.prompt_ids.dtype, device=self.prompt_ids.device)
        return torch.cat([self.prompt_ids, new]).unsqueeze(0)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds for the end; re-raise what went wrong in the decoding thread, if anything."""
        finished = self.done.wait(timeout)
        if self.error is not None:
            raise self.error
        return finished


_active: set[GenerationRequest] = set()
_active_lock = threading.Lock()


def active_requests() -> int:
    """How many batched generations (of any model) are waiting or running right now."""
    with _active_lock:
        return len(_active)


class BatchedDecoder:
    """The running batch of one model: `submit` adds a request; a thread decodes while any request is running."""

    def __init__(self, model: PreTrainedModel) -> None:
        self.model = model
        self.end_tokens = end_token_ids(model)
        self.forward_passes = 0
        self._condition = threading.Condition()
        self._waiting: list[GenerationRequest] = []
        self._thread: threading.Thread | None = None
        # The running batch, touched only by the decoding thread.
        self._running: list[GenerationRequest] = []
        self._cache: DynamicCache | None = None
        self._mask: torch.Tensor | None = None  # [batch, cached length]: 1 for a real token, 0 for padding

    def submit(
        self, prompt_ids: torch.Tensor, decoding: Decoding, streamer: Any = None, stop: threading.Event | None = None
    ) -> GenerationRequest:
        prompt_ids = prompt_ids.reshape(-1).to(self.model.device)
        if prompt_ids.numel() == 0:
            raise ValueError("A generation needs at least one prompt token.")
        request = GenerationRequest(prompt_ids, decoding, streamer, stop or threading.Event())
        request._processors = logits_processors(decoding)
        if decoding.do_sample:
            request._generator = torch.Generator(device=self.model.device)
            request._generator.manual_seed(decoding.seed if decoding.seed is not None else torch.seed())
        if decoding.max_time is not None:
            request._deadline = time.monotonic() + decoding.max_time
        if streamer is not None:
            streamer.put(prompt_ids.unsqueeze(0).cpu())
        with _active_lock:
            _active.add(request)
        with self._condition:
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._decode, name="batched-generate", daemon=True)
                self._thread.start()
        return request

    def running_requests(self) -> int:
        with self._condition:
            return len(self._running) + len(self._waiting)

    def _decode(self) -> None:
        with torch.inference_mode():
            while True:
                with self._condition:
                    joining, self._waiting = self._waiting, []
                    if not joining and not self._running:
                        self._thread = None
                        return
                try:
                    for request in joining:
                        self._prefill(request)
                    self._leave_finished()
                    if self._running:
                        self._step()
                        self._leave_finished()
                except Exception as error:  # a bug or an out-of-memory: fail the batch, keep the decoder usable
                    logger.exception("Batched generation failed for %d requests", len(self._running) + len(joining))
                    for request in {*self._running, *joining}:
                        if not request.done.is_set():
                            request.error = error
                            self._finish(request)
                    self._running, self._cache, self._mask = [], None, None

    def _prefill(self, request: GenerationRequest) -> None:
        """The prompt's forward pass alone, its first token, then its cache joins the batch's."""
        if request.stop.is_set():
            self._finish(request)
            return
        cache = DynamicCache(config=self.model.config)
        input_ids = request.prompt_ids.unsqueeze(0)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.forward_passes += 1
        self._choose(request, outputs.logits[0, -1])
        if self._finished(request):
            self._finish(request)
            return
        self._join(request, cache)

    def _join(self, request: GenerationRequest, cache: DynamicCache) -> None:
        new_length = cache.get_seq_length()
        new_mask = torch.ones((1, new_length), dtype=torch.long, device=self.model.device)
        if self._cache is None:
            self._cache, self._mask, self._running = cache, new_mask, [request]
            return
        length = max(self._mask.shape[1], new_length)
        for layer, joining in zip(self._cache.layers, cache.layers, strict=True):
            layer.keys = torch.cat([left_pad(layer.keys, length, 2), left_pad(joining.keys, length, 2)])
            layer.values = torch.cat([left_pad(layer.values, length, 2), left_pad(joining.values, length, 2)])
        self._mask = torch.cat([left_pad(self._mask, length, 1), left_pad(new_mask, length, 1)])
        self._running.append(request)

    def _step(self) -> None:
        """One token for every running request, in one forward pass."""
        batch = len(self._running)
        input_ids = torch.tensor([[request.new_tokens[-1]] for request in self._running], device=self.model.device)
        self._mask = torch.cat([self._mask, self._mask.new_ones((batch, 1))], dim=1)
        position_ids = self._mask.sum(dim=1, keepdim=True) - 1
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=self._mask,
            position_ids=position_ids,
            cache=self._cache,
            use_cache=True,
        )
        self.forward_passes += 1
        logits = outputs.logits[:, -1]
        for row, request in enumerate(self._running):
            request.most_batched = max(request.most_batched, batch)
            self._choose(request, logits[row])

    def _choose(self, request: GenerationRequest, logits: torch.Tensor) -> None:
        scores = logits.to(dtype=torch.float32).reshape(1, -1)
        if request._processors:
            scores = request._processors(request.sequence, scores)
        if request.decoding.do_sample:
            token = torch.multinomial(scores.softmax(dim=-1), num_samples=1, generator=request._generator)
        else:
            token = torch.argmax(scores, dim=-1, keepdim=True)
        request.new_tokens.append(int(token))
        if request.streamer is not None:
            request.streamer.put(token.reshape(1).cpu())

    def _finished(self, request: GenerationRequest) -> bool:
        if request._deadline is not None and time.monotonic() >= request._deadline:
            request.hit_deadline = True
            return True
        return (
            request.stop.is_set()
            or len(request.new_tokens) >= request.decoding.max_new_tokens
            or request.new_tokens[-1] in self.end_tokens
        )

    def _finish(self, request: GenerationRequest) -> None:
        with _active_lock:
            _active.discard(request)
        if request.streamer is not None:
            request.streamer.end()
        request.done.set()

    def _leave_finished(self) -> None:
        """Drop the finished requests' rows, and the padding columns no remaining row needs."""
        kept = []
        for index, request in enumerate(self._running):
            if self._finished(request):
                self._finish(request)
            else:
                kept.append(index)
        if len(kept) == len(self._running):
            return
        if not kept:
            self._running, self._cache, self._mask = [], None, None
            return
        rows = torch.tensor(kept, device=self.model.device)
        mask = self._mask.index_select(0, rows)
        first_column = int((mask.sum(dim=0) > 0).nonzero()[0])
        for layer in self._cache.layers:
            layer.keys = layer.keys.index_select(0, rows)[:, :, first_column:]
            layer.values = layer.values.index_select(0, rows)[:, :, first_column:]
        self._mask = mask[:, first_column:]
        self._running = [self._running[index] for index in kept]


_decoders_lock = threading.Lock()


def batched_decoder(model: PreTrainedModel) -> BatchedDecoder:
    """The one decoder of `model`, kept on the model so it goes when the model is evicted (the decoding thread
    holds the model only while it has requests)."""
    with _decoders_lock:
        decoder = getattr(model, "_batched_decoder", None)
        if decoder is None:
            decoder = BatchedDecoder(model)
            object.__setattr__(model, "_batched_decoder", decoder)
        return decoder
