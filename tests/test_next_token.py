"""Next-token odds in the text generation tab: the raw and after-settings distributions on hand-made logits, their
agreement with what `model.generate` samples from on the tiny stand-ins, and the /next_token endpoint."""

from __future__ import annotations

import math

import gradio as gr
import pytest
import torch

from demos import generate, next_token
from demos.tab import Tab
from shared.decoding import SAMPLING, DecodingSettings, entropy_bits, next_token_distributions
from shared.errors import UserError
from shared.limits import MAX_TOP_K

PROMPT = generate.PROMPT
# Raw probabilities with cumulative sums 0.5, 0.8, 0.95, 1.0: top-p boundaries sit at those sums.
PROBABILITIES = [0.5, 0.3, 0.15, 0.05]


def logits_of(probabilities: list[float]) -> torch.Tensor:
    return torch.tensor(probabilities).log()


def sampling(temperature: float, top_k: int, top_p: float, repetition_penalty: float = 1.0) -> DecodingSettings:
    """Sampling settings as given, unchecked."""
    return DecodingSettings(SAMPLING, 1, temperature, top_k, top_p, repetition_penalty)


def distributions(
    temperature=1.0, top_k=0, top_p=1.0, logits=None, repetition_penalty=1.0, input_ids=None
) -> tuple[torch.Tensor, torch.Tensor]:
    logits = logits_of(PROBABILITIES) if logits is None else logits
    return next_token_distributions(logits, sampling(temperature, top_k, top_p, repetition_penalty), input_ids)


def kept(probabilities: torch.Tensor) -> list[int]:
    return torch.nonzero(probabilities > 0).flatten().tolist()


def random_logits(vocab: int = 1000, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(vocab, generator=torch.Generator().manual_seed(seed)) * scale


# --- the distributions, on hand-made logits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [(1.0, 0, 1.0), (0.3, 0, 1.0), (4.0, 0, 1.0), (1.0, 7, 1.0), (1.0, 0, 0.5), (0.7, 50, 0.9), (2.5, 3, 0.2)],
)
def test_both_distributions_sum_to_one(temperature, top_k, top_p):
    raw, after = distributions(temperature, top_k, top_p, logits=random_logits())
    assert raw.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert after.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (raw > 0).all() and (after >= 0).all()


def test_raw_is_the_softmax_of_the_logits_whatever_the_settings():
    logits = random_logits()
    for settings in [(1.0, 0, 1.0), (0.2, 5, 0.3)]:
        raw, _ = distributions(*settings, logits=logits)
        torch.testing.assert_close(raw, torch.softmax(logits, dim=-1))


def test_with_every_filter_off_sampling_draws_from_the_raw_distribution():
    raw, after = distributions(1.0, 0, 1.0, logits=random_logits())
    torch.testing.assert_close(after, raw)


@pytest.mark.parametrize("top_k", [1, 2, 5, 50, 999])
def test_top_k_keeps_exactly_k_tokens_the_likeliest(top_k):
    logits = random_logits()
    raw, after = distributions(top_k=top_k, logits=logits)
    assert len(kept(after)) == top_k
    assert set(kept(after)) == set(torch.topk(logits, top_k).indices.tolist())


def test_top_k_past_the_vocabulary_keeps_everything_and_keeps_ties():
    _, after = distributions(top_k=10, logits=random_logits(vocab=6))
    assert len(kept(after)) == 6
    _, tied = distributions(top_k=2, logits=torch.tensor([3.0, 1.0, 1.0, 0.0]))
    assert kept(tied) == [0, 1, 2]  # the second place is shared: both stay, as in transformers


@pytest.mark.parametrize(
    ("top_p", "expected"),
    [(0.49, [0]), (0.51, [0, 1]), (0.79, [0, 1]), (0.81, [0, 1, 2]), (0.94, [0, 1, 2]), (0.96, [0, 1, 2, 3])],
)
def test_top_p_keeps_the_smallest_set_that_reaches_p(top_p, expected):
    """Cumulative raw probability is 0.5, 0.8, 0.95, 1: just below a boundary the set ends there, just above it
    one more token is needed."""
    _, after = distributions(top_p=top_p)
    assert kept(after) == expected


def test_top_p_measures_the_mass_after_temperature():
    """At temperature 0.5 the probabilities become p² renormalised (0.685, 0.247, 0.062, 0.007): two tokens reach
    0.9, where the raw distribution would need three."""
    _, after = distributions(temperature=0.5, top_p=0.9)
    assert kept(after) == [0, 1]
    _, raw_only = distributions(top_p=0.9)
    assert kept(raw_only) == [0, 1, 2]


def test_top_k_comes_before_top_p():
    """Top-k 2 leaves (0.625, 0.375); top-p 0.6 then needs only the first. The other order would keep two."""
    _, after = distributions(top_k=2, top_p=0.6)
    assert kept(after) == [0]


def test_after_settings_is_the_tempered_distribution_renormalised_over_the_kept_tokens():
    logits = random_logits()
    for temperature, top_k, top_p in [(1.0, 20, 1.0), (1.0, 0, 0.7), (0.6, 40, 0.8), (1.8, 0, 0.3)]:
        _, after = distributions(temperature, top_k, top_p, logits=logits)
        keep = after > 0
        tempered = torch.softmax(logits / temperature, dim=-1)
        torch.testing.assert_close(after[keep], tempered[keep] / tempered[keep].sum())


def test_lower_temperature_sharpens_and_higher_flattens():
    logits = random_logits()
    raw, _ = distributions(logits=logits)
    temperatures = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0]
    entropies = [entropy_bits(distributions(t, logits=logits)[1]) for t in temperatures]
    assert entropies == sorted(entropies) and len(set(entropies)) == len(entropies)
    assert entropies[3] == pytest.approx(entropy_bits(raw))
    assert distributions(0.5, logits=logits)[1].max() > raw.max() > distributions(2.0, logits=logits)[1].max()
    assert entropies[-1] < math.log2(logits.numel())  # never more than uniform


def test_the_repetition_penalty_lowers_the_tokens_of_the_prompt():
    logits = torch.tensor([2.0, 2.0, 0.0])
    raw, after = distributions(logits=logits, repetition_penalty=2.0, input_ids=torch.tensor([0]))
    assert raw[0] == raw[1] and after[0] < after[1]
    assert after.sum().item() == pytest.approx(1.0)


def test_entropy_is_in_bits():
    assert entropy_bits(torch.tensor([0.5, 0.5, 0.0])) == pytest.approx(1.0)
    assert entropy_bits(torch.full((8,), 1 / 8)) == pytest.approx(3.0)
    assert entropy_bits(torch.tensor([1.0, 0.0])) == 0.0


# --- the numbers and the chart --------------------------------------------------------------------------------------


def describe(token_id: int) -> tuple[str, str]:
    return f"t{token_id}", f"T{token_id}"


def test_the_numbers_list_the_likeliest_tokens_after_the_settings_with_a_summary():
    logits = logits_of(PROBABILITIES)
    raw, after = distributions(top_k=2, logits=logits)
    numbers = next_token.odds_numbers(raw, after, 3, describe)
    tokens = numbers["tokens"]
    assert [token["token_id"] for token in tokens] == [0, 1, 2]
    assert [token["rank"] for token in tokens] == [1, 2, 3]
    assert [token["kept"] for token in tokens] == [True, True, False]
    assert (tokens[0]["text"], tokens[0]["token"]) == ("t0", "T0")
    assert tokens[0]["raw_probability"] == pytest.approx(0.5)
    assert tokens[0]["probability_after_settings"] == pytest.approx(0.5 / 0.8)
    assert tokens[2]["probability_after_settings"] == 0.0
    assert numbers["kept_tokens"] == 2 and numbers["vocab_size"] == 4
    assert numbers["kept_raw_mass"] == pytest.approx(0.8)
    assert numbers["raw_total"] == pytest.approx(1.0) and numbers["after_settings_total"] == pytest.approx(1.0)
    assert numbers["raw_entropy_bits"] > numbers["entropy_after_settings_bits"] > 0


def test_the_chart_order_follows_the_sampled_distribution_when_the_penalty_reorders():
    raw, after = distributions(
        logits=torch.tensor([2.0, 1.5, 0.0]), repetition_penalty=3.0, input_ids=torch.tensor([0])
    )
    numbers = next_token.odds_numbers(raw, after, 3, describe)
    assert [token["token_id"] for token in numbers["tokens"]] == [1, 0, 2]


def test_the_chart_has_two_bars_per_token_with_distinct_labels_in_order():
    raw, after = distributions(logits=random_logits(), top_k=4)
    numbers = next_token.odds_numbers(raw, after, 6, describe)
    frame = next_token.odds_frame(numbers)
    assert len(frame) == 12 and frame["token"].is_unique
    assert frame["distribution"].tolist() == [next_token.RAW, next_token.AFTER_SETTINGS] * 6
    assert frame["token"].iloc[0].startswith("1. T") and frame["token"].iloc[-1].startswith("6. T")
    after_bars = frame[frame["distribution"] == next_token.AFTER_SETTINGS]["probability"]
    assert after_bars.sum() == pytest.approx(1.0) and (after_bars.iloc[4:] == 0).all()


@pytest.mark.parametrize(
    ("text", "shown"),
    [(" the", "␣the"), ("\n", "\\n"), ("a\tb", "a\\tb"), ("\u200b", "\\u200b"), ("", "∅"), ("Hello", "Hello")],
)
def test_tokens_are_shown_with_their_whitespace_visible(text, shown):
    assert next_token.readable_token(text) == shown


def test_token_text_shows_partial_characters_as_bytes(gpt2):
    tokenizer = gpt2.tokenizer
    space = tokenizer.convert_tokens_to_ids("Ġban")
    assert next_token.token_text(tokenizer, space) == (" ban", "␣ban")
    partial = next(i for i in range(len(tokenizer)) if "\ufffd" in tokenizer.decode([i]))
    text, shown = next_token.token_text(tokenizer, partial)
    assert text == "\ufffd" and shown.startswith("\\x") and len(shown) == 4


def test_recent_logits_keep_the_last_few_prompts():
    cache = next_token.RecentLogits(2)
    entries = {name: (torch.tensor([index]), torch.zeros(3)) for index, name in enumerate("abc")}
    cache.put(("a",), entries["a"])
    cache.put(("b",), entries["b"])
    assert cache.get(("a",)) is entries["a"]  # now the most recent
    cache.put(("c",), entries["c"])
    assert len(cache) == 2 and cache.get(("b",)) is None and cache.get(("a",)) is entries["a"]


# --- agreement with what generate samples from, on the tiny stand-ins ----------------------------------------------


@pytest.fixture(params=[0, 1], ids=["gpt2", "llama"])
def language_model(runtime, request):
    with Tab(generate.DEMO, runtime).model(generate.DEMO.models[request.param].model_id) as served:
        yield served.model


@pytest.fixture
def gpt2(runtime):
    with Tab(generate.DEMO, runtime).model(None) as served:
        yield served.model


SAMPLING_SETTINGS = [
    dict(temperature=1.0, top_k=5, top_p=1.0, repetition_penalty=1.0),
    dict(temperature=0.7, top_k=0, top_p=0.05, repetition_penalty=1.0),
    dict(temperature=2.0, top_k=40, top_p=0.1, repetition_penalty=1.0),
    dict(temperature=0.5, top_k=20, top_p=0.9, repetition_penalty=1.5),
]


@pytest.mark.parametrize("settings", SAMPLING_SETTINGS, ids=lambda settings: "-".join(map(str, settings.values())))
def test_the_odds_are_the_distribution_generate_samples_from(language_model, settings):
    model, tokenizer = language_model.bundle.model, language_model.tokenizer
    input_ids, logits = next_token.prompt_logits(language_model, PROMPT)
    _, after = next_token_distributions(logits, sampling(**settings), input_ids)
    inputs = tokenizer(PROMPT, return_tensors="pt")
    output = model.generate(
        **inputs, do_sample=True, max_new_tokens=1, output_scores=True, return_dict_in_generate=True, **settings
    )
    torch.testing.assert_close(torch.softmax(output.scores[0][0], dim=-1), after)
    assert 0 < len(kept(after)) < after.numel()

    keep = set(kept(after))
    for seed in range(15):
        torch.manual_seed(seed)
        drawn = model.generate(**inputs, do_sample=True, max_new_tokens=1, **settings)[0, -1].item()
        torch.manual_seed(seed)
        ours = torch.multinomial(after, 1).item()
        assert drawn in keep and drawn == ours


# --- the /next_token endpoint ---------------------------------------------------------------------------------------


def odds(client, **changes):
    values = dict(prompt=PROMPT, model_id=None, temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0, shown=10)
    values.update(changes)
    return client.predict(*values.values(), api_name="/next_token")


def test_the_api_speaks_the_generate_names_and_needs_only_a_prompt(client):
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/next_token"]
    names = [parameter["parameter_name"] for parameter in endpoint["parameters"]]
    assert names == ["prompt", "model_id", "temperature", "top_k", "top_p", "repetition_penalty", "shown"]
    assert all(parameter["parameter_has_default"] for parameter in endpoint["parameters"])
    _, numbers, status = client.predict(PROMPT, api_name="/next_token")
    assert len(numbers["tokens"]) == next_token.SHOWN_TOKENS and "Served by" in status


def test_top_k_through_the_api_keeps_k_tokens_whose_probabilities_sum_to_one(client):
    plot, numbers, status = odds(client, top_k=5, shown=12, temperature=0.8)
    tokens = numbers["tokens"]
    assert len(tokens) == 12 and numbers["kept_tokens"] == 5
    kept_tokens = [token for token in tokens if token["kept"]]
    assert kept_tokens == tokens[:5]
    assert sum(token["probability_after_settings"] for token in kept_tokens) == pytest.approx(1.0, abs=1e-5)
    assert all(token["probability_after_settings"] == 0 for token in tokens[5:])
    assert numbers["kept_raw_mass"] == pytest.approx(sum(token["raw_probability"] for token in kept_tokens))
    raw = [token["raw_probability"] for token in tokens]
    assert raw[:5] == sorted(raw[:5], reverse=True) and min(raw[:5]) >= max(raw[5:])
    assert numbers["raw_total"] == pytest.approx(1.0, abs=1e-5)
    assert numbers["after_settings_total"] == pytest.approx(1.0, abs=1e-5)
    assert numbers["settings"] == dict(temperature=0.8, top_k=5, top_p=1.0, repetition_penalty=1.0)
    assert "**5** of" in status and "top_k 5" in status and "Served by `openai-community/gpt2`" in status
    assert len(plot["value"]["data"]) == 24  # two bars per shown token


def test_with_every_filter_off_the_api_keeps_the_whole_vocabulary(client):
    _, numbers, status = odds(client, shown=next_token.MAX_SHOWN_TOKENS)
    assert numbers["kept_tokens"] == numbers["vocab_size"] and numbers["kept_raw_mass"] == pytest.approx(1.0)
    assert len(numbers["tokens"]) == next_token.MAX_SHOWN_TOKENS
    assert all(
        token["raw_probability"] == pytest.approx(token["probability_after_settings"]) for token in numbers["tokens"]
    )
    assert numbers["raw_entropy_bits"] == pytest.approx(numbers["entropy_after_settings_bits"])
    assert "top_k off, top_p off" in status


def test_top_p_through_the_api_keeps_the_smallest_set_reaching_p(client):
    _, numbers, _ = odds(client, top_p=0.05, shown=next_token.MAX_SHOWN_TOKENS)
    kept_count = numbers["kept_tokens"]
    assert 1 < kept_count < next_token.MAX_SHOWN_TOKENS
    raw = [token["raw_probability"] for token in numbers["tokens"]]
    assert sum(raw[:kept_count]) >= 0.05 - 1e-6 > sum(raw[: kept_count - 1])


def test_moving_a_slider_reuses_the_prompts_logits(client, runtime):
    prompt = "A prompt only this test sends:"
    forward_passes = []
    with Tab(generate.DEMO, runtime).model(None) as served:
        hook = served.model.bundle.model.register_forward_hook(lambda *args: forward_passes.append(1))
        try:
            first = odds(client, prompt=prompt, top_k=3)[1]
            second = odds(client, prompt=prompt, top_k=0, temperature=0.5)[1]
            third = odds(client, prompt=prompt + " And more.", top_k=3)[1]
        finally:
            hook.remove()
    assert len(forward_passes) == 2  # the first prompt once, the changed prompt once
    assert first["kept_tokens"] == 3 and second["kept_tokens"] == second["vocab_size"]
    assert third["tokens"] != first["tokens"]


def test_the_llama_stand_in_has_odds_too(client):
    model_id = generate.DEMO.models[1].model_id
    _, numbers, status = odds(client, model_id=model_id, top_k=7)
    assert numbers["model_id"] == model_id and numbers["kept_tokens"] == 7 and model_id in status


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(prompt="  "), "Type a prompt"),
        (dict(prompt="hello " * 3000), "the model reads at most 1,024"),
        (dict(top_k=-1), "less than minimum value 0"),
        (dict(top_k=MAX_TOP_K + 1), f"greater than maximum value {MAX_TOP_K}"),
        (dict(temperature=0), "less than minimum value 0.01"),
        (dict(top_p=1.5), "greater than maximum value 1"),
        (dict(shown=next_token.MAX_SHOWN_TOKENS + 1), f"greater than maximum value {next_token.MAX_SHOWN_TOKENS}"),
        (dict(shown=0), "less than minimum value 1"),
        (dict(model_id="evil/model"), "not in the list of choices|not offered here"),
    ],
)
def test_bad_requests_get_a_clear_error(client, changes, message):
    with pytest.raises(Exception, match=message) as error:
        odds(client, **changes)
    assert "Something went wrong" not in str(error.value)


def test_the_settings_are_checked_as_generate_checks_them():
    with pytest.raises(UserError, match="top_p must be between"):
        next_token.next_token.__wrapped__(None, PROMPT, None, 1.0, 0, 0.0, 1.0, 10)
    with pytest.raises(UserError, match="top_k must be a whole number"):
        next_token.next_token.__wrapped__(None, PROMPT, None, 1.0, 2.5, 1.0, 1.0, 10)
    with pytest.raises(UserError, match="shown must be a whole number from 1 to 50"):
        next_token.next_token.__wrapped__(None, PROMPT, None, 1.0, 0, 1.0, 1.0, 2.5)


def test_the_odds_follow_the_settings_only_once_asked_for(runtime):
    tab = Tab(generate.DEMO, runtime)
    request = (PROMPT, None, 0.9, 4, 1.0, 1.0, 6)
    skipped = next_token.follow_settings(tab, False, *request)
    assert len(skipped) == 3 and all(update == gr.skip() for update in skipped)
    _, followed, _ = next_token.follow_settings(tab, True, *request)
    _, asked, _ = next_token.next_token(tab, *request)
    assert followed == asked and followed["kept_tokens"] == 4 and len(followed["tokens"]) == 6


def test_greedys_token_is_named_by_its_bar_and_its_vocabulary_id():
    raw, after = torch.tensor([0.1, 0.6, 0.3]), torch.tensor([0.0, 0.7, 0.3])
    numbers = next_token.odds_numbers(raw, after, 3, lambda token_id: (f"t{token_id}", f"t{token_id}"))
    assert next_token.greedy_choice(numbers["tokens"]) == (
        "Greedy decoding would take the likeliest token, the first bar: `t1` (token id 1)."
    )
    assert "token id 1" in next_token.odds_summary(numbers, "temperature 1")
