"""Sentiment: one text, or one text per line, classified as positive or negative (or neutral) in one batch."""

from __future__ import annotations

import gradio as gr

from demos.common import model_dropdown, run_by, status_cleared_on_error, tab_intro, user_errors
from demos.tab import Demo, Tab
from shared.batching import CONCURRENT_REQUESTS, run_pipeline
from shared.errors import UserError
from shared.limits import MAX_SENTIMENT_LINES, MAX_TEXT_CHARS
from shared.loading import PipelineLoader
from shared.model_choices import SENTIMENT_MODELS

TABLE_HEADERS = ["text", "label", "score"]
ENGLISH, MULTILINGUAL, SPANISH = (choice.model_id for choice in SENTIMENT_MODELS)
# text, model
EXAMPLES = [
    ["I loved this movie, the acting was wonderful.", ENGLISH],
    ["Time flies like an arrow.\nFruit flies like bananas.\nThe service was slow and the food was cold.", ENGLISH],
    ["Ce film était vraiment magnifique !", MULTILINGUAL],
    ["¡Qué película tan bonita! Me encantó.\nEl servicio fue lento y la comida llegó fría.", SPANISH],
]


def split_texts(text: str) -> list[str]:
    """One text per non-empty line."""
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(f"The text is {len(text):,} characters long; the limit is {MAX_TEXT_CHARS:,}. Shorten it.")
    texts = [line.strip() for line in text.splitlines() if line.strip()]
    if not texts:
        raise UserError("Type some text to classify (one text per line for several).")
    if len(texts) > MAX_SENTIMENT_LINES:
        raise UserError(f"{len(texts)} lines were sent; the limit is {MAX_SENTIMENT_LINES}. Send fewer lines.")
    return texts


def confidences(scores: list[dict]) -> dict[str, float]:
    """The pipeline's `[{label, score}, ...]` as `gr.Label` wants it, best first."""
    return {item["label"]: float(item["score"]) for item in sorted(scores, key=lambda item: -item["score"])}


def table_rows(texts: list[str], results: list[list[dict]]) -> list[list]:
    rows = []
    for text, scores in zip(texts, results, strict=True):
        best = max(scores, key=lambda item: item["score"])
        rows.append([text, best["label"], round(float(best["score"]), 4)])
    return rows


@user_errors
def sentiment(
    tab: Tab,
    text: str,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Sentiment of a text, or of each line of it: the first line's label with confidences, a table with one row
    per line, and a status line naming the model and device that served it."""
    texts = split_texts(text)
    with tab.model(model_id, progress) as served:
        # Shares forward passes with concurrent requests to the same model; results equal a call of its own.
        batched = served.remember(
            ("sentiment", tuple(texts)), lambda: served.run_batched(run_pipeline, texts, top_k=None, truncation=True)
        )
    results = batched.results
    return confidences(results[0]), table_rows(texts, results), served.status(batched.batch_requests)


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(
                label="Text",
                lines=4,
                placeholder="Type a sentence. Several lines are classified one by one, in one batch.",
                info=f"Up to {MAX_SENTIMENT_LINES} lines and {MAX_TEXT_CHARS:,} characters.",
            )
            model = model_dropdown(tab.choices)
            button = gr.Button("Classify", variant="primary")
        with gr.Column():
            label = gr.Label(label="Sentiment (first line)", num_top_classes=3)
            table = gr.Dataframe(headers=TABLE_HEADERS, label="One row per line", interactive=False)
            status = gr.Markdown(label="Status")
    gr.Examples(EXAMPLES, inputs=[text, model], cache_examples=False)

    batched = dict(concurrency_limit=CONCURRENT_REQUESTS, concurrency_id="sentiment")
    classified = gr.on(
        run_by(button, text),
        tab.bind(sentiment),
        [text, model],
        [label, table, status],
        api_name="sentiment",
        **batched,
    )
    status_cleared_on_error(classified, status)


DEMO = Demo(
    task="sentiment",
    title="Sentiment",
    description="A fine-tuned encoder reads the text and scores how positive or negative it sounds.",
    models=SENTIMENT_MODELS,
    loader=PipelineLoader("text-classification", int8_allowed=True),
    build_tab=build_tab,
)
