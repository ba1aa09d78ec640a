"""Sentiment: the pure helpers, and the /sentiment endpoint of the running app."""

import pytest

from demos import sentiment
from shared.errors import UserError
from shared.limits import MAX_SENTIMENT_LINES


def test_split_texts_keeps_one_text_per_non_empty_line():
    assert sentiment.split_texts("  good \n\n bad\n") == ["good", "bad"]


@pytest.mark.parametrize("text", ["", "   \n \t\n"])
def test_split_texts_refuses_empty_input(text):
    with pytest.raises(UserError, match="Type some text"):
        sentiment.split_texts(text)


def test_split_texts_refuses_too_many_lines():
    with pytest.raises(UserError, match=str(MAX_SENTIMENT_LINES)):
        sentiment.split_texts("\n".join(["ok"] * (MAX_SENTIMENT_LINES + 1)))


def test_confidences_sorts_best_first():
    scores = [{"label": "NEGATIVE", "score": 0.2}, {"label": "POSITIVE", "score": 0.8}]
    assert list(sentiment.confidences(scores)) == ["POSITIVE", "NEGATIVE"]


def test_endpoint_answers_one_text_with_confidences_that_sum_to_one(client):
    label, table, status = client.predict(
        "I loved this movie.", sentiment.DEMO.models[0].model_id, api_name="/sentiment"
    )
    scores = {item["label"]: item["confidence"] for item in label["confidences"]}
    assert set(scores) == {"NEGATIVE", "POSITIVE"}
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert label["label"] == max(scores, key=scores.get)
    assert table["data"] == [["I loved this movie.", label["label"], pytest.approx(max(scores.values()), abs=1e-3)]]
    assert "distilbert" in status and "stand-in" in status


def test_endpoint_classifies_each_line_of_a_batch(client):
    lines = ["Time flies like an arrow.", "Fruit flies like bananas.", "Awful service."]
    _, table, _ = client.predict("\n".join(lines), None, api_name="/sentiment")
    assert [row[0] for row in table["data"]] == lines
    assert all(row[1] in {"NEGATIVE", "POSITIVE"} and 0.5 <= row[2] <= 1 for row in table["data"])


def test_multilingual_model_has_three_labels(client):
    model_id = sentiment.DEMO.models[1].model_id
    label, _, status = client.predict("Ciao, che bella giornata!", model_id, api_name="/sentiment")
    assert {item["label"] for item in label["confidences"]} == {"negative", "neutral", "positive"}
    assert model_id in status


def test_model_outside_the_allowlist_is_refused(client):
    with pytest.raises(Exception, match="not in the list of choices|not offered here"):
        client.predict("text", "evil/model", api_name="/sentiment")


def test_empty_text_gets_a_clear_error(client):
    with pytest.raises(Exception, match="Type some text"):
        client.predict("   ", None, api_name="/sentiment")
