"""Generation in a background thread: `model.generate` runs in a `Generation` thread so its text can be streamed
while it is written (`TokenStreamer`, `paced`) and a request that goes away can stop it at the next token
(`StopRequested`). `continue_prompt` is the whole model work of a /generate request, from a prompt and checked
`DecodingSettings` to plain text: greedy decoding and sampling of one sequence share the model with concurrent
requests (shared/batched_generation.py), beam search and several sequences run `model.generate` alone. No gradio
here."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from queue import Empty
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from shared.batched_generation import Decoding, active_requests, batched_decoder, can_batch
from shared.decoding import SAMPLING, DecodingSettings, check_context
from shared.limits import MAX_GENERATION_SECONDS

logger = logging.getLogger(__name__)

# How long to wait for the next piece of text before telling the visitor we are still at it.
PROGRESS_SECONDS = 1.0

# Sampling in `model.generate` draws from torch's process-wide RNG, so a seed only reproduces text if no other
# generation draws from it meanwhile: solo generations run one at a time (batched ones have a generator each).
GENERATION_LOCK = threading.Lock()
_running: set[threading.Thread] = set()
_running_lock = threading.Lock()


class TokenStreamer(TextIteratorStreamer):
    """`TextIteratorStreamer` that hands on each token's text as soon as it decodes, where transformers' holds a
    word back until the next space: so the first token is on screen after one forward pass of the prompt. Only an
    incomplete UTF-8 character (decoded as "\ufffd") waits for the token that completes it; the final answer is
    decoded whole, so a token that changes the text before it is put right at the end. `new_tokens` counts the
    tokens written so far, for a status line that says how far a generation got (when it is stopped, say)."""

    new_tokens = 0

    def put(self, value: torch.Tensor) -> None:
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.new_tokens += value.numel()
        self.token_cache.extend(value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\ufffd"):
            return
        self.on_finalized_text(text[self.print_len :])
        self.print_len = len(text)
        if text.endswith("\n"):  # decode only the current line next time, as transformers does
            self.token_cache, self.print_len = [], 0


def paced(streamer: TextIteratorStreamer, interval: float) -> Iterator[str | None]:
    """The streamer's text in pieces at least `interval` seconds apart, the first as soon as it is written: each
    piece is all the text written since the one before. None when nothing was written for PROGRESS_SECONDS, so the
    caller can yield anyway and a Stop can reach it."""
    pending, last = "", -math.inf
    while True:
        streamer.timeout = max(interval - (time.monotonic() - last), 0.001) if pending else PROGRESS_SECONDS
        try:
            pending += next(streamer)
        except StopIteration:
            break
        except Empty:
            if not pending:
                yield None
                continue
        if pending and time.monotonic() - last >= interval:
            yield pending
            pending, last = "", time.monotonic()
    if pending:
        yield pending


class StopRequested(StoppingCriteria):
    """Ends every sequence at the next token once `event` is set (by Stop, a closed tab, or the request ending)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def running_generations() -> int:
    """How many generations are running right now: `model.generate` threads and batched requests."""
    with _running_lock:
        return len(_running) + active_requests()


class Generation:
    """One `model.generate` call in a background thread, so its text can be streamed while it is written and a
    request that goes away can stop it."""

    def __init__(
        self,
        model: Any,
        inputs: dict[str, torch.Tensor],
        kwargs: dict[str, Any],
        seed: int | None,
        streamer: TextIteratorStreamer | None = None,
    ) -> None:
        self.stop = threading.Event()
        self.output: torch.Tensor | None = None
        self.error: Exception | None = None
        self._model, self._seed, self._streamer = model, seed, streamer
        self._call = {**inputs, **kwargs, "stopping_criteria": StoppingCriteriaList([StopRequested(self.stop)])}
        if streamer is not None:
            self._call["streamer"] = streamer
        self._thread = threading.Thread(target=self._run, name="generate", daemon=True)

    def start(self) -> None:
        with _running_lock:
            _running.add(self._thread)
        self._thread.start()

    def _run(self) -> None:
        try:
            with GENERATION_LOCK:
                if self.stop.is_set():
                    return
                if self._seed is not None:
                    torch.manual_seed(self._seed)
                self.output = self._model.generate(**self._call)
        except Exception as error:
            self.error = error
        finally:
            if self._streamer is not None and self.output is None:
                self._streamer.end()  # generate ends the stream itself only when it returns
            with _running_lock:
                _running.discard(self._thread)

    def finished(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; re-raise what went wrong in the thread, if anything."""
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return not self._thread.is_alive()

    def stop_and_wait(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("A generation thread did not stop within %.0f s of being asked to", timeout)


@dataclass(frozen=True)
class Written:
    """What a generation has written so far. While it runs, `text` is the prompt and its continuation so far when
    the text streams, else "", and `new_tokens` how many tokens it has written (None when it does not stream). Once
    it has finished, `texts` holds each sequence whole (prompt included) and `new_tokens` how many tokens each
    continuation has."""

    text: str
    texts: tuple[str, ...] | None = None
    new_tokens: int | None = None
    batch_requests: int = 1  # the most requests that shared a forward pass with this one, itself included

    @property
    def finished(self) -> bool:
        return self.texts is not None


def continue_prompt(
    model: Any, tokenizer: Any, prompt: str, settings: DecodingSettings, seed: int | None, update_seconds: float
) -> Iterator[Written]:
    """Continue `prompt` with `model.generate` in a background thread: a `Written` at least every PROGRESS_SECONDS
    while it runs (streamed text at most every `update_seconds`, the first token at once), then the finished one.
    Closing the iterator (the request went away) stops the generation at the next token."""
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    prompt_tokens = inputs["input_ids"].shape[1]
    check_context(prompt_tokens, settings.max_new_tokens, getattr(model.config, "max_position_embeddings", None))
    streamer = (
        TokenStreamer(tokenizer, skip_prompt=True, timeout=PROGRESS_SECONDS, skip_special_tokens=True)
        if settings.streams
        else None
    )
    if streamer is not None and can_batch(model):
        yield from continue_batched(
            model, tokenizer, prompt, inputs["input_ids"][0], settings, seed, streamer, update_seconds
        )
        return
    generation = Generation(model, dict(inputs), settings.generate_kwargs(), seed, streamer)
    generation.start()
    text = prompt if streamer is not None else ""
    try:
        if streamer is not None:
            for piece in paced(streamer, update_seconds):
                text += piece or ""
                yield Written(text, new_tokens=streamer.new_tokens)
        while not generation.finished(timeout=PROGRESS_SECONDS):
            yield Written(text, new_tokens=streamer.new_tokens if streamer is not None else None)
    finally:
        generation.stop_and_wait()
    sequences = generation.output[:, prompt_tokens:]
    continuations = tokenizer.batch_decode(sequences, skip_special_tokens=True)
    yield Written(text, tuple(prompt + continuation for continuation in continuations), sequences.shape[1])


def batched_decoding(settings: DecodingSettings, seed: int | None) -> Decoding:
    """The settings of one greedy or sampled sequence as the batched decoder takes them (`generate`'s defaults for
    what the strategy does not read)."""
    sampling = settings.strategy == SAMPLING
    return Decoding(
        max_new_tokens=settings.max_new_tokens,
        do_sample=sampling,
        temperature=settings.temperature if sampling else 1.0,
        top_k=settings.top_k if sampling else 50,
        top_p=settings.top_p if sampling else 1.0,
        repetition_penalty=settings.repetition_penalty,
        seed=seed,
        max_time=MAX_GENERATION_SECONDS,
    )


def continue_batched(
    model: Any,
    tokenizer: Any,
    prompt: str,
    prompt_ids: torch.Tensor,
    settings: DecodingSettings,
    seed: int | None,
    streamer: TextIteratorStreamer,
    update_seconds: float,
) -> Iterator[Written]:
    """`continue_prompt` for one streamed sequence, in the model's running batch."""
    request = batched_decoder(model).submit(prompt_ids, batched_decoding(settings, seed), streamer)
    text = prompt
    try:
        for piece in paced(streamer, update_seconds):
            text += piece or ""
            yield Written(text, new_tokens=streamer.new_tokens, batch_requests=request.most_batched)
        request.wait()
    finally:
        request.stop.set()  # a request that went away leaves the batch at the next token
    continuation = tokenizer.decode(request.new_tokens, skip_special_tokens=True)
    yield Written(text, (prompt + continuation,), len(request.new_tokens), request.most_batched)
