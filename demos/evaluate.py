"""Evaluate on your own data: upload a labelled CSV or TSV, run a sentiment classifier over it in batches, and see
how often it agrees with your labels: accuracy, per-label precision and recall, a confusion matrix, the rows it got
wrong, and every prediction as a CSV to download, as the notebooks do with a labelled data set.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from demos.common import model_dropdown, run_by, status_cleared_on_error, tab_intro, user_errors
from demos.messages import say
from demos.tab import Demo, Served, Tab
from shared.batching import run_pipeline
from shared.downloads import new_download_folder
from shared.errors import UserError
from shared.labelled_data import (
    as_gold_labels,
    classification_metrics,
    parse_label_map,
    read_table,
    require_column,
)
from shared.limits import EVALUATION_BATCH, MAX_EVALUATION_BYTES, MAX_EVALUATION_ROWS, MAX_EVALUATION_TEXT_CHARS
from shared.loading import PipelineLoader, max_input_tokens
from shared.model_choices import SENTIMENT_MODELS

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
EXAMPLES = [
    [str(EXAMPLES_DIR / "reviews.csv"), "text", "label", "POSITIVE=pos, NEGATIVE=neg", SENTIMENT_MODELS[0].model_id],
    [str(EXAMPLES_DIR / "resenas.tsv"), "texto", "etiqueta", "", SENTIMENT_MODELS[2].model_id],
]
PER_LABEL_HEADERS = ["label", "precision", "recall", "f1", "support"]
MISSED_HEADERS = ["line", "text", "label", "prediction", "score"]
DIGITS = 4


def file_path_and_name(file: Any) -> tuple[str, str]:
    """gr.File hands over a path; gradio_client's upload arrives the same way."""
    if file is None:
        raise UserError("Upload a CSV or TSV file with a text column and a label column.")
    path = str(getattr(file, "path", None) or getattr(file, "name", None) or file)
    return path, getattr(file, "orig_name", None) or Path(path).name


def check_texts(texts: list[str], text_column: str) -> None:
    for line, text in enumerate(texts, start=2):
        if not text.strip():
            raise UserError(f"Line {line} has an empty “{text_column}”. Fill it in or remove the row.")
        if len(text) > MAX_EVALUATION_TEXT_CHARS:
            raise UserError(
                f"Line {line}'s text is {len(text):,} characters long; the limit is {MAX_EVALUATION_TEXT_CHARS:,}. "
                "Shorten it."
            )


def best_labels(batcher: Any, pipeline: Any, texts: list[str]) -> list[dict]:
    """The model work of one batch of /evaluate: the best label and its score for each text."""
    max_length = max_input_tokens(pipeline.model, pipeline.tokenizer)
    results = run_pipeline(batcher, pipeline, texts, top_k=1, truncation=True, max_length=max_length).results
    return [result[0] for result in results]


def label_names(pipeline: Any) -> set[str]:
    return set(pipeline.model.config.id2label.values())


def classify_in_batches(served: Served, texts: list[str], progress: Any) -> list[dict]:
    """The best label and its score for every text, `EVALUATION_BATCH` texts a forward pass."""
    predictions: list[dict] = []
    for start in range(0, len(texts), EVALUATION_BATCH):
        if progress is not None:
            progress(
                (start, len(texts)), desc=f"Classifying rows {start + 1}–{min(start + EVALUATION_BATCH, len(texts))}"
            )
        batch = texts[start : start + EVALUATION_BATCH]
        predictions += served.run_batched(best_labels, batch)
    return predictions


def confusion_figure(metrics: dict[str, Any]) -> go.Figure:
    labels, confusion = metrics["labels"], metrics["confusion"]
    figure = go.Figure(
        go.Heatmap(
            z=confusion,
            x=labels,
            y=labels,
            text=confusion,
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="label <b>%{y}</b>, predicted <b>%{x}</b>: %{z} rows<extra></extra>",
        )
    )
    figure.update_xaxes(title_text=say("predicted"), type="category")
    figure.update_yaxes(title_text=say("label (yours)"), autorange="reversed", type="category")
    figure.update_layout(
        title=dict(text=say(f"Confusion matrix: {metrics['correct']} of {metrics['n']} right"), x=0.5),
        height=max(360, 120 + 60 * len(labels)),
        margin=dict(l=10, r=10, t=60, b=10),
    )
    return figure


def per_label_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            item["label"],
            round(item["precision"], DIGITS),
            round(item["recall"], DIGITS),
            round(item["f1"], DIGITS),
            item["support"],
        ]
        for item in metrics["per_label"]
    ]


def write_predictions(
    table_columns: list[str],
    rows: list[dict[str, str]],
    predicted: list[str],
    scores: list[float],
    delimiter: str,
    name: str,
) -> str:
    """The input rows with a `prediction` and a `score` column, in the input's format."""
    folder = new_download_folder("predictions")
    path = folder / f"{Path(name).stem}-predictions{'.tsv' if delimiter == chr(9) else '.csv'}"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow([*table_columns, "prediction", "score"])
        for row, prediction, score in zip(rows, predicted, scores, strict=True):
            writer.writerow([*(row[column] for column in table_columns), prediction, f"{score:.6f}"])
    return str(path)


def unmatched_note(model_labels: set[str], gold_labels: set[str], mapped: dict[str, str]) -> str:
    """A hint when some of the model's labels never match any of the data's."""
    by_case = {label.casefold() for label in gold_labels}
    never = sorted(label for label in model_labels if label not in mapped and label.casefold() not in by_case)
    if not never:
        return ""
    return (
        f"The model's label{'s' if len(never) > 1 else ''} {', '.join(f'`{label}`' for label in never)} match"
        f"{'' if len(never) > 1 else 'es'} none of yours ({', '.join(sorted(gold_labels))}) and count as wrong: map "
        "them in “Model labels → your labels” (e.g. `POSITIVE=pos`)."
    )


@user_errors
def evaluate(
    tab: Tab,
    file: Any,
    text_column: str,
    label_column: str,
    label_map: str,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Classify every row of an uploaded CSV/TSV with a sentiment model and compare with its labels. Returns
    (summary, per-label precision/recall table, confusion-matrix plot, misclassified rows, predictions file: the
    input rows plus `prediction` and `score` columns, metrics JSON with accuracy, n, labels, confusion, status)."""
    path, name = file_path_and_name(file)
    table = read_table(path, name, MAX_EVALUATION_BYTES, MAX_EVALUATION_ROWS)
    text_column = require_column(table, text_column or "text", "text", name)
    label_column = require_column(table, label_column or "label", "label", name)
    mapping = parse_label_map(label_map)
    texts = [row[text_column] for row in table.rows]
    gold = [row[label_column].strip() for row in table.rows]
    check_texts(texts, text_column)
    if missing := next((line for line, label in enumerate(gold, start=2) if not label), None):
        raise UserError(f"Line {missing} has an empty “{label_column}”. Fill it in or remove the row.")
    with tab.model(model_id, progress) as served:
        predictions = classify_in_batches(served, texts, progress)
        model_labels = served.run(label_names)
    predicted = as_gold_labels([item["label"] for item in predictions], set(gold), mapping)
    scores = [float(item["score"]) for item in predictions]
    metrics = classification_metrics(gold, predicted)
    missed = [
        [line, text, truth, guess, round(score, DIGITS)]
        for line, (text, truth, guess, score) in enumerate(zip(texts, gold, predicted, scores, strict=True), start=2)
        if truth != guess
    ]
    note = unmatched_note(model_labels, set(gold), mapping)
    summary = f"**Accuracy: {metrics['accuracy']:.1%}** ({metrics['correct']} of {metrics['n']} rows right)."
    download = write_predictions(table.columns, table.rows, predicted, scores, table.delimiter, name)
    numbers = {**metrics, "model_id": served.model_id, "label_map": mapping}
    return (
        f"{summary} {note}".strip(),
        pd.DataFrame(per_label_rows(metrics), columns=PER_LABEL_HEADERS),
        confusion_figure(metrics),
        pd.DataFrame(missed, columns=MISSED_HEADERS),
        download,
        numbers,
        served.status(),
    )


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column():
            file = gr.File(
                label="Labelled data (CSV or TSV with a header row)",
                file_types=[".csv", ".tsv"],
            )
            with gr.Row():
                text_column = gr.Textbox(label="Text column", value="text")
                label_column = gr.Textbox(label="Label column", value="label")
            label_map = gr.Textbox(
                label="Model labels → your labels",
                placeholder="POSITIVE=pos, NEGATIVE=neg",
                info="Only where they differ; labels equal but for case match by themselves.",
            )
            model = model_dropdown(tab.choices)
            button = gr.Button("Evaluate", variant="primary")
            gr.Markdown(
                f"Up to {MAX_EVALUATION_ROWS:,} rows, {MAX_EVALUATION_BYTES // 2**20} MB and "
                f"{MAX_EVALUATION_TEXT_CHARS:,} characters a text; UTF-8."
            )
        with gr.Column():
            summary = gr.Markdown()
            per_label = gr.Dataframe(headers=PER_LABEL_HEADERS, label="Per label", interactive=False)
            predictions = gr.File(label="Predictions (your rows + prediction + score)", interactive=False)
    confusion = gr.Plot(label="Confusion matrix")
    # In pixels: on a phone the table scrolls in its own box, not wrapping the narrow "line" column mid-word.
    missed = gr.Dataframe(
        headers=MISSED_HEADERS,
        label="Rows the model got wrong",
        interactive=False,
        wrap=True,
        column_widths=["70px", "520px", "110px", "120px", "90px"],
    )
    with gr.Accordion("Metrics (JSON)", open=False):
        metrics = gr.JSON(label="Metrics", max_height=320)
    status = gr.Markdown()
    gr.Examples(EXAMPLES, inputs=[file, text_column, label_column, label_map, model], cache_examples=False)
    evaluated = gr.on(
        run_by(button, text_column, label_column, label_map),
        tab.bind(evaluate),
        [file, text_column, label_column, label_map, model],
        [summary, per_label, confusion, missed, predictions, metrics, status],
        api_name="evaluate",
    )
    status_cleared_on_error(evaluated, status)


DEMO = Demo(
    task="evaluate",
    title="Evaluate on your data",
    description=(
        "How good is a classifier on **your** examples? Upload a CSV or TSV with a text column and a label column; "
        "every row is classified in batches and compared with your label: accuracy, precision and recall per label, "
        "the confusion matrix, the rows it got wrong, and a predictions file to download."
    ),
    models=SENTIMENT_MODELS,
    loader=PipelineLoader("text-classification", int8_allowed=True),  # as the Sentiment tab loads them
    build_tab=build_tab,
)
