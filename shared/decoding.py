"""What a visitor asks a causal language model for: a prompt, a decoding strategy and its settings, checked once
into a `DecodingSettings` from which both the keyword arguments of `model.generate` and the logits processors
`generate` applies are made, so the text tab and the next-token odds cannot disagree. Also the distributions
sampling draws from (raw and after the settings) and their entropy. No gradio here."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
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
    number,
    whole_number,
)

GREEDY, SAMPLING, BEAM_SEARCH = "greedy", "sampling", "beam search"
STRATEGIES = (GREEDY, SAMPLING, BEAM_SEARCH)
# The settings each strategy reads (the seed too, which is not a `generate` argument); the others are ignored.
USED_BY = {
    GREEDY: {"max_new_tokens", "repetition_penalty"},
    SAMPLING: {"max_new_tokens", "repetition_penalty", "temperature", "top_k", "top_p", "num_return_sequences", "seed"},
    BEAM_SEARCH: {"max_new_tokens", "repetition_penalty", "num_return_sequences", "num_beams"},
}


@dataclass(frozen=True)
class DecodingSettings:
    """A decoding strategy and the settings it reads, in transformers' names; the settings the strategy ignores are
    None. Build it from a request with `DecodingSettings.checked(...)` (the constructor checks nothing); the fields
    are in the order the /generate API takes them.

    >>> DecodingSettings.checked("greedy", 20, temperature=0.7).generate_kwargs()
    {'max_new_tokens': 20, 'repetition_penalty': 1.0, 'max_time': 60.0, 'do_sample': False, 'num_beams': 1}
    """

    strategy: str
    max_new_tokens: int
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    num_return_sequences: int = 1
    num_beams: int = 1

    @classmethod
    def checked(
        cls,
        strategy: str,
        max_new_tokens: float,
        temperature: float | None = None,
        top_k: float | None = None,
        top_p: float | None = None,
        repetition_penalty: float = 1.0,
        num_return_sequences: float | None = 1,
        num_beams: float | None = None,
    ) -> DecodingSettings:
        """The settings the chosen strategy reads, checked against the limits.

        Out-of-range values are refused with a `UserError` that names the limit, never clamped: a request that asked
        for 2,000 tokens should learn that it gets at most 512 rather than be quietly shortened (Gradio's sliders
        refuse them too, before this runs). Settings the strategy does not use are neither checked nor kept: greedy
        keeps no temperature, top-k, top-p or extra sequences; sampling keeps temperature, top-k (0 turns it off)
        and top-p; beam search needs `num_beams >= num_return_sequences`."""
        if strategy not in STRATEGIES:
            raise UserError(f"Pick a decoding strategy: {', '.join(STRATEGIES)}; got {strategy!r}.")
        common = dict(
            strategy=strategy,
            max_new_tokens=whole_number("max_new_tokens", max_new_tokens, 1, MAX_NEW_TOKENS),
            repetition_penalty=number("repetition_penalty", repetition_penalty, 1.0, MAX_REPETITION_PENALTY),
        )
        if strategy == GREEDY:
            return cls(**common)
        sequences = whole_number("num_return_sequences", num_return_sequences, 1, MAX_NUM_SEQUENCES)
        if strategy == SAMPLING:
            return cls(
                **common,
                temperature=number("temperature", temperature, MIN_TEMPERATURE, MAX_TEMPERATURE),
                top_k=whole_number("top_k", top_k, 0, MAX_TOP_K),
                top_p=number("top_p", top_p, MIN_TOP_P, 1.0),
                num_return_sequences=sequences,
            )
        beams = whole_number("num_beams", num_beams, 2, MAX_NUM_BEAMS)
        if beams < sequences:
            raise UserError(
                f"Beam search returns at most num_beams sequences: num_beams is {beams} and num_return_sequences "
                f"{sequences}. Raise num_beams to {sequences} or lower num_return_sequences."
            )
        return cls(**common, num_return_sequences=sequences, num_beams=beams)

    @property
    def streams(self) -> bool:
        """Whether the text can be streamed: transformers streams neither beam search nor several sequences."""
        return self.num_beams == 1 and self.num_return_sequences == 1

    def generate_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for `model.generate`: only what the strategy reads, and a time limit on every
        request. Everything else (end and padding tokens...) comes from the model's generation config."""
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "repetition_penalty": self.repetition_penalty,
            "max_time": MAX_GENERATION_SECONDS,
            "do_sample": self.strategy == SAMPLING,
            "num_beams": self.num_beams,
        }
        if self.strategy == SAMPLING:
            kwargs.update(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        if self.strategy != GREEDY:
            kwargs["num_return_sequences"] = self.num_return_sequences
        return kwargs

    def logits_processors(self, input_ids: torch.Tensor | None = None) -> LogitsProcessorList:
        """The logits processors `generate` applies with these settings before it picks a token (greedy and
        sampling), in its order (`GenerationMixin._get_logits_processor`): the repetition penalty, then, when
        sampling, temperature, top-k and top-p. Each is left out at the value that turns it off (1, 1, 0 and 1), as
        `generate` leaves it out. The repetition penalty needs the prompt's `input_ids`."""
        if self.repetition_penalty != 1.0 and input_ids is None:
            raise ValueError("The repetition penalty needs the prompt's input_ids.")
        return generate_processors(
            self.repetition_penalty, self.strategy == SAMPLING, self.temperature, self.top_k, self.top_p
        )


def generate_processors(
    repetition_penalty: float, do_sample: bool, temperature: float, top_k: int, top_p: float
) -> LogitsProcessorList:
    """The logits processors `generate` applies, in its order: the repetition penalty (greedy too), then, when
    sampling, temperature, top-k and top-p; each left out at the value that turns it off (1, 1, 0 and 1)."""
    processors = LogitsProcessorList()
    if repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
    if do_sample:
        if temperature != 1.0:
            processors.append(TemperatureLogitsWarper(temperature))
        if top_k != 0:
            processors.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
    return processors


def check_prompt(prompt: str | None) -> str:
    """The prompt as typed (leading and trailing spaces change what a language model writes next)."""
    if not prompt or not prompt.strip():
        raise UserError(f"Type a prompt for the model to continue (up to {MAX_TEXT_CHARS:,} characters).")
    if len(prompt) > MAX_TEXT_CHARS:
        raise UserError(f"The prompt is {len(prompt):,} characters long; the limit is {MAX_TEXT_CHARS:,}. Shorten it.")
    return prompt


def check_context(prompt_tokens: int, max_new_tokens: int, context_tokens: int | None) -> None:
    """Refuse a request that would run past the model's context window (GPT-2's position table ends at 1,024)."""
    if context_tokens is not None and prompt_tokens + max_new_tokens > context_tokens:
        raise UserError(
            f"The prompt is {prompt_tokens:,} tokens; with max_new_tokens {max_new_tokens} that passes the model's "
            f"context of {context_tokens:,} tokens. Shorten the prompt or lower max_new_tokens."
        )


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


def next_token_distributions(
    logits: torch.Tensor, settings: DecodingSettings, input_ids: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(raw, after settings): the softmax of the next-token `logits` (one row over the vocabulary), and the
    distribution sampling draws from once the settings have reshaped and cut the logits, both float32 like
    `generate`'s. Tokens the filters drop have probability 0; the rest are renormalised to sum to 1.

    >>> settings = DecodingSettings(SAMPLING, 1, temperature=1.0, top_k=2, top_p=1.0)
    >>> raw, after = next_token_distributions(torch.tensor([2.0, 1.0, 0.0]), settings)
    >>> [round(p, 3) for p in raw.tolist()], [round(p, 3) for p in after.tolist()]
    ([0.665, 0.245, 0.09], [0.731, 0.269, 0.0])
    """
    scores = logits.detach().reshape(1, -1).to(dtype=torch.float32, device="cpu")
    prompt_ids = None if input_ids is None else input_ids.reshape(1, -1).cpu()
    processed = settings.logits_processors(prompt_ids)(prompt_ids, scores)
    return scores.softmax(dim=-1)[0], processed.softmax(dim=-1)[0]


def entropy_bits(probabilities: torch.Tensor) -> float:
    """Shannon entropy in bits; tokens with probability 0 add nothing."""
    kept = probabilities[probabilities > 0].double()
    return float(-(kept * kept.log2()).sum())
