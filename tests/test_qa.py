"""Question answering: the span search on hand-made logits, windowing with a real tokenizer, and the /qa endpoint of
the running app."""

import re

import numpy as np
import pytest
import torch

from demos import qa
from demos.tab import Tab
from shared.errors import UserError
from shared.limits import MAX_QA_CONTEXT_CHARS, MAX_QA_QUESTION_CHARS, MAX_TOP_K_ANSWERS, whole_number
from shared.stand_ins import ensure_stand_in
from shared.stand_ins.tokenizers import wordpiece_tokenizer
from tests.helpers import untimed

DISTILBERT, SQUAD2 = (choice.model_id for choice in qa.DEMO.models)

# "Where is it?" / "The tower is in Paris, France." as a BERT tokenizer splits it: [CLS] question [SEP] context [SEP].
CONTEXT = "The tower is in Paris, France."
TOKENS = [
    # (offsets in the context, word in the context or -1, may start or end an answer)
    ((0, 0), -1, True),  # 0 [CLS]
    ((0, 5), -1, False),  # 1 "Where" (question)
    ((0, 0), -1, False),  # 2 [SEP]
    ((0, 3), 0, True),  # 3 "The"
    ((4, 9), 1, True),  # 4 "tower"
    ((10, 12), 2, True),  # 5 "is"
    ((13, 15), 3, True),  # 6 "in"
    ((16, 19), 4, True),  # 7 "Par"
    ((19, 21), 4, True),  # 8 "##is"
    ((21, 22), 5, True),  # 9 ","
    ((23, 29), 6, True),  # 10 "France"
    ((29, 30), 7, True),  # 11 "."
    ((0, 0), -1, False),  # 12 [SEP]
]
PARIS_START, PARIS_END, FRANCE = 7, 8, 10


def make_window(starts: dict[int, float], ends: dict[int, float], tokens=TOKENS, low: float = -4.0) -> qa.Window:
    """A window whose start and end logits are `low` except at the given tokens."""
    start_logits = np.full(len(tokens), low, dtype=np.float32)
    end_logits = np.full(len(tokens), low, dtype=np.float32)
    for index, logit in starts.items():
        start_logits[index] = logit
    for index, logit in ends.items():
        end_logits[index] = logit
    return qa.Window(
        start_logits=start_logits,
        end_logits=end_logits,
        candidates=np.array([candidate for _, _, candidate in tokens]),
        offsets=np.array([offsets for offsets, _, _ in tokens]),
        words=np.array([word for _, word, _ in tokens]),
    )


def probabilities(logits: dict[int, float], low: float = -4.0) -> np.ndarray:
    window = make_window(logits, {}, low=low)
    return qa.span_probabilities(window.start_logits, window.candidates)


def test_span_probabilities_spread_over_the_context_and_cls_only():
    window = make_window({FRANCE: 3.0, 1: 50.0}, {})
    probs = qa.span_probabilities(window.start_logits, window.candidates)
    assert probs.dtype == np.float32
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert probs[1] == probs[2] == probs[12] == 0.0
    assert probs.argmax() == FRANCE
    expected = np.exp(3.0) / (np.exp(3.0) + 9 * np.exp(-4.0))
    assert probs[FRANCE] == pytest.approx(expected, rel=1e-5)


def test_best_spans_pick_the_highest_start_times_end():
    start = probabilities({PARIS_START: 2.0, FRANCE: 0.5})
    end = probabilities({PARIS_END: 1.5, FRANCE: 2.5})
    spans = qa.best_spans(start, end, count=3, max_answer_len=15)
    assert [(first, last) for first, last, _ in spans] == [
        (PARIS_START, FRANCE),
        (PARIS_START, PARIS_END),
        (FRANCE, FRANCE),
    ]
    assert spans[0][2] == pytest.approx(float(start[PARIS_START] * end[FRANCE]), rel=1e-6)
    assert [score for _, _, score in spans] == sorted((score for _, _, score in spans), reverse=True)


def test_best_spans_never_end_before_they_start():
    start = probabilities({FRANCE: 5.0})
    end = probabilities({PARIS_START: 5.0})
    spans = qa.best_spans(start, end, count=50, max_answer_len=15)
    assert spans and all(first <= last for first, last, _ in spans)
    assert (FRANCE, PARIS_START) not in [(first, last) for first, last, _ in spans]


@pytest.mark.parametrize("max_answer_len", [1, 2, 4])
def test_best_spans_are_at_most_max_answer_len_tokens(max_answer_len):
    start = probabilities({3: 5.0})
    end = probabilities({11: 5.0})
    spans = qa.best_spans(start, end, count=200, max_answer_len=max_answer_len)
    assert spans and all(last - first + 1 <= max_answer_len for first, last, _ in spans)
    assert (3, 11) not in [(first, last) for first, last, _ in spans]


def test_best_spans_leave_out_tokens_outside_the_context():
    start = probabilities({FRANCE: 5.0})
    spans = qa.best_spans(start, start, count=1000, max_answer_len=15)
    used = {token for first, last, _ in spans for token in (first, last)}
    assert used and not used & {1, 2, 12}


def test_find_answers_maps_the_best_span_to_characters_of_the_context():
    window = make_window({FRANCE: 6.0}, {FRANCE: 6.0})
    [best] = qa.find_answers([window], CONTEXT)
    assert (best.text, best.start, best.end) == ("France", 23, 29)
    assert CONTEXT[best.start : best.end] == best.text
    assert not best.no_answer


def test_find_answers_widen_a_span_inside_a_word_to_the_whole_word():
    window = make_window({PARIS_END: 6.0}, {PARIS_END: 6.0})
    [best] = qa.find_answers([window], CONTEXT)
    assert (best.text, best.start, best.end) == ("Paris", 16, 21)


def test_find_answers_return_top_k_best_first():
    window = make_window({PARIS_START: 5.0, FRANCE: 4.0, 4: 3.0}, {PARIS_END: 5.0, FRANCE: 4.0, 4: 3.0})
    answers = qa.find_answers([window], CONTEXT, top_k=4)
    assert len(answers) == 4
    assert answers[0].text == "Paris"
    assert [answer.score for answer in answers] == sorted((answer.score for answer in answers), reverse=True)
    assert all(CONTEXT[answer.start : answer.end] == answer.text for answer in answers)
    assert len({answer.text for answer in answers}) == 4


def test_find_answers_respect_max_answer_len():
    window = make_window({3: 8.0}, {FRANCE: 8.0})
    [best] = qa.find_answers([window], CONTEXT, max_answer_len=3)
    assert best.text != "The tower is in Paris, France"
    [longer] = qa.find_answers([window], CONTEXT, max_answer_len=15)
    assert longer.text == "The tower is in Paris, France"


def test_find_answers_merge_the_same_answer_from_overlapping_windows():
    # The second window starts at "in": "Paris" sits in both windows, at different token positions.
    second_tokens = [TOKENS[0], TOKENS[1], TOKENS[2], *TOKENS[6:]]
    first = make_window({PARIS_START: 5.0}, {PARIS_END: 5.0})
    second = make_window({4: 5.0}, {5: 5.0}, tokens=second_tokens)
    [alone] = qa.find_answers([first], CONTEXT)
    [merged] = qa.find_answers([first, second], CONTEXT)
    [in_second] = qa.find_answers([second], CONTEXT)
    assert merged.text == alone.text == in_second.text == "Paris"
    assert (merged.start, merged.end) == (16, 21)
    assert merged.score == pytest.approx(alone.score + in_second.score, rel=1e-6)


def test_find_answers_merge_answers_that_differ_only_in_case():
    context = "Paris or PARIS"
    tokens = [((0, 0), -1, True), ((0, 5), 0, True), ((6, 8), 1, True), ((9, 14), 2, True), ((0, 0), -1, False)]
    window = make_window({1: 5.0, 3: 5.0}, {1: 5.0, 3: 5.0}, tokens=tokens)
    answers = qa.find_answers([window], context, top_k=5)
    assert [answer.text for answer in answers].count("Paris") == 1
    assert "PARIS" not in [answer.text for answer in answers]


def test_no_answer_only_when_asked_for():
    window = make_window({0: 9.0, FRANCE: 2.0}, {0: 9.0, FRANCE: 2.0})
    [best] = qa.find_answers([window], CONTEXT)
    assert best.text == "France" and not best.no_answer
    [best] = qa.find_answers([window], CONTEXT, handle_impossible_answer=True)
    assert best.no_answer and (best.text, best.start, best.end) == ("", 0, 0)
    start = qa.span_probabilities(window.start_logits, window.candidates)
    assert best.score == pytest.approx(float(start[0]) ** 2, rel=1e-6)


def test_no_answer_takes_the_lowest_cls_score_of_all_windows():
    sure = make_window({0: 9.0}, {0: 9.0})
    unsure = make_window({0: 1.0, FRANCE: 4.0}, {0: 1.0, FRANCE: 4.0})
    answers = qa.find_answers([sure, unsure], CONTEXT, top_k=3, handle_impossible_answer=True)
    no_answer = next(answer for answer in answers if answer.no_answer)
    unsure_start = qa.span_probabilities(unsure.start_logits, unsure.candidates)
    assert no_answer.score == pytest.approx(float(unsure_start[0]) ** 2, rel=1e-6)
    assert answers[0].text == "France"


def test_no_answer_loses_to_a_better_span():
    window = make_window({0: 1.0, FRANCE: 6.0}, {0: 1.0, FRANCE: 6.0})
    answers = qa.find_answers([window], CONTEXT, top_k=MAX_TOP_K_ANSWERS, handle_impossible_answer=True)
    assert answers[0].text == "France"
    assert sum(answer.no_answer for answer in answers) == 1


@pytest.mark.parametrize(
    ("question", "context", "message"),
    [
        ("Where?", "", "Paste the context"),
        ("Where?", " \n ", "Paste the context"),
        ("", "Some text.", "Type a question"),
        ("   ", "Some text.", "Type a question"),
        ("Where?", "x" * (MAX_QA_CONTEXT_CHARS + 1), f"{MAX_QA_CONTEXT_CHARS:,}"),
        ("w" * (MAX_QA_QUESTION_CHARS + 1), "Some text.", f"{MAX_QA_QUESTION_CHARS:,}"),
    ],
)
def test_check_question_and_context_refuses_what_cannot_be_answered(question, context, message):
    with pytest.raises(UserError, match=message):
        qa.check_question_and_context(question, context)


def test_check_question_and_context_keeps_the_context_as_given():
    assert qa.check_question_and_context("Where? ", "  Paris.\n") == ("Where? ", "  Paris.\n")


@pytest.mark.parametrize("value", [0, 11, 2.5, None])
def test_whole_number_refuses_out_of_range(value):
    with pytest.raises(UserError, match="top_k must be a whole number from 1 to 10"):
        whole_number("top_k", value, 1, 10)


def test_highlighted_context_marks_the_best_answer():
    best = qa.Answer("Paris", 0.5, 16, 21)
    assert qa.highlighted_context(CONTEXT, best) == [
        ("The tower is in ", None),
        ("Paris", "answer"),
        (", France.", None),
    ]
    no_answer = qa.Answer("", 0.5, 0, 0, no_answer=True)
    assert qa.highlighted_context(CONTEXT, no_answer) == [(CONTEXT, None)]


def test_the_squad2_model_may_always_say_no_answer():
    assert qa.no_answer_setting(SQUAD2)["value"] is True
    assert qa.no_answer_setting(SQUAD2)["interactive"] is False
    assert qa.no_answer_setting(DISTILBERT)["value"] is False


@pytest.fixture(scope="module")
def tokenizer():
    return wordpiece_tokenizer(lowercase=False)


def test_long_contexts_are_read_in_overlapping_windows(tokenizer):
    context = " ".join([qa.LOST_KEYS] * 8)
    encoded = qa.tokenize_windows(tokenizer, "Where are the keys?", context, max_seq_len=64, doc_stride=16)
    logits = np.zeros((len(encoded["input_ids"]), len(encoded["input_ids"][0])), dtype=np.float32)
    windows = qa.windows_of(encoded, logits, logits, tokenizer.cls_token_id)
    assert len(windows) > 5
    for window in windows:
        assert window.candidates[0]
        assert window.offsets[window.candidates][1:, 1].max() <= len(context)
    covered = [window.offsets[window.words >= 0] for window in windows]
    for before, after in zip(covered, covered[1:], strict=False):
        shared = {tuple(span) for span in before} & {tuple(span) for span in after}
        assert len(shared) == 16
    assert covered[0][0][0] == 0 and covered[-1][-1][1] == len(context)


def test_a_question_that_fills_the_window_is_refused(tokenizer):
    with pytest.raises(UserError, match="Shorten the question"):
        qa.tokenize_windows(tokenizer, " ".join(["fox"] * 40), qa.LOST_KEYS, max_seq_len=64, doc_stride=16)


def test_window_size_has_the_v4_pipeline_defaults(tokenizer):
    assert qa.window_size(tokenizer, None, None) == (384, 128)
    assert qa.window_size(tokenizer, 100, None) == (100, 50)
    tokenizer_with_short_windows = wordpiece_tokenizer(lowercase=False)
    tokenizer_with_short_windows.model_max_length = 128
    assert qa.window_size(tokenizer_with_short_windows, None, None) == (128, 64)


# The running app, serving tiny stand-ins.


def rows(table: dict) -> list[list]:
    return table["data"]


def assert_answers_are_pieces_of_the_context(context: str, table: dict, top_k: int) -> None:
    answers = rows(table)
    assert 1 <= len(answers) <= top_k
    for text, score, start, end in answers:
        assert 0 <= start <= end <= len(context)
        assert context[start:end] == text
        assert 0 < score <= 1
    scores = [score for _, score, _, _ in answers]
    assert scores == sorted(scores, reverse=True)


def test_endpoint_answers_with_a_piece_of_the_context(client):
    highlighted, score, table, status = client.predict(
        qa.EIFFEL_TOWER, "When was the Eiffel Tower built?", 3, 15, False, DISTILBERT, api_name="/qa"
    )
    assert_answers_are_pieces_of_the_context(qa.EIFFEL_TOWER, table, top_k=3)
    best_text, best_score, best_start, best_end = rows(table)[0]
    assert score == pytest.approx(best_score)
    assert "".join(piece["token"] for piece in highlighted) == qa.EIFFEL_TOWER
    [marked] = [piece["token"] for piece in highlighted if piece["class_or_confidence"] == "answer"]
    assert marked == best_text
    assert "1 window " in status and DISTILBERT in status and "stand-in" in status


def test_endpoint_function_answers_as_the_api_does(client, runtime):
    inputs = (qa.LOST_KEYS, "Where did I leave the keys?", 4, 15, True, DISTILBERT)
    api_highlighted, api_score, api_table, api_status = client.predict(*inputs, api_name="/qa")
    highlighted, score, table, status = qa.qa(Tab(qa.DEMO, runtime), *inputs)
    assert [{"token": text, "class_or_confidence": label} for text, label in highlighted] == api_highlighted
    assert score == api_score
    assert table == api_table["data"]
    assert untimed(status) == untimed(api_status) + " · cached"  # the same question again is answered from memory


def test_endpoint_returns_top_k_different_answers_best_first(client):
    _, _, table, _ = client.predict(
        context=qa.LOST_KEYS, question="Where did I leave the keys?", top_k=MAX_TOP_K_ANSWERS, api_name="/qa"
    )
    assert_answers_are_pieces_of_the_context(qa.LOST_KEYS, table, top_k=MAX_TOP_K_ANSWERS)
    assert len(rows(table)) == MAX_TOP_K_ANSWERS
    assert len({text.lower() for text, _, _, _ in rows(table)}) == MAX_TOP_K_ANSWERS


def test_endpoint_honours_max_answer_len(client):
    _, _, table, _ = client.predict(
        context=qa.EIFFEL_TOWER, question="How tall is it?", top_k=5, max_answer_len=1, api_name="/qa"
    )
    assert_answers_are_pieces_of_the_context(qa.EIFFEL_TOWER, table, top_k=5)
    assert all(len(text.split()) == 1 for text, _, _, _ in rows(table))


@pytest.mark.parametrize("model_id", [DISTILBERT, SQUAD2])
def test_endpoint_reads_a_long_context_in_several_windows(client, model_id):
    context = " ".join(f"Chapter {number}. {qa.EIFFEL_TOWER} {qa.LOST_KEYS}" for number in range(1, 40))[:20_000]
    highlighted, _, table, status = client.predict(
        context, "Who found the keys?", 5, 15, False, model_id, api_name="/qa"
    )
    windows = int(re.search(r"in (\d+) overlapping windows", status).group(1))
    assert windows > 5
    assert_answers_are_pieces_of_the_context(context, table, top_k=5)
    assert "".join(piece["token"] for piece in highlighted) == context


def test_endpoint_squad2_model_may_say_no_answer_without_being_asked(client, tiny_settings):
    # Which question the random stand-in finds unanswerable is looked up first, with the span search itself.
    model_dir = ensure_stand_in("roberta-qa", "tiny", tiny_settings.stand_in_root)
    bundle = qa.DEMO.loader(str(model_dir), "cpu", torch.float32)
    sentences = re.split(r"(?<=\.) ", f"{qa.EIFFEL_TOWER} {qa.LOST_KEYS}")
    questions = ["Who?", "What?", "When?", "Where?", "Why?", "Who painted the Mona Lisa?", "Where are the keys?"]
    cases = ((sentence, question) for sentence in sentences for question in questions)
    context, question, expected = next(
        (context, question, found.answers)
        for context, question in cases
        for found in [qa.answer_question(bundle, question, context, 5, 1, handle_impossible_answer=True)]
        if any(answer.no_answer for answer in found.answers)
    )
    highlighted, score, table, status = client.predict(context, question, 5, 1, False, SQUAD2, api_name="/qa")
    assert [row[0] for row in rows(table)] == [answer.text for answer in expected]
    assert ["", 0, 0] in [[text, start, end] for text, _, start, end in rows(table)]
    says_no_answer = rows(table)[0][0] == ""
    assert ("No answer" in status) == says_no_answer
    assert (highlighted == [{"token": context, "class_or_confidence": None}]) == says_no_answer


def test_endpoint_default_model_says_no_answer_only_when_allowed(client):
    context, question = "In Paris.", "Who painted the Mona Lisa?"
    _, _, table, _ = client.predict(context, question, MAX_TOP_K_ANSWERS, 15, False, DISTILBERT, api_name="/qa")
    assert all(text for text, _, _, _ in rows(table))
    _, _, table, _ = client.predict(context, question, MAX_TOP_K_ANSWERS, 15, True, DISTILBERT, api_name="/qa")
    assert [text for text, _, _, _ in rows(table)].count("") == 1


def test_empty_question_gets_a_clear_error(client):
    with pytest.raises(Exception, match="Type a question"):
        client.predict(qa.LOST_KEYS, "   ", api_name="/qa")


def test_empty_context_gets_a_clear_error(client):
    with pytest.raises(Exception, match="Paste the context"):
        client.predict("", "Where?", api_name="/qa")


def test_too_long_context_gets_a_clear_error(client):
    with pytest.raises(Exception, match=f"the limit is {MAX_QA_CONTEXT_CHARS:,}"):
        client.predict("x" * (MAX_QA_CONTEXT_CHARS + 1), "Where?", api_name="/qa")


def test_model_outside_the_allowlist_is_refused(client):
    with pytest.raises(Exception, match="not in the list of choices|not offered here"):
        client.predict(qa.LOST_KEYS, "Where?", 1, 15, False, "evil/model", api_name="/qa")
