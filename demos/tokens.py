"""Tokenizer playground: a text split by up to three tokenizers side by side, each token coloured over the original
text (found through the fast tokenizers' character offsets) with its id, special tokens marked, and the counts that
make tokenizers comparable; and a list of ids decoded back to text."""

from __future__ import annotations

import re
from typing import Any

import gradio as gr

from demos.common import run_by, status_cleared_on_error, tab_intro, user_errors
from demos.messages import say
from demos.tab import Demo, Tab
from shared.errors import ModelUnavailable, UserError
from shared.hub_status import offline, on_disk
from shared.limits import MAX_DECODE_IDS, MAX_TEXT_CHARS, MAX_TOKENIZED_CHARS, MAX_TOKENIZERS
from shared.loading import TokenizerLoader
from shared.model_choices import ModelChoice, pick_choice

# One of each algorithm; the allowlist's first model (the operator's, when one is added) always comes first.
DEFAULT_COMPARISON = ("google-bert/bert-base-cased", "openai-community/gpt2", "FacebookAI/xlm-roberta-base")

# Cycled token by token. Gradio writes the label in white on the colour and tints the token with it: tones dark
# enough for white small text (contrast at least 4.5), light enough to tint.
POSITION_COLOURS = ("#b45309", "#047857", "#2563eb", "#9333ea")
SPECIAL_COLOUR = "#6b7280"
UNKNOWN_COLOUR = "#dc2626"
# Shown for a token that adds no character of its own: byte-level BPE cuts a character it has not learnt (an emoji,
# say) into its UTF-8 bytes, one token each, and all of them point at that one character.
CONTINUATION = "↳"
WORD_MARKERS = ("▁", "Ġ")  # SentencePiece's and byte-level BPE's "a word starts here"

TABLE_HEADERS = [
    "tokenizer",
    "algorithm",
    "vocabulary",
    "tokens",
    "special tokens",
    "characters per token",
    "decodes to the text",
]
EXAMPLES = [
    ["Ciao mi chiamo Mattia e studio linguistica computazionale", list(DEFAULT_COMPARISON)],
    [
        "rumination",
        ["sentence-transformers/all-MiniLM-L6-v2", "openai-community/gpt2", "FacebookAI/xlm-roberta-base"],
    ],
    [
        "Hello, I'm a language model! Ça va? 😀",
        ["google-bert/bert-base-cased", "google-bert/bert-base-uncased", "openai-community/gpt2"],
    ],
]
DECODE_EXAMPLES = [
    ["sentence-transformers/all-MiniLM-L6-v2", "101, 19379, 12758, 102"],
    ["sentence-transformers/all-MiniLM-L6-v2", "[101 7592 1010 2088 999 102]"],
]
HIGHLIGHT_NOTE = (
    "Each coloured span is one token over the text it came from, labelled with its position and id; colours "
    "cycle from token to token. Grey spans are special tokens the tokenizer adds (`[CLS]`, `[SEP]`, `<s>`, `</s>`), "
    f"red ones unknown characters (`[UNK]`), and {CONTINUATION} a further byte of the character before it."
)


def check_text(text: str | None) -> str:
    """The text as typed (spaces matter to tokenizers), if it has something to tokenize and is within the limit."""
    text = text or ""
    if not text.strip():
        raise UserError("Type some text to tokenize, e.g. “Ciao mi chiamo Mattia”.")
    if len(text) > MAX_TOKENIZED_CHARS:
        raise UserError(
            f"The text is {len(text):,} characters long; the playground shows up to {MAX_TOKENIZED_CHARS:,}. "
            "Shorten it."
        )
    return text


def pick_tokenizers(choices: list[ModelChoice], model_ids: list[str] | str | None) -> list[str]:
    """The allowlisted tokenizers a request names, each once, in the order given: 1 to MAX_TOKENIZERS of them."""
    if isinstance(model_ids, str):
        model_ids = [model_ids]
    picked = list(dict.fromkeys(model_id for model_id in model_ids or [] if model_id))
    if not picked:
        raise UserError("Pick at least one tokenizer to compare.")
    if len(picked) > MAX_TOKENIZERS:
        raise UserError(f"{len(picked)} tokenizers were picked; up to {MAX_TOKENIZERS} fit side by side. Untick some.")
    return [pick_choice(choices, model_id).model_id for model_id in picked]


def default_model_ids(choices: list[ModelChoice]) -> list[str]:
    """The tokenizers ticked when the tab opens (and fetched by `app.py --download`): the default model, then one
    of each algorithm."""
    offered = [choice.model_id for choice in choices]
    wanted = [offered[0], *(model_id for model_id in DEFAULT_COMPARISON if model_id in offered)]
    return list(dict.fromkeys(wanted))[:MAX_TOKENIZERS]


def algorithm_name(tokenizer: Any) -> str:
    """The subword algorithm behind a fast tokenizer, as the model cards name it."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return "unknown (not a fast tokenizer)"
    model = type(backend.model).__name__
    splitting = f"{backend.pre_tokenizer!r} {backend.decoder!r}"
    if model == "BPE" and "ByteLevel" in splitting:
        return "byte-level BPE"
    if model in {"BPE", "Unigram"} and "Metaspace" in splitting:
        return f"SentencePiece {model}"
    return model


def tokenize(tokenizer: Any, text: str) -> dict[str, Any]:
    """Everything the tab shows about one tokenizer's split of `text`: tokens, ids, which are special, each token's
    character span in `text`, the counts, and whether decoding the ids gives the text back."""
    if not getattr(tokenizer, "is_fast", False):
        raise UserError("This tokenizer has no fast (Rust) version, so it cannot map tokens back to the text.")
    # verbose=False: a text longer than the model's input is fine here; nothing is fed to a model.
    encoding = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True, verbose=False)
    ids = [int(token_id) for token_id in encoding["input_ids"]]
    offsets = [(int(start), int(end)) for start, end in encoding["offset_mapping"]]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    # The mask marks the tokens the tokenizer added. A special token typed in the text ("[SEP]", "<|endoftext|>") is
    # one too; an unknown character that became [UNK] is not.
    special_ids = set(tokenizer.all_special_ids)
    special = [
        int(flag or (token_id in special_ids and text[start:end] == token))
        for flag, token_id, token, (start, end) in zip(
            encoding["special_tokens_mask"], ids, tokens, offsets, strict=True
        )
    ]
    content_tokens = len(ids) - sum(special)
    # Leave out the special tokens the tokenizer added ([CLS], </s>...), not those typed in the text.
    from_text = [token_id for token_id, added in zip(ids, encoding["special_tokens_mask"], strict=True) if not added]
    decoded = tokenizer.decode(from_text, skip_special_tokens=False)
    # GPT-2 names its end-of-text token as its unknown token too, though its bytes leave nothing unknown.
    unknown_id = tokenizer.unk_token_id
    if unknown_id in {tokenizer.bos_token_id, tokenizer.eos_token_id}:
        unknown_id = None
    return {
        "algorithm": algorithm_name(tokenizer),
        "vocabulary_size": len(tokenizer),
        "tokens": tokens,
        "ids": ids,
        "special_tokens_mask": special,
        "unknown_token_id": unknown_id,
        "offsets": [[start, end] for start, end in offsets],
        "counts": {
            "characters": len(text),
            "words": len(text.split()),
            "tokens": len(ids),
            "special_tokens": sum(special),
        },
        "characters_per_token": round(len(text) / content_tokens, 2) if content_tokens else None,
        "decoded": decoded,
        "decodes_to_the_text": decoded == text,
    }


def token_label(position: int, token_id: int, special: bool, unknown: bool) -> str:
    label = f"#{position} id {token_id}"
    return f"{label} special" if special else f"{label} unknown" if unknown else label


def highlighted_tokens(text: str, tokenization: dict[str, Any]) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """`text` cut into `gr.HighlightedText` spans, one per token (its characters, found through its offsets; the
    token itself for a special token) labelled with position and id, text between tokens unlabelled; and the
    colours: cycling by position, grey for special tokens, red for unknown ones."""
    spans: list[tuple[str, str | None]] = []
    colours: dict[str, str] = {}
    offsets = tokenization["offsets"]
    shown = 0  # characters of `text` already in `spans`
    for position, (token, token_id, special, (start, end)) in enumerate(
        zip(tokenization["tokens"], tokenization["ids"], tokenization["special_tokens_mask"], offsets, strict=True)
    ):
        unknown = token_id == tokenization["unknown_token_id"] and not special
        label = token_label(position, token_id, bool(special), unknown)
        colours[label] = (
            SPECIAL_COLOUR
            if special
            else UNKNOWN_COLOUR
            if unknown
            else POSITION_COLOURS[position % len(POSITION_COLOURS)]
        )
        next_start = offsets[position + 1][0] if position + 1 < len(offsets) else None
        # SentencePiece's lone `▁` shares its span with the word after it; that word's token shows the characters.
        word_marker = token in WORD_MARKERS and next_start == start
        if start == end or word_marker:  # a special token the tokenizer added, or a mark with no characters
            spans.append((token, label))
            continue
        if start > shown:
            spans.append((text[shown:start], None))
        spans.append((text[max(start, shown) : end] or CONTINUATION, label))
        shown = max(shown, end)
    if shown < len(text):
        spans.append((text[shown:], None))
    return spans, colours


def comparison_row(model_id: str, tokenization: dict[str, Any]) -> list:
    counts = tokenization["counts"]
    return [
        model_id,
        tokenization["algorithm"],
        tokenization["vocabulary_size"],
        counts["tokens"] - counts["special_tokens"],
        counts["special_tokens"],
        tokenization["characters_per_token"],
        "yes" if tokenization["decodes_to_the_text"] else "no",
    ]


MAX_ID_DIGITS = 12  # no vocabulary comes near a trillion tokens


def parse_token_ids(text: str | None) -> list[int]:
    """Ids as typed or pasted: `101, 7592, 102`, `[101 7592 102]`, one per line, or a tensor's printout."""
    text = text or ""
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(f"The ids are {len(text):,} characters long; the limit is {MAX_TEXT_CHARS:,}. Send fewer.")
    pieces = [piece for piece in re.split(r"[\s,;()\[\]]+", text.strip().removeprefix("tensor")) if piece]
    if not pieces:
        raise UserError("Type some token ids to decode, separated by commas or spaces, e.g. “101, 7592, 102”.")
    if len(pieces) > MAX_DECODE_IDS:
        raise UserError(f"{len(pieces):,} ids were given; the limit is {MAX_DECODE_IDS:,}. Send fewer.")
    ids = []
    for piece in pieces:
        if not re.fullmatch(r"[+-]?[0-9]+", piece):
            raise UserError(
                f"“{piece[:20]}” is not a token id: ids are whole numbers like 7592, separated by commas or spaces."
            )
        if len(piece.lstrip("+-")) > MAX_ID_DIGITS:  # Python refuses to read 4,300 digits or more as an int
            raise UserError(f"Token id “{piece[:20]}…” has {len(piece):,} digits; ids have at most {MAX_ID_DIGITS}.")
        if int(piece) < 0:
            raise UserError(f"Token id {piece} is negative; ids count from 0.")
        ids.append(int(piece))
    return ids


def check_ids_in_vocabulary(ids: list[int], vocabulary_size: int, model_id: str) -> None:
    too_large = next((token_id for token_id in ids if token_id >= vocabulary_size), None)
    if too_large is not None:
        raise UserError(
            f"Token id {too_large} is not in the vocabulary of {model_id}: its ids run from 0 to "
            f"{vocabulary_size - 1:,}."
        )


def decoded_ids(tokenizer: Any, ids: list[int]) -> dict[str, Any]:
    """The text the ids stand for, with and without the special tokens, and each id's token."""
    special_ids = set(tokenizer.all_special_ids)
    return {
        "text": tokenizer.decode(ids, skip_special_tokens=False),
        "text_without_special_tokens": tokenizer.decode(ids, skip_special_tokens=True),
        "tokens": tokenizer.convert_ids_to_tokens(ids),
        "special_tokens_mask": [int(token_id in special_ids) for token_id in ids],
    }


def highlight_slot(model_id: str, text: str, tokenization: dict[str, Any]) -> gr.HighlightedText:
    spans, colours = highlighted_tokens(text, tokenization)
    counts = tokenization["counts"]
    tokens = counts["tokens"] - counts["special_tokens"]
    label = say(
        f"{model_id} · {tokenization['algorithm']} · {tokens} token{'s' if tokens != 1 else ''}"
        f" + {counts['special_tokens']} special"
    )
    return gr.HighlightedText(value=spans, color_map=colours, label=label, visible=True)


def skipped_note(skipped: list[str], shown_instead: list[str], hub_offline: bool) -> str:
    """One short line naming the tokenizers a request asked for but could not have, and why (and, when none of its
    own could be had, which tokenizers answered in their place)."""
    names = ", ".join(f"`{model_id}`" for model_id in skipped)
    if hub_offline:
        note = say(
            f"⚠️ Skipped {names}: not on this disk, and the Hub cannot be reached (`python app.py --download` "
            "fetches them once)."
        )
    else:
        note = say(f"⚠️ Skipped {names}: could not be loaded (the server log says why).")
    if shown_instead:
        instead = ", ".join(f"`{model_id}`" for model_id in shown_instead)
        note += " " + say(f"Shown instead: {instead}.")
    return note


def substitutes(choices: list[ModelChoice], picked: list[str]) -> list[str]:
    """Tokenizers to answer with when none of those picked can be had: the allowlist's others that are on this disk
    (the bundled MiniLM, for one), never one that needs a download."""
    return [choice.model_id for choice in choices if choice.model_id not in picked and on_disk(choice.model_id)]


@user_errors
def tokens(
    tab: Tab,
    text: str,
    model_ids: list[str],
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Tokenize a text with 1 to 3 tokenizers (model ids). Returns three slots, each an update of a
    HighlightedText: its "value" is the text cut into tokens labelled "#position id N" (None, and "visible"
    false, for an unused slot), with its "label" and "color_map"; then the numbers per tokenizer (tokens, ids,
    special_tokens_mask, character offsets, counts of characters, words, tokens and special tokens, the decoded
    text); a comparison table (tokenizer, algorithm, vocabulary, tokens, special tokens, characters per token,
    decodes to the text); and a status line per tokenizer. A tokenizer that cannot be had (offline, not on this
    disk) is skipped, named in the status and under "skipped" in the numbers; when none of those picked can be had,
    the tokenizers on this disk answer in their place."""
    text = check_text(text)
    picked = pick_tokenizers(tab.choices, model_ids)
    slots, records, rows, status = [], [], [], []
    failures: list[ModelUnavailable] = []

    def answered_by(model_id: str) -> bool:
        try:
            with tab.model(model_id, progress) as served:
                tokenization = served.run(tokenize, text)
        except ModelUnavailable as error:
            failures.append(error)
            return False
        slots.append(highlight_slot(model_id, text, tokenization))
        records.append({"model": model_id, "stand_in": served.info.stand_in, **tokenization})
        rows.append(comparison_row(model_id, tokenization))
        status.append(served.status())
        return True

    skipped = [model_id for model_id in picked if not answered_by(model_id)]
    shown_instead = []
    if not slots:
        for model_id in substitutes(tab.choices, picked):
            if len(shown_instead) < MAX_TOKENIZERS and answered_by(model_id):
                shown_instead.append(model_id)
    if not slots:
        raise failures[0]
    if skipped:
        status.insert(0, skipped_note(skipped, shown_instead, offline()))
    slots += [gr.HighlightedText(value=None, visible=False)] * (MAX_TOKENIZERS - len(slots))
    numbers = {"characters": len(text), "words": len(text.split()), "tokenizers": records, "skipped": skipped}
    return *slots, numbers, rows, "  \n".join(status)


def checked_decoded_ids(tokenizer: Any, token_ids: list[int], model_id: str) -> dict[str, Any]:
    """The model work of /decode_ids: the ids checked against the vocabulary, then decoded."""
    check_ids_in_vocabulary(token_ids, len(tokenizer), model_id)
    return decoded_ids(tokenizer, token_ids)


@user_errors
def decode_ids(
    tab: Tab,
    model_id: str | None,
    ids: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Decode token ids (e.g. "101, 7592, 102" or "[101 7592 102]") with one tokenizer. Returns the text with
    the special tokens, the text without them, {ids, tokens, special_tokens_mask}, and a status line."""
    token_ids = parse_token_ids(ids)
    with tab.model(model_id, progress) as served:
        decoded = served.run(checked_decoded_ids, token_ids, served.model_id)
    each_id = {"ids": token_ids, "tokens": decoded["tokens"], "special_tokens_mask": decoded["special_tokens_mask"]}
    return decoded["text"], decoded["text_without_special_tokens"], each_id, served.status()


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    model_ids = [choice.model_id for choice in tab.choices]
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(
                label="Text", lines=3, info=f"Up to {MAX_TOKENIZED_CHARS:,} characters; spaces count too."
            )
        with gr.Column(scale=2):
            tokenizers = gr.CheckboxGroup(
                choices=model_ids,
                value=default_model_ids(tab.choices),
                label="Tokenizers",
                info=f"Pick 1 to {MAX_TOKENIZERS}, to compare side by side.",
            )
            button = gr.Button("Tokenize", variant="primary")
    gr.Examples(EXAMPLES, inputs=[text, tokenizers], cache_examples=False)
    gr.Markdown(HIGHLIGHT_NOTE)
    slots = [gr.HighlightedText(visible=False, combine_adjacent=False) for _ in range(MAX_TOKENIZERS)]
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Comparison", interactive=False)
    status = gr.Markdown(label="Status")
    with gr.Accordion("Numbers (tokens, ids, special-token mask, character offsets, counts)", open=False):
        numbers = gr.JSON(label="Per tokenizer")

    gr.Markdown("### Decode ids\nThe way back: token ids in, the text they stand for out.")
    with gr.Row():
        with gr.Column():
            decode_model = gr.Dropdown(choices=model_ids, value=model_ids[0], label="Tokenizer")
            ids_text = gr.Textbox(
                label="Token ids",
                placeholder="101, 7592, 102",
                info=f"Whole numbers separated by commas or spaces; brackets are fine. Up to {MAX_DECODE_IDS:,}.",
            )
            decode_button = gr.Button("Decode", variant="primary")
        with gr.Column():
            decoded_text = gr.Textbox(label="Text", interactive=False)
            decoded_plain = gr.Textbox(label="Text without special tokens", interactive=False)
            decoded_tokens = gr.JSON(label="Tokens")
            decode_status = gr.Markdown(label="Status")
    gr.Examples(DECODE_EXAMPLES, inputs=[decode_model, ids_text], cache_examples=False)

    tokenized = [*slots, numbers, table, status]
    tokenized_text = gr.on(run_by(button, text), tab.bind(tokens), [text, tokenizers], tokenized, api_name="tokens")
    status_cleared_on_error(tokenized_text, status)
    decoded = gr.on(
        run_by(decode_button, ids_text),
        tab.bind(decode_ids),
        [decode_model, ids_text],
        [decoded_text, decoded_plain, decoded_tokens, decode_status],
        api_name="decode_ids",
    )
    status_cleared_on_error(decoded, decode_status)


DEMO = Demo(
    task="tokens",
    title="Tokens",
    description=(
        "Before a model reads anything, a tokenizer cuts the text into pieces from a fixed vocabulary and replaces "
        "each piece by its number, its id. Different models cut differently: WordPiece (BERT) marks word-inner "
        "pieces with `##`, byte-level BPE (GPT-2) keeps the space before a word inside its token and never meets an "
        "unknown character, SentencePiece (XLM-RoBERTa) marks word starts with `▁`. Models also add special tokens "
        "of their own."
    ),
    models=(
        ModelChoice("google-bert/bert-base-cased", stand_in="bert-cased-tokenizer", note="WordPiece, cased"),
        ModelChoice("google-bert/bert-base-uncased", stand_in="bert-uncased-tokenizer", note="WordPiece, lower-cased"),
        ModelChoice("openai-community/gpt2", stand_in="gpt2-tokenizer", note="byte-level BPE"),
        ModelChoice(
            "FacebookAI/xlm-roberta-base", stand_in="xlm-roberta-tokenizer", note="SentencePiece, 100 languages"
        ),
        ModelChoice(
            "sentence-transformers/all-MiniLM-L6-v2", stand_in="minilm-encoder", note="BERT uncased vocabulary, bundled"
        ),
    ),
    loader=TokenizerLoader(),
    build_tab=build_tab,
    default_model_ids=default_model_ids,
)
