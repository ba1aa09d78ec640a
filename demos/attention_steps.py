"""Attention from scratch: the notebook's lesson as a tab. Each word of a sentence gets its input vector (the
model's token embedding, no context yet); every pair is scored by a dot product, the scores are divided by √d, each
row goes through a softmax, and each word's new vector is the weighted sum of all the vectors. A 2-D PCA shows where
the words move, so "flies" moves towards "time" in one sentence and towards "fruit" in the other; the same word in
the real model's last layer is shown beside it for comparison.
"""

from __future__ import annotations

import math
import re
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from demos.common import model_dropdown, run_by, status_cleared_on_error, tab_intro, user_errors
from demos.messages import phrase, say
from demos.tab import Demo, Tab
from shared.errors import UserError
from shared.limits import MAX_STEPS_SENTENCE_CHARS, MAX_STEPS_TOKENS, MAX_STEPS_WORD_CHARS
from shared.loading import ModelBundle, ModelLoader
from shared.model_choices import ModelChoice

SENTENCE_NAMES = (phrase("sentence 1"), phrase("sentence 2"))  # go into messages
STEP_TITLES = ("1. scores: q·k", "2. scaled: ÷ √d", "3. softmax of each row")
SENTENCE_COLOURS = ("#2563eb", "#dc2626")
DIGITS = 4
EXAMPLES = [
    ["Time flies like an arrow.", "Fruit flies like bananas.", "flies"],
    ["I sat on the river bank.", "I paid the money into the bank.", "bank"],
    ["The cat sat on the mat.", "", "cat"],
]
STEPS_NOTE = (
    "**The steps, for each sentence.** (1) Every word is a vector `x` (its input embedding). The score of word *i* "
    "looking at word *j* is the dot product `xᵢ·xⱼ`. (2) The scores are divided by √d (d = the vector's length), "
    "so that long vectors do not make the softmax all-or-nothing. (3) Each row goes through a softmax: the weights "
    "of one word share out 1. (4) The word's new vector is the weighted sum `Σⱼ wᵢⱼ xⱼ`. Real attention first "
    "multiplies `x` by learned query, key and value matrices; here they are left out, as in the notebook."
)


def check_sentence(text: str | None, name: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise UserError(f"Type {name}.")
    if len(text) > MAX_STEPS_SENTENCE_CHARS:
        raise UserError(
            f"The {name} is {len(text):,} characters long; the limit is {MAX_STEPS_SENTENCE_CHARS}. Shorten it."
        )
    return text


def check_word(word: str | None) -> str:
    word = (word or "").strip()
    if not word or len(word.split()) != 1:
        raise UserError("Type one word of the sentence to follow (for example “flies”).")
    if len(word) > MAX_STEPS_WORD_CHARS:
        raise UserError(f"The word is longer than {MAX_STEPS_WORD_CHARS} characters. Type one word of the sentence.")
    return word


def softmax_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row's softmax, computed stably (the row's maximum subtracted first)."""
    shifted = matrix - matrix.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def self_attention_steps(vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Scaled dot-product self-attention with no learned projections, step by step, for vectors shaped (words, d).

    >>> steps = self_attention_steps(np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> steps["weights"].round(3).tolist()
    [[0.67, 0.33], [0.33, 0.67]]
    """
    scores = vectors @ vectors.T
    scaled = scores / math.sqrt(vectors.shape[1])
    weights = softmax_rows(scaled)
    return {"scores": scores, "scaled": scaled, "weights": weights, "contextual": weights @ vectors}


def pca_2d(points: np.ndarray) -> np.ndarray:
    """The points projected on their first two principal components (centred; each axis's sign chosen so its
    largest coordinate is positive, so the picture does not flip between runs)."""
    centred = points - points.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ components[:2].T
    for axis in range(projected.shape[1]):
        if projected[np.abs(projected[:, axis]).argmax(), axis] < 0:
            projected[:, axis] *= -1
    return projected


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def word_tokens(bundle: ModelBundle, sentence: str) -> dict[str, Any]:
    """The sentence's tokens without the special ones: their ids, texts and character spans."""
    tokenizer = bundle.processor
    encoded = tokenizer(sentence, return_offsets_mapping=True, return_special_tokens_mask=True)
    kept = [index for index, special in enumerate(encoded["special_tokens_mask"]) if not special]
    if len(kept) > MAX_STEPS_TOKENS:
        raise UserError(
            f"“{sentence[:40]}…” has {len(kept)} tokens; the limit is {MAX_STEPS_TOKENS}, so the tables stay readable. "
            "Shorten it."
        )
    if not kept:
        raise UserError(f"The tokenizer keeps nothing of “{sentence}”. Type words.")
    ids = [encoded["input_ids"][index] for index in kept]
    return {
        "all_ids": encoded["input_ids"],
        "positions": kept,  # where each kept token sits among all of them (for the last layer)
        "ids": ids,
        "tokens": tokenizer.convert_ids_to_tokens(ids),
        "offsets": [tuple(encoded["offset_mapping"][index]) for index in kept],
    }


def word_positions(sentence: str, offsets: list[tuple[int, int]], word: str) -> list[int]:
    """The tokens that spell the first whole-word occurrence of `word` (any case); a word in pieces gives several."""
    found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", sentence, flags=re.IGNORECASE)
    if found is None:
        raise UserError(f"“{word}” is not a word of “{sentence}”. Type a word that appears in every sentence.")
    positions = [index for index, (start, end) in enumerate(offsets) if start < found.end() and end > found.start()]
    if not positions:  # an invisible character (a zero-width space) that the tokenizer drops
        raise UserError(f"The tokenizer keeps nothing of “{word}” in “{sentence}”. Type a word with letters.")
    return positions


def sentence_steps(bundle: ModelBundle, sentence: str, word: str) -> dict[str, Any]:
    """Every number of the lesson for one sentence: input vectors, the three steps, the contextual vectors, the
    followed word's weights, and the followed word's vector in the model's last layer."""
    model = bundle.model
    tokens = word_tokens(bundle, sentence)
    positions = word_positions(sentence, tokens["offsets"], word)
    with torch.inference_mode():
        embeddings = model.get_input_embeddings().weight[tokens["ids"]].double().cpu().numpy()
        inputs = torch.tensor([tokens["all_ids"]], device=model.device)
        last_layer = model(input_ids=inputs).last_hidden_state[0].double().cpu().numpy()
    steps = self_attention_steps(embeddings)
    return {
        "sentence": sentence,
        "tokens": tokens["tokens"],
        "word_positions": positions,
        "vectors": embeddings,
        **steps,
        "last_layer": last_layer[tokens["positions"]],
    }


def word_vector(vectors: np.ndarray, positions: list[int]) -> np.ndarray:
    return vectors[positions].mean(axis=0)


def closest_word(target: np.ndarray, vectors: np.ndarray, positions: list[int], tokens: list[str]) -> str:
    """The other token whose vector points most the same way as `target`, with that cosine."""
    others = [(cosine(target, vectors[index]), token) for index, token in enumerate(tokens) if index not in positions]
    if not others:
        return "—"
    similarity, token = max(others)
    return f"{token} ({similarity:.3f})"


# (row name, the followed word's vector, the other words' vectors it is compared with): after one attention step
# the word is compared with the other words' input vectors, to see which of them it moved towards.
COMPARED = (
    ("input embedding", "vectors", "vectors"),
    ("after one attention step", "contextual", "vectors"),
    ("model's last layer", "last_layer", "last_layer"),
)


def comparison_rows(sentences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kind of vector: the followed word's closest other word in each sentence and, with two sentences, how
    similar the word's two vectors are."""
    rows = []
    for kind, word_key, others_key in COMPARED:
        row: dict[str, Any] = {"vectors": kind}
        for name, item in zip(SENTENCE_NAMES, sentences, strict=False):
            target = word_vector(item[word_key], item["word_positions"])
            row[f"closest in {name}"] = closest_word(target, item[others_key], item["word_positions"], item["tokens"])
        if len(sentences) == 2:
            first, second = (word_vector(item[word_key], item["word_positions"]) for item in sentences)
            row["cosine between the two"] = round(cosine(first, second), DIGITS)
        rows.append(row)
    return rows


def pca_points(sentences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every word before and after the attention step, in one 2-D PCA fitted on all of them together."""
    stacked = np.vstack([item[key] for item in sentences for key in ("vectors", "contextual")])
    projected = pca_2d(stacked)
    points, row = [], 0
    for number, item in enumerate(sentences):
        for stage in ("before", "after"):
            for index, token in enumerate(item["tokens"]):
                x, y = projected[row]
                points.append(
                    {
                        "sentence": number + 1,
                        "stage": stage,
                        "token": token,
                        "followed": index in item["word_positions"],
                        "x": float(x),
                        "y": float(y),
                    }
                )
                row += 1
    return points


def labelled_matrix(matrix: np.ndarray, tokens: list[str]) -> pd.DataFrame:
    return pd.DataFrame(matrix.round(DIGITS), index=tokens, columns=tokens)


def steps_figure(sentences: list[dict[str, Any]]) -> go.Figure:
    """The three steps as annotated heatmaps, one row of three per sentence."""
    figure = make_subplots(
        rows=len(sentences),
        cols=3,
        subplot_titles=[f"{name}: {title}" for name in SENTENCE_NAMES[: len(sentences)] for title in STEP_TITLES],
        horizontal_spacing=0.08,
        vertical_spacing=0.18,
    )
    for row, item in enumerate(sentences, start=1):
        for column, key in enumerate(("scores", "scaled", "weights"), start=1):
            figure.add_trace(
                go.Heatmap(
                    z=item[key].round(3),
                    x=item["tokens"],
                    y=item["tokens"],
                    text=item[key].round(2),
                    texttemplate="%{text}",
                    colorscale="Blues",
                    showscale=False,
                    hovertemplate="<b>%{y}</b> → <b>%{x}</b>: %{z}<extra></extra>",
                ),
                row=row,
                col=column,
            )
            figure.update_yaxes(autorange="reversed", row=row, col=column)
    figure.update_layout(height=380 * len(sentences), margin=dict(l=10, r=10, t=40, b=10))
    return figure


def pca_figure(points: list[dict[str, Any]], word: str) -> go.Figure:
    """Each word as a hollow marker before the attention step and a filled one after, joined by an arrow."""
    figure = go.Figure()
    for number in sorted({point["sentence"] for point in points}):
        colour = SENTENCE_COLOURS[number - 1]
        before = [point for point in points if point["sentence"] == number and point["stage"] == "before"]
        after = [point for point in points if point["sentence"] == number and point["stage"] == "after"]
        for stage, chosen, symbol in (("before", before, "circle-open"), ("after", after, "circle")):
            figure.add_trace(
                go.Scatter(
                    x=[point["x"] for point in chosen],
                    y=[point["y"] for point in chosen],
                    mode="markers+text",
                    text=[point["token"] for point in chosen],
                    textposition="top center",
                    marker=dict(
                        symbol=symbol,
                        color=colour,
                        size=[16 if point["followed"] else 9 for point in chosen],
                    ),
                    name=f"{SENTENCE_NAMES[number - 1]}, {stage}",
                )
            )
        for start, end in zip(before, after, strict=True):
            figure.add_annotation(
                x=end["x"],
                y=end["y"],
                ax=start["x"],
                ay=start["y"],
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                showarrow=True,
                arrowhead=2,
                arrowwidth=2.5 if start["followed"] else 1,
                arrowcolor=colour,
                opacity=1 if start["followed"] else 0.35,
            )
    figure.update_layout(
        title=dict(text=say(f"Where the words move (bold arrow: “{word}”), 2-D PCA"), x=0.5),
        height=520,
        margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h"),
    )
    return figure


def weights_rows(sentences: list[dict[str, Any]]) -> list[list[Any]]:
    """The followed word's softmax row in each sentence: the weights its new vector is made with."""
    rows = []
    for name, item in zip(SENTENCE_NAMES, sentences, strict=False):
        weights = item["weights"][item["word_positions"]].mean(axis=0)
        rows += [
            [name, token, round(float(weight), DIGITS)] for token, weight in zip(item["tokens"], weights, strict=True)
        ]
    return rows


def numbers(sentences: list[dict[str, Any]], word: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "word": word,
        "dimension": int(sentences[0]["vectors"].shape[1]),
        "scale": math.sqrt(sentences[0]["vectors"].shape[1]),
        "sentences": [
            {
                "sentence": item["sentence"],
                "tokens": item["tokens"],
                "word_positions": item["word_positions"],
                "scores": item["scores"].tolist(),
                "scaled": item["scaled"].tolist(),
                "weights": item["weights"].tolist(),
            }
            for item in sentences
        ],
        "pca": points,
        "comparison": comparison_rows(sentences),
    }


@user_errors
def attention_steps(
    tab: Tab,
    sentence: str,
    second_sentence: str | None,
    word: str,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Self-attention computed by hand on a model's input embeddings: for each sentence the dot-product scores,
    the scores divided by √d, the softmax of each row, the followed word's weights, a 2-D PCA of every word before
    and after, and the same word in the model's last layer for comparison. Returns (steps heatmaps, the word's
    weights, PCA plot, comparison table, every number as JSON, status)."""
    sentences = [check_sentence(sentence, SENTENCE_NAMES[0])]
    if second_sentence and second_sentence.strip():
        sentences.append(check_sentence(second_sentence, SENTENCE_NAMES[1]))
    word = check_word(word)
    with tab.model(model_id, progress) as served:
        computed = [served.run(sentence_steps, text, word) for text in sentences]
    points = pca_points(computed)
    comparison = pd.DataFrame(comparison_rows(computed))
    weights = pd.DataFrame(weights_rows(computed), columns=["sentence", "token", f"weight of “{word}”"])
    return (
        steps_figure(computed),
        weights,
        pca_figure(points, word),
        comparison,
        numbers(computed, word, points),
        served.status(),
    )


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column():
            sentence = gr.Textbox(label="Sentence 1", value=EXAMPLES[0][0], max_length=MAX_STEPS_SENTENCE_CHARS)
            second_sentence = gr.Textbox(
                label="Sentence 2 (optional)", value=EXAMPLES[0][1], max_length=MAX_STEPS_SENTENCE_CHARS
            )
        with gr.Column():
            word = gr.Textbox(label="Word to follow", value=EXAMPLES[0][2], info="A word of every sentence.")
            model = model_dropdown(tab.choices)
            button = gr.Button("Compute the steps", variant="primary")
    gr.Examples(EXAMPLES, inputs=[sentence, second_sentence, word], cache_examples=False)
    gr.Markdown(STEPS_NOTE)
    steps = gr.Plot(label="The steps")
    with gr.Row():
        weights = gr.Dataframe(label="The followed word's weights (its softmax row)", interactive=False)
        comparison = gr.Dataframe(
            label="The word's vector: closest other word, and across sentences", interactive=False
        )
    pca = gr.Plot(label="Before and after, in 2-D")
    with gr.Accordion("Every number (JSON)", open=False):
        numbers_json = gr.JSON(label="Numbers", max_height=320)
    status = gr.Markdown()
    inputs = [sentence, second_sentence, word, model]
    outputs = [steps, weights, pca, comparison, numbers_json, status]
    computed = gr.on(
        run_by(button, sentence, second_sentence, word),
        tab.bind(attention_steps),
        inputs,
        outputs,
        api_name="attention_steps",
    )
    status_cleared_on_error(computed, status)


DEMO = Demo(
    task="attention_steps",
    title="Attention from scratch",
    description=(
        "Attention, computed by hand as in the notebook: word vectors, dot-product scores, scaling by √d, a softmax "
        "per row, and each word's new vector as the weighted sum of all of them. Follow one word (“flies”) and see "
        "it move towards its neighbours: towards “time” in one sentence and towards “fruit” in the other."
    ),
    models=(
        ModelChoice(
            "sentence-transformers/all-MiniLM-L6-v2", stand_in="minilm-encoder", note="its input embeddings, d = 384"
        ),
    ),
    loader=ModelLoader("AutoModel"),
    build_tab=build_tab,
)
