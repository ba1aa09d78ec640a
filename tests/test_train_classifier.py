"""Train a classifier on embeddings: the cross-validated accuracy and the new sentences' probabilities against
scikit-learn run here on vectors computed here from the real MiniLM, the classifier kept per session, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from demos import train_classifier
from shared.labelled_data import parse_label_lines

MINILM = train_classifier.DEMO.models[0].model_id


@pytest.fixture(scope="module")
def minilm_vectors(real_minilm):
    """Sentence vectors computed here, the sentence-transformers way, from the bundled real weights."""
    tokenizer, model = real_minilm

    def embed(texts: list[str]) -> np.ndarray:
        encoded = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(pooled, dim=-1).double().numpy()

    return embed


@pytest.fixture
def session(app_url):
    """A client of its own: the trained classifier belongs to one session."""
    return Client(app_url, verbose=False)


def test_cross_validated_accuracy_equals_scikit_learn_on_the_same_vectors(session, minilm_vectors):
    summary, _plot, counts, metrics, status = session.predict(
        train_classifier.EXAMPLE_DATA, None, MINILM, api_name="/train_classifier"
    )
    pairs = parse_label_lines(train_classifier.EXAMPLE_DATA, 100)
    labels = [label for label, _ in pairs]
    vectors = minilm_vectors([text for _, text in pairs])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    expected = cross_val_score(LogisticRegression(max_iter=1000), vectors, labels, cv=folds)
    assert metrics["folds"] == 5 and metrics["n"] == 15
    assert metrics["fold_accuracies"] == pytest.approx(expected.tolist())
    assert metrics["cv_accuracy"] == pytest.approx(expected.mean())
    assert metrics["labels"] == ["cooking", "politics", "sports"]
    assert {row[0]: row[1] for row in counts["data"]} == {"cooking": 5, "politics": 5, "sports": 5}
    assert f"{metrics['cv_accuracy']:.1%}" in summary and "stand-in" not in status


def test_the_session_classifier_labels_new_sentences_as_scikit_learn_does(session, minilm_vectors):
    session.predict(train_classifier.EXAMPLE_DATA, None, MINILM, api_name="/train_classifier")
    best, table, _ = session.predict(train_classifier.NEW_SENTENCES, api_name="/classify_sentences")
    pairs = parse_label_lines(train_classifier.EXAMPLE_DATA, 100)
    classifier = LogisticRegression(max_iter=1000).fit(
        minilm_vectors([text for _, text in pairs]), [label for label, _ in pairs]
    )
    lines = train_classifier.NEW_SENTENCES.splitlines()
    probabilities = classifier.predict_proba(minilm_vectors(lines))
    assert [row[1] for row in table["data"]] == [classifier.classes_[row.argmax()] for row in probabilities]
    assert [row[2] for row in table["data"]] == pytest.approx(probabilities.max(axis=1).round(4).tolist(), abs=2e-4)
    # Real sentence vectors: the three new sentences land in their topics.
    assert [row[1] for row in table["data"]] == ["sports", "cooking", "politics"]
    assert best["label"] == "sports"


def test_each_session_keeps_its_own_classifier(app_url, session):
    session.predict(train_classifier.SPANISH_DATA, None, MINILM, api_name="/train_classifier")
    other = Client(app_url, verbose=False)
    with pytest.raises(AppError, match="Train a classifier first"):
        other.predict("Hola", api_name="/classify_sentences")
    best, _, _ = session.predict("El portero paró el penalti.", api_name="/classify_sentences")
    assert best["label"] in {"deportes", "cocina"}


def test_a_csv_with_text_and_label_columns_trains_too(session, tmp_path):
    path = tmp_path / "examples.csv"
    rows = [f'"{text}",{label}' for label, text in parse_label_lines(train_classifier.EXAMPLE_DATA, 100)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    *_, metrics, _ = session.predict("", handle_file(str(path)), MINILM, api_name="/train_classifier")
    assert metrics["n"] == 15


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        ("", "Paste labelled sentences"),
        ("a: one\na: two\na: three\na: four", "two different labels"),
        ("a: one\na: two\nb: three\na: four", "“b” has only one"),
        ("a: one\nb: two", "at least 4 labelled sentences"),
        ("just a sentence", "is not `label: text`"),
    ],
)
def test_bad_training_data_gets_a_message(session, examples, message):
    with pytest.raises(AppError, match=message):
        session.predict(examples, None, MINILM, api_name="/train_classifier")


def test_classifying_nothing_or_too_much_gets_a_message(session):
    session.predict(train_classifier.EXAMPLE_DATA, None, MINILM, api_name="/train_classifier")
    with pytest.raises(AppError, match="Type a sentence"):
        session.predict("  ", api_name="/classify_sentences")
    with pytest.raises(AppError, match="the limit is 50"):
        session.predict("\n".join(["a sentence"] * 51), api_name="/classify_sentences")
