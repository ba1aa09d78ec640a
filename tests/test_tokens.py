"""Tokenizer playground: the stand-in tokenizers, round trips text → ids → text, counts, special tokens, offsets,
the real bundled MiniLM vocabulary, id parsing, and the /tokens and /decode_ids endpoints of the running app."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from demos import tokens
from demos.tab import Tab
from shared.errors import UserError
from shared.limits import MAX_DECODE_IDS, MAX_TOKENIZED_CHARS
from shared.model_choices import ModelChoice
from shared.stand_ins import ensure_stand_in
from tests.helpers import untimed

BERT_CASED, BERT_UNCASED, GPT2, XLM_ROBERTA, MINILM = (choice.model_id for choice in tokens.DEMO.models)
STAND_IN_ALGORITHMS = {
    BERT_CASED: "WordPiece",
    BERT_UNCASED: "WordPiece",
    GPT2: "byte-level BPE",
    XLM_ROBERTA: "SentencePiece Unigram",
    MINILM: "WordPiece",
}
CIAO = "Ciao mi chiamo Mattia e studio linguistica computazionale"
# Words of the stand-ins' training corpus, so that no character is unknown to their small vocabularies.
CORPUS_TEXTS = [
    CIAO,
    "The Eiffel Tower is in Paris, the capital of France.",
    "Das Wetter ist heute schön. ¿Dónde está la estación?",
    "Hello, I'm a language model: who, what, when? 1889 € 330 %",
]
# Beyond any vocabulary: accents, scripts, emoji (one with a skin-tone modifier), control characters, odd spacing.
HARD_TEXTS = [
    "naïve café, Ærøskøbing, İstanbul",
    "日本語のテキスト 中文 한국어 العربية",
    "Ciao 👋🏽 mondo 😀🎉!",
    "tabs\tand\nnew lines  and   runs of spaces ",
    "  leading spaces, a zero-width\u200bspace and a combining e\u0301",
]


@pytest.fixture(scope="module")
def tokenizers(runtime):
    """Each model's tokenizer as the tab loads it: the stand-ins, and MiniLM's real bundled tokenizer."""
    loaded = {}
    tab = Tab(tokens.DEMO, runtime)
    for choice in tokens.DEMO.models:
        with tab.model(choice.model_id) as served:
            loaded[choice.model_id] = served.model.tokenizer
    return loaded


def shown_text(spans: list[tuple[str, str | None]]) -> str:
    """The text the highlighted spans show, without special tokens and the marks for tokens that add no character."""
    return "".join(
        piece
        for piece, label in spans
        if not (label and label.endswith(" special")) and piece not in {tokens.CONTINUATION, *tokens.WORD_MARKERS}
    )


def wordpiece_normalised(tokenizer, text: str) -> str:
    """What WordPiece keeps of a text: its normaliser's output (lower-cased and without accents when uncased), cut
    into words and punctuation marks by its pre-tokenizer, joined by single spaces, except that its decoder writes
    `.`, `,`, `?` and `!` straight after what comes before them."""
    backend = tokenizer.backend_tokenizer
    words = [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]
    return "".join(
        word if index == 0 or word in {".", ",", "?", "!"} else f" {word}" for index, word in enumerate(words)
    )


# ---- the stand-in tokenizers


@pytest.mark.parametrize("family", ["bert-cased-tokenizer", "bert-uncased-tokenizer", "gpt2-tokenizer"])
def test_stand_in_families_build_fast_tokenizers_with_their_models_special_tokens(tmp_path, family):
    tokenizer = AutoTokenizer.from_pretrained(ensure_stand_in(family, "tiny", tmp_path))
    assert tokenizer.is_fast
    ids = tokenizer("Ciao mi chiamo Mattia")["input_ids"]
    if family == "gpt2-tokenizer":
        assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.all_special_tokens == ["<|endoftext|>"]
        assert tokenizer.eos_token_id not in ids  # GPT-2 adds nothing to a text
    else:
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        assert ("Ciao" in tokenizer.tokenize("Ciao")) == (family == "bert-cased-tokenizer")


def test_xlm_roberta_stand_in_is_sentencepiece_unigram_with_xlm_roberta_special_tokens(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(ensure_stand_in("xlm-roberta-tokenizer", "tiny", tmp_path))
    backend = tokenizer.backend_tokenizer
    assert type(backend.model).__name__ == "Unigram" and "Metaspace" in repr(backend.pre_tokenizer)
    ids = [tokenizer.convert_tokens_to_ids(token) for token in ["<s>", "<pad>", "</s>", "<unk>"]]
    assert ids == [0, 1, 2, 3]  # XLM-RoBERTa's own order
    single, pair = tokenizer("Ciao")["input_ids"], tokenizer("Ciao", "mondo")["input_ids"]
    first = single[1:-1]
    assert single == [0, *first, 2]  # <s> a </s>
    assert (
        pair[: len(single) + 1] == [0, *first, 2, 2] and pair[-1] == 2 and pair.count(2) == 3
    )  # <s> a </s></s> b </s>
    assert tokenizer.convert_ids_to_tokens(tokenizer("Ciao mi")["input_ids"])[1].startswith("▁")


def test_algorithm_names(tokenizers):
    assert {model_id: tokens.algorithm_name(tokenizer) for model_id, tokenizer in tokenizers.items()} == (
        STAND_IN_ALGORITHMS
    )


# ---- round trips: decode(encode(text)) gives the text back, up to what the tokenizer normalises away


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_byte_level_bpe_gives_any_text_back_exactly(tokenizers, text):
    result = tokens.tokenize(tokenizers[GPT2], text)
    assert result["decoded"] == text and result["decodes_to_the_text"]


@pytest.mark.parametrize(
    ("model_id", "text", "typed"),
    [
        (GPT2, "<|endoftext|>", "<|endoftext|>"),
        (GPT2, "one<|endoftext|>two", "<|endoftext|>"),
        (BERT_CASED, "Time flies [SEP] like an arrow", "[SEP]"),
        (MINILM, "time flies [SEP] like an arrow", "[SEP]"),
    ],
)
def test_a_special_token_typed_in_the_text_is_shown_as_special_and_decoded_back(tokenizers, model_id, text, typed):
    """The tokenizer matches it as its special token, as the model would see it; the tokens the tokenizer adds
    itself ([CLS], [SEP] around the text) are still left out of the decoded text."""
    tokenizer = tokenizers[model_id]
    result = tokens.tokenize(tokenizer, text)
    typed_position = result["tokens"].index(typed, 1 if model_id != GPT2 else 0)
    assert result["special_tokens_mask"][typed_position] == 1
    start, end = result["offsets"][typed_position]
    assert text[start:end] == typed
    assert result["decoded"] == text and result["decodes_to_the_text"]
    spans, colours = tokens.highlighted_tokens(text, result)
    typed_label = f"#{typed_position} id {result['ids'][typed_position]} special"
    assert [piece for piece, label in spans if label == typed_label] == [typed]  # its characters, marked special
    assert colours[typed_label] == tokens.SPECIAL_COLOUR
    assert all(typed not in piece for piece, label in spans if label is None)  # and not shown a second time


@pytest.mark.parametrize("text", CORPUS_TEXTS + HARD_TEXTS)
def test_byte_level_bpe_round_trip_with_accents_scripts_and_emoji(tokenizers, text):
    tokenizer = tokenizers[GPT2]
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer.unk_token_id not in ids  # bytes: nothing is unknown


@pytest.mark.parametrize("text", CORPUS_TEXTS)
@pytest.mark.parametrize("model_id", [BERT_CASED, MINILM])
def test_cased_wordpiece_and_minilm_give_the_normalised_text_back_exactly(tokenizers, model_id, text):
    tokenizer = tokenizers[model_id]
    result = tokens.tokenize(tokenizer, text)
    assert tokenizer.unk_token_id not in result["ids"]
    assert result["decoded"] == wordpiece_normalised(tokenizer, text)


def test_cased_wordpiece_keeps_a_plain_sentence_as_it_is_and_uncased_lowercases_it(tokenizers):
    assert tokens.tokenize(tokenizers[BERT_CASED], CIAO)["decoded"] == CIAO
    assert tokens.tokenize(tokenizers[BERT_CASED], CIAO)["decodes_to_the_text"]
    assert tokens.tokenize(tokenizers[BERT_UNCASED], CIAO)["decoded"] == CIAO.lower()
    assert tokens.tokenize(tokenizers[MINILM], CIAO)["decoded"] == CIAO.lower()
    assert not tokens.tokenize(tokenizers[MINILM], CIAO)["decodes_to_the_text"]


def test_bert_uncased_vocabulary_strips_accents(tokenizers):
    text = "Das Wetter ist heute schön, très bien"
    stripped = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
    assert tokens.tokenize(tokenizers[MINILM], text)["decoded"] == stripped


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + " .,!?'-éèàüöñç", min_size=1, max_size=80))
def test_minilm_real_vocabulary_round_trip_on_any_latin_text(tokenizers, text):
    tokenizer = tokenizers[MINILM]
    result = tokens.tokenize(tokenizer, text)
    assert tokenizer.unk_token_id not in result["ids"]
    assert result["decoded"] == wordpiece_normalised(tokenizer, text)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        (CIAO, CIAO),
        ("Das  Wetter   ist heute schön.", "Das Wetter ist heute schön."),  # runs of spaces collapse
        ("The ﬁsh is in Paris", "The fish is in Paris"),  # NFKC unfolds the ligature
    ],
)
def test_sentencepiece_gives_the_nfkc_text_back(tokenizers, text, normalised):
    tokenizer = tokenizers[XLM_ROBERTA]
    result = tokens.tokenize(tokenizer, text)
    assert tokenizer.unk_token_id not in result["ids"]
    assert result["decoded"] == normalised


# ---- counts, special tokens, offsets, colours


def test_counts_of_characters_words_and_tokens(tokenizers):
    text = "Ciao mi chiamo   Mattia"
    for model_id, tokenizer in tokenizers.items():
        result = tokens.tokenize(tokenizer, text)
        content = tokenizer.tokenize(text)
        assert result["counts"]["characters"] == 23
        assert result["counts"]["words"] == 4
        assert result["counts"]["tokens"] == len(result["ids"]) == len(result["tokens"]) == len(result["offsets"])
        assert result["counts"]["tokens"] - result["counts"]["special_tokens"] == len(content), model_id
        assert result["characters_per_token"] == round(23 / len(content), 2)
        assert result["counts"]["special_tokens"] == (0 if model_id == GPT2 else 2)


@pytest.mark.parametrize(
    ("model_id", "first", "last"),
    [(BERT_CASED, "[CLS]", "[SEP]"), (XLM_ROBERTA, "<s>", "</s>"), (MINILM, "[CLS]", "[SEP]")],
)
def test_special_tokens_are_marked_in_the_mask_and_shown_in_grey(tokenizers, model_id, first, last):
    result = tokens.tokenize(tokenizers[model_id], CIAO)
    mask = result["special_tokens_mask"]
    assert mask[0] == mask[-1] == 1 and sum(mask) == 2
    spans, colours = tokens.highlighted_tokens(CIAO, result)
    specials = [(piece, label) for piece, label in spans if label and colours[label] == tokens.SPECIAL_COLOUR]
    assert [piece for piece, _ in specials] == [first, last]
    assert all(label.endswith(" special") for _, label in specials)
    assert [spans[0][0], spans[-1][0]] == [first, last]


@pytest.mark.parametrize("text", CORPUS_TEXTS + HARD_TEXTS)
def test_offsets_cover_every_character_and_the_highlight_shows_the_text(tokenizers, text):
    for model_id, tokenizer in tokenizers.items():
        result = tokens.tokenize(tokenizer, text)
        covered = set()
        for (start, end), special in zip(result["offsets"], result["special_tokens_mask"], strict=True):
            assert 0 <= start <= end <= len(text)
            if not special:
                covered.update(range(start, end))
        # What a normaliser deletes (a zero-width space, a combining accent when uncased) needs no token.
        visible = {i for i, c in enumerate(text) if not c.isspace() and c not in "\u200b\u0301"}
        assert visible <= covered, model_id
        spans, _ = tokens.highlighted_tokens(text, result)
        assert shown_text(spans) == text, model_id


@pytest.mark.parametrize(("model_id", "space"), [(XLM_ROBERTA, "▁"), (GPT2, "Ġ")])
def test_each_token_shows_its_own_piece_of_the_text(tokenizers, model_id, space):
    # SentencePiece's lone word-start `▁` before "Ciao" shares that word's offsets: it must not take its letters.
    result = tokens.tokenize(tokenizers[model_id], CIAO)
    spans, _ = tokens.highlighted_tokens(CIAO, result)
    shown = [piece.replace(" ", space) for piece, label in spans if label and not label.endswith(" special")]
    flags = zip(result["tokens"], result["special_tokens_mask"], strict=True)
    assert shown == [token for token, special in flags if not special]


def test_each_token_has_its_own_label_and_colours_cycle_by_position(tokenizers):
    result = tokens.tokenize(tokenizers[MINILM], "the the the rumination")
    spans, colours = tokens.highlighted_tokens("the the the rumination", result)
    labels = [label for _, label in spans if label]
    assert len(labels) == len(set(labels)) == len(result["ids"])  # the three "the"s are told apart
    for position, (label, token_id) in enumerate(zip(labels, result["ids"], strict=True)):
        assert label.startswith(f"#{position} id {token_id}")
        if not result["special_tokens_mask"][position]:
            assert colours[label] == tokens.POSITION_COLOURS[position % len(tokens.POSITION_COLOURS)]


def test_unknown_characters_are_labelled_unknown(tokenizers):
    result = tokens.tokenize(tokenizers[MINILM], "hello 😀")
    spans, colours = tokens.highlighted_tokens("hello 😀", result)
    assert ("😀", f"#2 id {tokenizers[MINILM].unk_token_id} unknown") in spans
    assert colours[spans[-2][1]] == tokens.UNKNOWN_COLOUR


def test_gpt2_end_of_text_in_a_text_is_not_called_unknown(tokenizers):
    result = tokens.tokenize(tokenizers[GPT2], "The end.<|endoftext|>")
    assert tokenizers[GPT2].eos_token_id in result["ids"]
    spans, _ = tokens.highlighted_tokens("The end.<|endoftext|>", result)
    assert not any(label and label.endswith(" unknown") for _, label in spans)


def test_bytes_of_one_character_show_it_once(tokenizers):
    result = tokens.tokenize(tokenizers[GPT2], "😀")
    spans, _ = tokens.highlighted_tokens("😀", result)
    assert len(spans) == len(result["ids"]) > 1  # the stand-in never learnt the emoji: one token per byte
    assert [piece for piece, _ in spans] == ["😀"] + [tokens.CONTINUATION] * (len(spans) - 1)


def test_real_minilm_vocabulary_splits_rumination_into_word_pieces(tokenizers):
    assert tokens.tokenize(tokenizers[MINILM], "rumination")["tokens"] == ["[CLS]", "rum", "##ination", "[SEP]"]


# ---- input checks


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_empty_text_is_refused(text):
    with pytest.raises(UserError, match="Type some text"):
        tokens.check_text(text)


def test_text_over_the_limit_is_refused_naming_the_limit():
    tokens.check_text("a" * MAX_TOKENIZED_CHARS)
    with pytest.raises(UserError, match=f"{MAX_TOKENIZED_CHARS:,}"):
        tokens.check_text("a" * (MAX_TOKENIZED_CHARS + 1))


def test_pick_tokenizers_keeps_order_and_drops_repeats():
    assert tokens.pick_tokenizers(list(tokens.DEMO.models), [GPT2, BERT_CASED, GPT2]) == [GPT2, BERT_CASED]
    assert tokens.pick_tokenizers(list(tokens.DEMO.models), MINILM) == [MINILM]


@pytest.mark.parametrize(
    ("model_ids", "message"),
    [
        ([], "at least one"),
        (None, "at least one"),
        ([BERT_CASED, BERT_UNCASED, GPT2, XLM_ROBERTA], "4 tokenizers were picked; up to 3"),
        ([BERT_CASED, "evil/model"], "not offered here"),
    ],
)
def test_pick_tokenizers_refuses_bad_picks(model_ids, message):
    with pytest.raises(UserError, match=message):
        tokens.pick_tokenizers(list(tokens.DEMO.models), model_ids)


def test_default_comparison_is_three_algorithms_led_by_the_default_model():
    assert tokens.default_model_ids(tokens.DEMO.models) == [BERT_CASED, GPT2, XLM_ROBERTA]
    operator = ModelChoice("/models/mine")
    assert tokens.default_model_ids([operator, *tokens.DEMO.models]) == ["/models/mine", BERT_CASED, GPT2]


@pytest.mark.parametrize(
    "text",
    [
        "101, 7592, 102",
        "[101 7592 102]",
        "101\n7592\n102",
        "tensor([[101, 7592, 102]])",
        " (101,7592 ,102) ",
        "+101 7592 102",
    ],
)
def test_token_ids_are_read_in_the_usual_notations(text):
    assert tokens.parse_token_ids(text) == [101, 7592, 102]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type some token ids"),
        ("[ ]", "Type some token ids"),
        ("101, hello, 102", "“hello” is not a token id"),
        ("101 7.5", "“7.5” is not a token id"),
        ("1e3", "“1e3” is not a token id"),
        ("٣", "is not a token id"),  # an Arabic-Indic digit: a number, but not one we read
        ("101 -5", "Token id -5 is negative"),
        (" ".join(["1"] * (MAX_DECODE_IDS + 1)), f"the limit is {MAX_DECODE_IDS:,}"),
    ],
)
def test_bad_token_ids_get_a_specific_message(text, message):
    with pytest.raises(UserError, match=message):
        tokens.parse_token_ids(text)


def test_ids_beyond_the_vocabulary_are_refused_naming_its_range():
    tokens.check_ids_in_vocabulary([0, 29], 30, "tiny")
    with pytest.raises(UserError, match="Token id 30 is not in the vocabulary of tiny: its ids run from 0 to 29"):
        tokens.check_ids_in_vocabulary([0, 30, 31], 30, "tiny")


def test_decoded_ids_with_and_without_special_tokens(tokenizers):
    tokenizer = tokenizers[MINILM]
    ids = tokenizer("rumination")["input_ids"]
    decoded = tokens.decoded_ids(tokenizer, ids)
    assert decoded["text"] == "[CLS] rumination [SEP]"
    assert decoded["text_without_special_tokens"] == "rumination"
    assert decoded["tokens"] == ["[CLS]", "rum", "##ination", "[SEP]"]
    assert decoded["special_tokens_mask"] == [1, 0, 0, 1]


# ---- through the running app


def tokenize_call(client, text, model_ids):
    """The endpoint's answer; each slot comes as a component update (its value, label, colours and visibility)."""
    *slots, numbers, table, status = client.predict(text, model_ids, api_name="/tokens")
    return slots, numbers, table, status


def test_endpoint_compares_three_tokenizers_side_by_side(client):
    slots, numbers, table, status = tokenize_call(client, CIAO, [BERT_CASED, GPT2, XLM_ROBERTA])
    assert [record["model"] for record in numbers["tokenizers"]] == [BERT_CASED, GPT2, XLM_ROBERTA]
    assert [row[:2] for row in table["data"]] == [[m, STAND_IN_ALGORITHMS[m]] for m in (BERT_CASED, GPT2, XLM_ROBERTA)]
    assert numbers["characters"] == len(CIAO) and numbers["words"] == 8
    for slot, record, row in zip(slots, numbers["tokenizers"], table["data"], strict=True):
        assert slot["visible"] and slot["label"].startswith(f"{record['model']} · {record['algorithm']}")
        labelled = [span for span in slot["value"] if span["class_or_confidence"]]
        assert len(labelled) == len(record["ids"]) == record["counts"]["tokens"]
        assert set(slot["color_map"]) == {span["class_or_confidence"] for span in labelled}
        assert row[3] + row[4] == len(record["ids"]) and row[4] == sum(record["special_tokens_mask"])
        assert record["stand_in"] is True
    assert status.count("Served by") == 3 and "stand-in" in status


def test_endpoint_hides_the_unused_slots(client):
    slots, numbers, table, _ = tokenize_call(client, "rumination", [MINILM])
    assert [(slot["visible"], slot["value"]) for slot in slots[1:]] == [(False, None), (False, None)]
    assert [span["token"] for span in slots[0]["value"]] == ["[CLS]", "rum", "ination", "[SEP]"]
    assert numbers["tokenizers"][0]["tokens"] == ["[CLS]", "rum", "##ination", "[SEP]"]
    assert numbers["tokenizers"][0]["stand_in"] is False  # the real bundled tokenizer
    assert table["data"][0][3:5] == [2, 2]


def test_endpoint_shows_a_typed_special_token_as_special_and_gives_the_text_back(client):
    text = "the end<|endoftext|>"
    slots, numbers, table, _ = tokenize_call(client, text, [GPT2, MINILM])
    gpt2, minilm = numbers["tokenizers"]
    assert gpt2["tokens"][-1] == "<|endoftext|>" and gpt2["special_tokens_mask"][-1] == 1
    assert {
        "token": "<|endoftext|>",
        "class_or_confidence": f"#{len(gpt2['ids']) - 1} id {gpt2['ids'][-1]} special",
    } in (slots[0]["value"])
    assert gpt2["decoded"] == text and gpt2["decodes_to_the_text"]
    assert table["data"][0][4] == 1  # one special token for GPT-2; MiniLM's [CLS] and [SEP] only
    assert table["data"][1][4] == 2 and minilm["decoded"] == "the end < | endoftext | >"


@pytest.mark.parametrize(
    ("model_id", "text"),
    [(GPT2, "Ciao 👋🏽 mondo, naïve café!"), (BERT_CASED, CIAO), (MINILM, "rumination is a fine word")],
)
def test_decode_ids_inverts_the_ids_of_tokens(client, model_id, text):
    _, numbers, _, _ = tokenize_call(client, text, [model_id])
    ids = numbers["tokenizers"][0]["ids"]
    with_specials, without_specials, decoded_tokens, status = client.predict(model_id, str(ids), api_name="/decode_ids")
    assert without_specials == text
    assert decoded_tokens["ids"] == ids and decoded_tokens["tokens"] == numbers["tokenizers"][0]["tokens"]
    if model_id != GPT2:
        assert with_specials.startswith("[CLS] ") and with_specials.endswith(" [SEP]")
    assert model_id in status


def test_decode_ids_function_answers_as_the_api_does(client, runtime):
    inputs = (MINILM, "[101 7592 1010 2088 999 102]")
    *api_decoded, api_status = client.predict(*inputs, api_name="/decode_ids")
    *decoded, status = tokens.decode_ids(Tab(tokens.DEMO, runtime), *inputs)
    assert decoded == api_decoded
    assert untimed(status) == untimed(api_status)


@pytest.mark.parametrize(
    ("text", "model_ids", "message"),
    [
        ("   ", [BERT_CASED], "Type some text"),
        ("x" * (MAX_TOKENIZED_CHARS + 1), [BERT_CASED], "shows up to"),
        ("text", [], "at least one"),
        ("text", [BERT_CASED, BERT_UNCASED, GPT2, XLM_ROBERTA], "up to 3"),
        ("text", ["evil/model"], "not in the list of choices|not offered here"),
    ],
)
def test_tokens_endpoint_bad_input_gets_a_clear_error(client, text, model_ids, message):
    with pytest.raises(Exception, match=message):
        client.predict(text, model_ids, api_name="/tokens")


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("101, seven, 102", "“seven” is not a token id"),
        ("101 -1 102", "Token id -1 is negative"),
        ("101 30522", "Token id 30522 is not in the vocabulary of sentence-transformers/all-MiniLM-L6-v2"),
        ("", "Type some token ids"),
    ],
)
def test_decode_ids_endpoint_bad_ids_get_a_clear_error(client, ids, message):
    with pytest.raises(Exception, match=message):
        client.predict(MINILM, ids, api_name="/decode_ids")


def test_the_skipped_note_names_the_tokenizers_why_and_what_answered_instead():
    note = tokens.skipped_note(["a/one", "b/two"], ["c/three"], hub_offline=True)
    assert note.startswith("⚠️ Skipped `a/one`, `b/two`: not on this disk") and "--download" in note
    assert note.endswith("Shown instead: `c/three`.")
    assert "Shown instead" not in tokens.skipped_note(["a/one"], [], hub_offline=False)


def test_only_tokenizers_on_this_disk_stand_in_for_the_missing_ones(tmp_path):
    choices = [ModelChoice("nobody/missing"), ModelChoice(str(tmp_path)), ModelChoice("nobody/also-missing")]
    assert tokens.substitutes(choices, ["nobody/missing"]) == [str(tmp_path)]
