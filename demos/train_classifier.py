"""Train a classifier on embeddings: the notebook's feature-extraction lesson. Labelled sentences become MiniLM
sentence vectors; a logistic regression learns the labels from them; cross-validation says how well it does on
sentences it did not see, and a 2-D PCA shows whether the labels form groups. The trained classifier stays with
the visitor's session, to label new sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from demos.common import model_dropdown, run_by, status_cleared_on_error, tab_intro, user_errors
from demos.messages import say
from demos.tab import Demo, Tab
from shared.errors import UserError
from shared.labelled_data import parse_label_lines, read_table, require_column
from shared.limits import (
    MAX_CLASSIFIED_SENTENCES,
    MAX_TRAINING_BYTES,
    MAX_TRAINING_EXAMPLES,
    MAX_TRAINING_LABELS,
    MAX_TRAINING_TEXT_CHARS,
    TRAINED_CLASSIFIER_SECONDS,
)
from shared.loading import ModelLoader
from shared.model_choices import ModelChoice
from shared.sentence_vectors import sentence_embeddings

MAX_FOLDS = 5
DIGITS = 4
EXAMPLE_DATA = """sports: The striker scored twice in the final minutes.
sports: The coach was sacked after five defeats in a row.
sports: She won the marathon in under two and a half hours.
sports: The referee showed him a red card.
sports: Our team finally won the league this season.
cooking: Fry the onions until they are golden.
cooking: Add a pinch of salt to the boiling water.
cooking: Bake the cake for forty minutes at 180 degrees.
cooking: Chop the garlic finely and stir it into the sauce.
cooking: Let the dough rest for an hour before rolling it out.
politics: The parliament voted against the new budget.
politics: The minister resigned after the scandal.
politics: Elections will be held in the spring.
politics: The senator proposed a law on renewable energy.
politics: The president met the prime minister in Brussels."""
NEW_SENTENCES = "The goalkeeper saved a penalty.\nSimmer the soup for ten minutes.\nThe government raised taxes."
SPANISH_DATA = """deportes: El delantero marcó dos goles en la final.
deportes: La tenista ganó el torneo sin perder un set.
deportes: El equipo entrena todas las mañanas.
cocina: Corta la cebolla y fríela en aceite de oliva.
cocina: Añade sal y deja hervir el arroz diez minutos.
cocina: Mezcla la harina con los huevos y el azúcar."""
EXAMPLES = [[EXAMPLE_DATA, NEW_SENTENCES], [SPANISH_DATA, "El portero paró el penalti.\nHornea el pan una hora."]]
PREDICTION_HEADERS = ["sentence", "label", "probability"]


@dataclass
class TrainedClassifier:
    """What a session keeps after training: the embedding model's id and the fitted logistic regression."""

    model_id: str
    classifier: LogisticRegression

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self.classifier.classes_]


def check_examples(examples: list[tuple[str, str]]) -> None:
    if len(examples) < 4:
        raise UserError("Give at least 4 labelled sentences, one `label: sentence` a line, at least 2 per label.")
    counts = pd.Series([label for label, _ in examples]).value_counts()
    if len(counts) < 2:
        raise UserError(f"All examples have the label “{counts.index[0]}”. Give at least two different labels.")
    if len(counts) > MAX_TRAINING_LABELS:
        raise UserError(f"{len(counts)} labels were given; the limit is {MAX_TRAINING_LABELS}. Use fewer labels.")
    if counts.min() < 2:
        few = ", ".join(f"“{label}”" for label, count in counts.items() if count < 2)
        raise UserError(f"Each label needs at least 2 examples for cross-validation; {few} has only one. Add more.")
    for label, text in examples:
        if len(text) > MAX_TRAINING_TEXT_CHARS:
            raise UserError(
                f"A sentence labelled “{label}” is {len(text):,} characters long; the limit is "
                f"{MAX_TRAINING_TEXT_CHARS:,}. Shorten it."
            )


def examples_from(pasted: str | None, file: Any) -> list[tuple[str, str]]:
    """The pasted `label: sentence` lines, or, when a file is uploaded, its `text` and `label` columns."""
    if file is not None:
        path = str(getattr(file, "path", None) or file)
        name = getattr(file, "orig_name", None) or Path(path).name
        table = read_table(path, name, MAX_TRAINING_BYTES, MAX_TRAINING_EXAMPLES)
        text_column = require_column(table, "text", "text", name)
        label_column = require_column(table, "label", "label", name)
        examples = [(row[label_column].strip(), row[text_column].strip()) for row in table.rows]
        if any(not label or not text for label, text in examples):
            raise UserError(f"Some rows of {name} have an empty text or label. Fill them in or remove them.")
        return examples
    examples = parse_label_lines(pasted, MAX_TRAINING_EXAMPLES)
    if not examples:
        raise UserError("Paste labelled sentences, one `label: sentence` a line, or upload a CSV with text,label.")
    return examples


def fit_and_score(vectors: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """A logistic regression on the vectors, with its stratified k-fold cross-validated accuracy (k = 5, or the
    smallest label's count when that is less) and its accuracy on the training data itself."""
    folds = min(MAX_FOLDS, int(pd.Series(labels).value_counts().min()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    scores = cross_val_score(LogisticRegression(max_iter=1000), vectors, labels, cv=splitter)
    classifier = LogisticRegression(max_iter=1000).fit(vectors, labels)
    return {
        "classifier": classifier,
        "folds": folds,
        "fold_accuracies": [float(score) for score in scores],
        "cv_accuracy": float(scores.mean()),
        "training_accuracy": float(classifier.score(vectors, labels)),
    }


def scatter_figure(points: np.ndarray, labels: list[str], sentences: list[str], variance: list[float]) -> go.Figure:
    figure = go.Figure()
    for label in sorted(set(labels)):
        chosen = [index for index, item in enumerate(labels) if item == label]
        figure.add_trace(
            go.Scatter(
                x=points[chosen, 0],
                y=points[chosen, 1],
                mode="markers",
                name=label,
                text=[sentences[index] for index in chosen],
                hovertemplate="<b>%{fullData.name}</b><br>%{text}<extra></extra>",
                marker=dict(size=11),
            )
        )
    figure.update_layout(
        title=dict(text=say("The sentence vectors in 2-D (PCA), coloured by label"), x=0.5),
        xaxis_title=say(f"component 1 ({variance[0]:.0%} of the variance)"),
        yaxis_title=say(f"component 2 ({variance[1]:.0%})"),
        height=480,
        margin=dict(l=10, r=10, t=60, b=10),
    )
    return figure


@user_errors
def train_classifier(
    tab: Tab,
    examples: str,
    file: Any,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Embed labelled sentences with a sentence encoder and fit a logistic regression on the vectors. Returns
    (summary, PCA scatter coloured by label, per-label counts, metrics JSON: cv_accuracy, folds, fold_accuracies,
    training_accuracy, n, labels, status); the classifier is kept for this session, for /classify_sentences."""
    pairs = examples_from(examples, file)
    check_examples(pairs)
    labels, sentences = [label for label, _ in pairs], [text for _, text in pairs]
    with tab.model(model_id, progress) as served:
        vectors = served.run(sentence_embeddings, sentences).numpy().astype(np.float64)
    fitted = fit_and_score(vectors, labels)
    pca = PCA(n_components=2).fit(vectors)
    counts = pd.Series(labels).value_counts().sort_index()
    metrics = {
        "n": len(pairs),
        "labels": sorted(set(labels)),
        "cv_accuracy": fitted["cv_accuracy"],
        "folds": fitted["folds"],
        "fold_accuracies": fitted["fold_accuracies"],
        "training_accuracy": fitted["training_accuracy"],
        "model_id": served.model_id,
    }
    summary = (
        f"**Cross-validated accuracy: {fitted['cv_accuracy']:.1%}** ({fitted['folds']}-fold, stratified: each fold is "
        f"classified by a regression trained on the other folds) · on the training sentences themselves: "
        f"{fitted['training_accuracy']:.1%}. Now type new sentences below to classify them."
    )
    trained = TrainedClassifier(served.model_id, fitted["classifier"])
    return (
        summary,
        scatter_figure(pca.transform(vectors), labels, sentences, pca.explained_variance_ratio_.tolist()),
        pd.DataFrame({"label": counts.index, "examples": counts.values}),
        metrics,
        served.status(),
        trained,
    )


@user_errors
def classify_sentences(
    tab: Tab,
    sentences: str,
    trained: TrainedClassifier | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Label new sentences (one a line) with the classifier this session trained. Returns (the first sentence's
    label with probabilities, a table with one row per sentence, status)."""
    if trained is None:
        raise UserError("Train a classifier first (the Train button above); it is kept for this session.")
    lines = [line.strip() for line in (sentences or "").splitlines() if line.strip()]
    if not lines:
        raise UserError("Type a sentence to classify, one a line.")
    if len(lines) > MAX_CLASSIFIED_SENTENCES:
        raise UserError(f"{len(lines)} sentences were sent; the limit is {MAX_CLASSIFIED_SENTENCES}. Send fewer.")
    if longest := next((line for line in lines if len(line) > MAX_TRAINING_TEXT_CHARS), None):
        raise UserError(
            f"A sentence is {len(longest):,} characters long; the limit is {MAX_TRAINING_TEXT_CHARS:,}, as for "
            "training. Shorten it."
        )
    with tab.model(trained.model_id, progress) as served:
        vectors = served.run(sentence_embeddings, lines).numpy().astype(np.float64)
    probabilities = trained.classifier.predict_proba(vectors)
    rows = [
        [line, trained.labels[int(row.argmax())], round(float(row.max()), DIGITS)]
        for line, row in zip(lines, probabilities, strict=True)
    ]
    first = {label: float(probability) for label, probability in zip(trained.labels, probabilities[0], strict=True)}
    return first, pd.DataFrame(rows, columns=PREDICTION_HEADERS), served.status()


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    trained = gr.State(None, time_to_live=TRAINED_CLASSIFIER_SECONDS)
    with gr.Row():
        with gr.Column():
            examples = gr.Textbox(
                label="Labelled sentences",
                value=EXAMPLE_DATA,
                lines=10,
                info=f"One `label: sentence` a line, at least 2 per label; up to {MAX_TRAINING_EXAMPLES} sentences.",
            )
            file = gr.File(label="…or a CSV/TSV with text and label columns", file_types=[".csv", ".tsv"])
            model = model_dropdown(tab.choices)
            train = gr.Button("Train", variant="primary")
        with gr.Column():
            summary = gr.Markdown()
            scatter = gr.Plot(label="Sentence vectors, coloured by label")
            counts = gr.Dataframe(label="Examples per label", interactive=False)
            with gr.Accordion("Metrics (JSON)", open=False):
                metrics = gr.JSON(label="Metrics")
            status = gr.Markdown()
    gr.Markdown("### Classify new sentences with the trained classifier")
    with gr.Row():
        with gr.Column():
            sentences = gr.Textbox(label="New sentences", value=NEW_SENTENCES, lines=4, info="One a line.")
            classify = gr.Button("Classify")
        with gr.Column():
            best = gr.Label(label="First sentence")
            predictions = gr.Dataframe(headers=PREDICTION_HEADERS, label="One row per sentence", interactive=False)
            classify_status = gr.Markdown()
    gr.Examples(EXAMPLES, inputs=[examples, sentences], cache_examples=False)
    trained_now = gr.on(
        run_by(train, examples),
        tab.bind(train_classifier),
        [examples, file, model],
        [summary, scatter, counts, metrics, status, trained],
        api_name="train_classifier",
    )
    status_cleared_on_error(trained_now, status)
    classified = gr.on(
        run_by(classify, sentences),
        tab.bind(classify_sentences),
        [sentences, trained],
        [best, predictions, classify_status],
        api_name="classify_sentences",
    )
    status_cleared_on_error(classified, classify_status)


DEMO = Demo(
    task="train_classifier",
    title="Train a classifier",
    description=(
        "Teach a classifier your own labels in seconds: each labelled sentence becomes a sentence vector "
        "(all-MiniLM-L6-v2), and a **logistic regression** learns to tell the labels apart from those vectors. "
        "Cross-validation measures it on sentences it did not train on; the PCA plot shows whether the labels "
        "form groups. The classifier is kept for your session."
    ),
    models=(ModelChoice("sentence-transformers/all-MiniLM-L6-v2", stand_in="minilm-encoder", note="sentence vectors"),),
    loader=ModelLoader("AutoModel", int8_allowed=True),
    build_tab=build_tab,
)
