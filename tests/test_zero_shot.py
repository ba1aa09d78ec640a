"""Zero-shot classification: label parsing, template checks, and the /zero_shot endpoint."""

import pytest

from demos import zero_shot
from shared.errors import UserError
from shared.limits import MAX_CANDIDATE_LABELS


def test_labels_are_split_stripped_and_deduplicated_ignoring_case():
    assert zero_shot.parse_candidate_labels(" sports,  Politics ,sports, politics,,  cooking  class ") == [
        "sports",
        "Politics",
        "cooking class",
    ]


@pytest.mark.parametrize("text", ["", " ", ",,,", " , ,"])
def test_no_labels_is_a_user_error(text):
    with pytest.raises(UserError, match="at least one candidate label"):
        zero_shot.parse_candidate_labels(text)


def test_too_many_labels_is_a_user_error_naming_the_limit():
    with pytest.raises(UserError, match=str(MAX_CANDIDATE_LABELS)):
        zero_shot.parse_candidate_labels(",".join(f"label {i}" for i in range(MAX_CANDIDATE_LABELS + 1)))


@pytest.mark.parametrize("template", ["This example is about", "{} and {}"])
def test_template_needs_exactly_one_placeholder(template):
    with pytest.raises(UserError, match="exactly one"):
        zero_shot.check_hypothesis_template(template)


def test_blank_template_falls_back_to_the_default():
    assert zero_shot.check_hypothesis_template("  ") == zero_shot.DEFAULT_TEMPLATE


def call(client, text, labels, multi_label=False, template="This example is {}.", model_id=None):
    return client.predict(text, labels, multi_label, template, model_id, api_name="/zero_shot")


@pytest.mark.parametrize("model", zero_shot.DEMO.models, ids=lambda choice: choice.model_id)
def test_single_label_scores_sum_to_one_and_rank_every_label(client, model):
    scores, status = call(client, "We went to the river bank.", "finance, geography, sports", model_id=model.model_id)
    confidences = {item["label"]: item["confidence"] for item in scores["confidences"]}
    assert set(confidences) == {"finance", "geography", "sports"}
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)
    assert scores["label"] == max(confidences, key=confidences.get)
    assert model.model_id in status


def test_multi_label_scores_are_independent_probabilities(client):
    scores, _ = call(client, "Great camera, poor battery.", "camera, battery, price, delivery", multi_label=True)
    confidences = [item["confidence"] for item in scores["confidences"]]
    assert len(confidences) == 4
    assert all(0.0 <= value <= 1.0 for value in confidences)
    assert sum(confidences) != pytest.approx(1.0, abs=1e-3)


def test_a_single_label_is_judged_on_its_own_as_in_multi_label_mode(client):
    single, _ = call(client, "Anything at all.", "news")
    multi, _ = call(client, "Anything at all.", "news", multi_label=True)
    assert single["confidences"] == multi["confidences"]
    assert 0.0 < single["confidences"][0]["confidence"] < 1.0


def test_template_without_placeholder_gets_a_clear_error(client):
    with pytest.raises(Exception, match="exactly one"):
        call(client, "text", "a, b", template="no placeholder here")
