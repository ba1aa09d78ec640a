"""Decoding settings (shared/decoding.py): the checks of what a visitor asks for, the `generate` kwargs and the logits
processors made from one `DecodingSettings`, and their agreement with what `model.generate` does on the tiny
GPT-2 and Llama stand-ins."""

from __future__ import annotations

import re

import pytest
import torch

from demos import generate
from demos.tab import Tab
from shared import limits
from shared.decoding import (
    BEAM_SEARCH,
    GREEDY,
    SAMPLING,
    DecodingSettings,
    check_context,
    check_prompt,
    sampling_seed,
)
from shared.errors import UserError

SAMPLING_SETTINGS = {"temperature", "top_k", "top_p"}


def kwargs_of(strategy: str, *values, **named) -> dict:
    return DecodingSettings.checked(strategy, *values, **named).generate_kwargs()


# --- decoding settings -> generate kwargs -----------------------------------------------------------------------


def test_greedy_drops_sampling_and_beam_settings():
    kwargs = kwargs_of(GREEDY, 20, temperature=0.7, top_k=5, top_p=0.5, num_return_sequences=3, num_beams=4)
    assert kwargs["do_sample"] is False and kwargs["num_beams"] == 1 and kwargs["max_new_tokens"] == 20
    assert not SAMPLING_SETTINGS & kwargs.keys() and "num_return_sequences" not in kwargs


def test_sampling_passes_temperature_top_k_and_top_p():
    kwargs = kwargs_of(SAMPLING, 20, temperature=0.7, top_k=5, top_p=0.5, num_return_sequences=2)
    assert kwargs["do_sample"] is True and kwargs["num_beams"] == 1
    assert (kwargs["temperature"], kwargs["top_k"], kwargs["top_p"]) == (0.7, 5, 0.5)
    assert kwargs["num_return_sequences"] == 2


def test_beam_search_passes_beams_and_no_sampling_settings():
    kwargs = kwargs_of(BEAM_SEARCH, 20, temperature=0.7, top_k=5, top_p=0.5, num_return_sequences=2, num_beams=2)
    assert kwargs["do_sample"] is False and (kwargs["num_beams"], kwargs["num_return_sequences"]) == (2, 2)
    assert not SAMPLING_SETTINGS & kwargs.keys()


def test_beam_search_needs_at_least_as_many_beams_as_sequences():
    with pytest.raises(UserError, match="Raise num_beams to 3"):
        DecodingSettings.checked(BEAM_SEARCH, 20, num_return_sequences=3, num_beams=2)


def test_every_request_has_a_time_limit_and_whole_token_counts():
    kwargs = kwargs_of(SAMPLING, 20.0, temperature=1, top_k=40.0, top_p=1, num_return_sequences=1.0)
    assert kwargs["max_time"] == limits.MAX_GENERATION_SECONDS
    assert all(type(kwargs[name]) is int for name in ["max_new_tokens", "top_k", "num_return_sequences"])


@pytest.mark.parametrize(
    ("strategy", "setting", "value", "limit"),
    [
        (GREEDY, "max_new_tokens", 0, limits.MAX_NEW_TOKENS),
        (GREEDY, "max_new_tokens", limits.MAX_NEW_TOKENS + 1, limits.MAX_NEW_TOKENS),
        (GREEDY, "max_new_tokens", 2.5, limits.MAX_NEW_TOKENS),
        (GREEDY, "repetition_penalty", limits.MAX_REPETITION_PENALTY + 1, limits.MAX_REPETITION_PENALTY),
        (SAMPLING, "temperature", 0, limits.MIN_TEMPERATURE),
        (SAMPLING, "temperature", limits.MAX_TEMPERATURE * 2, limits.MAX_TEMPERATURE),
        (SAMPLING, "top_k", -1, limits.MAX_TOP_K),
        (SAMPLING, "top_p", 0, limits.MIN_TOP_P),
        (SAMPLING, "top_p", 1.5, 1.0),
        (SAMPLING, "num_return_sequences", limits.MAX_NUM_SEQUENCES + 1, limits.MAX_NUM_SEQUENCES),
        (BEAM_SEARCH, "num_beams", 1, limits.MAX_NUM_BEAMS),
        (BEAM_SEARCH, "num_beams", limits.MAX_NUM_BEAMS + 1, limits.MAX_NUM_BEAMS),
    ],
)
def test_out_of_range_settings_are_refused_with_their_limit(strategy, setting, value, limit):
    values = dict(max_new_tokens=20, temperature=1.0, top_k=50, top_p=0.9, num_return_sequences=1, num_beams=2)
    values[setting] = value
    with pytest.raises(UserError, match=rf"{setting} must .*{re.escape(str(limit))}"):
        DecodingSettings.checked(strategy, **values)


def test_settings_a_strategy_ignores_are_not_checked_and_not_kept():
    settings = DecodingSettings.checked(GREEDY, 20, temperature=0, top_k=-5, top_p=9, num_beams=0)
    assert (settings.temperature, settings.top_k, settings.top_p) == (None, None, None)
    assert not SAMPLING_SETTINGS & settings.generate_kwargs().keys()


def test_unknown_strategy_is_refused():
    with pytest.raises(UserError, match="greedy, sampling, beam search"):
        DecodingSettings.checked("contrastive", 20)


def test_only_one_sequence_without_beams_streams():
    assert DecodingSettings.checked(GREEDY, 5).streams
    assert DecodingSettings.checked(SAMPLING, 5, 1.0, 50, 1.0, num_return_sequences=1).streams
    assert not DecodingSettings.checked(SAMPLING, 5, 1.0, 50, 1.0, num_return_sequences=2).streams
    assert not DecodingSettings.checked(BEAM_SEARCH, 5, num_return_sequences=1, num_beams=2).streams


# --- decoding settings -> logits processors -------------------------------------------------------------------------


def processor_names(settings: DecodingSettings) -> list[str]:
    return [type(processor).__name__ for processor in settings.logits_processors(torch.tensor([[0]]))]


def test_processors_leave_out_the_settings_at_their_off_values():
    assert processor_names(DecodingSettings.checked(SAMPLING, 5, 1.0, 0, 1.0)) == []
    assert processor_names(DecodingSettings.checked(SAMPLING, 5, 0.5, 3, 0.9, 1.2)) == [
        "RepetitionPenaltyLogitsProcessor",
        "TemperatureLogitsWarper",
        "TopKLogitsWarper",
        "TopPLogitsWarper",
    ]


def test_greedy_and_beam_search_get_only_the_repetition_penalty():
    assert processor_names(DecodingSettings.checked(GREEDY, 5, 0.5, 3, 0.9, 1.2)) == [
        "RepetitionPenaltyLogitsProcessor"
    ]
    assert processor_names(DecodingSettings.checked(BEAM_SEARCH, 5, 0.5, 3, 0.9, 1.0, 1, 2)) == []


def test_the_repetition_penalty_needs_the_prompt():
    with pytest.raises(ValueError, match="input_ids"):
        DecodingSettings.checked(GREEDY, 5, repetition_penalty=1.5).logits_processors()


# --- kwargs and processors agree with model.generate, on the tiny stand-ins ----------------------------------------


@pytest.fixture(params=[0, 1], ids=["gpt2", "llama"])
def language_model(runtime, request):
    with Tab(generate.DEMO, runtime).model(generate.DEMO.models[request.param].model_id) as served:
        yield served.model


AGREEING_SETTINGS = [
    (SAMPLING, 1.0, 5, 1.0, 1.0),
    (SAMPLING, 0.7, 0, 0.05, 1.0),
    (SAMPLING, 2.0, 40, 0.1, 1.0),
    (SAMPLING, 0.5, 20, 0.9, 1.5),
    (GREEDY, 1.0, 50, 1.0, 1.0),
    (GREEDY, 1.0, 50, 1.0, 2.0),
]


@pytest.mark.parametrize("values", AGREEING_SETTINGS, ids=lambda values: "-".join(map(str, values)))
def test_the_processors_give_the_scores_generate_picks_from_with_the_kwargs(language_model, values):
    strategy, temperature, top_k, top_p, repetition_penalty = values
    settings = DecodingSettings.checked(strategy, 1, temperature, top_k, top_p, repetition_penalty)
    model, tokenizer = language_model.bundle.model, language_model.tokenizer
    inputs = tokenizer(generate.PROMPT, return_tensors="pt")
    output = model.generate(
        **inputs, **settings.generate_kwargs(), output_scores=True, output_logits=True, return_dict_in_generate=True
    )
    input_ids = inputs["input_ids"]
    ours = settings.logits_processors(input_ids)(input_ids, output.logits[0].float())
    torch.testing.assert_close(ours, output.scores[0])
    if strategy == SAMPLING:
        assert 0 < int(torch.isfinite(ours).sum()) < ours.numel()  # the filters did cut some tokens


# --- prompt and seed --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", "  \n\t", None])
def test_empty_prompt_is_refused(prompt):
    with pytest.raises(UserError, match="Type a prompt"):
        check_prompt(prompt)


def test_too_long_prompt_is_refused_and_spaces_are_kept():
    with pytest.raises(UserError, match=f"{limits.MAX_TEXT_CHARS:,}"):
        check_prompt("a" * (limits.MAX_TEXT_CHARS + 1))
    assert check_prompt(" Once upon a ") == " Once upon a "


def test_prompt_and_new_tokens_must_fit_the_context():
    check_context(1000, 24, 1024)
    with pytest.raises(UserError, match="context of 1,024 tokens"):
        check_context(1000, 25, 1024)


@pytest.mark.parametrize("seed", [None, -1, "", " "])
def test_no_seed_means_a_fresh_random_one(seed):
    seeds = {sampling_seed(seed) for _ in range(5)}
    assert all(0 <= value <= limits.MAX_SEED for value in seeds) and len(seeds) > 1


def test_a_given_seed_is_kept_and_a_bad_one_refused():
    assert sampling_seed(42.0) == 42 and sampling_seed("42") == 42
    for bad in [limits.MAX_SEED + 1, -2, 1.5, "lucky"]:
        with pytest.raises(UserError, match="seed must be a whole number"):
            sampling_seed(bad)
