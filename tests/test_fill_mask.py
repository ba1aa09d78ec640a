"""Fill the blank: blank spellings, checks, chart order, and the /fill_mask endpoint against a softmax computed here
from the stand-in's own logits."""

from __future__ import annotations

import gradio as gr
import pytest
import torch

from demos import fill_mask
from demos.fill_mask import Filler
from demos.tab import Tab
from shared.errors import UserError
from shared.limits import DEFAULT_FILLERS, MAX_FILLERS, MAX_SENTENCE_CHARS
from tests.helpers import untimed

DISTILBERT, BERT, XLM_ROBERTA = (choice.model_id for choice in fill_mask.DEMO.models)
WOMAN = "In the hospital the woman works as a [MASK]."
MAN = "In the hospital the man works as a [MASK]."


# Pure functions: no model, no server.


@pytest.mark.parametrize("blank", ["[MASK]", "[mask]", "<mask>", "<MASK>", "___", "_____"])
@pytest.mark.parametrize("mask_token", ["[MASK]", "<mask>"])
def test_every_spelling_of_the_blank_becomes_the_models_mask_token(blank, mask_token):
    text = fill_mask.check_sentence(f"  The boys {blank} shy. ")
    assert fill_mask.with_mask_token(text, mask_token) == f"The boys {mask_token} shy."


def test_a_sentence_without_a_blank_says_where_to_put_one():
    with pytest.raises(UserError, match=r"Put \[MASK\] where the missing word goes"):
        fill_mask.check_sentence("The boys are shy.")


@pytest.mark.parametrize(("text", "count"), [("The [MASK] are [MASK].", 2), ("A ___ <mask> [MASK] b.", 3)])
def test_several_blanks_are_counted_and_refused(text, count):
    with pytest.raises(UserError, match=rf"has {count} blanks; this tab fills exactly one"):
        fill_mask.check_sentence(text)


@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_an_empty_sentence_is_refused(text):
    with pytest.raises(UserError, match="is empty"):
        fill_mask.check_sentence(text)


def test_a_too_long_sentence_names_the_limit():
    with pytest.raises(UserError, match=f"the limit is {MAX_SENTENCE_CHARS:,}"):
        fill_mask.check_sentence("word " * 300 + "[MASK]")


@pytest.mark.parametrize("top_k", [0, -3, MAX_FILLERS + 1, 2.5, float("nan"), "5", True])
def test_top_k_out_of_range_or_not_a_whole_number_is_refused(runtime, top_k):
    with pytest.raises(gr.Error, match=f"top_k must be a whole number from 1 to {MAX_FILLERS}"):
        fill_mask.fill_mask(Tab(fill_mask.DEMO, runtime), "The boys [MASK] shy.", None, top_k, "")


@pytest.mark.parametrize(("top_k", "fillers"), [(None, DEFAULT_FILLERS), (7.0, 7)])
def test_top_k_defaults_and_accepts_whole_floats(runtime, top_k, fillers):
    _, rows, _ = fill_mask.fill_mask(Tab(fill_mask.DEMO, runtime), "The boys [MASK] shy.", None, top_k, "")
    assert len(rows) == fillers


def test_a_blank_comparison_means_no_comparison_and_an_identical_one_is_refused():
    assert fill_mask.check_comparison(WOMAN, "  ") is None
    with pytest.raises(UserError, match="The two sentences are the same"):
        fill_mask.check_comparison(WOMAN, WOMAN.replace("[MASK]", "___"))
    with pytest.raises(UserError, match="The sentence to compare with has no blank"):
        fill_mask.check_comparison(WOMAN, "In the hospital the man works.")


def test_legend_names_the_words_where_the_sentences_differ():
    assert fill_mask.sentence_labels([WOMAN, MAN]) == ["A: woman", "B: man"]
    assert fill_mask.sentence_labels(["The boys ___ shy.", "The young boys <mask> shy."]) == ["A", "B: young"]
    assert fill_mask.sentence_labels(["The boys ___ shy."]) == ["The boys [MASK] shy."]


def test_tokens_that_print_alike_keep_separate_bars():
    ranking = [Filler(7, "the", 0.5, 1, ""), Filler(9, "the", 0.2, 2, ""), Filler(3, "cat", 0.1, 3, "")]
    assert fill_mask.bar_labels([ranking]) == {7: "the #7", 9: "the #9", 3: "cat"}
    assert fill_mask.token_label("  ", 42) == "#42"
    assert fill_mask.token_label(" nurse", 42) == "nurse"


def test_compared_bars_sit_in_pairs_ordered_by_the_higher_probability():
    first = [Filler(1, "nurse", 0.6, 1, ""), Filler(2, "doctor", 0.1, 4, "")]
    second = [Filler(1, "nurse", 0.05, 9, ""), Filler(2, "doctor", 0.7, 1, "")]
    frame = fill_mask.chart_frame(["A: woman", "B: man"], [first, second])
    assert frame["filler"].tolist() == ["doctor (A)", "doctor (B)", "nurse (A)", "nurse (B)"]
    assert frame["probability"].tolist() == [0.1, 0.7, 0.6, 0.05]
    assert frame["sentence"].tolist() == ["A: woman", "B: man", "A: woman", "B: man"]


def test_vocabulary_rank_counts_the_more_probable_tokens():
    logits = torch.tensor([0.5, 2.0, -1.0, 1.0])
    assert [fill_mask.vocabulary_rank(logits, token_id) for token_id in range(4)] == [3, 1, 4, 2]


# Through the public API, on the tiny stand-ins.


def call(client, text, model_id=None, top_k=5, compare_with=""):
    """The bars as dicts in the order the chart shows them, the table's rows as dicts, and the status line."""
    plot, table, status = client.predict(text, model_id, top_k, compare_with, api_name="/fill_mask")
    bars = [dict(zip(plot["value"]["columns"], row, strict=True)) for row in plot["value"]["data"]]
    assert "sort" not in plot  # the page redraws the chart in the data's order (tests/browser/test_charts.py)
    rows = [dict(zip(table["headers"], row, strict=True)) for row in table["data"]]
    return bars, rows, status


def softmax_at_mask(runtime, model_id: str, text: str) -> tuple[torch.Tensor, str]:
    """The probabilities over the whole vocabulary at the mask, straight from the model's logits (no pipeline)."""
    with Tab(fill_mask.DEMO, runtime).model(model_id) as served:
        tokenizer, model = served.model.pipeline.tokenizer, served.model.pipeline.model
        encoded = tokenizer(fill_mask.with_mask_token(text, tokenizer.mask_token), return_tensors="pt")
        (position,) = torch.nonzero(encoded["input_ids"][0] == tokenizer.mask_token_id)[:, 0].tolist()
        with torch.inference_mode():
            logits = model(**encoded).logits[0, position]
    return torch.softmax(logits.double(), dim=-1), tokenizer.mask_token


def test_endpoint_function_answers_as_the_api_does(client, runtime):
    inputs = (WOMAN, BERT, 3, MAN)
    api_plot, api_table, api_status = client.predict(*inputs, api_name="/fill_mask")
    plot, rows, status = fill_mask.fill_mask(Tab(fill_mask.DEMO, runtime), *inputs)
    assert plot.value["data"] == api_plot["value"]["data"]
    assert rows == api_table["data"]
    assert untimed(status) == untimed(api_status)


@pytest.mark.parametrize("model_id", [DISTILBERT, BERT, XLM_ROBERTA])
def test_fillers_are_the_top_k_of_the_softmax_over_the_vocabulary_at_the_mask(client, runtime, model_id):
    chart, rows, status = call(client, "The boys [MASK] shy.", model_id, top_k=4)
    probabilities, mask_token = softmax_at_mask(runtime, model_id, "The boys [MASK] shy.")
    expected = torch.topk(probabilities, 4)

    assert [row["token id"] for row in rows] == expected.indices.tolist()
    assert [row["probability"] for row in rows] == pytest.approx(expected.values.tolist(), rel=1e-5)
    assert [row["rank"] for row in rows] == [1, 2, 3, 4]
    assert all(row["sentence"] == "The boys [MASK] shy." for row in rows)
    for row in rows:
        assert row["token"].removeprefix("##").lower() in row["filled sentence"].lower()
        assert mask_token not in row["filled sentence"]
    assert f"`{mask_token}`" in status and model_id in status

    assert [bar["token id"] for bar in chart] == expected.indices.tolist()  # most probable first
    assert [bar["probability"] for bar in chart] == pytest.approx(expected.values.tolist(), rel=1e-6)


@pytest.mark.parametrize("top_k", [1, 20])
def test_top_k_sets_the_number_of_fillers(client, top_k):
    chart, rows, _ = call(client, "Paris is the ___ of France.", top_k=top_k)
    assert len(rows) == len(chart) == top_k
    probabilities = [row["probability"] for row in rows]
    assert probabilities == sorted(probabilities, reverse=True)


@pytest.mark.parametrize("model_id", [DISTILBERT, XLM_ROBERTA])
def test_the_blank_spelled_three_ways_gives_the_same_answer(client, model_id):
    answers = [call(client, f"The boys {blank} shy.", model_id)[:2] for blank in ["[MASK]", "<mask>", "___"]]
    assert answers[0] == answers[1] == answers[2]


def test_comparison_scores_both_sentences_on_the_fillers_either_ranks_first(client, runtime):
    chart, rows, _ = call(client, WOMAN, top_k=3, compare_with=MAN.replace("[MASK]", "<mask>"))
    first = [row for row in rows if row["sentence"] == "A: woman"]
    second = [row for row in rows if row["sentence"] == "B: man"]
    assert len(first) + len(second) == len(rows)

    woman, _ = softmax_at_mask(runtime, DISTILBERT, WOMAN)
    man, _ = softmax_at_mask(runtime, DISTILBERT, MAN)
    union = set(torch.topk(woman, 3).indices.tolist()) | set(torch.topk(man, 3).indices.tolist())
    assert {row["token id"] for row in first} == {row["token id"] for row in second} == union
    for group, probabilities in [(first, woman), (second, man)]:
        for row in group:
            assert row["probability"] == pytest.approx(float(probabilities[row["token id"]]), rel=1e-5)
            assert row["rank"] == int((probabilities > probabilities[row["token id"]]).sum()) + 1

    assert len(chart) == 2 * len(union)
    pairs = list(zip(chart[::2], chart[1::2], strict=True))
    for a_bar, b_bar in pairs:  # side by side, A then B
        assert a_bar["token id"] == b_bar["token id"]
        assert (a_bar["sentence"], b_bar["sentence"]) == ("A: woman", "B: man")
        assert a_bar["filler"].endswith(" (A)") and b_bar["filler"].endswith(" (B)")
    best = [max(a_bar["probability"], b_bar["probability"]) for a_bar, b_bar in pairs]
    assert best == sorted(best, reverse=True)


def test_control_characters_and_other_scripts_around_the_blank_are_answered(client):
    _, rows, _ = call(client, "good \x00film\x07 素晴らしい 😀 \u200b[MASK]\u202e.", XLM_ROBERTA, top_k=2)
    assert len(rows) == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(text=""), "The sentence is empty"),
        (dict(text="The boys are shy."), r"Put \[MASK\] where the missing word goes"),
        (dict(text="The [MASK] are ___."), "has 2 blanks; this tab fills exactly one"),
        (dict(text="word " * 250 + "[MASK]"), f"the limit is {MAX_SENTENCE_CHARS:,}"),
        (dict(text="." * 600 + " [MASK]"), "tokens long; this model reads at most 512"),
        (dict(top_k=0), "less than minimum value 1"),
        (dict(top_k=MAX_FILLERS + 1), f"greater than maximum value {MAX_FILLERS}"),
        (dict(compare_with="The boys are shy."), "The sentence to compare with has no blank"),
        (dict(compare_with="The boys ___ shy."), "The two sentences are the same"),
        (dict(model_id="evil/model"), "not in the list of choices"),
    ],
    ids=[
        "empty",
        "no-blank",
        "two-blanks",
        "too-long",
        "too-many-tokens",
        "top-k-0",
        "top-k-21",
        "compare-no-blank",
        "compare-same",
        "model-not-allowed",
    ],
)
def test_bad_input_gets_a_specific_message(client, fields, message):
    request = dict(text="The boys [MASK] shy.", model_id=None, top_k=5, compare_with="") | fields
    with pytest.raises(Exception, match=message):
        client.predict(**request, api_name="/fill_mask")
