"""A classifier opened up: every stage's values against the tokenizer and model run here independently, and the
result against the Sentiment tab's, for every sentiment model (the Spanish one included)."""

from __future__ import annotations

import math

import pytest
import torch
import transformers
from gradio_client.exceptions import AppError

from demos import pipeline_steps, sentiment
from demos.tab import Tab
from shared.stand_ins import ensure_stand_in

SPANISH = "pysentimiento/robertuito-sentiment-analysis"


def test_softmax_sums_to_one_and_keeps_the_order():
    probabilities = pipeline_steps.softmax([1000.0, 999.0, -5.0])
    assert sum(probabilities) == pytest.approx(1.0)
    assert probabilities[0] > probabilities[1] > probabilities[2]
    assert probabilities[0] == pytest.approx(1 / (1 + math.exp(-1) + math.exp(-1005)))


def test_the_sentiment_allowlist_offers_the_spanish_model_with_its_labels(runtime):
    assert SPANISH in [choice.model_id for choice in sentiment.DEMO.models]
    assert pipeline_steps.DEMO.models == sentiment.DEMO.models
    with Tab(sentiment.DEMO, runtime).model(SPANISH) as served:
        assert list(served.model.pipeline.model.config.id2label.values()) == ["NEG", "NEU", "POS"]


@pytest.mark.parametrize("model", sentiment.DEMO.models, ids=lambda choice: choice.stand_in)
def test_every_stage_equals_the_tokenizer_and_model_run_by_hand(client, tiny_settings, model):
    text = "I loved this movie, but the ending was weak."
    tokens, labels, label, _, values, status = client.predict(text, model.model_id, api_name="/pipeline_steps")
    directory = ensure_stand_in(model.stand_in, "tiny", tiny_settings.stand_in_root)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    classifier = transformers.AutoModelForSequenceClassification.from_pretrained(directory).eval()
    encoded = tokenizer(text, return_tensors="pt")
    assert values["input_ids"] == encoded["input_ids"][0].tolist()
    assert values["attention_mask"] == encoded["attention_mask"][0].tolist()
    assert [row[2] for row in tokens["data"]] == values["input_ids"]
    with torch.inference_mode():
        logits = classifier(**encoded).logits[0]
    assert values["logits"] == pytest.approx(logits.tolist(), abs=1e-5)
    assert values["probabilities"] == pytest.approx(torch.softmax(logits, dim=0).tolist(), abs=1e-6)
    assert values["label"] == classifier.config.id2label[int(logits.argmax())] == label["label"]
    assert [row[1] for row in labels["data"]] == list(classifier.config.id2label.values())


@pytest.mark.parametrize("model", sentiment.DEMO.models, ids=lambda choice: choice.stand_in)
def test_the_probabilities_equal_the_sentiment_tabs(client, model):
    text = "¡Qué película tan bonita! Me encantó."
    *_, values, _ = client.predict(text, model.model_id, api_name="/pipeline_steps")
    label, _, _ = client.predict(text, model.model_id, api_name="/sentiment")
    from_sentiment = {item["label"]: item["confidence"] for item in label["confidences"]}
    from_steps = dict(zip(values["labels"], values["probabilities"], strict=True))
    assert from_steps == pytest.approx(from_sentiment, abs=1e-5)


def test_the_function_gradio_calls_answers_as_the_api_does(client, runtime):
    direct = pipeline_steps.pipeline_steps(Tab(pipeline_steps.DEMO, runtime), "Great food.", None, progress=None)
    *_, values, _ = client.predict("Great food.", api_name="/pipeline_steps")
    assert direct[4]["logits"] == pytest.approx(values["logits"])


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Type a sentence"), ("x" * 501, "the limit is 500"), ("word " * 80, "the limit is 64")],
)
def test_bad_input_gets_a_message_that_says_what_to_change(client, text, message):
    with pytest.raises(AppError, match=message):
        client.predict(text, api_name="/pipeline_steps")
