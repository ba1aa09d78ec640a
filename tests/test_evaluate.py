"""Evaluate on your own data: reading CSV/TSV files and their errors, the metrics against scikit-learn's, and the
endpoint's accuracy recomputed from the predictions file it hands back."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from demos import evaluate
from shared.errors import UserError
from shared.labelled_data import (
    as_gold_labels,
    classification_metrics,
    parse_label_lines,
    parse_label_map,
    read_table,
)

EXAMPLES = Path(evaluate.__file__).resolve().parent / "examples"
ENGLISH = evaluate.SENTIMENT_MODELS[0].model_id


def test_metrics_equal_scikit_learns():
    gold = ["pos", "neg", "neg", "pos", "neu", "neg", "pos"]
    predicted = ["pos", "pos", "neg", "neg", "neg", "neg", "pos"]
    metrics = classification_metrics(gold, predicted)
    labels = metrics["labels"]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    assert metrics["confusion"] == confusion_matrix(gold, predicted, labels=labels).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    for item, p, r, f, s in zip(metrics["per_label"], precision, recall, f1, support, strict=True):
        assert (item["precision"], item["recall"], item["f1"], item["support"]) == pytest.approx((p, r, f, s))


def test_predictions_that_are_none_of_the_labels_get_their_own_column():
    metrics = classification_metrics(["a", "b"], ["a", "MAYBE"])
    assert metrics["labels"] == ["a", "b", "MAYBE"]
    assert metrics["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_model_labels_are_read_through_the_map_then_by_case():
    assert as_gold_labels(["POSITIVE", "NEGATIVE", "NEU"], {"positive", "neg"}, {"NEGATIVE": "neg"}) == [
        "positive",
        "neg",
        "NEU",
    ]
    assert parse_label_map("POSITIVE=pos, NEGATIVE = neg\nNEU=neutral") == {
        "POSITIVE": "pos",
        "NEGATIVE": "neg",
        "NEU": "neutral",
    }
    with pytest.raises(UserError, match="MODEL_LABEL=YOUR_LABEL"):
        parse_label_map("POSITIVE")


def test_pasted_lines_are_label_colon_text():
    assert parse_label_lines("sports: The striker scored.\n\nfood: Soup: hot.", 10) == [
        ("sports", "The striker scored."),
        ("food", "Soup: hot."),
    ]
    with pytest.raises(UserError, match="Line 1 is not"):
        parse_label_lines("no colon here", 10)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("data.xlsx", b"text,label\na,b\n", "not a CSV or TSV file"),
        ("data.csv", "text,label\ncafé,pos\n".encode("latin-1"), "not UTF-8"),
        ("data.csv", b"", "is empty"),
        ("data.csv", b'""\n,,\n', "only blank cells"),
        ("data.csv", b"text,label\n", "no examples"),
        ("data.csv", b"text,label\n" + b"a,b\n" * 11, "the limit is 10"),
        ("data.csv", b"text,label\na,b,c\n", "has 3 cells"),
        ("data.csv", b"\x00\x01text,label\na,b\n", "binary"),
    ],
)
def test_bad_files_are_refused_with_what_to_change(tmp_path, name, data, message):
    with pytest.raises(UserError, match=message):
        read_table(write(tmp_path, name, data), name, max_bytes=1000, max_rows=10)


def test_tsv_and_csv_with_a_byte_order_mark_are_read(tmp_path):
    table = read_table(
        write(tmp_path, "a.tsv", "\ufefftexto\tetiqueta\nhola, qué tal\tPOS\n".encode()), "a.tsv", 1000, 10
    )
    assert table.columns == ["texto", "etiqueta"] and table.rows == [{"texto": "hola, qué tal", "etiqueta": "POS"}]


def evaluate_file(client, path, text="text", label="label", label_map="POSITIVE=pos, NEGATIVE=neg", model=ENGLISH):
    return client.predict(handle_file(str(path)), text, label, label_map, model, api_name="/evaluate")


def test_accuracy_equals_the_one_recomputed_from_the_predictions_file(client):
    summary, per_label, _plot, missed, predictions, metrics, status = evaluate_file(client, EXAMPLES / "reviews.csv")
    with open(predictions, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["text"] for row in rows] == [
        row["text"] for row in read_table(EXAMPLES / "reviews.csv", "r.csv", 10**6, 100).rows
    ]
    assert {row["prediction"] for row in rows} <= {"pos", "neg"}  # mapped to the file's labels
    recomputed = sum(row["prediction"] == row["label"] for row in rows) / len(rows)
    assert metrics["accuracy"] == pytest.approx(recomputed)
    assert metrics["n"] == len(rows) == 12 and metrics["labels"] == ["neg", "pos"]
    assert sum(map(sum, metrics["confusion"])) == 12
    assert len(missed["data"]) == 12 - metrics["correct"]
    assert all(0 <= float(row["score"]) <= 1 for row in rows)
    assert f"{metrics['accuracy']:.1%}" in summary


def test_spanish_tsv_with_its_own_columns_and_labels_equal_but_for_case(client):
    *_, predictions, metrics, _ = evaluate_file(
        client, EXAMPLES / "resenas.tsv", "texto", "etiqueta", "", evaluate.SENTIMENT_MODELS[2].model_id
    )
    assert Path(predictions).suffix == ".tsv"
    assert set(metrics["labels"]) <= {"NEG", "NEU", "POS"} and metrics["n"] == 10


def test_unmapped_model_labels_are_named_in_the_summary(client):
    summary, *_ = evaluate_file(client, EXAMPLES / "reviews.csv", label_map="")
    assert "match none of yours" in summary and "POSITIVE=pos" in summary


@pytest.mark.parametrize(
    ("text", "label", "message"),
    [
        ("review", "label", "no text column “review”. Its columns are: “text”, “label”"),
        ("text", "stars", "no label column"),
    ],
)
def test_a_missing_column_is_named_with_the_columns_there_are(client, text, label, message):
    with pytest.raises(AppError, match=message):
        evaluate_file(client, EXAMPLES / "reviews.csv", text, label)


def test_bad_uploads_get_a_message(client, tmp_path):
    with pytest.raises(AppError, match="not UTF-8"):
        evaluate_file(client, write(tmp_path, "bad.csv", "text,label\nniño,pos\n".encode("utf-16")))
    with pytest.raises(AppError, match="empty “text”"):
        evaluate_file(client, write(tmp_path, "gap.csv", b"text,label\n,pos\n"))
    rows = b"text,label\n" + b"fine,pos\n" * (evaluate.MAX_EVALUATION_ROWS + 1)
    with pytest.raises(AppError, match=f"the limit is {evaluate.MAX_EVALUATION_ROWS:,}"):
        evaluate_file(client, write(tmp_path, "many.csv", rows))
