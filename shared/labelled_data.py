"""Labelled text data a visitor brings: a CSV or TSV file (or pasted `label: text` lines) read into rows, with a
clear message for each way it can be wrong, and the classification metrics computed from gold and predicted labels.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import UserError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: sniffed from the first lines


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, str]]
    delimiter: str


def decode_text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(
            f"{name} is not UTF-8 text (byte {error.start:,} cannot be read). Save it as CSV UTF-8 and upload it again."
        ) from error


def read_table(path: str | Path, name: str, max_bytes: int, max_rows: int) -> Table:
    """A CSV or TSV file with a header row. Refused: other suffixes, files over `max_bytes`, text that is not
    UTF-8, an empty file or one with a header only, more than `max_rows` rows, rows with more cells than the
    header."""
    path = Path(path)
    suffix = Path(name).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise UserError(f"{name} is not a CSV or TSV file. Upload a .csv or .tsv file with a header row.")
    if not path.is_file():
        raise UserError(f"{name} is no longer on the server (uploads are deleted after an hour). Upload it again.")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError(f"{name} is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB. Send fewer rows.")
    text = decode_text(path.read_bytes(), name)
    if not text.strip():
        raise UserError(f"{name} is empty. Upload a file with a header row (e.g. text,label) and one row per example.")
    if "\x00" in text:
        raise UserError(f"{name} is not a CSV or TSV file (it holds binary data).")
    delimiter = TABLE_SUFFIXES[suffix] or sniff_delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        raise UserError(f"{name} could not be read as {'TSV' if delimiter == chr(9) else 'CSV'}: {error}.") from error
    records = [record for record in records if any(cell.strip() for cell in record)]
    if not records:  # only blank cells: `,,` or `""` lines
        raise UserError(f"{name} has only blank cells. Upload a file with a header row (e.g. text,label) and rows.")
    header = [cell.strip() for cell in records[0]]
    body = records[1:]
    if not body:
        raise UserError(f"{name} has a header row but no examples. Add one row per example.")
    if len(body) > max_rows:
        raise UserError(f"{name} has {len(body):,} rows; the limit is {max_rows:,}. Send fewer rows.")
    rows = []
    for number, record in enumerate(body, start=2):
        if len(record) > len(header):
            raise UserError(
                f"Line {number} of {name} has {len(record)} cells but the header has {len(header)}. "
                "Quote cells that contain the delimiter."
            )
        rows.append({column: (record[index] if index < len(record) else "") for index, column in enumerate(header)})
    return Table(header, rows, delimiter)


def sniff_delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
    except csv.Error:
        return ","


def require_column(table: Table, column: str | None, role: str, name: str) -> str:
    column = (column or "").strip()
    if column not in table.columns:
        shown = ", ".join(f"“{item}”" for item in table.columns)
        raise UserError(f"{name} has no {role} column “{column}”. Its columns are: {shown}. Type one of them.")
    return column


def parse_label_lines(text: str | None, max_rows: int) -> list[tuple[str, str]]:
    """Pasted examples, one `label: text` a line (the label is everything before the first colon)."""
    examples = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, sentence = line.partition(":")
        if not sep or not label.strip() or not sentence.strip():
            raise UserError(f"Line {number} is not `label: text` (e.g. “sports: The striker scored twice.”).")
        examples.append((label.strip(), sentence.strip()))
    if len(examples) > max_rows:
        raise UserError(f"{len(examples):,} examples were given; the limit is {max_rows:,}. Send fewer.")
    return examples


def parse_label_map(text: str | None) -> dict[str, str]:
    """`MODEL_LABEL=YOUR_LABEL` pairs separated by commas or new lines: how to read the model's labels as yours."""
    mapping: dict[str, str] = {}
    for item in (text or "").replace("\n", ",").split(","):
        if not item.strip():
            continue
        model_label, sep, yours = item.partition("=")
        if not sep or not model_label.strip() or not yours.strip():
            raise UserError(f"“{item.strip()}” is not MODEL_LABEL=YOUR_LABEL (e.g. “POSITIVE=pos, NEGATIVE=neg”).")
        mapping[model_label.strip()] = yours.strip()
    return mapping


def as_gold_labels(predicted: Sequence[str], gold_labels: set[str], mapping: dict[str, str]) -> list[str]:
    """The model's labels read as the data's: through `mapping` first, else the gold label that equals it ignoring
    case ("POSITIVE" → "positive"), else as it is (and so counted wrong)."""
    by_case = {label.casefold(): label for label in gold_labels}
    return [mapping.get(label) or by_case.get(label.casefold(), label) for label in predicted]


def classification_metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, the confusion matrix (rows: the data's labels, columns: the predictions; the data's labels first,
    then any prediction that is none of them) and per-label precision, recall and F1."""
    if len(gold) != len(predicted) or not gold:
        raise ValueError("gold and predicted must be equally long and not empty")
    labels = sorted(set(gold)) + sorted(set(predicted) - set(gold))
    index = {label: position for position, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for truth, guess in zip(gold, predicted, strict=True):
        confusion[index[truth]][index[guess]] += 1
    per_label = []
    for label, position in index.items():
        true_positive = confusion[position][position]
        predicted_count = sum(row[position] for row in confusion)
        support = sum(confusion[position])
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label.append({"label": label, "precision": precision, "recall": recall, "f1": f1, "support": support})
    correct = sum(confusion[position][position] for position in range(len(labels)))
    return {
        "accuracy": correct / len(gold),
        "n": len(gold),
        "correct": correct,
        "labels": labels,
        "confusion": confusion,
        "per_label": per_label,
    }
