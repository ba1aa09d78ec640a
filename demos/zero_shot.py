"""Zero-shot classification: an NLI model scores your own labels by asking whether the text entails
"This example is {label}." for each one."""

from __future__ import annotations

from string import Formatter

import gradio as gr

from demos.common import model_dropdown, run_by, status_cleared_on_error, tab_intro, user_errors
from demos.tab import Demo, Tab
from shared.batching import CONCURRENT_REQUESTS, run_pipeline
from shared.errors import UserError
from shared.limits import MAX_CANDIDATE_LABELS, MAX_LABEL_CHARS, MAX_TEMPLATE_CHARS, MAX_TEXT_CHARS
from shared.loading import PipelineLoader
from shared.model_choices import ModelChoice

DEFAULT_TEMPLATE = "This example is {}."
EXAMPLES = [
    ["I need to go to the bank to make a deposit.", "finance, geography, sports", False, DEFAULT_TEMPLATE],
    ["We went to the river bank.", "finance, geography, sports", False, DEFAULT_TEMPLATE],
    [
        "The new phone has a great camera but the battery dies by noon.",
        "camera, battery, price",
        True,
        "This review is about {}.",
    ],
]


def parse_candidate_labels(text: str) -> list[str]:
    """Comma-separated labels, stripped, empty ones dropped, duplicates (ignoring case) kept once."""
    labels: list[str] = []
    seen: set[str] = set()
    for raw in (text or "").split(","):
        label = " ".join(raw.split())
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            labels.append(label)
    if not labels:
        raise UserError("Give at least one candidate label, separated by commas (e.g. “sports, politics”).")
    if len(labels) > MAX_CANDIDATE_LABELS:
        raise UserError(f"{len(labels)} labels were given; the limit is {MAX_CANDIDATE_LABELS}. Remove some.")
    too_long = next((label for label in labels if len(label) > MAX_LABEL_CHARS), None)
    if too_long is not None:
        raise UserError(f"The label “{too_long[:30]}…” is longer than {MAX_LABEL_CHARS} characters. Shorten it.")
    if "{}" in labels:  # the pipeline would read the hypothesis "This example is {}." as an unfilled template
        raise UserError("A candidate label cannot be just “{}”: write the label in words.")
    return labels


def check_hypothesis_template(template: str | None) -> str:
    """The template with exactly one plain `{}`: the pipeline calls `template.format(label)`, so any other field
    (`{0}`, `{x}`, `{:>999999999}`) would fail or blow up; literal braces are written `{{` and `}}`."""
    template = (template or "").strip() or DEFAULT_TEMPLATE
    if len(template) > MAX_TEMPLATE_CHARS:
        raise UserError(f"The hypothesis template is longer than {MAX_TEMPLATE_CHARS} characters. Shorten it.")
    try:
        fields = [
            (name, spec, conversion) for _, name, spec, conversion in Formatter().parse(template) if name is not None
        ]
    except ValueError:
        fields = []
    if fields != [("", "", None)]:
        raise UserError(
            f"The hypothesis template needs exactly one {{}} where the label goes, like “{DEFAULT_TEMPLATE}”."
        )
    return template


def check_text(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise UserError("Type the text to classify.")
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(f"The text is {len(text):,} characters long; the limit is {MAX_TEXT_CHARS:,}. Shorten it.")
    return text


def ranked_scores(result: dict) -> dict[str, float]:
    return {label: float(score) for label, score in zip(result["labels"], result["scores"], strict=True)}


@user_errors
def zero_shot(
    tab: Tab,
    text: str,
    candidate_labels: str,
    multi_label: bool,
    hypothesis_template: str,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Score comma-separated candidate labels for a text with an NLI model: ranked labels with scores, and a
    status line naming the model and device that served it."""
    text = check_text(text)
    labels = parse_candidate_labels(candidate_labels)
    template = check_hypothesis_template(hypothesis_template)
    with tab.model(model_id, progress) as served:
        # All labels, and those of concurrent requests to the same model, in shared forward passes (the pipeline
        # alone runs one pass per label); the result equals a call of its own.
        batched = served.remember(
            ("zero_shot", text, tuple(labels), bool(multi_label), template),
            lambda: served.run_batched(
                run_pipeline,
                [text],
                candidate_labels=labels,
                multi_label=bool(multi_label),
                hypothesis_template=template,
            ),
        )
    return ranked_scores(batched.results[0]), served.status(batched.batch_requests)


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label="Text", lines=3, info=f"Up to {MAX_TEXT_CHARS:,} characters.")
            candidate_labels = gr.Textbox(
                label="Candidate labels",
                placeholder="sports, politics, cooking",
                info=f"Comma-separated, up to {MAX_CANDIDATE_LABELS} labels of {MAX_LABEL_CHARS} characters.",
            )
            multi_label = gr.Checkbox(
                label="Several labels can be true (multi_label)",
                info="Off: the scores share out 1. On, or with one label: each label is judged on its own.",
            )
            hypothesis_template = gr.Textbox(
                label="Hypothesis template",
                value=DEFAULT_TEMPLATE,
                info=f"{{}} is replaced by each label; up to {MAX_TEMPLATE_CHARS} characters.",
            )
            model = model_dropdown(tab.choices)
            button = gr.Button("Classify", variant="primary")
        with gr.Column():
            scores = gr.Label(label="Labels, best first", num_top_classes=MAX_CANDIDATE_LABELS)
            status = gr.Markdown(label="Status")
    gr.Examples(EXAMPLES, inputs=[text, candidate_labels, multi_label, hypothesis_template], cache_examples=False)

    classified = gr.on(
        run_by(button, text, candidate_labels, hypothesis_template),
        tab.bind(zero_shot),
        [text, candidate_labels, multi_label, hypothesis_template, model],
        [scores, status],
        api_name="zero_shot",
        concurrency_limit=CONCURRENT_REQUESTS,
    )
    status_cleared_on_error(classified, status)


DEMO = Demo(
    task="zero_shot",
    title="Zero-shot classification",
    description=(
        "An NLI model reads the text as a premise and each label as a hypothesis (“This example is {label}.”); "
        "how strongly the text entails each hypothesis ranks the labels. No training on your labels is needed."
    ),
    models=(
        ModelChoice("MoritzLaurer/deberta-v3-base-zeroshot-v2.0", stand_in="deberta-v2-nli"),
        ModelChoice("facebook/bart-large-mnli", stand_in="bart-nli"),
    ),
    loader=PipelineLoader("zero-shot-classification", int8_allowed=True),
    build_tab=build_tab,
)
