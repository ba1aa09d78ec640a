"""Question answering: an encoder with a span head reads a question and a context and points at where the answer
starts and ends in the context. transformers 5 has no question-answering pipeline, so this module does what the 4.x
`QuestionAnsweringPipeline` did, with the same defaults and scores: it reads long contexts in overlapping windows,
scores every span of up to `max_answer_len` tokens as p(start) × p(end), widens the best spans to whole words in
the context, and can answer "no answer" when the [CLS] token beats every span (as SQuAD 2.0 models are trained to).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch
from transformers import BatchEncoding

from demos.common import model_dropdown, run_by, status_cleared_on_error, tab_intro, user_errors
from demos.messages import phrase, say
from demos.tab import Demo, Tab
from shared.errors import UserError
from shared.limits import (
    MAX_ANSWER_TOKENS,
    MAX_QA_CONTEXT_CHARS,
    MAX_QA_QUESTION_CHARS,
    MAX_TOP_K_ANSWERS,
    whole_number,
)
from shared.loading import ModelBundle, ModelLoader
from shared.model_choices import ModelChoice

DISTILBERT_SQUAD = "distilbert/distilbert-base-cased-distilled-squad"
ROBERTA_SQUAD2 = "deepset/roberta-base-squad2"
# SQuAD 2.0 taught these models to point at [CLS] when the context does not answer the question.
NO_ANSWER_MODELS = frozenset({ROBERTA_SQUAD2})

# The defaults of transformers 4.x's question-answering pipeline.
MAX_SEQ_LEN = 384
DOC_STRIDE = 128
DEFAULT_MAX_ANSWER_LEN = 15
# Windows run in batches of this many, so a context at the length limit does not need gigabytes of attention.
WINDOWS_PER_BATCH = 32

TABLE_HEADERS = ["answer", "score", "start", "end"]
# Scores as the page and the API show them; answer_question keeps them in full.
SCORE_DIGITS = 4
EIFFEL_TOWER = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the "
    "engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889 as the centrepiece of "
    "the 1889 World's Fair. It is 330 metres tall, about the same height as an 81-storey building, and was the "
    "tallest man-made structure in the world until 1930."
)
LOST_KEYS = (
    "I came home late on Friday, dropped my bag by the door and went straight to the kitchen to make tea. On "
    "Saturday morning I searched the car, the garden and every coat pocket. In the end my daughter found the keys "
    "in the fruit bowl, under the bananas."
)
EXAMPLES = [
    [EIFFEL_TOWER, "When was the Eiffel Tower built?", 3, DISTILBERT_SQUAD],
    [LOST_KEYS, "Where did I leave the keys?", 3, DISTILBERT_SQUAD],
    [EIFFEL_TOWER, "Who painted the Mona Lisa?", 3, ROBERTA_SQUAD2],
]


@dataclass
class Answer:
    """An answer as the 4.x pipeline gives it: `context[start:end] == text`; "no answer" is empty at 0."""

    text: str
    score: float
    start: int
    end: int
    no_answer: bool = False


@dataclass
class Window:
    """One window of the tokenized (question, context) pair: the model's logits for each token and where the token
    sits in the context. `candidates` marks the context tokens and [CLS], the tokens the start and end
    probabilities are spread over; `words` gives each context token's word index in the context, -1 elsewhere."""

    start_logits: np.ndarray
    end_logits: np.ndarray
    candidates: np.ndarray
    offsets: np.ndarray
    words: np.ndarray


@dataclass
class FoundAnswers:
    """The best answers, best first, and how the context was read: in how many windows of how many tokens."""

    answers: list[Answer]
    windows: int
    window_tokens: int


def check_question_and_context(question: str | None, context: str | None) -> tuple[str, str]:
    question, context = question or "", context or ""
    if not context.strip():
        raise UserError("Paste the context: the text in which to look for the answer.")
    if not question.strip():
        raise UserError("Type a question about the context.")
    if len(context) > MAX_QA_CONTEXT_CHARS:
        raise UserError(
            f"The context is {len(context):,} characters long; the limit is {MAX_QA_CONTEXT_CHARS:,}. Shorten it."
        )
    if len(question) > MAX_QA_QUESTION_CHARS:
        raise UserError(
            f"The question is {len(question):,} characters long; the limit is {MAX_QA_QUESTION_CHARS:,}. Shorten it."
        )
    return question, context


def span_probabilities(logits: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Softmax over the candidate tokens, in float32 as the 4.x pipeline computes it; other tokens get 0."""
    masked = np.where(candidates, np.asarray(logits, dtype=np.float32), np.float32(-10000.0))
    exponentials = np.exp(masked - masked.max())
    return np.where(candidates, exponentials / exponentials.sum(), np.float32(0.0))


def best_spans(
    start_probabilities: np.ndarray, end_probabilities: np.ndarray, count: int, max_answer_len: int
) -> list[tuple[int, int, float]]:
    """The `count` most likely token spans as (start, end, p_start × p_end), best first: `start <= end`, at most
    `max_answer_len` tokens long, and never with probability 0."""
    scores = np.triu(np.tril(np.outer(start_probabilities, end_probabilities), max_answer_len - 1))
    flat = scores.ravel()
    count = min(count, int(np.count_nonzero(flat)))
    if count == 0:
        return []
    top = np.argpartition(-flat, count - 1)[:count]
    top = top[np.lexsort((top, -flat[top]))]
    starts, ends = np.unravel_index(top, scores.shape)
    return [(int(start), int(end), float(flat[index])) for start, end, index in zip(starts, ends, top, strict=True)]


def answer_chars(window: Window, start: int, end: int) -> tuple[int, int]:
    """The characters of the context that the token span covers, widened to whole words (the 4.x pipeline's
    `align_to_words`); a span touching a token outside the context keeps the tokens' own offsets."""
    start_word, end_word = window.words[start], window.words[end]
    if start_word < 0 or end_word < 0:
        return int(window.offsets[start][0]), int(window.offsets[end][1])
    first = np.flatnonzero(window.words == start_word)[0]
    last = np.flatnonzero(window.words == end_word)[-1]
    return int(window.offsets[first][0]), int(window.offsets[last][1])


def find_answers(
    windows: list[Window],
    context: str,
    top_k: int = 1,
    max_answer_len: int = DEFAULT_MAX_ANSWER_LEN,
    handle_impossible_answer: bool = False,
) -> list[Answer]:
    """The `top_k` best answers over all windows, best first, scored as the 4.x pipeline scores them.

    Answers with the same text (ignoring case) are one answer: its place is where it was found first and its score
    the sum over the spans and windows that gave it. With `handle_impossible_answer`, "no answer" competes with the
    lowest [CLS] score of any window."""
    answers: dict[str, Answer] = {}
    null_score: float | None = None
    # The pipeline looks at extra spans per window because several can widen to the same words.
    spans_per_window = 2 * top_k + 10
    for window in windows:
        start = span_probabilities(window.start_logits, window.candidates)
        end = span_probabilities(window.end_logits, window.candidates)
        window_null_score = float(start[0] * end[0])
        null_score = window_null_score if null_score is None else min(null_score, window_null_score)
        start[0] = end[0] = 0.0
        for first_token, last_token, score in best_spans(start, end, spans_per_window, max_answer_len):
            first, last = answer_chars(window, first_token, last_token)
            text = context[first:last]
            if text.lower() in answers:
                answers[text.lower()].score += score
            else:
                answers[text.lower()] = Answer(text, score, first, last)
    found = list(answers.values())
    if handle_impossible_answer and null_score is not None:
        found.append(Answer("", null_score, 0, 0, no_answer=True))
    return sorted(found, key=lambda answer: answer.score, reverse=True)[:top_k]


def window_size(tokenizer, max_seq_len: int | None, doc_stride: int | None) -> tuple[int, int]:
    """`max_seq_len` and `doc_stride` with the 4.x pipeline's defaults: 384 tokens (or the model's maximum if
    smaller) and an overlap of 128 tokens (or half a window if smaller)."""
    max_seq_len = max_seq_len or min(MAX_SEQ_LEN, tokenizer.model_max_length)
    doc_stride = doc_stride if doc_stride is not None else min(max_seq_len // 2, DOC_STRIDE)
    return max_seq_len, doc_stride


def tokenize_windows(tokenizer, question: str, context: str, max_seq_len: int, doc_stride: int) -> BatchEncoding:
    """(question, context) as overlapping windows of at most `max_seq_len` tokens; each repeats the question and
    shares `doc_stride` context tokens with the window before it."""
    question_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
    # A window must keep more context tokens than it shares with the next one, or it could not move on.
    longest_question = max_seq_len // 2 - tokenizer.num_special_tokens_to_add(pair=True) - 1
    if question_tokens > longest_question:
        raise UserError(
            f"The question is {question_tokens} tokens long; with this model's windows of {max_seq_len} tokens "
            f"it may be at most {longest_question}. Shorten the question."
        )
    return tokenizer(
        question,
        context,
        truncation="only_second",
        max_length=max_seq_len,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        padding_side="right",
    )


def span_logits(
    model: torch.nn.Module, encoded: BatchEncoding, input_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end logits, one row per window, as float32 arrays."""
    inputs = {name: torch.tensor(encoded[name], device=model.device) for name in input_names if name in encoded}
    windows = len(encoded["input_ids"])
    starts, ends = [], []
    with torch.no_grad():
        for first in range(0, windows, WINDOWS_PER_BATCH):
            outputs = model(**{name: tensor[first : first + WINDOWS_PER_BATCH] for name, tensor in inputs.items()})
            starts.append(outputs.start_logits.float().cpu().numpy())
            ends.append(outputs.end_logits.float().cpu().numpy())
    return np.concatenate(starts), np.concatenate(ends)


def windows_of(
    encoded: BatchEncoding, start_logits: np.ndarray, end_logits: np.ndarray, cls_token_id: int | None
) -> list[Window]:
    windows = []
    for index in range(len(encoded["input_ids"])):
        in_context = np.array([sequence == 1 for sequence in encoded.sequence_ids(index)])
        is_cls = np.array(encoded["input_ids"][index]) == cls_token_id
        attended = np.array(encoded["attention_mask"][index], dtype=bool)
        words = np.array([-1 if word is None else word for word in encoded.word_ids(index)])
        windows.append(
            Window(
                start_logits=start_logits[index],
                end_logits=end_logits[index],
                candidates=(in_context | is_cls) & attended,
                offsets=np.array(encoded["offset_mapping"][index]),
                words=np.where(in_context, words, -1),
            )
        )
    return windows


def answer_question(
    bundle: ModelBundle,
    question: str,
    context: str,
    top_k: int = 1,
    max_answer_len: int = DEFAULT_MAX_ANSWER_LEN,
    handle_impossible_answer: bool = False,
    max_seq_len: int | None = None,
    doc_stride: int | None = None,
) -> FoundAnswers:
    """What `pipeline("question-answering")(question=..., context=..., top_k=...)` answered in transformers 4.x.

    >>> found = answer_question(bundle, "Where is the tower?", "The tower is in Paris.")  # doctest: +SKIP
    >>> found.answers[0].text  # doctest: +SKIP
    'Paris'
    """
    tokenizer = bundle.processor
    max_seq_len, doc_stride = window_size(tokenizer, max_seq_len, doc_stride)
    encoded = tokenize_windows(tokenizer, question, context, max_seq_len, doc_stride)
    start_logits, end_logits = span_logits(bundle.model, encoded, tokenizer.model_input_names)
    windows = windows_of(encoded, start_logits, end_logits, tokenizer.cls_token_id)
    answers = find_answers(windows, context, top_k, max_answer_len, handle_impossible_answer)
    return FoundAnswers(answers, len(windows), max_seq_len)


def highlighted_context(context: str, best: Answer | None) -> list[tuple[str, str | None]]:
    """The context as `gr.HighlightedText` wants it, with the best answer marked "answer"."""
    if best is None or best.no_answer:
        return [(context, None)]
    pieces = [(context[: best.start], None), (context[best.start : best.end], "answer"), (context[best.end :], None)]
    return [(text, label) for text, label in pieces if text]


def shown_score(score: float, digits: int = SCORE_DIGITS) -> float:
    """`score` to `digits` significant digits: 0.009880553930997849 is 0.009881, and a tiny score stays above 0."""
    return float(f"{score:.{digits}g}")


def table_rows(answers: list[Answer]) -> list[list]:
    return [[answer.text, shown_score(answer.score), answer.start, answer.end] for answer in answers]


def reading_note(found: FoundAnswers) -> str:
    windows = phrase("1 window") if found.windows == 1 else phrase(f"{found.windows} overlapping windows")
    note = say(f"Read the context in {windows} of up to {found.window_tokens} tokens.")
    if not found.answers:
        return note + say(" No span of the context could be an answer.")
    if found.answers[0].no_answer:
        return note + say(" **No answer:** the model finds that the context does not answer the question.")
    return note


def no_answer_setting(model_id: str | None) -> dict:
    """The "Allow 'no answer'" checkbox for a model: always on for SQuAD 2.0 models, the user's choice otherwise."""
    if model_id in NO_ANSWER_MODELS:
        return dict(value=True, interactive=False, info="Always on: this model was trained to say 'no answer'.")
    return dict(value=False, interactive=True, info="Let the model answer that the context has no answer.")


def no_answer_checkbox(model_id: str | None) -> gr.Checkbox:
    return gr.Checkbox(**no_answer_setting(model_id))


@user_errors
def qa(
    tab: Tab,
    context: str,
    question: str,
    top_k: float,
    max_answer_len: float,
    handle_impossible_answer: bool,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Find the span of the context that answers the question: the context with the answer highlighted, its
    score, the top_k answers with character offsets, and a status line."""
    question, context = check_question_and_context(question, context)
    top_k = whole_number(phrase("The number of answers (top_k)"), top_k, 1, MAX_TOP_K_ANSWERS)
    max_answer_len = whole_number(phrase("The longest answer (max_answer_len)"), max_answer_len, 1, MAX_ANSWER_TOKENS)
    with tab.model(model_id, progress) as served:
        allow_no_answer = bool(handle_impossible_answer) or served.model_id in NO_ANSWER_MODELS
        found = served.remember(
            ("qa", question, context, top_k, max_answer_len, allow_no_answer),
            lambda: served.run(answer_question, question, context, top_k, max_answer_len, allow_no_answer),
        )
    best = found.answers[0] if found.answers else None
    status = f"{reading_note(found)}\n\n{served.status()}"
    best_score = shown_score(best.score) if best else None
    return highlighted_context(context, best), best_score, table_rows(found.answers), status


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column():
            context = gr.Textbox(
                label="Context",
                lines=8,
                placeholder="Paste the text that holds the answer.",
                info=f"Up to {MAX_QA_CONTEXT_CHARS:,} characters; long texts are read in overlapping windows.",
            )
            question = gr.Textbox(label="Question", info=f"Up to {MAX_QA_QUESTION_CHARS:,} characters.")
            top_k = gr.Slider(1, MAX_TOP_K_ANSWERS, value=3, step=1, label="Answers to show (top_k)")
            model = model_dropdown(tab.choices)
            allow_no_answer = gr.Checkbox(
                label="Allow 'no answer' (handle_impossible_answer)", **no_answer_setting(tab.choices[0].model_id)
            )
            with gr.Accordion("More settings", open=False):
                max_answer_len = gr.Slider(
                    1,
                    MAX_ANSWER_TOKENS,
                    value=DEFAULT_MAX_ANSWER_LEN,
                    step=1,
                    label="Longest answer in tokens (max_answer_len)",
                )
            button = gr.Button("Answer", variant="primary")
        with gr.Column():
            # Green-700, not Gradio's "green": its label is white on green-600 (contrast 3.3).
            highlighted = gr.HighlightedText(
                label="Best answer in the context",
                color_map={"answer": "#15803d"},
                show_legend=False,
                elem_classes=["answer-in-context"],  # flows as running text, breaking lines between words
            )
            score = gr.Number(label="Score of the best answer (p_start × p_end)")
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                datatype=["str", "number", "number", "number"],
                label="Best answers (start and end are character positions in the context)",
                interactive=False,
                wrap=True,  # a long answer wraps in its cell, so the score, start and end stay in view
                column_widths=["40%", "24%", "18%", "18%"],
            )
            status = gr.Markdown(label="Status")
    gr.Examples(EXAMPLES, inputs=[context, question, top_k, model], cache_examples=False)

    inputs = [context, question, top_k, max_answer_len, allow_no_answer, model]
    outputs = [highlighted, score, table, status]
    answered = gr.on(run_by(button, context, question), tab.bind(qa), inputs, outputs, api_name="qa")
    status_cleared_on_error(answered, status)
    model.change(no_answer_checkbox, model, allow_no_answer, api_visibility="private")


DEMO = Demo(
    task="qa",
    title="Question answering",
    description=(
        "An encoder fine-tuned on SQuAD reads your question together with the context and marks the span of the "
        "context that answers it. Long contexts are read in overlapping windows; the answer is always a piece of "
        "the context, never new text."
    ),
    models=(
        ModelChoice(DISTILBERT_SQUAD, stand_in="distilbert-qa"),
        ModelChoice(ROBERTA_SQUAD2, stand_in="roberta-qa", note="can say 'no answer' (SQuAD 2.0)"),
    ),
    loader=ModelLoader("AutoModelForQuestionAnswering", "AutoTokenizer", int8_allowed=True),
    build_tab=build_tab,
)
