"""Attention from scratch: the steps' numbers against an independent computation from the same vectors, the PCA,
the endpoint through the API, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gradio_client.exceptions import AppError

from demos import attention_steps
from demos.tab import Tab

MINILM = attention_steps.DEMO.models[0].model_id
FLIES = ("Time flies like an arrow.", "Fruit flies like bananas.", "flies")


def test_steps_are_dot_products_scaled_by_root_d_then_row_softmaxes():
    vectors = np.random.default_rng(0).normal(size=(5, 8))
    steps = attention_steps.self_attention_steps(vectors)
    expected = torch.softmax(torch.tensor(vectors @ vectors.T) / math.sqrt(8), dim=1).numpy()
    np.testing.assert_allclose(steps["scores"], vectors @ vectors.T)
    np.testing.assert_allclose(steps["weights"], expected, rtol=1e-12)
    np.testing.assert_allclose(steps["weights"].sum(axis=1), 1.0)
    np.testing.assert_allclose(steps["contextual"], expected @ vectors, rtol=1e-12)


def test_softmax_rows_is_stable_for_large_scores():
    weights = attention_steps.softmax_rows(np.array([[1000.0, 999.0], [-1000.0, -1000.0]]))
    np.testing.assert_allclose(weights, [[1 / (1 + math.exp(-1)), 1 / (1 + math.e)], [0.5, 0.5]])


def test_pca_keeps_the_largest_spread_on_the_first_axis_and_does_not_flip():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(20, 6)) * np.array([10, 3, 0.1, 0.1, 0.1, 0.1])
    projected = attention_steps.pca_2d(points)
    assert projected.shape == (20, 2)
    assert projected[:, 0].var() > projected[:, 1].var() > 0
    np.testing.assert_allclose(attention_steps.pca_2d(-points), projected, atol=1e-9)


def test_the_word_may_be_split_into_pieces_and_must_be_in_the_sentence():
    offsets = [(0, 4), (5, 8), (8, 13), (14, 18)]
    assert attention_steps.word_positions("Time flutters like", offsets, "flutters") == [1, 2]
    with pytest.raises(attention_steps.UserError, match="not a word of"):
        attention_steps.word_positions("Time flies", [(0, 4), (5, 10)], "fruit")


@pytest.fixture(scope="module")
def minilm_embeddings(real_minilm):
    """all-MiniLM-L6-v2's real input embeddings, loaded here without the app."""
    tokenizer, model = real_minilm
    return tokenizer, model.get_input_embeddings().weight.detach().double()


def test_api_weights_equal_a_softmax_of_the_real_minilm_vectors(client, minilm_embeddings):
    tokenizer, embeddings = minilm_embeddings
    *_, numbers, status = client.predict(*FLIES, MINILM, api_name="/attention_steps")
    assert "stand-in" not in status  # the bundled copy has real weights
    assert numbers["dimension"] == 384 and numbers["scale"] == pytest.approx(math.sqrt(384))
    for sentence, item in zip(FLIES[:2], numbers["sentences"], strict=True):
        ids = tokenizer(sentence, add_special_tokens=False)["input_ids"]
        assert item["tokens"] == tokenizer.convert_ids_to_tokens(ids)
        vectors = embeddings[ids]
        expected = torch.softmax(vectors @ vectors.T / math.sqrt(384), dim=1)
        np.testing.assert_allclose(item["weights"], expected.numpy(), rtol=1e-9)
        assert item["tokens"][item["word_positions"][0]] == "flies"


def test_flies_moves_towards_time_in_one_sentence_and_towards_fruit_in_the_other(client):
    *_, numbers, _ = client.predict(*FLIES, MINILM, api_name="/attention_steps")
    after = numbers["comparison"][1]
    assert after["vectors"] == "after one attention step"
    first, second = (numbers["sentences"][index]["weights"] for index in (0, 1))
    flies_first, flies_second = (numbers["sentences"][index]["word_positions"][0] for index in (0, 1))
    assert first[flies_first][0] > 0 and second[flies_second][0] > 0  # the weight on "time" / "fruit"
    # The two "flies" start as the same vector and end apart: each took in its own sentence.
    assert numbers["comparison"][0]["cosine between the two"] == pytest.approx(1.0)
    assert after["cosine between the two"] < 0.99
    moved = [point for point in numbers["pca"] if point["followed"]]
    assert {(point["sentence"], point["stage"]) for point in moved} == {
        (1, "before"),
        (1, "after"),
        (2, "before"),
        (2, "after"),
    }


def test_the_function_gradio_calls_answers_as_the_api_does(client, runtime):
    direct = attention_steps.attention_steps(Tab(attention_steps.DEMO, runtime), *FLIES, None, progress=None)
    *_, numbers, _ = client.predict(*FLIES, MINILM, api_name="/attention_steps")
    np.testing.assert_allclose(direct[4]["sentences"][1]["weights"], numbers["sentences"][1]["weights"])


def test_one_sentence_is_enough(client):
    _, weights, _, comparison, numbers, _ = client.predict(
        "The cat sat on the mat.", "", "cat", MINILM, api_name="/attention_steps"
    )
    assert len(numbers["sentences"]) == 1
    assert "cosine between the two" not in comparison["headers"]


@pytest.mark.parametrize(
    ("sentence", "second", "word", "message"),
    [
        ("", "", "flies", "Type sentence 1"),
        ("Time flies.", "", "", "Type one word"),
        ("Time flies.", "", "two words", "Type one word"),
        ("Time flies.", "Fruit is sweet.", "flies", "not a word of"),
        ("word " * 60, "", "word", "the limit is 200"),
        (" ".join(["a"] * 30), "", "a", "tokens; the limit is 16"),
    ],
)
def test_bad_input_gets_a_message_that_says_what_to_change(client, sentence, second, word, message):
    with pytest.raises(AppError, match=message):
        client.predict(sentence, second, word, MINILM, api_name="/attention_steps")
