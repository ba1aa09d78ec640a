"""Bad input through the public API, endpoint × input: each gets a valid answer or a short `gr.Error` naming the
problem and the limit, and the next good request to the same endpoint is served. The README's table of bad inputs
lists these cases; their ids here are the ids there."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, UnidentifiedImageError

from demos import common, evaluate, segment
from shared.limits import (
    MAX_CANDIDATE_LABELS,
    MAX_CLASSIFIED_SENTENCES,
    MAX_EVALUATION_ROWS,
    MAX_EVALUATION_TEXT_CHARS,
    MAX_IMAGE_ASPECT_RATIO,
    MAX_IMAGE_PIXELS,
    MAX_LABEL_CHARS,
    MAX_NEW_TOKENS,
    MAX_QA_CONTEXT_CHARS,
    MAX_QA_QUESTION_CHARS,
    MAX_SENTIMENT_LINES,
    MAX_STEPS_SENTENCE_CHARS,
    MAX_STEPS_TEXT_CHARS,
    MAX_STEPS_TEXT_TOKENS,
    MAX_STEPS_TOKENS,
    MAX_TEXT_CHARS,
    MAX_TRAINING_EXAMPLES,
    MAX_TRAINING_LABELS,
    MAX_TRAINING_TEXT_CHARS,
)
from tests.helpers import final_event

OK = None  # expected outcome: a valid answer, not an error
UPLOAD_REFUSED = 415  # expected outcome: the server refuses the file at upload, before any tab sees it
CONTROL = "good \x00film\x07 with \x1b[31mcolour\x1b[0m,\ttabs\r\nand\u200b zero\u202ewidth \ufeffmarks"
MIXED = "Great film! 素晴らしい映画。 Фильм отличный. فيلم رائع 😀 ｆｕｌｌｗｉｄｔｈ"
HUGE = "word " * 40_000  # 200,000 characters
# Under the character limits, but more tokens than the stand-ins' position tables hold (their tokenizers' own
# `model_max_length` is 1e30, as for Hub tokenizers without one): every encoder must truncate to its positions.
LONG_WORDS = "word " * 3000
CJK = "素晴らしい映画でした。" * 60
PHOTO = str(segment.EXAMPLE_PHOTOS[1])
REVIEWS = str(evaluate.EXAMPLES_DIR / "reviews.csv")
TRAINING = "sport: The striker scored.\nsport: She won the race.\nfood: Fry the onions.\nfood: Bake the bread."

GOOD_REQUESTS = {
    "/sentiment": dict(text="A fine day."),
    "/zero_shot": dict(text="The striker scored.", candidate_labels="sports, politics"),
    "/qa": dict(context="The keys were in the fruit bowl.", question="Where were the keys?"),
    "/generate": dict(prompt="Hello", strategy="greedy", max_new_tokens=3),
    "/segment": dict(image=handle_file(PHOTO)),
    "/next_token": dict(prompt="Hello"),
    "/tokens": dict(text="Time flies like an arrow."),
    "/decode_ids": dict(ids="5, 6, 7"),
    "/fill_mask": dict(text="The boys [MASK] shy."),
    "/embeddings": dict(word="bank", sentences="The river bank.\nThe bank lent money."),
    "/semantic_search": dict(query="money", sentences="The river bank.\nThe bank lent money."),
    "/attention": dict(sentence="Time flies like an arrow."),
    "/attention_steps": dict(sentence="Time flies like an arrow.", second_sentence="Fruit flies.", word="flies"),
    "/pipeline_steps": dict(text="A fine day."),
    "/evaluate": dict(file=handle_file(REVIEWS), text_column="text", label_column="label", label_map=""),
    "/train_classifier": dict(examples=TRAINING, file=None),
    "/classify_sentences": dict(sentences="The goalkeeper saved a penalty."),
}


def png_bomb(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG of `width`×`height` pixels: decompression-bomb territory in a few dozen kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = bytes((1 + (width + 7) // 8) * height)  # each row: filter byte 0, then all-black pixels
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-images")
    with Image.open(PHOTO) as photo:
        photo = photo.convert("RGB").resize((96, 64))
    paths = {name: folder / name for name in ["text.png", "truncated.jpg", "corrupt.png", "one_pixel.png"]}
    paths["text.png"].write_text("this is text, not a picture")
    photo.save(folder / "whole.jpg")
    whole = (folder / "whole.jpg").read_bytes()
    paths["truncated.jpg"].write_bytes(whole[: len(whole) // 2])
    paths["corrupt.png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    Image.new("RGB", (1, 1), "red").save(paths["one_pixel.png"])
    for name, size in {"thin.png": (5000, 3), "narrow.png": (2, 1400)}.items():
        paths[name] = folder / name
        Image.new("RGB", size, "white").save(paths[name])
    paths["tall.png"] = folder / "tall.png"
    paths["tall.png"].write_bytes(png_bomb(1, 40_000_000))
    paths["bomb.png"] = folder / "bomb.png"
    paths["bomb.png"].write_bytes(png_bomb(20_000, 20_000))
    for name, image in {
        "grayscale.png": photo.convert("L"),
        "palette.png": photo.convert("P"),
        "rgba.png": photo.convert("RGBA"),
        "cmyk.jpg": photo.convert("CMYK"),
        "sixteen_bit.png": photo.convert("I").point(lambda value: value * 256).convert("I;16"),
    }.items():
        paths[name] = folder / name
        image.save(paths[name])
    paths["animated.gif"] = folder / "animated.gif"
    frames = [photo.convert("P"), photo.rotate(90).convert("P"), photo.rotate(180).convert("P")]
    frames[0].save(paths["animated.gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    paths["drawing.svg"] = folder / "drawing.svg"
    paths["drawing.svg"].write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"></svg>')
    return paths


# (endpoint, case id, request fields, expected: OK or a regex the error must match)
TEXT_CASES = [
    ("/sentiment", "empty", dict(text=""), "Type some text"),
    ("/sentiment", "whitespace", dict(text=" \n\t \u3000"), "Type some text"),
    ("/sentiment", "200k-chars", dict(text=HUGE), f"limit is {MAX_TEXT_CHARS:,}"),
    ("/sentiment", "65-lines", dict(text="ok\n" * 65), f"limit is {MAX_SENTIMENT_LINES}"),
    ("/sentiment", "3000-words", dict(text=LONG_WORDS), OK),
    ("/sentiment", "600-cjk-chars", dict(text=CJK), OK),
    ("/sentiment", "control-chars", dict(text=CONTROL), OK),
    ("/sentiment", "mixed-scripts", dict(text=MIXED), OK),
    ("/sentiment", "model-not-allowed", dict(text="ok", model_id="evil/model"), "not in the list of choices"),
    ("/zero_shot", "empty-text", dict(text="  ", candidate_labels="a, b"), "Type the text"),
    ("/zero_shot", "200k-chars", dict(text=HUGE, candidate_labels="a, b"), f"limit is {MAX_TEXT_CHARS:,}"),
    ("/zero_shot", "3000-words", dict(text=LONG_WORDS, candidate_labels="a, b"), OK),
    ("/zero_shot", "600-cjk-chars", dict(text=CJK, candidate_labels="a, b"), OK),
    ("/zero_shot", "control-chars", dict(text=CONTROL, candidate_labels="film, \x00tab\t"), OK),
    ("/zero_shot", "mixed-scripts", dict(text=MIXED, candidate_labels="映画, фильм, 😀"), OK),
    ("/zero_shot", "zero-labels", dict(text="x", candidate_labels=""), "at least one candidate label"),
    ("/zero_shot", "empty-labels", dict(text="x", candidate_labels=",,,"), "at least one candidate label"),
    ("/zero_shot", "one-label", dict(text="x", candidate_labels="sports"), OK),
    ("/zero_shot", "duplicate-labels", dict(text="x", candidate_labels="sports, Sports,  sports ,sports"), OK),
    (
        "/zero_shot",
        "500-labels",
        dict(text="x", candidate_labels=", ".join(f"label {n}" for n in range(500))),
        f"500 labels were given; the limit is {MAX_CANDIDATE_LABELS}",
    ),
    ("/zero_shot", "long-label", dict(text="x", candidate_labels="a" * 101), f"longer than {MAX_LABEL_CHARS}"),
    (
        "/zero_shot",
        "template-without-braces",
        dict(text="x", candidate_labels="a", hypothesis_template="This is it."),
        "exactly one {}",
    ),
    (
        "/zero_shot",
        "template-with-two-braces",
        dict(text="x", candidate_labels="a", hypothesis_template="{} or {}"),
        "exactly one {}",
    ),
    ("/qa", "empty-context", dict(context="", question="Where?"), "Paste the context"),
    ("/qa", "empty-question", dict(context="The keys were here.", question=" \n"), "Type a question"),
    ("/qa", "both-empty", dict(context="", question=""), "Paste the context"),
    ("/qa", "200k-context", dict(context=HUGE, question="Where?"), f"limit is {MAX_QA_CONTEXT_CHARS:,}"),
    ("/qa", "long-question", dict(context="x", question="why " * 300), f"limit is {MAX_QA_QUESTION_CHARS:,}"),
    ("/qa", "3000-words", dict(context=LONG_WORDS, question="Which word?"), OK),
    ("/qa", "control-chars", dict(context=CONTROL, question="What\x00 film?"), OK),
    ("/qa", "mixed-scripts", dict(context=MIXED, question="映画は？"), OK),
    ("/qa", "top-k-0", dict(context="x", question="y", top_k=0), "less than minimum value 1"),
    ("/qa", "top-k-huge", dict(context="x", question="y", top_k=1e9), "greater than maximum value 10"),
    ("/generate", "empty-prompt", dict(prompt=""), "Type a prompt"),
    ("/generate", "whitespace-prompt", dict(prompt=" \n "), "Type a prompt"),
    ("/generate", "200k-chars", dict(prompt=HUGE), f"limit is {MAX_TEXT_CHARS:,}"),
    ("/generate", "control-chars", dict(prompt=CONTROL, max_new_tokens=3), OK),
    ("/generate", "mixed-scripts", dict(prompt=MIXED, max_new_tokens=3), OK),
    ("/generate", "max-new-tokens-negative", dict(max_new_tokens=-5), "less than minimum value 1"),
    ("/generate", "max-new-tokens-huge", dict(max_new_tokens=10**9), f"greater than maximum value {MAX_NEW_TOKENS}"),
    ("/generate", "temperature-0", dict(temperature=0), "less than minimum value 0.01"),
    ("/generate", "temperature-1e6", dict(temperature=1e6), "greater than maximum value 5"),
    ("/generate", "top-p-0", dict(top_p=0), "less than minimum value 0.01"),
    ("/generate", "top-p-2", dict(top_p=2), "greater than maximum value 1"),
    ("/generate", "top-k-negative", dict(top_k=-1), "less than minimum value 0"),
    ("/generate", "sequences-0", dict(num_return_sequences=0), "less than minimum value 1"),
    ("/generate", "sequences-100", dict(num_return_sequences=100), "greater than maximum value 4"),
    ("/generate", "beams-100", dict(strategy="beam search", num_beams=100), "greater than maximum value 8"),
    ("/generate", "strategy-unknown", dict(strategy="telepathy"), "telepathy"),
    ("/generate", "seed-negative", dict(seed=-7), "less than minimum value -1"),
    ("/next_token", "empty-prompt", dict(prompt=" "), "Type a prompt"),
    ("/next_token", "200k-chars", dict(prompt=HUGE), f"limit is {MAX_TEXT_CHARS:,}"),
    ("/next_token", "control-chars", dict(prompt=CONTROL), OK),
    ("/next_token", "shown-0", dict(shown=0), "less than minimum value 1"),
    ("/tokens", "empty", dict(text=""), "Type"),
    ("/tokens", "200k-chars", dict(text=HUGE), "shows up to 2,000"),
    ("/tokens", "control-chars", dict(text=CONTROL), OK),
    ("/tokens", "mixed-scripts", dict(text=MIXED), OK),
    ("/tokens", "no-tokenizer", dict(model_ids=[]), "Pick at least one tokenizer"),
    ("/decode_ids", "not-numbers", dict(ids="7, seven"), "seven"),
    ("/decode_ids", "negative-id", dict(ids="-1"), "-1"),
    ("/decode_ids", "id-past-vocabulary", dict(ids="99999999"), "99999999"),
    ("/decode_ids", "4300-digit-id", dict(ids="9" * 4300), "has 4,300 digits"),
    ("/fill_mask", "no-mask", dict(text="The boys are shy."), "Put \\[MASK\\]"),
    ("/fill_mask", "two-masks", dict(text="The [MASK] are [MASK]."), "2 blanks"),
    ("/fill_mask", "200k-chars", dict(text=HUGE + "[MASK]"), "limit is|at most"),
    ("/fill_mask", "mixed-scripts", dict(text=MIXED + " [MASK]"), OK),
    ("/embeddings", "word-missing", dict(word="bank", sentences="The river.\nThe bank."), "does not contain"),
    ("/embeddings", "one-sentence", dict(sentences="The bank."), "at least 2|two or more|2 or more"),
    ("/embeddings", "empty-word", dict(word=" "), "Type"),
    ("/semantic_search", "empty-query", dict(query=""), "Type"),
    ("/semantic_search", "200-lines", dict(sentences="a bank\n" * 200), "limit is|at most|up to"),
    ("/semantic_search", "mixed-scripts", dict(query=MIXED), OK),
    ("/attention", "empty", dict(sentence=""), "Type"),
    ("/attention", "200k-chars", dict(sentence=HUGE), "limit is|at most|up to"),
    ("/attention", "control-chars", dict(sentence=CONTROL), OK),
    ("/attention", "focus-word-missing", dict(focus_word="banana"), "banana"),
    ("/attention", "layer-past-the-model", dict(layer=7), "6 layers"),
    ("/attention_steps", "empty", dict(sentence=""), "Type sentence 1"),
    ("/attention_steps", "null-sentence", dict(sentence=None), "sentence must be text; got null"),
    ("/attention_steps", "null-second-sentence", dict(second_sentence=None), "second_sentence must be text; got null"),
    ("/attention_steps", "200k-chars", dict(sentence=HUGE), f"limit is {MAX_STEPS_SENTENCE_CHARS}"),
    ("/attention_steps", "200k-second", dict(second_sentence=HUGE), f"limit is {MAX_STEPS_SENTENCE_CHARS}"),
    ("/attention_steps", "17-tokens", dict(sentence="flies " * 17), f"limit is {MAX_STEPS_TOKENS}"),
    (
        "/attention_steps",
        "control-chars",
        dict(sentence="good \x00film\x07 with\u200b \x1b[31mcolour", second_sentence="", word="film"),
        OK,
    ),
    (
        "/attention_steps",
        "mixed-scripts",
        dict(sentence="Great film! 素晴らしい映画 😀", second_sentence="", word="film"),
        OK,
    ),
    ("/attention_steps", "word-missing", dict(word="banana"), "“banana” is not a word"),
    ("/attention_steps", "word-in-one-sentence-only", dict(word="arrow"), "“arrow” is not a word of “Fruit flies.”"),
    ("/attention_steps", "word-empty", dict(word=" "), "Type one word"),
    ("/attention_steps", "word-null", dict(word=None), "word must be text; got null"),
    ("/attention_steps", "two-words", dict(word="time flies"), "Type one word"),
    (
        "/attention_steps",
        "word-the-tokenizer-drops",
        dict(sentence="Time \u200b flies", second_sentence="", word="\u200b"),
        "keeps nothing",
    ),
    ("/attention_steps", "model-not-allowed", dict(model_id="evil/model"), "not in the list of choices"),
    ("/pipeline_steps", "empty", dict(text=""), "Type a sentence"),
    ("/pipeline_steps", "null", dict(text=None), "text must be text; got null"),
    ("/pipeline_steps", "200k-chars", dict(text=HUGE), f"limit is {MAX_STEPS_TEXT_CHARS}"),
    ("/pipeline_steps", "too-many-tokens", dict(text="fine " * 90), f"limit is {MAX_STEPS_TEXT_TOKENS}"),
    ("/pipeline_steps", "control-chars", dict(text=CONTROL), OK),
    ("/pipeline_steps", "mixed-scripts", dict(text=MIXED), OK),
    (
        "/pipeline_steps",
        "spanish-model",
        dict(text="¡Qué bien!", model_id="pysentimiento/robertuito-sentiment-analysis"),
        OK,
    ),
    ("/pipeline_steps", "model-not-allowed", dict(model_id="evil/model"), "not in the list of choices"),
    ("/evaluate", "no-file", dict(file=None), "Upload a CSV or TSV"),
    (
        "/evaluate",
        "null-columns-and-map",
        dict(text_column=None, label_column=None, label_map=None),
        "text_column must be text; got null",
    ),
    ("/evaluate", "text-column-missing", dict(text_column="review"), "no text column “review”.*“text”, “label”"),
    ("/evaluate", "label-column-missing", dict(label_column="gold"), "no label column “gold”"),
    ("/evaluate", "label-map-without-equals", dict(label_map="POSITIVE"), "MODEL_LABEL=YOUR_LABEL"),
    ("/evaluate", "model-not-allowed", dict(model_id="evil/model"), "not in the list of choices"),
    ("/train_classifier", "empty", dict(examples=""), "Paste labelled sentences"),
    ("/train_classifier", "null", dict(examples=None), "examples must be text; got null"),
    ("/train_classifier", "200k-chars", dict(examples=HUGE), "Line 1 is not `label: text`"),
    ("/train_classifier", "one-label", dict(examples="a: one\na: two\na: three\na: four"), "two different labels"),
    (
        "/train_classifier",
        "21-labels",
        dict(examples="\n".join(f"label{n}: sentence {n}{copy}" for n in range(21) for copy in "ab")),
        f"21 labels were given; the limit is {MAX_TRAINING_LABELS}",
    ),
    (
        "/train_classifier",
        "1001-lines",
        dict(examples="\n".join(f"{'ab'[n % 2]}: sentence {n}" for n in range(1001))),
        f"the limit is {MAX_TRAINING_EXAMPLES:,}",
    ),
    (
        "/train_classifier",
        "long-sentence",
        dict(examples=TRAINING + "\nfood: " + "x" * 1001),
        f"the limit is {MAX_TRAINING_TEXT_CHARS:,}",
    ),
    # A line break inside CONTROL would start a new example line.
    ("/train_classifier", "control-chars", dict(examples=TRAINING + "\nfood: " + CONTROL.replace("\r\n", " ")), OK),
    ("/train_classifier", "mixed-scripts", dict(examples=TRAINING + "\nsport: " + MIXED), OK),
    ("/train_classifier", "model-not-allowed", dict(model_id="evil/model"), "not in the list of choices"),
    ("/classify_sentences", "empty", dict(sentences=" \n "), "Type a sentence"),
    ("/classify_sentences", "null", dict(sentences=None), "sentences must be text; got null"),
    ("/classify_sentences", "51-lines", dict(sentences="ok\n" * 51), f"the limit is {MAX_CLASSIFIED_SENTENCES}"),
    ("/classify_sentences", "200k-chars", dict(sentences=HUGE), f"the limit is {MAX_TRAINING_TEXT_CHARS:,}"),
    ("/classify_sentences", "control-chars", dict(sentences=CONTROL), OK),
    ("/classify_sentences", "mixed-scripts", dict(sentences=MIXED), OK),
]

IMAGE_CASES = [
    ("no-image", None, "Upload an image"),
    ("text-file", "text.png", UPLOAD_REFUSED),
    ("truncated-jpeg", "truncated.jpg", "not an image this app can read"),
    ("corrupt-png", "corrupt.png", "not an image this app can read"),
    ("svg", "drawing.svg", UPLOAD_REFUSED),
    ("20000x20000", "bomb.png", f"{MAX_IMAGE_PIXELS:,} pixels, the limit"),
    ("5000x3", "thin.png", f"one side may be at most {MAX_IMAGE_ASPECT_RATIO} times"),
    ("2x1400", "narrow.png", f"one side may be at most {MAX_IMAGE_ASPECT_RATIO} times"),
    ("1x40000000", "tall.png", f"one side may be at most {MAX_IMAGE_ASPECT_RATIO} times"),
    ("1x1", "one_pixel.png", OK),
    ("grayscale", "grayscale.png", OK),
    ("palette", "palette.png", OK),
    ("rgba", "rgba.png", OK),
    ("cmyk", "cmyk.jpg", OK),
    ("16-bit", "sixteen_bit.png", OK),
    ("animated-gif", "animated.gif", OK),
]


# Uploads for /evaluate and /train_classifier: (case id, file name, contents, expected); the `tables` fixture writes
# them. A file that is neither an image nor a table is refused at upload (415), before any tab sees it.
TRAINING_ROWS = "text,label\nThe striker scored.,sport\nShe won.,sport\nFry the onions.,food\nBake bread.,food\n"
TABLE_CASES = [
    ("not-csv", "data.json", b'{"text": "a", "label": "b"}', UPLOAD_REFUSED),
    ("photo-named-csv", "photo.csv", Path(PHOTO).read_bytes(), "not UTF-8|binary"),
    ("not-utf8", "data.csv", "text,label\ncafé crème,pos\n".encode("latin-1"), "not UTF-8"),
    ("empty", "data.csv", b"", "is empty"),
    ("blank-cells-only", "data.csv", b'""\n,,\n', "only blank cells"),
    ("header-only", "data.csv", b"text,label\n", "no examples"),
    ("text-column-missing", "data.csv", b"sentence,label\nGood.,pos\n", "no text column “text”.*“sentence”, “label”"),
    ("label-column-missing", "data.csv", b"text,gold\nGood.,pos\n", "no label column “label”"),
    ("too-many-cells", "data.csv", b"text,label\nGood,really,pos\n", "has 3 cells"),
    ("over-2mb", "data.csv", b"text,label\n" + b"x" * (2 * 2**20) + b",pos\n", r"the limit is \d MB"),
    ("tsv", "data.tsv", TRAINING_ROWS.replace(",", "\t").encode(), OK),
    ("byte-order-mark", "data.csv", ("\ufeff" + TRAINING_ROWS).encode(), OK),
]
EVALUATE_TABLE_CASES = [
    (
        "too-many-rows",
        "data.csv",
        b"text,label\n" + b"Fine.,pos\n" * (MAX_EVALUATION_ROWS + 1),
        f"limit is {MAX_EVALUATION_ROWS:,}",
    ),
    ("empty-text-cell", "data.csv", b"text,label\nGood.,pos\n,neg\n", "Line 3 has an empty “text”"),
    ("empty-label-cell", "data.csv", b"text,label\nGood.,pos\nBad.,\n", "Line 3 has an empty “label”"),
    (
        "long-text",
        "data.csv",
        b"text,label\n" + b"x" * (MAX_EVALUATION_TEXT_CHARS + 1) + b",pos\n",
        f"limit is {MAX_EVALUATION_TEXT_CHARS:,}",
    ),
]
TRAIN_TABLE_CASES = [
    (
        "too-many-rows",
        "data.csv",
        b"text,label\n" + b"Fine.,a\n" * (MAX_TRAINING_EXAMPLES + 1),
        f"limit is {MAX_TRAINING_EXAMPLES:,}",
    ),
    ("empty-cell", "data.csv", TRAINING_ROWS.encode() + b",food\n", "empty text or label"),
    ("csv", "data.csv", TRAINING_ROWS.encode(), OK),
]
FILE_CASES = [("/evaluate", *case) for case in TABLE_CASES + EVALUATE_TABLE_CASES] + [
    ("/train_classifier", *case) for case in TABLE_CASES + TRAIN_TABLE_CASES
]


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-tables")
    for endpoint, case, name, data, _ in FILE_CASES:
        (folder / endpoint[1:] / case).mkdir(parents=True)
        (folder / endpoint[1:] / case / name).write_bytes(data)
    return folder


def status_of(result: tuple) -> str:
    """The status line among an answer's outputs, wherever the tab puts it."""
    statuses = [value for value in result if isinstance(value, str) and "Served by" in value]
    assert statuses, f"no status line in {result!r}"
    return statuses[-1]


def call(client, endpoint: str, fields: dict):
    return client.predict(**{**GOOD_REQUESTS[endpoint], **fields}, api_name=endpoint)


def check(client, endpoint: str, fields: dict, expected: str | int | None) -> None:
    if endpoint == "/classify_sentences":  # it labels with the classifier this session trained
        call(client, "/train_classifier", {})
    if expected is OK:
        result = call(client, endpoint, fields)
        assert "Served by" in status_of(result)
    elif expected == UPLOAD_REFUSED:
        with pytest.raises(httpx.HTTPStatusError) as error:
            call(client, endpoint, fields)
        assert error.value.response.status_code == UPLOAD_REFUSED
    else:
        with pytest.raises(AppError, match=expected) as error:
            call(client, endpoint, fields)
        message = str(error.value)
        assert len(message) < 300 and "Traceback" not in message and "Something went wrong" not in message
    # The server is still up: the next good request to the same endpoint is answered.
    assert "Served by" in status_of(call(client, endpoint, {}))


@pytest.mark.parametrize(
    ("endpoint", "fields", "expected"),
    [case[0:1] + case[2:] for case in TEXT_CASES],
    ids=[f"{case[0][1:]}-{case[1]}" for case in TEXT_CASES],
)
def test_text_and_settings(client, endpoint, fields, expected):
    check(client, endpoint, fields, expected)


@pytest.mark.parametrize(("name", "expected"), [case[1:] for case in IMAGE_CASES], ids=[c[0] for c in IMAGE_CASES])
def test_images(client, images, name, expected):
    image = None if name is None else handle_file(str(images[name]))
    check(client, "/segment", {"image": image}, expected)


@pytest.mark.parametrize(
    ("endpoint", "case", "name", "expected"),
    [(endpoint, case, name, expected) for endpoint, case, name, _, expected in FILE_CASES],
    ids=[f"{case[0][1:]}-{case[1]}" for case in FILE_CASES],
)
def test_uploaded_tables(client, tables, endpoint, case, name, expected):
    upload = handle_file(str(tables / endpoint[1:] / case / name))
    # The pasted examples are left empty: an uploaded file is what /train_classifier then reads.
    check(
        client,
        endpoint,
        {"file": upload, "examples": ""} if endpoint == "/train_classifier" else {"file": upload},
        expected,
    )


def test_classifying_before_training_asks_to_train_first(app_url, client):
    fresh = Client(app_url, verbose=False)  # a session of its own, which has trained nothing
    with pytest.raises(AppError, match="Train a classifier first") as error:
        fresh.predict(**GOOD_REQUESTS["/classify_sentences"], api_name="/classify_sentences")
    assert "Something went wrong" not in str(error.value)
    call(fresh, "/train_classifier", {})
    assert "Served by" in status_of(call(fresh, "/classify_sentences", {}))


def test_duplicate_labels_are_scored_once(client):
    scores, _ = client.predict("x", "sports, Sports,  sports ,sports", api_name="/zero_shot")
    assert [item["label"] for item in scores["confidences"]] == ["sports"]


def test_a_one_pixel_image_gives_the_same_size_masks(client, images):
    annotated, *_ = client.predict(handle_file(str(images["one_pixel.png"])), 0.0, 0.0, api_name="/segment")
    with Image.open(annotated["image"]) as shown:
        assert shown.size == (1, 1)


def test_an_icon_file_is_refused_before_it_is_decoded(tmp_path):
    """ICO is decoded on opening (a 560 KB ICO can hold a 12000×12000 PNG): refused from its header, like every
    format whose size cannot be read first. (The upload route refuses ICO already; this is the tab's own check.)"""
    icon = tmp_path / "icon.ico"
    Image.new("RGB", (16, 16), "red").save(icon, format="ICO")
    with pytest.raises(UnidentifiedImageError):
        common.check_image_header(str(icon))


def raw_call(app_url: str, api_name: str, body: dict, version: str = "v2/") -> tuple[str | None, object]:
    """Post `body` as JSON written by hand (a lone surrogate survives only as a `\\ud800` escape; gradio_client
    cannot send it) and return the final event of the job's stream and its data."""
    with httpx.Client(base_url=f"{app_url}gradio_api", timeout=60) as http:
        posted = http.post(
            f"/call/{version}{api_name}", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        assert posted.status_code == 200, posted.text
        with http.stream("GET", f"/call/{api_name}/{posted.json()['event_id']}") as stream:
            return final_event(stream.iter_lines())


# (endpoint, case id, fields sent by name over the REST API, the message the error must match)
RAW_CASES = [
    ("sentiment", "lone-surrogate", dict(text="good \ud800 film"), "text holds a lone UTF-16 surrogate"),
    ("zero_shot", "lone-surrogate-label", dict(candidate_labels="\udfff, b"), "candidate_labels holds a lone"),
    ("qa", "lone-surrogate-question", dict(question="Where\udc00?"), "question holds a lone"),
    ("sentiment", "null-text", dict(text=None), "text must be text; got null"),
    ("generate", "null-prompt", dict(prompt=None), "prompt must be text; got null"),
    ("generate", "slider-null", dict(max_new_tokens=None), "max_new_tokens must be a number; got null"),
    ("generate", "slider-string", dict(max_new_tokens="many"), "max_new_tokens must be a number; got 'many'"),
    ("generate", "slider-list", dict(temperature=[1]), "temperature must be a number; got a list"),
    ("generate", "slider-dict", dict(top_p={}), "top_p must be a number; got an object"),
    ("zero_shot", "checkbox-string", dict(multi_label="yes"), "multi_label must be true or false; got 'yes'"),
    ("tokens", "checkbox-group-string", dict(model_ids="gpt2"), "model_ids must be a list of choices"),
    ("tokens", "checkbox-group-null", dict(model_ids=None), "model_ids must be a list of choices; got null"),
    ("tokens", "checkbox-group-dict", dict(model_ids={"a": 1}), "model_ids must be a list of choices"),
]


def good_fields(api_name: str) -> dict:
    return {name: value for name, value in GOOD_REQUESTS[f"/{api_name}"].items() if name != "image"}


@pytest.mark.parametrize(
    ("api_name", "fields", "expected"),
    [(c[0], c[2], c[3]) for c in RAW_CASES],
    ids=[f"{c[0]}-{c[1]}" for c in RAW_CASES],
)
def test_values_of_the_wrong_kind_are_named_with_what_they_must_be(app_url, client, api_name, fields, expected):
    event, payload = raw_call(app_url, api_name, {**good_fields(api_name), **fields})
    assert event == "error" and re.search(expected, str(payload)), payload
    assert "Served by" in status_of(call(client, f"/{api_name}", {}))


def test_too_few_values_are_counted_and_named(app_url):
    event, payload = raw_call(app_url, "sentiment", {"data": ["A fine day."]}, version="")
    assert event == "error" and "/sentiment takes 2 values (text, model_id); got 1" in str(payload), payload


def test_a_label_that_is_only_braces_is_named(client):
    with pytest.raises(AppError, match="cannot be just “{}”"):
        client.predict("The striker scored.", "{}, sports", api_name="/zero_shot")
    scores, _ = client.predict("The striker scored.", "{x}, sports", api_name="/zero_shot")
    assert {item["label"] for item in scores["confidences"]} == {"{x}", "sports"}
