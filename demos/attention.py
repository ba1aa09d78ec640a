"""Attention: for a sentence, the attention weights of one layer and head (or their average) as a heatmap, and
where one chosen word looks; with a second sentence, the same word in two contexts, one heatmap above the other
("flies" in "Time flies like an arrow" and "Fruit flies like bananas")."""

from __future__ import annotations

import html
import re
import textwrap

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from demos.common import (
    bar_plot,
    drawn_in_data_order,
    model_dropdown,
    no_bars,
    run_by,
    status_cleared_on_error,
    tab_intro,
    user_errors,
)
from demos.messages import phrase, say
from demos.tab import Demo, Tab
from shared.errors import UserError
from shared.limits import (
    MAX_ATTENTION_HEADS,
    MAX_ATTENTION_LAYERS,
    MAX_ATTENTION_SENTENCE_CHARS,
    MAX_ATTENTION_TOKENS,
    MAX_FOCUS_CHARS,
    whole_number,
)
from shared.loading import ModelBundle, ModelLoader
from shared.model_choices import ModelChoice

AVERAGE = 0  # layer or head 0: the average over all of them
SENTENCE_TAGS = ("A", "B")
SPECIAL_COLOUR = "#9ca3af"
DIGITS = 4
# A heatmap title's lines: short enough for a phone-wide plot, and few enough to leave room for the heatmap.
TITLE_LINE_CHARS = 42
MAX_TITLE_LINES = 4
EXAMPLES = [
    ["Time flies like an arrow.", "Fruit flies like bananas.", "flies", 6, 3],
    [
        "The animal didn't cross the street because it was too tired.",
        "The animal didn't cross the street because it was too wide.",
        "it",
        4,
        2,
    ],
    ["The cat sat on the mat because the mat was warm.", "", "mat", 0, 0],
]


SENTENCE_NAMES = (phrase("sentence A"), phrase("sentence B"))  # go into messages


def sentence_name(name: str) -> str:
    """A sentence's name at the start of a message: "Sentence A" (`str.capitalize` would give "Sentence a")."""
    return name[:1].upper() + name[1:]


def check_sentence(text: str | None, name: str = SENTENCE_NAMES[0]) -> str:
    text = (text or "").strip()
    if not text:
        raise UserError(f"Type {name}.")
    if len(text) > MAX_ATTENTION_SENTENCE_CHARS:
        raise UserError(
            f"{sentence_name(name)} is {len(text):,} characters long; the limit is "
            f"{MAX_ATTENTION_SENTENCE_CHARS:,}. Shorten it."
        )
    return text


def check_focus_word(word: str | None) -> str | None:
    """The word whose attention row is shown, or None when none is given."""
    word = " ".join((word or "").split())
    if not word:
        return None
    if len(word) > MAX_FOCUS_CHARS:
        raise UserError(f"The focus word is longer than {MAX_FOCUS_CHARS} characters. Type one word of the sentence.")
    return word


def check_layer_and_head(
    layer: object, head: object, num_layers: int, num_heads: int, model: str = "This model"
) -> tuple[int, int]:
    """1-based layer and head, each 0 for the average over all of them, within the model's counts."""
    layer = whole_number(phrase(f"The layer ({model} has {num_layers} layers; 0 averages them)"), layer, 0, num_layers)
    head_name = phrase(f"The head ({model} has {num_heads} heads per layer; 0 averages them)")
    head = whole_number(head_name, head, 0, num_heads)
    return layer, head


def attention_matrix(attentions: torch.Tensor, layer: int, head: int) -> torch.Tensor:
    """The (tokens × tokens) weights of one 1-based layer and head from attentions shaped (layers, heads, tokens,
    tokens); layer or head 0 averages over all of them. Each row is the attending token's softmax, so an average of
    rows still sums to 1."""
    num_layers, num_heads = attentions.shape[:2]
    layer, head = check_layer_and_head(layer, head, num_layers, num_heads)
    chosen = attentions.float() if layer == AVERAGE else attentions[layer - 1 : layer].float()
    chosen = chosen.mean(dim=0)
    return chosen.mean(dim=0) if head == AVERAGE else chosen[head - 1]


def focus_positions(sentence: str, offsets: list[tuple[int, int]], word: str) -> list[int]:
    """The tokens that spell the first whole-word occurrence of `word` (any case) in `sentence`, from each token's
    character span; special tokens (empty spans) never match. A word split into pieces gives several tokens."""
    start_guard = r"(?<!\w)" if re.match(r"\w", word[0]) else ""
    end_guard = r"(?!\w)" if re.match(r"\w", word[-1]) else ""
    found = re.search(start_guard + re.escape(word) + end_guard, sentence, flags=re.IGNORECASE)
    positions = []
    if found:
        positions = [
            index
            for index, (start, end) in enumerate(offsets)
            if start < end and start < found.end() and end > found.start()
        ]
    if not positions:
        shown = sentence if len(sentence) <= 60 else sentence[:57] + "…"
        raise UserError(f"“{word}” is not a word of “{shown}”. Type a focus word that appears in it.")
    return positions


def focus_row(matrix: torch.Tensor, positions: list[int]) -> torch.Tensor:
    """Where the focus word looks: its token's row, or the average of its pieces' rows (still summing to 1)."""
    return matrix[positions].mean(dim=0)


def readable_token(token: str, text: str, special: bool) -> str:
    """A token as the axes show it: special tokens as they are, others as text (GPT-2's "Ġflies" is "flies"),
    unless that text is blank or a byte of a longer character, where the raw token says more."""
    text = text.strip()
    if special or not text or "\ufffd" in text:
        return token
    return text


def unique_labels(labels: list[str]) -> list[str]:
    """Plotly merges equal category labels into one row, so repeats get their count: "the", "the (2)"."""
    seen: set[str] = set()
    unique = []
    for label in labels:
        candidate, count = label, 1
        while candidate in seen:
            count += 1
            candidate = f"{label} ({count})"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def tick_text(label: str, special: bool) -> str:
    escaped = html.escape(label, quote=False)
    return f"<span style='color:{SPECIAL_COLOUR}'>{escaped}</span>" if special else escaped


def choice_name(layer: int, head: int, num_layers: int, num_heads: int) -> str:
    layer_name = (
        say(f"average of all {num_layers} layers") if layer == AVERAGE else say(f"layer {layer} of {num_layers}")
    )
    head_name = say(f"average of all {num_heads} heads") if head == AVERAGE else say(f"head {head} of {num_heads}")
    return f"{layer_name}, {head_name}"


def sentence_title(tag: str, sentence: str) -> str:
    """A heatmap's title: "Sentence A: …" wrapped into lines that fit a phone-wide plot, never cut short. A sentence
    too long for a few lines is named only; its tokens are on the axes below."""
    lines = textwrap.wrap(f"Sentence {tag}: {sentence}", TITLE_LINE_CHARS)
    if len(lines) > MAX_TITLE_LINES:
        return f"Sentence {tag} (its tokens are on the axes)"
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def heatmap(sentences: list[dict], title: str) -> go.Figure:
    """One heatmap per sentence on one colour scale, one above the other at the plot's full width (side by side,
    two sentences' titles collided and their cells shrank to half the width, unreadable on a phone): rows attend,
    columns are attended to."""
    titles = [sentence_title(tag, item["sentence"]) for tag, item in zip(SENTENCE_TAGS, sentences, strict=False)]
    title_lines = max(title.count("<br>") + 1 for title in titles)
    longest = max(len(item["labels"]) for item in sentences)
    font_size = 12 if longest <= 30 else 9 if longest <= 60 else 7
    # Pixels: each heatmap's own height, and the gap under one for its x labels, axis title and the next title.
    plot_height = min(700, max(300, 120 + 16 * longest))
    gap = 110 + 18 * title_lines
    top = 70 + 18 * title_lines
    height = len(sentences) * plot_height + (len(sentences) - 1) * gap + top + 20
    figure = make_subplots(
        rows=len(sentences),
        cols=1,
        subplot_titles=titles,
        vertical_spacing=gap / (height - top - 20),
    )
    highest = max(max(max(row) for row in item["matrix"]) for item in sentences)
    for row, item in enumerate(sentences, start=1):
        labels = item["labels"]
        figure.add_trace(
            go.Heatmap(
                z=item["matrix"],
                x=labels,
                y=labels,
                coloraxis="coloraxis",
                hovertemplate="<b>%{y}</b> looks at <b>%{x}</b><br>weight %{z:.4f}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        ticks = [tick_text(label, special) for label, special in zip(labels, item["special"], strict=True)]
        axis = dict(tickmode="array", tickvals=labels, ticktext=ticks, tickfont=dict(size=font_size))
        figure.update_xaxes(title_text=say("attended to"), tickangle=-45, **axis, row=row, col=1)
        figure.update_yaxes(title_text=say("attending"), autorange="reversed", **axis, row=row, col=1)
        if item["focus"]:
            for position in item["focus"]["positions"]:
                figure.add_shape(
                    type="rect",
                    x0=-0.5,
                    x1=len(labels) - 0.5,
                    y0=position - 0.5,
                    y1=position + 0.5,
                    line=dict(color="#f97316", width=2),
                    row=row,
                    col=1,
                )
    figure.update_annotations(font=dict(size=13))  # the sentence titles
    figure.update_layout(
        title=dict(text=title, x=0.5),
        # A slim colour bar leaves a phone-wide heatmap most of the width.
        coloraxis=dict(
            colorscale="Blues",
            cmin=0,
            cmax=highest,
            colorbar=dict(title=dict(text="weight", side="right"), thickness=12),
        ),
        height=height,
        margin=dict(l=10, r=10, t=top, b=20),
    )
    return figure


FOCUS_COLUMNS = {"token": "str", "attention": "float", "sentence": "str", "position": "int"}


def focus_table(sentences: list[dict]) -> pd.DataFrame | None:
    """The focus word's attention row per sentence, for the bar chart; tokens carry their sentence's tag when there
    are two sentences, so equal tokens of the two sentences stay separate bars."""
    rows = []
    for tag, item in zip(SENTENCE_TAGS, sentences, strict=False):
        if not item["focus"]:
            continue
        for position, (label, weight) in enumerate(zip(item["labels"], item["focus"]["row"], strict=True)):
            token = f"{tag}: {label}" if len(sentences) > 1 else label
            rows.append(
                {"token": token, "attention": weight, "sentence": f"{tag}: {item['sentence']}", "position": position}
            )
    return pd.DataFrame(rows, columns=list(FOCUS_COLUMNS)) if rows else None


def focus_bars(table: pd.DataFrame | None) -> gr.BarPlot:
    """The bars in sentence order (`drawn_in_data_order` sets the x order once the data is in); none without a
    focus word, on empty axes rather than no chart, so that the next answer redraws the chart once."""
    return gr.BarPlot(value=table if table is not None else no_bars(FOCUS_COLUMNS))


def sentence_attention(
    model, tokenizer, sentence: str, layer: int, head: int, focus_word: str | None, name: str
) -> dict:
    """The tokens, the chosen attention matrix and the focus word's row for one sentence."""
    encoded = tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt")
    count = encoded["input_ids"].shape[1]
    if count > MAX_ATTENTION_TOKENS:
        raise UserError(
            f"{sentence_name(name)} is {count} tokens long (special tokens included); the limit is "
            f"{MAX_ATTENTION_TOKENS}, so the heatmap stays readable. Shorten it."
        )
    offsets = [tuple(span) for span in encoded.pop("offset_mapping")[0].tolist()]
    positions = focus_positions(sentence, offsets, focus_word) if focus_word else None
    word_ids = encoded.word_ids(0)
    ids = encoded["input_ids"][0].tolist()
    tokens = tokenizer.convert_ids_to_tokens(ids)
    special = [word is None for word in word_ids]
    labels = unique_labels(
        [
            readable_token(token, tokenizer.convert_tokens_to_string([token]), is_special)
            for token, is_special in zip(tokens, special, strict=True)
        ]
    )
    inputs = {key: value.to(model.device) for key, value in encoded.items()}
    with torch.inference_mode():
        outputs = model(**inputs, output_attentions=True)
    if not outputs.attentions:
        raise UserError("This model does not return its attention weights. Pick another model.")
    attentions = torch.stack([layer_weights[0] for layer_weights in outputs.attentions]).cpu()
    matrix = attention_matrix(attentions, layer, head)
    return {
        "sentence": sentence,
        "tokens": tokens,
        "labels": labels,
        "special": special,
        "matrix": [[round(float(weight), DIGITS) for weight in row] for row in matrix],
        "focus": None
        if positions is None
        else {
            "word": focus_word,
            "positions": positions,
            "row": [round(float(weight), DIGITS) for weight in focus_row(matrix, positions)],
        },
    }


def look_inside(
    bundle: ModelBundle, model_name: str, texts: list[str], focus_word: str | None, layer: object, head: object
) -> dict:
    """The chosen attention of each sentence (A, then B if given), with the model's layer and head counts."""
    model, tokenizer = bundle.model, bundle.processor
    num_layers, num_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    layer, head = check_layer_and_head(layer, head, num_layers, num_heads, model_name)
    sentences = [
        sentence_attention(model, tokenizer, text, layer, head, focus_word, f"sentence {tag}")
        for tag, text in zip(SENTENCE_TAGS, texts, strict=False)
    ]
    return {
        "model": model_name,
        "layer": layer,
        "head": head,
        "num_layers": num_layers,
        "num_heads": num_heads,
        "shown": choice_name(layer, head, num_layers, num_heads),
        "sentences": sentences,
    }


@user_errors
def attention(
    tab: Tab,
    sentence: str,
    second_sentence: str | None,
    focus_word: str | None,
    model_id: str | None,
    layer: int,
    head: int,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Attention weights of one layer (1-based; 0 averages all layers) and head (1-based; 0 averages all
    heads) for a sentence, and optionally a second sentence to compare. Returns a heatmap per sentence (rows =
    attending token, columns = attended token); a bar chart of where the focus word looks in each sentence (its
    rows under `value`, in order under `sort`; None without a focus word); the numbers as JSON (`sentences[i]`:
    tokens, labels, special, matrix rounded to 4 digits, focus: word, positions, row); and a status line."""
    texts = [check_sentence(sentence, SENTENCE_NAMES[0])]
    if (second_sentence or "").strip():
        texts.append(check_sentence(second_sentence, SENTENCE_NAMES[1]))
    focus_word = check_focus_word(focus_word)
    with tab.model(model_id, progress) as served:
        numbers = served.run(look_inside, served.model_id, texts, focus_word, layer, head)
    chosen = numbers["shown"].capitalize()
    sentences = numbers["sentences"]
    return heatmap(sentences, chosen), focus_bars(focus_table(sentences)), numbers, f"{chosen}. " + served.status()


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column(scale=1):
            sentence = gr.Textbox(
                label="Sentence A",
                placeholder="Time flies like an arrow.",
                info=f"Up to {MAX_ATTENTION_TOKENS} tokens, special tokens included.",
            )
            second_sentence = gr.Textbox(
                "",  # an empty default makes it optional for API callers too
                label="Sentence B (optional)",
                placeholder="Fruit flies like bananas.",
                info="To compare: the same focus word in another context, its heatmap under the first.",
            )
            focus_word = gr.Textbox(
                "",
                label="Focus word (optional)",
                placeholder="flies",
                info="Its row is drawn as bars: where it looks. The first occurrence in each sentence counts.",
            )
            model = model_dropdown(tab.choices)
            layer = gr.Slider(
                0,
                MAX_ATTENTION_LAYERS,
                value=1,
                step=1,
                precision=0,
                label="Layer",
                info=f"1 is the first; 0 averages all layers. MiniLM has 6 layers, the others {MAX_ATTENTION_LAYERS}.",
            )
            head = gr.Slider(
                0,
                MAX_ATTENTION_HEADS,
                value=AVERAGE,
                step=1,
                precision=0,
                label="Head",
                info="0 averages all heads of the layer.",
            )
            button = gr.Button("Show attention", variant="primary")
        with gr.Column(scale=2):
            plot = gr.Plot(label="Attention weights (rows attend to columns)")
            bars = bar_plot(
                FOCUS_COLUMNS,
                x="token",
                y="attention",
                color="sentence",
                label="Where the focus word looks",
                x_title="token attended to",
                y_title="attention weight",
                x_label_angle=-45,
                tooltip="all",
            )
            numbers = gr.JSON(label="The numbers (tokens, matrix, focus row)", open=False)
            status = gr.Markdown(label="Status")
    gr.Examples(EXAMPLES, inputs=[sentence, second_sentence, focus_word, layer, head], cache_examples=False)

    inputs = [sentence, second_sentence, focus_word, model, layer, head]
    outputs = [plot, bars, numbers, status]
    shown = gr.on(
        run_by(button, sentence, second_sentence, focus_word),
        tab.bind(attention),
        inputs,
        outputs,
        api_name="attention",
    )
    drawn_in_data_order(shown, bars)
    status_cleared_on_error(shown, status)


DEMO = Demo(
    task="attention",
    title="Attention",
    description=(
        "Which words each word looks at, layer by layer and head by head. Each row of the heatmap is one token "
        "attending: its weights over the columns share out 1 (a softmax). Special tokens such as `[CLS]` and `[SEP]` "
        "are greyed on the axes. BERT-style encoders look both ways; GPT-2 is causal and looks left only."
    ),
    models=(
        ModelChoice("sentence-transformers/all-MiniLM-L6-v2", stand_in="minilm-encoder", note="6 layers × 12 heads"),
        ModelChoice("google-bert/bert-base-uncased", stand_in="bert-encoder", note="12 layers × 12 heads"),
        ModelChoice("openai-community/gpt2", stand_in="gpt2-lm", note="causal: looks left only"),
    ),
    # Eager attention: the fused (SDPA) kernels never materialise the weights, so they cannot return them.
    # AutoModel opens GPT-2's language-model checkpoint as its bare GPT2Model, which is all the attention needs.
    loader=ModelLoader("AutoModel", attn_implementation="eager"),
    build_tab=build_tab,
)
