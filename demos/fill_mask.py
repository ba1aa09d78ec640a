"""Fill the blank: a masked language model ranks every word of its vocabulary for the one hidden word in a sentence.

The blank may be written `[MASK]`, `<mask>` or `___` whatever the model; it is rewritten as the model's own mask
token. A second, optional sentence (the same with one word changed) is scored on the same fillers, so probes of
grammar (“The boy/boys [MASK] shy.”) and bias (“the woman/man works as a [MASK]”) read off one chart.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import torch

from demos.common import (
    bar_plot,
    drawn_in_data_order,
    model_dropdown,
    run_by,
    status_cleared_on_error,
    tab_intro,
    user_errors,
)
from demos.messages import phrase, say
from demos.tab import Demo, Tab
from shared.errors import UserError
from shared.limits import DEFAULT_FILLERS, MAX_FILLERS, MAX_SENTENCE_CHARS, whole_number
from shared.loading import PipelineLoader
from shared.model_choices import ModelChoice

# How a visitor may write the blank, whatever the model; each becomes the model's own mask token.
MASK_SPELLINGS = re.compile(r"\[mask\]|<mask>|_{3,}", re.IGNORECASE)
CANONICAL_MASK = "[MASK]"
WHICH_SENTENCE = (phrase("The sentence"), phrase("The sentence to compare with"))  # go into messages
LEGEND_CHARS = 40
TABLE_HEADERS = ["sentence", "rank", "token", "token id", "probability", "filled sentence"]
EXAMPLES = [
    ["The boys [MASK] shy.", ""],
    ["The boys [MASK] shy.", "The boy [MASK] shy."],
    ["In the hospital the woman works as a [MASK].", "In the hospital the man works as a [MASK]."],
    ["Paris is the ___ of France.", ""],
    ["Das Wetter ist heute <mask>.", ""],
]
MASK_NOTE = (
    "Write the blank as `[MASK]`, `<mask>` or `___`: it becomes the model's own mask token (`[MASK]` for the BERTs, "
    "`<mask>` for XLM-RoBERTa). Exactly one blank per sentence; the model fills it with one word piece (`##ing` is "
    "the end of a longer word)."
)


@dataclass(frozen=True)
class Filler:
    """One candidate for the blank: its vocabulary entry, probability, rank in the whole vocabulary, and the
    sentence with it in place."""

    token_id: int
    token: str
    probability: float
    rank: int
    sequence: str


def check_sentence(text: str | None, which: str = WHICH_SENTENCE[0]) -> str:
    """The sentence stripped, with exactly one blank (in any accepted spelling), within the length limit."""
    text = (text or "").strip()
    if not text:
        raise UserError(f"{which} is empty. Type a sentence with {CANONICAL_MASK} where the missing word goes.")
    if len(text) > MAX_SENTENCE_CHARS:
        raise UserError(f"{which} is {len(text):,} characters long; the limit is {MAX_SENTENCE_CHARS:,}. Shorten it.")
    blanks = len(MASK_SPELLINGS.findall(text))
    if blanks == 0:
        raise UserError(
            f"{which} has no blank. Put {CANONICAL_MASK} where the missing word goes (<mask> and ___ work too)."
        )
    if blanks > 1:
        raise UserError(
            f"{which} has {blanks} blanks; this tab fills exactly one. Keep one {CANONICAL_MASK} and write the "
            "other words out."
        )
    return text


def with_mask_token(text: str, mask_token: str) -> str:
    """The blank, however it was written, as the model's own mask token."""
    return MASK_SPELLINGS.sub(lambda _: mask_token, text)


def check_comparison(text: str, compare_with: str | None) -> str | None:
    """The second sentence checked, or None when there is none; it must differ from the first."""
    if not (compare_with or "").strip():
        return None
    compare_with = check_sentence(compare_with, WHICH_SENTENCE[1])
    if with_mask_token(text, CANONICAL_MASK) == with_mask_token(compare_with, CANONICAL_MASK):
        raise UserError(
            "The two sentences are the same. Change a word in the second one (e.g. “woman” → “man”), or clear it."
        )
    return compare_with


def shorten(text: str, width: int = LEGEND_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def sentence_labels(sentences: list[str]) -> list[str]:
    """Legend entries: one sentence as written; two as "A: woman" and "B: man", the words where they differ, so the
    chart's colours say which is which without repeating what the sentences share."""
    if len(sentences) == 1:
        return [shorten(with_mask_token(sentences[0], CANONICAL_MASK))]
    first, second = (with_mask_token(sentence, CANONICAL_MASK).split() for sentence in sentences)
    only_first: list[str] = []
    only_second: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=first, b=second, autojunk=False).get_opcodes():
        if tag != "equal":
            only_first += first[i1:i2]
            only_second += second[j1:j2]
    return [
        f"{letter}: {shorten(' '.join(words), LEGEND_CHARS // 2)}" if words else letter
        for letter, words in (("A", only_first), ("B", only_second))
    ]


def token_label(token: str, token_id: int) -> str:
    """What the chart and table call a filler: its text without the space byte-level vocabularies carry, or its id
    when it has no printable text (a lone space piece, or an id past the tokenizer's vocabulary)."""
    return token.strip() or f"#{token_id}"


def max_tokens(pipe: Any) -> int:
    positions = getattr(pipe.model.config, "max_position_embeddings", pipe.tokenizer.model_max_length)
    return min(pipe.tokenizer.model_max_length, positions)


def vocabulary_rank(logits: torch.Tensor, token_id: int) -> int:
    """1 for the most probable word piece of the whole vocabulary, and so on (softmax keeps the logits' order)."""
    return int((logits > logits[token_id]).sum()) + 1


def predict(pipe: Any, text: str, which: str) -> dict:
    """The pipeline's preprocess and forward steps for one sentence, after the checks the pipeline leaves out:
    the sentence fits the model and holds exactly one mask token."""
    model_inputs = pipe.preprocess(text)
    input_ids = model_inputs["input_ids"][0]
    limit = max_tokens(pipe)
    if len(input_ids) > limit:
        raise UserError(f"{which} is {len(input_ids):,} tokens long; this model reads at most {limit:,}. Shorten it.")
    masks = int((input_ids == pipe.tokenizer.mask_token_id).sum())
    if masks != 1:  # e.g. the model's own mask token, if it is none of our spellings, typed besides a [MASK]
        raise UserError(
            f"{which} reached the model with {masks} mask tokens instead of one. Write the blank once, as "
            f"{CANONICAL_MASK}, and no {pipe.tokenizer.mask_token} elsewhere."
        )
    return pipe.forward(model_inputs)


def fillers(pipe: Any, model_outputs: dict, top_k: int, token_ids: list[int] | None = None) -> list[Filler]:
    """The pipeline's postprocess step: the `top_k` most probable fillers, or, given `token_ids`, those fillers;
    either way the probability is the softmax over the whole vocabulary at the mask."""
    input_ids = model_outputs["input_ids"][0]
    mask_index = int(torch.nonzero(input_ids == pipe.tokenizer.mask_token_id)[0, 0])
    logits = model_outputs["logits"][0, mask_index]
    targets = None if token_ids is None else np.array(token_ids)
    predictions = pipe.postprocess(model_outputs, top_k=top_k if targets is None else len(targets), target_ids=targets)
    return [
        Filler(
            token_id=int(prediction["token"]),
            token=token_label(prediction["token_str"], int(prediction["token"])),
            probability=float(prediction["score"]),
            rank=vocabulary_rank(logits, int(prediction["token"])),
            sequence=prediction["sequence"],
        )
        for prediction in predictions
    ]


def union_ids(rankings: list[list[Filler]]) -> list[int]:
    """Every token id in any of the rankings, first seen first."""
    return list(dict.fromkeys(filler.token_id for ranking in rankings for filler in ranking))


def bar_labels(results: list[list[Filler]]) -> dict[int, str]:
    """One x-axis label per token id; two ids that print alike (byte pieces, “ the”/“the”) get their ids added, so
    their bars stay apart instead of stacking."""
    tokens = {filler.token_id: filler.token for ranking in results for filler in ranking}
    counts: dict[str, int] = {}
    for token in tokens.values():
        counts[token] = counts.get(token, 0) + 1
    return {token_id: token if counts[token] == 1 else f"{token} #{token_id}" for token_id, token in tokens.items()}


CHART_COLUMNS = {"filler": "str", "probability": "float", "sentence": "str", "token id": "int", "rank": "int"}


def chart_frame(labels: list[str], results: list[list[Filler]]) -> pd.DataFrame:
    """The bars in their order on the x axis: most probable first; with two sentences each filler has a bar per
    sentence, side by side (“nurse (A)”, “nurse (B)”), ordered by the higher of its two probabilities."""
    names = bar_labels(results)
    rows = []
    for label, ranking in zip(labels, results, strict=True):
        letter = f" ({label.split(':')[0]})" if len(results) > 1 else ""
        rows += [
            {
                "filler": names[filler.token_id] + letter,
                "probability": filler.probability,
                "sentence": label,
                "token id": filler.token_id,
                "rank": filler.rank,
            }
            for filler in ranking
        ]
    frame = pd.DataFrame(rows, columns=list(CHART_COLUMNS))
    best = frame.groupby("token id")["probability"].transform("max")
    ordered = frame.assign(best=best).sort_values(["best", "token id", "sentence"], ascending=[False, True, True])
    return ordered.drop(columns="best").reset_index(drop=True)


def table_rows(labels: list[str], results: list[list[Filler]]) -> list[list]:
    rows = []
    for label, ranking in zip(labels, results, strict=True):
        for filler in sorted(ranking, key=lambda item: -item.probability):
            rows.append(
                [label, filler.rank, filler.token, filler.token_id, float(f"{filler.probability:.6g}"), filler.sequence]
            )
    return rows


def fill_blank(pipe: Any, sentences: list[str], top_k: int) -> list[list[Filler]]:
    """The `top_k` fillers of each sentence's blank (the blank already the model's mask token); with two sentences,
    each sentence's probability for every filler either one ranked in its top_k."""
    with torch.inference_mode():
        outputs = [predict(pipe, sentence, which) for sentence, which in zip(sentences, WHICH_SENTENCE, strict=False)]
        results = [fillers(pipe, model_outputs, top_k) for model_outputs in outputs]
        if len(results) > 1:
            token_ids = union_ids(results)
            results = [fillers(pipe, model_outputs, top_k, token_ids) for model_outputs in outputs]
    return results


def fill_blanks_as_written(pipe: Any, sentences: list[str], top_k: int, model_id: str) -> tuple[str, list]:
    """The model work of /fill_mask: each sentence's blank rewritten as the model's mask token, then filled."""
    mask_token = pipe.tokenizer.mask_token
    if mask_token is None:  # only if an operator allowlisted a model that is no masked language model
        raise UserError(f"{model_id} has no mask token, so it cannot fill a blank. Pick another model.")
    return mask_token, fill_blank(pipe, [with_mask_token(sentence, mask_token) for sentence in sentences], top_k)


@user_errors
def fill_mask(
    tab: Tab,
    text: str,
    model_id: str | None,
    top_k: float | None,
    compare_with: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Fill the one blank in `text` (written [MASK], <mask> or ___; rewritten as the model's mask token) with
    the `top_k` (1-20) most probable word pieces. With `compare_with` (optional, a second sentence with one
    blank), both sentences are scored on the fillers either ranks in its top_k. Returns the bar plot (its
    `value` has rows [filler, probability, sentence, token id, rank] in the order of the bars), a table
    [sentence, rank in the whole vocabulary, token, token id, probability, filled sentence], and a status line
    naming the mask token, model and device."""
    text = check_sentence(text)
    compare_with = check_comparison(text, compare_with)
    top_k = whole_number("top_k", top_k, 1, MAX_FILLERS, default=DEFAULT_FILLERS)
    sentences = [text] if compare_with is None else [text, compare_with]
    labels = sentence_labels(sentences)
    with tab.model(model_id, progress) as served:
        mask_token, results = served.run(fill_blanks_as_written, sentences, top_k, served.model_id)
    status = say(f"Blank written as `{mask_token}` for this model. ") + served.status()
    frame = chart_frame(labels, results)
    # The bars in the frame's order: `drawn_in_data_order` sets the chart's x order once the data is in.
    return gr.BarPlot(value=frame), table_rows(labels, results), status


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(
                label="Sentence",
                value=EXAMPLES[0][0],
                info=f"One blank: `[MASK]`, `<mask>` or `___`. Up to {MAX_SENTENCE_CHARS:,} characters.",
            )
            compare_with = gr.Textbox(
                label="Compare with (optional)",
                value="",
                placeholder="The same sentence with one word changed, e.g. “The boy [MASK] shy.”",
                info="Both sentences are scored on the fillers either one ranks in its top k.",
            )
            top_k = gr.Slider(
                1, MAX_FILLERS, value=DEFAULT_FILLERS, step=1, precision=0, label="Fillers per sentence (top_k)"
            )
            model = model_dropdown(tab.choices)
            button = gr.Button("Fill the blank", variant="primary")
            gr.Markdown(MASK_NOTE)
        with gr.Column(scale=2):
            bars = bar_plot(
                CHART_COLUMNS,
                x="filler",
                y="probability",
                color="sentence",
                x_title="Filler",
                y_title="Probability",
                color_title="Sentence",
                x_label_angle=-40,
                tooltip="all",
                label="Most probable fillers for the blank",
            )
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                label="The numbers (rank: place in the whole vocabulary)",
                interactive=False,
                wrap=True,
                # In pixels: on a phone the table scrolls in its own box, not wrapping each header a letter a line.
                column_widths=["130px", "60px", "100px", "90px", "120px", "300px"],
            )
            status = gr.Markdown(label="Status")
    gr.Examples(EXAMPLES, inputs=[text, compare_with], cache_examples=False)

    inputs = [text, model, top_k, compare_with]
    filled = gr.on(
        run_by(button, text, compare_with), tab.bind(fill_mask), inputs, [bars, table, status], api_name="fill_mask"
    )
    drawn_in_data_order(filled, bars)
    status_cleared_on_error(filled, status)


DEMO = Demo(
    task="fill_mask",
    title="Fill the blank",
    description=(
        "A masked language model reads the whole sentence, both sides of the blank, and gives every word piece of "
        "its vocabulary a probability of being the hidden one (a softmax over the vocabulary at the blank). Compare "
        "two sentences that differ in one word to see what the model learnt about grammar, and about people."
    ),
    models=(
        ModelChoice("distilbert/distilbert-base-uncased", stand_in="distilbert-mlm"),
        ModelChoice("google-bert/bert-base-uncased", stand_in="bert-mlm"),
        ModelChoice("FacebookAI/xlm-roberta-base", stand_in="xlm-roberta-mlm", note="multilingual"),
    ),
    loader=PipelineLoader("fill-mask", int8_allowed=True),
    build_tab=build_tab,
)
