"""Property-based tests of the pure input checks: arbitrary text, label strings and slider values either pass,
giving what the model code expects, or raise the intended `UserError`, never anything else."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from demos import qa, sentiment, zero_shot
from shared.decoding import STRATEGIES, DecodingSettings, sampling_seed
from shared.errors import UserError
from shared.limits import (
    MAX_CANDIDATE_LABELS,
    MAX_LABEL_CHARS,
    MAX_NEW_TOKENS,
    MAX_NUM_BEAMS,
    MAX_NUM_SEQUENCES,
    MAX_QA_CONTEXT_CHARS,
    MAX_SEED,
    MAX_SENTIMENT_LINES,
    MAX_TEXT_CHARS,
    MAX_TOP_K,
    number,
    whole_number,
)

settings.register_profile("fast", max_examples=200, deadline=None)
settings.load_profile("fast")

# Text full of what breaks parsers: separators, braces, control and combining characters, surrogates excluded.
tricky_text = st.text(
    alphabet=st.one_of(st.sampled_from(",{}\n\r\t \x00\x1b\u2028\u200b\ufeff:!.%"), st.characters(codec="utf-8")),
    max_size=300,
)
numbers = st.one_of(
    st.none(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(tricky_text)
@example("x\n" * (MAX_SENTIMENT_LINES + 1))
def test_split_texts(text):
    try:
        texts = sentiment.split_texts(text)
    except UserError:
        return
    assert 1 <= len(texts) <= MAX_SENTIMENT_LINES and all(line and line == line.strip() for line in texts)


@given(tricky_text)
@example(",,,")
@example(", ".join(map(str, range(500))))
def test_parse_candidate_labels(text):
    try:
        labels = zero_shot.parse_candidate_labels(text)
    except UserError:
        return
    assert 1 <= len(labels) <= MAX_CANDIDATE_LABELS
    assert all(label and "," not in label and len(label) <= MAX_LABEL_CHARS for label in labels)
    assert len({label.casefold() for label in labels}) == len(labels)


@given(tricky_text)
@example("{:>2000000000}")
@example("{0} {}")
@example("{{}}")
@example("{} {x}")
@example("{.real}")
@example("{!r}")
def test_check_hypothesis_template(template):
    try:
        checked = zero_shot.check_hypothesis_template(template)
    except UserError:
        return
    # The pipeline calls template.format(label): it must work, put the label in once, and stay short.
    filled = checked.format("LABEL\x00")
    assert filled.count("LABEL\x00") == 1 and len(filled) <= len(checked) + 10


@given(tricky_text)
def test_check_text(text):
    try:
        checked = zero_shot.check_text(text)
    except UserError:
        return
    assert checked and checked == checked.strip() and len(checked) <= MAX_TEXT_CHARS


@given(tricky_text, tricky_text)
def test_check_question_and_context(question, context):
    try:
        checked_question, checked_context = qa.check_question_and_context(question, context)
    except UserError:
        return
    assert checked_question.strip() and checked_context.strip() and len(checked_context) <= MAX_QA_CONTEXT_CHARS


@given(numbers)
@example(float("nan"))
@example(float("inf"))
def test_whole_number(value):
    try:
        checked = whole_number("top_k", value, 1, 10)
    except UserError:
        return
    assert isinstance(checked, int) and 1 <= checked <= 10


@given(
    st.sampled_from([*STRATEGIES, "telepathy", ""]),
    numbers,
    numbers,
    numbers,
    numbers,
    numbers,
    numbers,
    numbers,
)
@example("sampling", float("nan"), 1.0, 1, 1.0, 1.0, 1, 2)
@example("beam search", 5, 1.0, 1, 1.0, 1.0, float("inf"), 2)
def test_generate_kwargs(strategy, max_new_tokens, temperature, top_k, top_p, repetition_penalty, sequences, beams):
    try:
        kwargs = DecodingSettings.checked(
            strategy, max_new_tokens, temperature, top_k, top_p, repetition_penalty, sequences, beams
        ).generate_kwargs()
    except UserError:
        return
    assert isinstance(kwargs["max_new_tokens"], int) and 1 <= kwargs["max_new_tokens"] <= MAX_NEW_TOKENS
    assert 1.0 <= kwargs["repetition_penalty"] <= 3.0
    assert 1 <= kwargs.get("num_return_sequences", 1) <= MAX_NUM_SEQUENCES
    assert 1 <= kwargs["num_beams"] <= MAX_NUM_BEAMS
    if kwargs["do_sample"]:
        assert math.isfinite(kwargs["temperature"]) and 0 < kwargs["temperature"] <= 5
        assert 0 <= kwargs["top_k"] <= MAX_TOP_K and 0 < kwargs["top_p"] <= 1


@given(st.one_of(numbers, st.text(max_size=20)))
@example("nan")
@example("1e400")
def test_sampling_seed(seed):
    try:
        checked = sampling_seed(seed)
    except UserError:
        return
    assert isinstance(checked, int) and 0 <= checked <= MAX_SEED


@given(st.one_of(numbers, st.booleans(), st.text(max_size=5)))
def test_check_threshold(value):
    try:
        checked = number("threshold", value, 0, 1)
    except UserError:
        return
    assert 0 <= checked <= 1
