"""Embeddings: one word's contextual vectors across sentences, compared with each other and with its context-free
input embedding as a cosine heatmap; and semantic search, sentences ranked by how close their sentence embedding
is to a query's (all-MiniLM-L6-v2's recipe: attention-mask mean pooling of the last layer, then L2 normalisation).
"""

from __future__ import annotations

import re

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go
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
from shared.limits import (
    DEFAULT_SEARCH_RESULTS,
    MAX_CONTEXT_SENTENCES,
    MAX_EMBEDDING_LAYER,
    MAX_EMBEDDING_SENTENCE_CHARS,
    MAX_SEARCH_SENTENCES,
    MAX_TEXT_CHARS,
    MAX_WORD_CHARS,
    MIN_CONTEXT_SENTENCES,
    whole_number,
)
from shared.loading import ModelBundle, ModelLoader
from shared.model_choices import ModelChoice

LAST_LAYER = -1  # a model's own last layer, whatever its depth
# all-MiniLM-L6-v2's sentence_bert_config.json: sentence-transformers truncates longer inputs to this many tokens.
MAX_SEARCH_TOKENS = 256
LABEL_CHARS = 32  # sentence text kept in a heatmap or bar label

BANK_SENTENCES = (
    "We went to the river bank.\nI need to go to the bank to make a deposit.\nThe bank approved my loan.\n"
    "The fishermen sat on the bank of the river."
)
CONTEXT_EXAMPLES = [
    ["bank", BANK_SENTENCES, LAST_LAYER],
    ["bank", BANK_SENTENCES, 0],
    ["play", "The children play in the park.\nWe saw a play at the theatre.\nShe likes to play the piano.", LAST_LAYER],
]
SEARCH_EXAMPLES = [
    [
        "How do I open a savings account?",
        "We went to the river bank.\nI need to go to the bank to make a deposit.\nThe bank approved my loan.\n"
        "The fishermen sat on the bank of the river.\nInterest rates on deposits went up this year.",
    ],
    [
        "A man is eating food.",
        "A man is eating a piece of bread.\nA man is riding a horse.\nA woman is playing violin.\n"
        "Two men pushed carts through the woods.\nA man is riding a white horse on an enclosed ground.\n"
        "A monkey is playing drums.\nSomeone in a gorilla costume is playing a set of drums.",
    ],
]
HEATMAP_NOTE = (
    "Each row and column is the word's vector in one sentence, taken at the chosen layer (averaged over its word "
    "pieces when the tokenizer splits it). The last one is the word's **context-free input embedding**: its row(s) "
    "in the model's input embedding table, the same whatever the sentence. That table lives in a different space "
    "from the later layers, so against the last layer its similarities are low for every sentence; **layer 0** "
    "(the embedding layer's output: that row plus a position vector, normalised) is the fair comparison. "
    "−1 is the model's last layer."
)
SEARCH_NOTE = (
    "Each sentence becomes one vector: the mean of the last layer's token vectors (padding left out), scaled to "
    "length 1, exactly as all-MiniLM-L6-v2's pooling and normalisation modules do. Sentences are ranked by the "
    "cosine similarity of their vector with the query's. bert-base-uncased was not trained for this: compare."
)


def check_word(word: str | None) -> str:
    word = " ".join((word or "").split())
    if not word:
        raise UserError("Type the word to follow through the sentences, e.g. “bank”.")
    if len(word) > MAX_WORD_CHARS:
        raise UserError(f"The word is {len(word)} characters long; the limit is {MAX_WORD_CHARS}. Type one word.")
    return word


def split_sentences(text: str | None, minimum: int, maximum: int) -> list[str]:
    """One sentence per non-empty line, between `minimum` and `maximum` of them, none too long."""
    text = text or ""
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(f"The text is {len(text):,} characters long; the limit is {MAX_TEXT_CHARS:,}. Shorten it.")
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if len(sentences) < minimum:
        raise UserError(
            f"{len(sentences)} sentence{'' if len(sentences) == 1 else 's'} given; type at least {minimum}, "
            "one per line."
        )
    if len(sentences) > maximum:
        raise UserError(f"{len(sentences)} lines were sent; the limit is {maximum}. Send fewer lines.")
    for number, sentence in enumerate(sentences, 1):
        if len(sentence) > MAX_EMBEDDING_SENTENCE_CHARS:
            raise UserError(
                f"Line {number} is {len(sentence)} characters long; the limit is {MAX_EMBEDDING_SENTENCE_CHARS}. "
                "Shorten it."
            )
    return sentences


def check_query(query: str | None) -> str:
    query = (query or "").strip()
    if not query:
        raise UserError("Type a query to rank the sentences by.")
    if len(query) > MAX_EMBEDDING_SENTENCE_CHARS:
        raise UserError(
            f"The query is {len(query)} characters long; the limit is {MAX_EMBEDDING_SENTENCE_CHARS}. Shorten it."
        )
    return query


def check_layer(layer: float | None, num_layers: int) -> int:
    """The index into `hidden_states` (0 = embedding layer output, `num_layers` = last); -1 also means the last."""
    if layer is None:
        return num_layers
    name = phrase(f"This model has {num_layers} layers: the layer (−1 for the last)")
    index = whole_number(name, layer, LAST_LAYER, num_layers)
    return num_layers if index == LAST_LAYER else index


def word_spans(text: str, word: str) -> list[tuple[int, int]]:
    """Character spans of `word` in `text` as a whole word, ignoring case: “bank” matches “Bank,” but not “banks”
    or “riverbank”."""
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
    return [match.span() for match in pattern.finditer(text)]


def word_token_span(offsets: list[tuple[int, int]], text: str, word: str) -> list[int]:
    """Indices of the tokens that cover the first whole-word occurrence of `word` in `text`, from a fast tokenizer's
    `offset_mapping`: one index, or several when the word is split into pieces. Empty when the word is not there
    (or was cut off by truncation). Special and padding tokens (empty spans) never count."""
    spans = word_spans(text, word)
    if not spans:
        return []
    start, end = spans[0]
    return [index for index, (left, right) in enumerate(offsets) if left < right and left < end and right > start]


def check_word_in_sentences(word: str, sentences: list[str]) -> list[str]:
    """Refuse a sentence without the word, naming its line; return notes for sentences holding it several times."""
    notes = []
    for number, sentence in enumerate(sentences, 1):
        count = len(word_spans(sentence, word))
        if count == 0:
            raise UserError(
                f"Line {number} (“{shorten(sentence)}”) does not contain the word “{word}”. Add it or remove the line."
            )
        if count > 1:
            notes.append(f"“{word}” occurs {count} times in line {number}; the first one is used.")
    return notes


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of each sequence's token vectors, padding left out: sentence-transformers' `pooling_mode_mean_tokens`.
    hidden: (batch, tokens, width); attention_mask: (batch, tokens) → (batch, width)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def l2_normalize(vectors: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(vectors, p=2, dim=-1)


def cosine_matrix(vectors: torch.Tensor) -> np.ndarray:
    """Cosine similarity of every pair of rows, in float64 so that identical rows give 1 to the last digit."""
    unit = l2_normalize(vectors.detach().to("cpu", torch.float64))
    return np.clip((unit @ unit.T).numpy(), -1.0, 1.0)


def rank(similarities: list[float], sentences: list[str], top_k: int) -> list[dict]:
    """The `top_k` sentences most similar to the query, best first (ties keep line order), with their line numbers."""
    order = sorted(range(len(sentences)), key=lambda index: -similarities[index])[:top_k]
    return [
        {"rank": place, "line": index + 1, "sentence": sentences[index], "similarity": round(similarities[index], 6)}
        for place, index in enumerate(order, 1)
    ]


def shorten(text: str, width: int = LABEL_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def heatmap_labels(word: str, sentences: list[str]) -> list[str]:
    """Unique labels (the line number keeps repeated sentences apart): "bank · 1. We went to the river bank."."""
    labels = [f"{word} · {number}. {shorten(sentence)}" for number, sentence in enumerate(sentences, 1)]
    return [*labels, f"{word} · input embedding (no context)"]


def heatmap_figure(labels: list[str], matrix: np.ndarray, title: str) -> go.Figure:
    figure = go.Figure(
        go.Heatmap(
            z=matrix.tolist(),  # plain lists: plotly would encode an array as base64 in the JSON clients get
            x=labels,
            y=labels,
            colorscale="Viridis",
            colorbar=dict(title="cosine"),
            texttemplate="%{z:.2f}",
            hovertemplate="%{y}<br>%{x}<br>cosine %{z:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        height=260 + 45 * len(labels),
        margin=dict(l=20, r=20, t=60, b=20),
        xaxis=dict(tickangle=-35),
        yaxis=dict(autorange="reversed"),
    )
    return figure


def ranking_frame(ranking: list[dict]) -> pd.DataFrame:
    """The ranking as the bar plot wants it; the rank prefix keeps repeated sentences on bars of their own."""
    return pd.DataFrame(
        {
            "sentence": [f"{item['rank']}. {shorten(item['sentence'])}" for item in ranking],
            "cosine similarity": [item["similarity"] for item in ranking],
        }
    )


def max_tokens(bundle: ModelBundle) -> int:
    positions = getattr(bundle.model.config, "max_position_embeddings", 512)
    return min(bundle.processor.model_max_length, positions)


def contextual_similarities(bundle: ModelBundle, word: str, sentences: list[str], layer: float | None) -> dict:
    """One forward pass over the padded sentences; the word's vector in each (its pieces averaged) at `layer`, plus
    its context-free input embedding, and the cosine similarity of every pair."""
    tokenizer, model = bundle.processor, bundle.model
    encoded = tokenizer(
        sentences,
        padding=True,
        truncation=True,
        max_length=max_tokens(bundle),
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets = encoded.pop("offset_mapping").tolist()
    spans = []
    for number, (sentence, sentence_offsets) in enumerate(zip(sentences, offsets, strict=True), 1):
        span = word_token_span(sentence_offsets, sentence, word)
        if not span:  # check_word_in_sentences found the word, so the tokenizer cut it off or dropped it
            raise UserError(
                f"The model sees no token for “{word}” in line {number}: the line is too long (shorten it) or the "
                "word is made of characters the tokenizer drops (type another word)."
            )
        spans.append(span)
    word_ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    if not word_ids:
        raise UserError(f"The model's tokenizer drops every character of “{word}”. Type another word.")
    with torch.inference_mode():
        hidden_states = model(**encoded.to(model.device), output_hidden_states=True).hidden_states
        index = check_layer(layer, len(hidden_states) - 1)
        states = hidden_states[index]
        vectors = [states[row, span].float().mean(dim=0) for row, span in enumerate(spans)]
        vectors.append(model.get_input_embeddings().weight[word_ids].float().mean(dim=0))
        matrix = cosine_matrix(torch.stack(vectors))
    ids = encoded["input_ids"].tolist()
    pieces = [tokenizer.convert_ids_to_tokens([ids[row][i] for i in span]) for row, span in enumerate(spans)]
    return {
        "layer": index,
        "num_layers": len(hidden_states) - 1,
        "pieces": [*pieces, tokenizer.convert_ids_to_tokens(word_ids)],
        "matrix": matrix,
    }


def sentence_embeddings(bundle: ModelBundle, texts: list[str]) -> tuple[torch.Tensor, list[int]]:
    """all-MiniLM-L6-v2's sentence vectors for `texts`, padded into one forward pass; also which ones (0-based)
    were cut to MAX_SEARCH_TOKENS, as sentence-transformers cuts them."""
    tokenizer, model = bundle.processor, bundle.model
    limit = min(MAX_SEARCH_TOKENS, max_tokens(bundle))
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**encoded.to(model.device)).last_hidden_state.float()
        vectors = l2_normalize(mean_pool(hidden, encoded["attention_mask"])).cpu()
    return vectors, [index for index, length in enumerate(lengths) if length > limit]


def query_similarities(bundle: ModelBundle, query: str, sentences: list[str]) -> tuple[list[float], list[int]]:
    """The cosine similarity of each sentence's embedding with the query's, and which texts (0 the query, then the
    sentences from 1) were cut to MAX_SEARCH_TOKENS."""
    vectors, truncated = sentence_embeddings(bundle, [query, *sentences])
    return (vectors[1:] @ vectors[0]).clamp(-1, 1).tolist(), truncated


@user_errors
def embeddings(
    tab: Tab,
    word: str,
    sentences: str,
    model_id: str | None,
    layer: float | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Cosine similarities of one word's contextual vectors across 2-10 sentences (one per line) and against its
    context-free input embedding, at `layer` (-1 = last, 0 = embedding layer output): a plotly heatmap, the
    numbers as JSON {word, layer, num_layers, labels, pieces, matrix, notes}, and a status line."""
    word = check_word(word)
    lines = split_sentences(sentences, MIN_CONTEXT_SENTENCES, MAX_CONTEXT_SENTENCES)
    notes = check_word_in_sentences(word, lines)
    with tab.model(model_id, progress) as served:
        found = served.run(contextual_similarities, word, lines, layer)
    labels = heatmap_labels(word, lines)
    layer_name = phrase("the embedding layer's output") if found["layer"] == 0 else phrase(f"layer {found['layer']}")
    title = say(f"Cosine similarity of “{word}” at {layer_name} (of {found['num_layers']})")
    result = {
        "word": word,
        "layer": found["layer"],
        "num_layers": found["num_layers"],
        "labels": labels,
        "pieces": found["pieces"],
        "matrix": found["matrix"].round(6).tolist(),
        "notes": notes,
    }
    status = " ".join([*notes, served.status()])
    return heatmap_figure(labels, found["matrix"], title), result, status


@user_errors
def semantic_search(
    tab: Tab,
    query: str,
    sentences: str,
    model_id: str | None,
    top_k: float | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Rank sentences (one per line, up to 100) by the cosine similarity of their sentence embeddings (mean
    pooling of the last layer, L2-normalised) with the query's: a bar plot of the top_k, the numbers as JSON
    {query, ranking: [{rank, line, sentence, similarity}], sentences, notes}, and a status line."""
    query = check_query(query)
    lines = split_sentences(sentences, 1, MAX_SEARCH_SENTENCES)
    top_k = whole_number("top_k", top_k, 1, MAX_SEARCH_SENTENCES, default=DEFAULT_SEARCH_RESULTS)
    with tab.model(model_id, progress) as served:
        similarities, truncated = served.run(query_similarities, query, lines)
    ranking = rank(similarities, lines, top_k)
    notes = [
        f"{'The query' if index == 0 else f'Line {index}'} was cut to its first {MAX_SEARCH_TOKENS} tokens, as "
        "sentence-transformers cuts it."
        for index in truncated
    ]
    result = {"query": query, "ranking": ranking, "sentences": len(lines), "notes": notes}
    return ranking_frame(ranking), result, " ".join([*notes, served.status()])


def build_tab(tab: Tab) -> None:
    tab_intro(tab)

    gr.Markdown("### One word in different sentences")
    with gr.Row():
        with gr.Column():
            word = gr.Textbox(label="Word", value="bank", info=f"Whole word, any case; up to {MAX_WORD_CHARS} chars.")
            context_sentences = gr.Textbox(
                label="Sentences containing it",
                lines=5,
                value=BANK_SENTENCES,
                info=f"One per line, {MIN_CONTEXT_SENTENCES}–{MAX_CONTEXT_SENTENCES} lines of up to "
                f"{MAX_EMBEDDING_SENTENCE_CHARS} characters.",
            )
            context_model = model_dropdown(tab.choices)
            layer = gr.Slider(
                LAST_LAYER,
                MAX_EMBEDDING_LAYER,
                value=LAST_LAYER,
                step=1,
                label="Layer",
                info="−1 = the model's last layer; 0 = the embedding layer's output (before any attention).",
            )
            compare_button = gr.Button("Compare", variant="primary")
        with gr.Column(scale=2):
            heatmap = gr.Plot(label="Cosine similarity of the word's vectors")
            gr.Markdown(HEATMAP_NOTE)
            context_status = gr.Markdown(label="Status")
            with gr.Accordion("The numbers (labels, matrix, word pieces)", open=False):
                context_numbers = gr.JSON(show_label=False)
    gr.Examples(CONTEXT_EXAMPLES, inputs=[word, context_sentences, layer], cache_examples=False)

    gr.Markdown("### Semantic search")
    with gr.Row():
        with gr.Column():
            query = gr.Textbox(
                label="Query", value=SEARCH_EXAMPLES[0][0], info=f"Up to {MAX_EMBEDDING_SENTENCE_CHARS} chars."
            )
            search_sentences = gr.Textbox(
                label="Sentences to search",
                lines=6,
                value=SEARCH_EXAMPLES[0][1],
                info=f"One per line, up to {MAX_SEARCH_SENTENCES} lines of {MAX_EMBEDDING_SENTENCE_CHARS} characters.",
            )
            search_model = model_dropdown(tab.choices)
            top_k = gr.Slider(
                1, MAX_SEARCH_SENTENCES, value=DEFAULT_SEARCH_RESULTS, step=1, label="Results to show (top_k)"
            )
            search_button = gr.Button("Search", variant="primary")
        with gr.Column(scale=2):
            bars = bar_plot(
                {"sentence": "str", "cosine similarity": "float"},
                x="sentence",
                y="cosine similarity",
                x_label_angle=-30,
                tooltip="all",
                label="Sentences by cosine similarity to the query",
            )
            gr.Markdown(SEARCH_NOTE)
            search_status = gr.Markdown(label="Status")
            with gr.Accordion("The numbers (ranking)", open=False):
                search_numbers = gr.JSON(show_label=False)
    gr.Examples(SEARCH_EXAMPLES, inputs=[query, search_sentences], cache_examples=False)

    compared = gr.on(
        run_by(compare_button, word, context_sentences),
        tab.bind(embeddings),
        [word, context_sentences, context_model, layer],
        [heatmap, context_numbers, context_status],
        api_name="embeddings",
    )
    status_cleared_on_error(compared, context_status)
    searched = gr.on(
        run_by(search_button, query, search_sentences),
        tab.bind(semantic_search),
        [query, search_sentences, search_model, top_k],
        [bars, search_numbers, search_status],
        api_name="semantic_search",
    )
    drawn_in_data_order(searched, bars)  # best first
    status_cleared_on_error(searched, search_status)


DEMO = Demo(
    task="embeddings",
    title="Embeddings",
    description=(
        "An encoder gives every token a vector that depends on the whole sentence: the same word gets different "
        "vectors in different sentences. Averaging a sentence's token vectors gives one vector for the sentence; "
        "sentences close in meaning get vectors pointing the same way (cosine similarity near 1)."
    ),
    models=(
        ModelChoice(
            "sentence-transformers/all-MiniLM-L6-v2", stand_in="minilm-encoder", note="sentence embeddings, 6 layers"
        ),
        ModelChoice(
            "google-bert/bert-base-uncased",
            stand_in="bert-encoder",
            note="12 layers; not trained for sentence similarity",
        ),
    ),
    loader=ModelLoader("AutoModel", int8_allowed=True),
    build_tab=build_tab,
)
