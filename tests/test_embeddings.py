"""Embeddings: word location, pooling and cosine maths on their own, and the /embeddings and /semantic_search
endpoints, with meaning checks on the real all-MiniLM-L6-v2 weights that are served even in stand-in mode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from demos import embeddings
from demos.tab import Tab
from shared.bundled import MINILM
from shared.errors import UserError
from shared.limits import MAX_CONTEXT_SENTENCES, MIN_CONTEXT_SENTENCES
from shared.stand_ins.tokenizers import wordpiece_tokenizer
from tests.helpers import untimed

BERT = "google-bert/bert-base-uncased"
RIVER = "We went to the river bank."
DEPOSIT = "I need to go to the bank to make a deposit."
LOAN = "The bank approved my loan."


# Pure functions


def test_a_word_is_found_whole_and_ignoring_case():
    assert embeddings.word_spans("Bank holidays: the bank, banks and the riverbank.", "bank") == [(0, 4), (19, 23)]
    assert embeddings.word_spans("Banking in riverbanks.", "bank") == []


def test_the_tokens_of_a_word_split_into_pieces_are_all_taken():
    text = "I love snowboarding."
    # [CLS] i love snow ##board ##ing . [SEP] [PAD]
    offsets = [(0, 0), (0, 1), (2, 6), (7, 11), (11, 16), (16, 19), (19, 20), (0, 0), (0, 0)]
    assert embeddings.word_token_span(offsets, text, "snowboarding") == [3, 4, 5]
    assert embeddings.word_token_span(offsets, text, "LOVE") == [2]
    assert embeddings.word_token_span(offsets, text, "snow") == []  # not a whole word here
    assert embeddings.word_token_span(offsets, text, "ski") == []


def test_the_first_of_several_occurrences_is_used():
    text = "bank to bank"
    offsets = [(0, 0), (0, 4), (5, 7), (8, 12), (0, 0)]
    assert embeddings.word_token_span(offsets, text, "bank") == [1]


def test_a_real_tokenizer_s_pieces_join_back_into_the_word():
    tokenizer = wordpiece_tokenizer()
    text = "The Eiffel Tower is in Paris."
    encoded = tokenizer(text, return_offsets_mapping=True)
    span = embeddings.word_token_span(encoded["offset_mapping"], text, "eiffel")
    pieces = tokenizer.convert_ids_to_tokens([encoded["input_ids"][index] for index in span])
    assert "".join(piece.removeprefix("##") for piece in pieces) == "eiffel"


def test_mean_pooling_leaves_padding_out():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -100.0]]])
    assert embeddings.mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]
    assert embeddings.mean_pool(hidden, torch.tensor([[1, 1, 1]]))[0].tolist() == pytest.approx([104 / 3, -94 / 3])


def test_cosine_of_identical_vectors_is_one_and_the_matrix_is_symmetric_and_bounded():
    generator = torch.Generator().manual_seed(0)
    vectors = torch.randn(5, 384, generator=generator)
    vectors[3] = vectors[1] * 7.5  # same direction, other length
    matrix = embeddings.cosine_matrix(vectors)
    assert matrix.shape == (5, 5)
    assert np.allclose(np.diag(matrix), 1.0, atol=1e-12)
    assert matrix[1, 3] == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(matrix, matrix.T, atol=1e-12)
    assert matrix.min() >= -1.0 and matrix.max() <= 1.0
    assert abs(matrix[0, 2]) < 0.3  # random 384-dimensional vectors are nearly orthogonal


def test_cosine_of_opposite_and_orthogonal_vectors():
    matrix = embeddings.cosine_matrix(torch.tensor([[1.0, 0.0], [-2.0, 0.0], [0.0, 3.0]]))
    assert matrix[0, 1] == pytest.approx(-1.0)
    assert matrix[0, 2] == pytest.approx(0.0)


def test_rank_keeps_the_top_k_best_first_with_line_numbers_and_ties_in_line_order():
    ranking = embeddings.rank([0.1, 0.9, 0.5, 0.9], ["a", "b", "c", "d"], top_k=3)
    assert [(item["rank"], item["line"], item["sentence"]) for item in ranking] == [
        (1, 2, "b"),
        (2, 4, "d"),
        (3, 3, "c"),
    ]
    assert len(embeddings.rank([0.1, 0.2], ["a", "b"], top_k=10)) == 2


def test_repeated_sentences_get_labels_and_bars_of_their_own():
    labels = embeddings.heatmap_labels("bank", [RIVER, RIVER])
    assert len(set(labels)) == 3
    assert labels[0].startswith("bank · 1. We went")
    frame = embeddings.ranking_frame(embeddings.rank([0.5, 0.5], [RIVER, RIVER], top_k=2))
    assert frame["sentence"].nunique() == 2


def test_heatmap_shows_the_matrix_it_is_given():
    matrix = np.array([[1.0, 0.25], [0.25, 1.0]])
    figure = embeddings.heatmap_figure(["a", "b"], matrix, "title")
    assert np.array(figure.data[0].z).tolist() == matrix.tolist()


@pytest.mark.parametrize(("layer", "expected"), [(-1, 6), (None, 6), (0, 0), (3, 3), (6, 6), (6.0, 6)], ids=str)
def test_layer_minus_one_is_the_last_and_zero_the_embedding_output(layer, expected):
    assert embeddings.check_layer(layer, 6) == expected


@pytest.mark.parametrize("layer", [7, -2, 2.5, float("nan"), "3"])
def test_a_layer_the_model_does_not_have_is_refused(layer):
    with pytest.raises(UserError, match="6 layers: the layer .*from -1 to 6"):
        embeddings.check_layer(layer, 6)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "0 sentences given; type at least 2"),
        (" \n \n", "0 sentences given"),
        (RIVER, "1 sentence given; type at least 2"),
        ("\n".join(["bank"] * 11), "11 lines were sent; the limit is 10"),
        (f"{RIVER}\n{'bank' * 150}", "Line 2 is 600 characters long; the limit is 500"),
    ],
)
def test_bad_sentence_lists_are_refused_with_the_fix(text, message):
    with pytest.raises(UserError, match=message):
        embeddings.split_sentences(text, MIN_CONTEXT_SENTENCES, MAX_CONTEXT_SENTENCES)


def test_a_sentence_without_the_word_is_named_by_its_line():
    with pytest.raises(UserError, match="Line 2 .*does not contain the word “bank”"):
        embeddings.check_word_in_sentences("bank", [RIVER, "The banks were closed.", DEPOSIT])
    notes = embeddings.check_word_in_sentences("bank", [RIVER, "Bank to bank."])
    assert notes == ["“bank” occurs 2 times in line 2; the first one is used."]


# Through the API


def contexts(client, word, sentences, model_id=MINILM, layer=-1):
    plot, numbers, status = client.predict(word, "\n".join(sentences), model_id, layer, api_name="/embeddings")
    return plot, numbers, status


def search(client, query, sentences, model_id=MINILM, top_k=5):
    bars, numbers, status = client.predict(query, "\n".join(sentences), model_id, top_k, api_name="/semantic_search")
    return bars, numbers, status


@pytest.mark.parametrize("model_id", [MINILM, BERT])
def test_the_same_sentence_twice_gives_cosine_one_in_a_symmetric_bounded_matrix(client, model_id):
    plot, numbers, status = contexts(client, "bank", [RIVER, RIVER, DEPOSIT], model_id=model_id)
    matrix = np.array(numbers["matrix"])
    assert matrix.shape == (4, 4)  # three sentences and the context-free input embedding
    assert matrix[0, 1] == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(np.diag(matrix), 1.0, atol=1e-5)
    assert np.allclose(matrix, matrix.T, atol=1e-5)
    assert matrix.min() >= -1.0 and matrix.max() <= 1.0
    assert matrix[0, 2] < 0.999  # a different sentence gives a different vector
    assert numbers["labels"][0].startswith("bank · 1. We went to the river bank")
    assert numbers["labels"][-1] == "bank · input embedding (no context)"
    heatmap = json.loads(plot["plot"])["data"][0]
    assert heatmap["type"] == "heatmap"
    assert np.allclose(heatmap["z"], matrix, atol=1e-5)
    assert model_id in status


def test_a_word_split_into_pieces_is_averaged_over_them(client):
    _, numbers, status = contexts(
        client, "Snowboarding", ["I love snowboarding.", "Snowboarding is fun, snowboarding!"]
    )
    assert numbers["pieces"] == [["snow", "##boarding"]] * 3
    assert "occurs 2 times in line 2; the first one is used" in status


def test_the_two_senses_of_bank_are_further_apart_than_two_money_banks(client):
    _, numbers, _ = contexts(client, "bank", [RIVER, DEPOSIT, LOAN])
    matrix = numbers["matrix"]
    assert numbers["layer"] == numbers["num_layers"] == 6
    assert matrix[0][1] < matrix[1][2]  # river vs deposit < deposit vs loan
    assert matrix[0][2] < matrix[1][2]


def test_the_input_embedding_is_closest_to_the_embedding_layer_output(client):
    _, last, _ = contexts(client, "bank", [RIVER, DEPOSIT], layer=-1)
    _, first, _ = contexts(client, "bank", [RIVER, DEPOSIT], layer=0)
    assert first["layer"] == 0
    assert min(first["matrix"][-1][:2]) > max(last["matrix"][-1][:2]) + 0.2


def test_a_savings_account_query_finds_the_money_bank_first(client):
    bars, numbers, status = search(client, "How do I open a savings account?", [RIVER, DEPOSIT], top_k=2)
    assert [item["sentence"] for item in numbers["ranking"]] == [DEPOSIT, RIVER]
    assert numbers["ranking"][0]["similarity"] > numbers["ranking"][1]["similarity"]
    assert MINILM in status and "stand-in" not in status


def test_search_function_answers_as_the_api_does(client, runtime):
    inputs = ("money", "\n".join([RIVER, DEPOSIT, LOAN]), BERT, 2)
    api_bars, api_numbers, api_status = client.predict(*inputs, api_name="/semantic_search")
    bars, numbers, status = embeddings.semantic_search(Tab(embeddings.DEMO, runtime), *inputs)
    assert bars.values.tolist() == api_bars["data"]
    assert numbers == api_numbers
    assert untimed(status) == untimed(api_status)


def test_sentence_similarity_matches_sentence_transformers_known_value(client):
    _, numbers, _ = search(client, "A man is eating food.", ["A man is eating a piece of bread."])
    assert numbers["ranking"][0]["similarity"] == pytest.approx(0.755, abs=0.01)


def test_search_keeps_top_k_of_many_sentences_best_first(client):
    sentences = [f"Sentence number {number} about the bank." for number in range(30)]
    bars, numbers, _ = search(client, "money", sentences, model_id=BERT, top_k=4)
    similarities = [item["similarity"] for item in numbers["ranking"]]
    assert len(similarities) == 4 and similarities == sorted(similarities, reverse=True)
    assert numbers["sentences"] == 30
    assert [row[1] for row in bars["data"]] == pytest.approx(similarities, abs=1e-6)


def test_identical_query_and_sentence_have_similarity_one(client):
    _, numbers, _ = search(client, DEPOSIT, [RIVER, DEPOSIT], model_id=BERT)
    assert numbers["ranking"][0] == {"rank": 1, "line": 2, "sentence": DEPOSIT, "similarity": pytest.approx(1.0)}


@pytest.mark.parametrize(
    ("word", "sentences", "layer", "message"),
    [
        ("bank", [RIVER, "I like money."], -1, "Line 2 .*does not contain the word “bank”"),
        ("bank", [RIVER], -1, "1 sentence given; type at least 2"),
        ("", [RIVER, DEPOSIT], -1, "Type the word"),
        ("bank", [], -1, "0 sentences given"),
        ("bank", [RIVER] * 11, -1, "11 lines were sent; the limit is 10"),
        ("bank", [RIVER, DEPOSIT], 12, "This model has 6 layers"),
        ("\u200b", ["a \u200b b", "c \u200b"], -1, "no token for"),
    ],
    ids=["word missing", "one sentence", "no word", "no sentences", "too many lines", "layer too deep", "no tokens"],
)
def test_bad_contextual_input_gets_a_specific_message(client, word, sentences, layer, message):
    with pytest.raises(Exception, match=message):
        contexts(client, word, sentences, layer=layer)


@pytest.mark.parametrize(
    ("query", "sentences", "message"),
    [
        ("", [RIVER], "Type a query"),
        ("money", [], "0 sentences given; type at least 1"),
        ("money", [RIVER] * 101, "101 lines were sent; the limit is 100"),
        ("money", ["x" * 501], "Line 1 is 501 characters long"),
    ],
    ids=["no query", "no sentences", "too many lines", "line too long"],
)
def test_bad_search_input_gets_a_specific_message(client, query, sentences, message):
    with pytest.raises(Exception, match=message):
        search(client, query, sentences)
