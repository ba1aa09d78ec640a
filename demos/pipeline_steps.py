"""A classifier opened up: what the sentiment pipeline does, one stage at a time, as the notebooks redo it by hand.
The tokenizer turns the text into input ids and an attention mask; the model turns them into one logit per label;
a softmax turns the logits into probabilities; the label is the likeliest one, named by the model's `id2label`.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr
import pandas as pd
import torch

from demos.common import model_dropdown, run_by, status_cleared_on_error, tab_intro, user_errors
from demos.tab import Demo, Tab
from shared.errors import UserError
from shared.limits import MAX_STEPS_TEXT_CHARS, MAX_STEPS_TEXT_TOKENS
from shared.loading import PipelineLoader
from shared.model_choices import SENTIMENT_MODELS

DIGITS = 4
EXAMPLES = [
    ["I loved this movie, the acting was wonderful.", SENTIMENT_MODELS[0].model_id],
    ["The service was slow and the food was cold.", SENTIMENT_MODELS[0].model_id],
    ["¡Qué película tan bonita! Me encantó.", SENTIMENT_MODELS[2].model_id],
]
TOKEN_HEADERS = ["position", "token", "input_id", "attention_mask"]
LABEL_HEADERS = ["label id", "label", "logit", "exp(logit)", "probability"]


def check_text(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise UserError("Type a sentence to classify.")
    if len(text) > MAX_STEPS_TEXT_CHARS:
        raise UserError(f"The text is {len(text):,} characters long; the limit is {MAX_STEPS_TEXT_CHARS}. Shorten it.")
    return text


def softmax(logits: list[float]) -> list[float]:
    """exp(logit) / the sum of them all, computed stably (the largest logit subtracted first).

    >>> [round(p, 4) for p in softmax([2.0, 0.0])]
    [0.8808, 0.1192]
    """
    highest = max(logits)
    exponentials = [math.exp(logit - highest) for logit in logits]
    total = sum(exponentials)
    return [value / total for value in exponentials]


def classifier_steps(model: Any, tokenizer: Any, text: str) -> dict[str, Any]:
    """Each stage's values for one text: tokens, input ids and attention mask; the logits; their softmax; the
    label. The same computation as the text-classification pipeline's (one text, no truncation needed within the
    limit), written out."""
    encoded = tokenizer(text, return_tensors="pt")
    if encoded["input_ids"].shape[1] > MAX_STEPS_TEXT_TOKENS:
        raise UserError(
            f"The text is {encoded['input_ids'].shape[1]} tokens long; the limit is {MAX_STEPS_TEXT_TOKENS}, so every "
            "step fits on the page. Shorten it."
        )
    with torch.inference_mode():
        logits = model(**encoded.to(model.device)).logits[0].float().cpu().tolist()
    probabilities = softmax(logits)
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    ids = encoded["input_ids"][0].tolist()
    return {
        "text": text,
        "tokens": tokenizer.convert_ids_to_tokens(ids),
        "input_ids": ids,
        "attention_mask": encoded["attention_mask"][0].tolist(),
        "labels": [model.config.id2label[index] for index in range(len(logits))],
        "logits": logits,
        "probabilities": probabilities,
        "label": model.config.id2label[best],
        "label_id": best,
    }


def pipeline_classifier_steps(pipeline: Any, text: str) -> dict[str, Any]:
    """The model work of /pipeline_steps: `classifier_steps` on the sentiment pipeline's model and tokenizer."""
    return classifier_steps(pipeline.model, pipeline.tokenizer, text)


def token_rows(steps: dict[str, Any]) -> list[list[Any]]:
    return [
        [position, token, token_id, mask]
        for position, (token, token_id, mask) in enumerate(
            zip(steps["tokens"], steps["input_ids"], steps["attention_mask"], strict=True)
        )
    ]


def label_rows(steps: dict[str, Any]) -> list[list[Any]]:
    highest = max(steps["logits"])
    return [
        [index, label, round(logit, DIGITS), round(math.exp(logit - highest), DIGITS), round(probability, DIGITS)]
        for index, (label, logit, probability) in enumerate(
            zip(steps["labels"], steps["logits"], steps["probabilities"], strict=True)
        )
    ]


def explanation(steps: dict[str, Any]) -> str:
    logits = ", ".join(f"{label} {logit:.3f}" for label, logit in zip(steps["labels"], steps["logits"], strict=True))
    return (
        f"**1. Tokenizer:** {len(steps['input_ids'])} tokens, special ones included (table on the left).  \n"
        f"**2. Model:** one logit per label: {logits}.  \n"
        f"**3. Softmax:** probability = exp(logit) / Σ exp(logits) (the largest logit is subtracted first, which "
        "changes nothing but keeps the numbers small; column `exp(logit)`).  \n"
        f"**4. Label:** the likeliest, id {steps['label_id']} → `{steps['label']}` "
        f"({steps['probabilities'][steps['label_id']]:.1%}), named by the model's `id2label`."
    )


@user_errors
def pipeline_steps(
    tab: Tab,
    text: str,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """The sentiment pipeline stage by stage for one text: tokens with input ids and attention mask, the logits,
    their softmax and the label. Returns (tokens table, labels table with logits and probabilities, the label with
    its confidences, an explanation, every value as JSON, status)."""
    text = check_text(text)
    with tab.model(model_id, progress) as served:
        steps = served.run(pipeline_classifier_steps, text)
    confidences = dict(zip(steps["labels"], steps["probabilities"], strict=True))
    return (
        pd.DataFrame(token_rows(steps), columns=TOKEN_HEADERS),
        pd.DataFrame(label_rows(steps), columns=LABEL_HEADERS),
        confidences,
        explanation(steps),
        {**steps, "model_id": served.model_id},
        served.status(),
    )


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        text = gr.Textbox(
            label="Text",
            value=EXAMPLES[0][0],
            scale=3,
            info=f"One sentence, up to {MAX_STEPS_TEXT_CHARS} characters and {MAX_STEPS_TEXT_TOKENS} tokens.",
        )
        with gr.Column(scale=2):
            model = model_dropdown(tab.choices)
            button = gr.Button("Run it step by step", variant="primary")
    gr.Examples(EXAMPLES, inputs=[text, model], cache_examples=False)
    with gr.Row():
        tokens = gr.Dataframe(headers=TOKEN_HEADERS, label="1. Tokenizer: tokens, input_ids, attention_mask")
        with gr.Column():
            logits = gr.Dataframe(headers=LABEL_HEADERS, label="2-3. Model: logits, then softmax")
            label = gr.Label(label="4. Label")
    steps_text = gr.Markdown()
    with gr.Accordion("Every value (JSON)", open=False):
        values = gr.JSON(label="Values", max_height=320)
    status = gr.Markdown()
    outputs = [tokens, logits, label, steps_text, values, status]
    opened = gr.on(run_by(button, text), tab.bind(pipeline_steps), [text, model], outputs, api_name="pipeline_steps")
    status_cleared_on_error(opened, status)


DEMO = Demo(
    task="pipeline_steps",
    title="A classifier opened up",
    description=(
        'What `pipeline("sentiment-analysis")` does, one stage at a time: the **tokenizer** turns the text into '
        "input ids and an attention mask, the **model** gives one logit per label, a **softmax** turns the logits "
        "into probabilities, and the **label** is the likeliest one. The numbers equal the Sentiment tab's."
    ),
    models=SENTIMENT_MODELS,
    loader=PipelineLoader("text-classification", int8_allowed=True),  # as the Sentiment tab loads them
    build_tab=build_tab,
)
