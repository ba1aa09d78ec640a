"""Text generation: a causal language model continues a prompt with the decoding strategy and settings chosen in
the UI. Greedy decoding and sampling of one sequence stream word by word from a background `model.generate`
thread; beam search and several sequences arrive whole. Stop (or closing the tab) ends the generation on the
server at the next token, and a seed makes sampling reproducible. "Next-token odds" charts the distribution the
sampler draws the first new token from (after temperature, top-k, top-p and the repetition penalty) beside the raw
one, computed with the logits processors `generate` itself uses.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from queue import Empty
from typing import Any

import gradio as gr
import pandas as pd
import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from demos.common import (
    model_dropdown,
    report_loading,
    served_by,
    stopwatch,
    tab_intro,
    user_errors,
)
from shared.errors import UserError
from shared.limits import (
    MAX_GENERATION_SECONDS,
    MAX_NEW_TOKENS,
    MAX_NUM_BEAMS,
    MAX_NUM_SEQUENCES,
    MAX_REPETITION_PENALTY,
    MAX_SEED,
    MAX_TEMPERATURE,
    MAX_TEXT_CHARS,
    MAX_TOP_K,
    MIN_TEMPERATURE,
    MIN_TOP_P,
    is_finite_number,
)
from shared.loading import ModelLoader
from shared.model_choices import ModelChoice
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

TASK = "generate"
TITLE = "Text generation"
DESCRIPTION = (
    "A causal language model continues your prompt one token at a time. **Greedy** takes the likeliest token, "
    "**sampling** draws from the distribution reshaped by temperature, top-k and top-p, **beam search** keeps the "
    "`num_beams` likeliest continuations. Greedy and sampling of one sequence stream as they are written; "
    "**Stop** ends the generation on the server too. **Next-token odds** (below the text) charts the first new "
    "token's probabilities before and after temperature, top-k and top-p, so you see what each slider does."
)
MODELS = [
    ModelChoice("openai-community/gpt2", stand_in="gpt2-lm"),
    ModelChoice("HuggingFaceTB/SmolLM2-135M", stand_in="llama-lm"),
]
LOADER = ModelLoader("AutoModelForCausalLM", "AutoTokenizer", int8_allowed=True)

GREEDY, SAMPLING, BEAM_SEARCH = "greedy", "sampling", "beam search"
STRATEGIES = (GREEDY, SAMPLING, BEAM_SEARCH)
# The settings each strategy reads; the others are ignored and their inputs greyed out.
USED_BY = {
    GREEDY: {"max_new_tokens", "repetition_penalty"},
    SAMPLING: {"max_new_tokens", "repetition_penalty", "temperature", "top_k", "top_p", "num_return_sequences", "seed"},
    BEAM_SEARCH: {"max_new_tokens", "repetition_penalty", "num_return_sequences", "num_beams"},
}
TOGGLED_SETTINGS = ("temperature", "top_k", "top_p", "seed", "num_return_sequences", "num_beams")
# How long to wait for the next piece of text before telling the visitor we are still at it.
PROGRESS_SECONDS = 1.0
# At most ten updates a second (the first token at once): each update costs Gradio a few milliseconds of the CPU the
# model is using, which slowed generation to 0.86x of a bare `generate` when every token had an update of its own.
UPDATE_SECONDS = 0.1
PROMPT = "Hello, I'm a language model,"
# prompt, strategy, temperature, top_k, top_p, num_return_sequences, seed
EXAMPLES = [
    [PROMPT, SAMPLING, 0.7, 50, 0.95, 1, 42],
    [PROMPT, SAMPLING, 1.2, 0, 1.0, 1, 7],
    [PROMPT, SAMPLING, 0.9, 40, 0.9, 3, 2024],
    [PROMPT, GREEDY, 1.0, 50, 1.0, 1, -1],
    [PROMPT, BEAM_SEARCH, 1.0, 50, 1.0, 2, -1],
]

# Next-token odds: bars per distribution at most, and how many prompts' logits are kept so a slider move reshapes
# them without another forward pass (a GPT-2 row is 50,257 floats, 200 KB).
MAX_SHOWN_TOKENS = 50
SHOWN_TOKENS = 10
MAX_CACHED_PROMPTS = 8
RAW, AFTER_SETTINGS = "raw", "after settings"
ODDS_COLORS = {RAW: "#9ca3af", AFTER_SETTINGS: "#f97316"}
# Byte-level BPE names each byte with a printable character; used to show a token that is part of a UTF-8 character.
BYTE_OF_CHARACTER = {character: byte for byte, character in bytes_to_unicode().items()}

# Sampling draws from torch's process-wide RNG, so a seed only reproduces text if no other generation draws from
# it meanwhile: generations run one at a time (the event also has concurrency_limit=1, which queues visibly).
GENERATION_LOCK = threading.Lock()
_running: set[threading.Thread] = set()
_running_lock = threading.Lock()


def whole_number(name: str, value: float | None, low: int, high: int) -> int:
    if not is_finite_number(value) or value != int(value) or not low <= value <= high:
        raise UserError(f"{name} must be a whole number from {low} to {high}; got {value}.")
    return int(value)


def number(name: str, value: float | None, low: float, high: float) -> float:
    if not is_finite_number(value) or not low <= value <= high:
        raise UserError(f"{name} must be between {low} and {high}; got {value}.")
    return float(value)


def check_prompt(prompt: str | None) -> str:
    """The prompt as typed (leading and trailing spaces change what a language model writes next)."""
    if not prompt or not prompt.strip():
        raise UserError(f"Type a prompt for the model to continue (up to {MAX_TEXT_CHARS:,} characters).")
    if len(prompt) > MAX_TEXT_CHARS:
        raise UserError(f"The prompt is {len(prompt):,} characters long; the limit is {MAX_TEXT_CHARS:,}. Shorten it.")
    return prompt


def generate_kwargs(
    strategy: str,
    max_new_tokens: float,
    temperature: float | None = None,
    top_k: float | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    num_return_sequences: float | None = 1,
    num_beams: float | None = None,
) -> dict[str, Any]:
    """The keyword arguments for `model.generate` that the chosen strategy needs, checked against the limits.

    Out-of-range values are refused with a `UserError` that names the limit, never clamped: a request that asked
    for 2,000 tokens should learn that it gets at most 512 rather than be quietly shortened (Gradio's sliders refuse
    them too, before this runs). Settings the strategy does not use are neither checked nor passed: greedy gets no
    temperature, top-k, top-p or extra sequences; sampling gets `do_sample=True` with temperature, top-k (0 turns
    it off) and top-p; beam search needs `num_beams >= num_return_sequences`. Every request is stopped after
    `MAX_GENERATION_SECONDS`. Everything else (end and padding tokens...) comes from the model's generation config.

    >>> generate_kwargs("greedy", 20, temperature=0.7)
    {'max_new_tokens': 20, 'repetition_penalty': 1.0, 'max_time': 60.0, 'do_sample': False, 'num_beams': 1}
    """
    if strategy not in STRATEGIES:
        raise UserError(f"Pick a decoding strategy: {', '.join(STRATEGIES)}; got {strategy!r}.")
    kwargs: dict[str, Any] = {
        "max_new_tokens": whole_number("max_new_tokens", max_new_tokens, 1, MAX_NEW_TOKENS),
        "repetition_penalty": number("repetition_penalty", repetition_penalty, 1.0, MAX_REPETITION_PENALTY),
        "max_time": MAX_GENERATION_SECONDS,
    }
    if strategy == GREEDY:
        return {**kwargs, "do_sample": False, "num_beams": 1}
    sequences = whole_number("num_return_sequences", num_return_sequences, 1, MAX_NUM_SEQUENCES)
    if strategy == SAMPLING:
        return {
            **kwargs,
            "do_sample": True,
            "num_beams": 1,
            "temperature": number("temperature", temperature, MIN_TEMPERATURE, MAX_TEMPERATURE),
            "top_k": whole_number("top_k", top_k, 0, MAX_TOP_K),
            "top_p": number("top_p", top_p, MIN_TOP_P, 1.0),
            "num_return_sequences": sequences,
        }
    beams = whole_number("num_beams", num_beams, 2, MAX_NUM_BEAMS)
    if beams < sequences:
        raise UserError(
            f"Beam search returns at most num_beams sequences: num_beams is {beams} and num_return_sequences "
            f"{sequences}. Raise num_beams to {sequences} or lower num_return_sequences."
        )
    return {**kwargs, "do_sample": False, "num_beams": beams, "num_return_sequences": sequences}


def streams(kwargs: dict[str, Any]) -> bool:
    """Whether the text can be streamed: transformers streams neither beam search nor several sequences."""
    return kwargs["num_beams"] == 1 and kwargs.get("num_return_sequences", 1) == 1


def sampling_seed(seed: float | str | None) -> int:
    """The visitor's seed, or a fresh random one when the field is empty or -1; the status line shows the seed
    used, so any sampled text can be reproduced."""
    if isinstance(seed, str):
        try:
            seed = float(seed) if seed.strip() else None
        except ValueError as error:
            raise UserError(f"seed must be a whole number from 0 to {MAX_SEED}, or empty; got {seed!r}.") from error
    if seed is None or seed == -1:
        return secrets.randbelow(MAX_SEED + 1)
    return whole_number("seed", seed, 0, MAX_SEED)


def check_context(prompt_tokens: int, max_new_tokens: int, context_tokens: int | None) -> None:
    """Refuse a request that would run past the model's context window (GPT-2's position table ends at 1,024)."""
    if context_tokens is not None and prompt_tokens + max_new_tokens > context_tokens:
        raise UserError(
            f"The prompt is {prompt_tokens:,} tokens; with max_new_tokens {max_new_tokens} that passes the model's "
            f"context of {context_tokens:,} tokens. Shorten the prompt or lower max_new_tokens."
        )


def numbered(texts: list[str]) -> str:
    """One text as it is; several as `[1] …`, `[2] …`, separated by a blank line."""
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"[{index}] {text}" for index, text in enumerate(texts, start=1))


def decoding_summary(strategy: str, seed: int | None, new_tokens: int | None = None, stopped: bool = False) -> str:
    parts = [strategy]
    if seed is not None:
        parts.append(f"seed {seed}")
    if new_tokens is not None:
        parts.append(f"{new_tokens} new tokens")
    if stopped:
        parts.append(f"stopped at the {MAX_GENERATION_SECONDS:.0f} s limit")
    return " · ".join(parts)


# --- next-token odds ----------------------------------------------------------------------------------------------


def sampling_processors(
    temperature: float, top_k: int, top_p: float, repetition_penalty: float = 1.0, input_ids: torch.Tensor | None = None
) -> LogitsProcessorList:
    """The logits processors `generate(do_sample=True, num_beams=1)` applies before it samples, in its order
    (`GenerationMixin._get_logits_processor`): repetition penalty, then temperature, top-k and top-p. Each is left
    out at the value that turns it off (1, 1, 0 and 1), as `generate` leaves it out."""
    processors = LogitsProcessorList()
    if repetition_penalty != 1.0:
        if input_ids is None:
            raise ValueError("The repetition penalty needs the prompt's input_ids.")
        processors.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
    if temperature != 1.0:
        processors.append(TemperatureLogitsWarper(temperature))
    if top_k != 0:
        processors.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
    if top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
    return processors


def next_token_distributions(
    logits: torch.Tensor,
    temperature: float,
    top_k: int,
    top_p: float,
    repetition_penalty: float = 1.0,
    input_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(raw, after settings): the softmax of the next-token `logits` (one row over the vocabulary), and the
    distribution sampling draws from once the settings have reshaped and cut the logits, both float32 like
    `generate`'s. Tokens the filters drop have probability 0; the rest are renormalised to sum to 1.

    >>> raw, after = next_token_distributions(torch.tensor([2.0, 1.0, 0.0]), temperature=1.0, top_k=2, top_p=1.0)
    >>> [round(p, 3) for p in raw.tolist()], [round(p, 3) for p in after.tolist()]
    ([0.665, 0.245, 0.09], [0.731, 0.269, 0.0])
    """
    scores = logits.detach().reshape(1, -1).to(dtype=torch.float32, device="cpu")
    prompt_ids = None if input_ids is None else input_ids.reshape(1, -1).cpu()
    processed = sampling_processors(temperature, top_k, top_p, repetition_penalty, prompt_ids)(prompt_ids, scores)
    return scores.softmax(dim=-1)[0], processed.softmax(dim=-1)[0]


def entropy_bits(probabilities: torch.Tensor) -> float:
    """Shannon entropy in bits; tokens with probability 0 add nothing."""
    kept = probabilities[probabilities > 0].double()
    return float(-(kept * kept.log2()).sum())


def readable_token(text: str) -> str:
    r"""A token's text with its whitespace shown: a space as "␣", a newline as "\n" (as repr writes it)."""
    if not text:
        return "∅"
    return "".join("␣" if char == " " else char if char.isprintable() else repr(char)[1:-1] for char in text)


def token_text(tokenizer: Any, token_id: int) -> tuple[str, str]:
    r"""(text, shown): what the token writes, and that text made readable for a chart label. A token that is only
    part of a UTF-8 character decodes to "\ufffd"; it is shown as its bytes (e.g. "\xe2\x80") when the
    tokenizer is byte-level, else by its vocabulary name."""
    text = tokenizer.decode([token_id])
    if "\ufffd" not in text:
        return text, readable_token(text)
    name = tokenizer.convert_ids_to_tokens(token_id) or ""
    if name and all(character in BYTE_OF_CHARACTER for character in name):
        return text, repr(bytes(BYTE_OF_CHARACTER[character] for character in name))[2:-1].replace(" ", "␣")
    return text, readable_token(name) if name else f"<id {token_id}>"


def odds_numbers(
    raw: torch.Tensor, after: torch.Tensor, shown: int, describe: Callable[[int], tuple[str, str]]
) -> dict[str, Any]:
    """The numbers behind the chart: the `shown` likeliest tokens after the settings (ties, and tokens the filters
    drop, in raw order) with both probabilities, and the whole vocabulary's summary: how many tokens sampling can
    still draw, the raw probability they held, both totals and both entropies. `describe(token_id)` gives a token's
    (text, shown text)."""
    by_raw = torch.sort(raw, descending=True, stable=True).indices
    order = by_raw[torch.sort(after[by_raw], descending=True, stable=True).indices][:shown]
    kept = after > 0
    tokens = []
    for rank, token_id in enumerate(order.tolist(), start=1):
        text, shown_text = describe(token_id)
        tokens.append(
            {
                "rank": rank,
                "token": shown_text,
                "text": text,
                "token_id": token_id,
                "raw_probability": float(raw[token_id]),
                "probability_after_settings": float(after[token_id]),
                "kept": bool(kept[token_id]),
            }
        )
    return {
        "tokens": tokens,
        "vocab_size": raw.numel(),
        "kept_tokens": int(kept.sum()),
        "kept_raw_mass": float(raw[kept].double().sum()),
        "raw_total": float(raw.double().sum()),
        "after_settings_total": float(after.double().sum()),
        "raw_entropy_bits": entropy_bits(raw),
        "entropy_after_settings_bits": entropy_bits(after),
    }


def bar_label(token: dict[str, Any], distribution: str) -> str:
    """One bar's x label; each token has two bars, so the label names the distribution too."""
    return f"{token['rank']}. {token['token']} · {'raw' if distribution == RAW else 'after'}"


def odds_frame(numbers: dict[str, Any]) -> pd.DataFrame:
    """Two rows per shown token, raw then after settings, in the chart's order."""
    rows = [
        {"token": bar_label(token, distribution), "probability": token[field], "distribution": distribution}
        for token in numbers["tokens"]
        for distribution, field in ((RAW, "raw_probability"), (AFTER_SETTINGS, "probability_after_settings"))
    ]
    return pd.DataFrame(rows, columns=["token", "probability", "distribution"])


def settings_summary(temperature: float, top_k: int, top_p: float, repetition_penalty: float) -> str:
    parts = [f"temperature {temperature:g}", f"top_k {top_k}" if top_k else "top_k off"]
    parts.append(f"top_p {top_p:g}" if top_p < 1 else "top_p off")
    if repetition_penalty != 1:
        parts.append(f"repetition_penalty {repetition_penalty:g}")
    return ", ".join(parts)


def odds_summary(numbers: dict[str, Any], settings: str) -> str:
    return (
        f"With {settings}, sampling draws the next token from **{numbers['kept_tokens']:,}** of "
        f"{numbers['vocab_size']:,} tokens, which held {numbers['kept_raw_mass']:.1%} of the raw probability; "
        f"entropy {numbers['raw_entropy_bits']:.2f} → {numbers['entropy_after_settings_bits']:.2f} bits. "
        "Greedy decoding would take token 1."
    )


class RecentLogits:
    """The next-token logits of the last few (model, prompt) pairs, so moving a slider reshapes them instead of
    running the model again. Bounded, least recently used first out; safe to share between request threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[torch.Tensor, torch.Tensor] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: tuple[torch.Tensor, torch.Tensor]) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


RECENT_LOGITS = RecentLogits(MAX_CACHED_PROMPTS)


class TokenStreamer(TextIteratorStreamer):
    """`TextIteratorStreamer` that hands on each token's text as soon as it decodes, where transformers' holds a
    word back until the next space: so the first token is on screen after one forward pass of the prompt. Only an
    incomplete UTF-8 character (decoded as "\ufffd") waits for the token that completes it; the final answer is
    decoded whole, so a token that changes the text before it is put right at the end."""

    def put(self, value: torch.Tensor) -> None:
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
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
    """How many `model.generate` threads are running right now."""
    with _running_lock:
        return len(_running)


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


@user_errors
def generate_text(
    runtime: Runtime,
    choices: list[ModelChoice],
    prompt: str,
    model_id: str | None,
    strategy: str,
    max_new_tokens: float,
    temperature: float | None,
    top_k: float | None,
    top_p: float | None,
    repetition_penalty: float,
    num_return_sequences: float | None,
    num_beams: float | None,
    seed: float | str | None,
) -> Iterator[tuple[str, str]]:
    """Yield (text, status): the prompt and its growing continuation while streaming, then the final text."""
    prompt = check_prompt(prompt)
    kwargs = generate_kwargs(
        strategy, max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences, num_beams
    )
    seed = sampling_seed(seed) if strategy == SAMPLING else None
    with runtime.model(TASK, choices, model_id, LOADER) as loaded, stopwatch() as elapsed:
        model, tokenizer = loaded.loaded.model, loaded.loaded.processor
        inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
        prompt_tokens = inputs["input_ids"].shape[1]
        check_context(prompt_tokens, kwargs["max_new_tokens"], getattr(model.config, "max_position_embeddings", None))
        streamer = (
            TokenStreamer(tokenizer, skip_prompt=True, timeout=PROGRESS_SECONDS, skip_special_tokens=True)
            if streams(kwargs)
            else None
        )
        generation = Generation(model, dict(inputs), kwargs, seed, streamer)
        generation.start()
        text = prompt
        try:
            if streamer is not None:
                for piece in paced(streamer, UPDATE_SECONDS):
                    text += piece or ""
                    yield text, f"{served_by(loaded, elapsed())} · generating…"
            while not generation.finished(timeout=PROGRESS_SECONDS):
                yield text if streamer is not None else "", f"{served_by(loaded, elapsed())} · generating…"
        finally:
            generation.stop_and_wait()
        sequences = generation.output[:, prompt_tokens:]
        texts = [prompt + continuation for continuation in tokenizer.batch_decode(sequences, skip_special_tokens=True)]
        seconds = elapsed()
        summary = decoding_summary(strategy, seed, sequences.shape[1], stopped=seconds >= MAX_GENERATION_SECONDS)
        yield numbered(texts), f"{served_by(loaded, seconds)} · {summary}"


def prompt_logits(loaded: Any, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, logits at the last prompt position) on the CPU, from the cache or one forward pass."""
    key = (loaded.model_id, loaded.source, loaded.precision, prompt)
    if (cached := RECENT_LOGITS.get(key)) is not None:
        return cached
    model, tokenizer = loaded.loaded.model, loaded.loaded.processor
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    prompt_tokens = inputs["input_ids"].shape[1]
    context_tokens = getattr(model.config, "max_position_embeddings", None)
    if context_tokens is not None and prompt_tokens > context_tokens:
        raise UserError(
            f"The prompt is {prompt_tokens:,} tokens; the model reads at most {context_tokens:,}. Shorten the prompt."
        )
    with torch.inference_mode():
        logits = model(**inputs, logits_to_keep=1).logits[0, -1]
    entry = (inputs["input_ids"][0].cpu(), logits.to(dtype=torch.float32, device="cpu"))
    RECENT_LOGITS.put(key, entry)
    return entry


@user_errors
def next_token_odds(
    runtime: Runtime,
    choices: list[ModelChoice],
    prompt: str,
    model_id: str | None,
    temperature: float,
    top_k: float,
    top_p: float,
    repetition_penalty: float,
    shown: float,
) -> tuple[gr.BarPlot, dict[str, Any], str]:
    """(bar chart, numbers, status) for the first token sampling would add to the prompt."""
    prompt = check_prompt(prompt)
    kwargs = generate_kwargs(SAMPLING, 1, temperature, top_k, top_p, repetition_penalty)  # the same checks
    shown = whole_number("shown", shown, 1, MAX_SHOWN_TOKENS)
    temperature, top_k, top_p = kwargs["temperature"], kwargs["top_k"], kwargs["top_p"]
    repetition_penalty = kwargs["repetition_penalty"]
    with runtime.model(TASK, choices, model_id, LOADER) as loaded, stopwatch() as elapsed:
        input_ids, logits = prompt_logits(loaded, prompt)
        raw, after = next_token_distributions(logits, temperature, top_k, top_p, repetition_penalty, input_ids)
        tokenizer = loaded.loaded.processor
        numbers = odds_numbers(raw, after, shown, lambda token_id: token_text(tokenizer, token_id))
        seconds = elapsed()
    settings = settings_summary(temperature, top_k, top_p, repetition_penalty)
    numbers = {
        "model_id": loaded.model_id,
        "settings": {
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "repetition_penalty": repetition_penalty,
        },
        **numbers,
    }
    frame = odds_frame(numbers)
    chart = gr.BarPlot(value=frame, sort=frame["token"].tolist())
    return chart, numbers, f"{odds_summary(numbers, settings)}\n\n{served_by(loaded, seconds)}"


def setting_updates(strategy: str) -> list[dict]:
    """Grey out the settings the chosen strategy ignores."""
    used = USED_BY.get(strategy, set())
    return [gr.update(interactive=name in used) for name in TOGGLED_SETTINGS]


def build_tab(runtime: Runtime) -> None:
    choices = tab_intro(runtime, TASK, MODELS, DESCRIPTION)
    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox(
                label="Prompt",
                value=PROMPT,
                lines=4,
                info=f"The model continues this text. Up to {MAX_TEXT_CHARS:,} characters.",
            )
            model = model_dropdown(choices)
            strategy = gr.Radio(list(STRATEGIES), value=SAMPLING, label="Decoding strategy")
            max_new_tokens = gr.Slider(
                1, MAX_NEW_TOKENS, value=50, step=1, precision=0, label="max_new_tokens", info="Tokens to add."
            )
            with gr.Row():
                temperature = gr.Slider(
                    MIN_TEMPERATURE,
                    MAX_TEMPERATURE,
                    value=0.8,
                    step=0.01,
                    label="temperature",
                    info="Sampling: below 1 is safer, above 1 wilder.",
                )
                top_k = gr.Slider(
                    0, MAX_TOP_K, value=50, step=1, precision=0, label="top_k", info="Sampling: 0 turns it off."
                )
                top_p = gr.Slider(
                    MIN_TOP_P, 1.0, value=0.95, step=0.01, label="top_p", info="Sampling: 1 turns it off."
                )
            with gr.Row():
                num_return_sequences = gr.Slider(
                    1,
                    MAX_NUM_SEQUENCES,
                    value=1,
                    step=1,
                    precision=0,
                    label="num_return_sequences",
                    info="Sampling and beam search. Several sequences arrive whole, not streamed.",
                )
                num_beams = gr.Slider(
                    2,
                    MAX_NUM_BEAMS,
                    value=4,
                    step=1,
                    precision=0,
                    label="num_beams",
                    info="Beam search; at least num_return_sequences.",
                    interactive=False,
                )
            with gr.Row():
                repetition_penalty = gr.Slider(
                    1.0,
                    MAX_REPETITION_PENALTY,
                    value=1.0,
                    step=0.05,
                    label="repetition_penalty",
                    info="Above 1 discourages repeating tokens; 1 turns it off.",
                )
                seed = gr.Number(
                    value=-1,
                    precision=0,
                    minimum=-1,
                    maximum=MAX_SEED,
                    label="seed",
                    info="Sampling: the same seed gives the same text; -1 or empty picks one at random (shown below).",
                )
            with gr.Row():
                button = gr.Button("Generate", variant="primary")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column():
            output = gr.Textbox(label="Generated text", lines=14, interactive=False, buttons=["copy"])
            status = gr.Markdown(label="Status")
            with gr.Accordion("Next-token odds", open=False):
                gr.Markdown(
                    "The first token sampling would add to the prompt: its probability **raw** (the softmax of the "
                    "model's scores) and **after settings** (what temperature, top_k, top_p and the repetition "
                    "penalty leave for the sampler to draw from). Move a slider to see what it does."
                )
                with gr.Row():
                    shown = gr.Slider(
                        1,
                        MAX_SHOWN_TOKENS,
                        value=SHOWN_TOKENS,
                        step=1,
                        precision=0,
                        label="shown",
                        info=f"Tokens to chart, up to {MAX_SHOWN_TOKENS}.",
                    )
                    odds_button = gr.Button("Show next-token odds")
                odds_chart = gr.BarPlot(
                    x="token",
                    y="probability",
                    color="distribution",
                    color_map=ODDS_COLORS,
                    y_lim=[0, None],
                    x_title="next token",
                    x_label_angle=-45,
                    label="Next-token probabilities",
                )
                odds_status = gr.Markdown()
                odds_json = gr.JSON(label="Numbers", max_height=320)
    odds_requested = gr.State(False)
    gr.Examples(
        EXAMPLES,
        inputs=[prompt, strategy, temperature, top_k, top_p, num_return_sequences, seed],
        cache_examples=False,
    )

    inputs = [
        prompt,
        model,
        strategy,
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        repetition_penalty,
        num_return_sequences,
        num_beams,
        seed,
    ]
    toggled = [temperature, top_k, top_p, seed, num_return_sequences, num_beams]
    strategy.change(setting_updates, strategy, toggled, api_visibility="private")

    def generate(
        prompt: str,
        model_id: str,
        strategy: str,
        max_new_tokens: float,
        temperature: float,
        top_k: float,
        top_p: float,
        repetition_penalty: float,
        num_return_sequences: float,
        num_beams: float,
        seed: float | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
    ) -> Iterator[tuple[str, str]]:
        """Continue a prompt with a causal language model. Greedy and single-sequence sampling stream token by token;
        beam search and several sequences arrive whole. Yields (text, status)."""
        report_loading(progress, runtime, TASK, choices, model_id)
        yield from generate_text(
            runtime,
            choices,
            prompt,
            model_id,
            strategy,
            max_new_tokens,
            temperature,
            top_k,
            top_p,
            repetition_penalty,
            num_return_sequences,
            num_beams,
            seed,
        )

    generation = button.click(
        generate, inputs, [output, status], api_name="generate", concurrency_limit=1, concurrency_id=TASK
    )
    stop.click(None, None, None, cancels=[generation])

    odds_inputs = [prompt, model, temperature, top_k, top_p, repetition_penalty, shown]
    odds_outputs = [odds_chart, odds_json, odds_status]
    # One forward pass of the prompt at most (none when only a setting moved); while a slider is dragged only the
    # latest of its values waits for the one running.
    odds_queue = dict(concurrency_limit=1, concurrency_id="next_token")

    def next_token(
        prompt: str,
        model_id: str,
        temperature: float,
        top_k: float,
        top_p: float,
        repetition_penalty: float,
        shown: float,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
    ) -> tuple[gr.BarPlot, dict[str, Any], str]:
        """The probabilities of the first token sampling would add to a prompt: raw (the softmax of the logits at the
        last prompt position) and after the settings (temperature, top_k (0 = off), top_p (1 = off) and
        repetition_penalty, applied by transformers' own logits processors in `generate`'s order), for the `shown`
        likeliest tokens. Returns (bar chart, numbers: the shown tokens with both probabilities, how many tokens
        sampling keeps, the raw probability they held, the totals over the vocabulary and both entropies, status)."""
        report_loading(progress, runtime, TASK, choices, model_id)
        return next_token_odds(runtime, choices, prompt, model_id, temperature, top_k, top_p, repetition_penalty, shown)

    def odds_shown() -> bool:
        return True

    def follow_settings(
        requested: bool,
        prompt: str,
        model_id: str,
        temperature: float,
        top_k: float,
        top_p: float,
        repetition_penalty: float,
        shown: float,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple:
        """Redraw the odds when a setting changes, once the visitor has asked for them."""
        if not requested:
            return gr.skip(), gr.skip(), gr.skip()
        return next_token(prompt, model_id, temperature, top_k, top_p, repetition_penalty, shown, progress)

    odds_button.click(next_token, odds_inputs, odds_outputs, api_name="next_token", **odds_queue).success(
        odds_shown, None, odds_requested, api_visibility="private"
    )
    # `.change`, not `.release`: it also fires for arrow keys on a slider and for an example filling the settings.
    gr.on(
        [setting.change for setting in (temperature, top_k, top_p, repetition_penalty, shown)],
        follow_settings,
        [odds_requested, *odds_inputs],
        odds_outputs,
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="minimal",
        **odds_queue,
    )
