"""Limits on what a request may ask for, and the checks of numbers against them. The UI shows the same numbers next
to the inputs they bound. Every tab's limits live here, one section a tab."""

from __future__ import annotations

import math

from shared.errors import UserError

MAX_TEXT_CHARS = 20_000
MAX_SENTIMENT_LINES = 64
MAX_CANDIDATE_LABELS = 20
MAX_LABEL_CHARS = 100
MAX_TEMPLATE_CHARS = 200
MAX_QA_CONTEXT_CHARS = 100_000
MAX_QA_QUESTION_CHARS = 1_000
MAX_TOP_K_ANSWERS = 10
MAX_ANSWER_TOKENS = 30

MAX_NEW_TOKENS = 512
MAX_NUM_SEQUENCES = 4
MAX_NUM_BEAMS = 8
MAX_TOP_K = 1_000
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 5.0
MIN_TOP_P = 0.01
MAX_REPETITION_PENALTY = 3.0
MAX_SEED = 2**31 - 1
MAX_GENERATION_SECONDS = 60.0

MAX_IMAGE_PIXELS = 40_000_000
MAX_UPLOAD_MB = 25

# Requests waiting in the queue, all endpoints together (running ones not counted): a bound on memory only; each
# endpoint's own bound comes from its measured service time (shared/queue_bounds.py): as many places as it serves
# within QUEUE_WAIT_SECONDS (--queue-wait-seconds), at least MIN_QUEUE_PLACES and at most MAX_QUEUE_PLACES, taking
# PRIOR_SERVICE_SECONDS a request until it has answered once. A refused request's Retry-After is at most
# MAX_RETRY_AFTER_SECONDS.
MAX_QUEUED_REQUESTS = 256
QUEUE_WAIT_SECONDS = 30.0
MIN_QUEUE_PLACES = 4
MAX_QUEUE_PLACES = 128
PRIOR_SERVICE_SECONDS = 2.0
MAX_RETRY_AFTER_SECONDS = 300
# Requests of one event running at once unless the event sets its own limit.
DEFAULT_CONCURRENCY_LIMIT = 2
# Fairness (gradio_defences.FairQueue): places in the queue, waiting or running, one browser session or one client
# address may hold across all endpoints (--max-queued-per-client; loopback clients are told apart by session only),
# and how long a job may go without anyone reading its result.
DEFAULT_MAX_QUEUED_PER_CLIENT = 6
UNREAD_JOB_GRACE_SECONDS = 5.0


def is_finite_number(value: object) -> bool:
    """A real number a limit can be checked against: not None, a string, a bool, NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def whole_number(name: str, value: object, low: int, high: int, default: int | None = None) -> int:
    """`value` as an int from `low` to `high`; `default` when it is None and a default is given. Anything else (a
    fraction, NaN, a string, a bool, out of range) is a `UserError` that names the field and the range.

    >>> whole_number("top_k", 5.0, 1, 20)
    5
    """
    if value is None and default is not None:
        return default
    if not is_finite_number(value) or value != int(value) or not low <= value <= high:
        raise UserError(f"{name} must be a whole number from {low} to {high}; got {value!r}.")
    return int(value)


def number(name: str, value: object, low: float, high: float) -> float:
    """`value` as a float from `low` to `high`; anything else is a `UserError` that names the field and the range."""
    if not is_finite_number(value) or not low <= value <= high:
        raise UserError(f"{name} must be between {low} and {high}; got {value!r}.")
    return float(value)


# --- Tokens ---------------------------------------------------------------------------------------------------------
MAX_TOKENIZERS = 3  # side by side
# Every token becomes a coloured span in the page; beyond a couple of thousand the browser slows down.
MAX_TOKENIZED_CHARS = 2_000
MAX_DECODE_IDS = 2_000


# --- Fill the blank -------------------------------------------------------------------------------------------------
MAX_SENTENCE_CHARS = 1_000
MAX_FILLERS = 20
DEFAULT_FILLERS = 5


# --- Embeddings -----------------------------------------------------------------------------------------------------
MIN_CONTEXT_SENTENCES = 2
MAX_CONTEXT_SENTENCES = 10
MAX_SEARCH_SENTENCES = 100
MAX_EMBEDDING_SENTENCE_CHARS = 500  # per line; a WordPiece sentence this long stays under BERT's 512 positions
MAX_WORD_CHARS = 50
MAX_EMBEDDING_LAYER = 12  # the layer slider's top: bert-base-uncased's depth; -1 is a model's own last layer
DEFAULT_SEARCH_RESULTS = 5


# --- Attention ------------------------------------------------------------------------------------------------------
MAX_ATTENTION_SENTENCE_CHARS = 1_000
MAX_ATTENTION_TOKENS = 128  # per sentence, special tokens included: past that a heatmap cell is a few pixels
MAX_FOCUS_CHARS = 50
# The sliders' range: the deepest and widest models offered have 12 layers × 12 heads.
MAX_ATTENTION_LAYERS = 12
MAX_ATTENTION_HEADS = 12


# --- Segmentation ---------------------------------------------------------------------------------------------------

# A photo's longest side after scaling: it bounds the model's work and the size of every mask sent back.
MAX_IMAGE_SIDE = 1333
# How much longer one side of a photo may be than the other: a 5000×3 strip scales to nothing.
MAX_IMAGE_ASPECT_RATIO = 20


# --- Next-token odds ------------------------------------------------------------------------------------------------


# --- Attention from scratch -----------------------------------------------------------------------------------------
MAX_STEPS_SENTENCE_CHARS = 200
MAX_STEPS_TOKENS = 16  # per sentence: the step tables stay readable
MAX_STEPS_WORD_CHARS = 40


# --- A classifier opened up -----------------------------------------------------------------------------------------
MAX_STEPS_TEXT_CHARS = 500
MAX_STEPS_TEXT_TOKENS = 64  # every token gets a table row


# --- Evaluate on your data ------------------------------------------------------------------------------------------
MAX_EVALUATION_ROWS = 2_000
MAX_EVALUATION_BYTES = 2 * 2**20
MAX_EVALUATION_TEXT_CHARS = 2_000
EVALUATION_BATCH = 32  # rows a forward pass; the progress bar moves once a batch


# --- Train a classifier ---------------------------------------------------------------------------------------------
MAX_TRAINING_EXAMPLES = 1_000
MAX_TRAINING_LABELS = 20
MAX_TRAINING_TEXT_CHARS = 1_000
MAX_TRAINING_BYTES = 2**20
MAX_CLASSIFIED_SENTENCES = 50
TRAINED_CLASSIFIER_SECONDS = 3_600  # a session's classifier is dropped an hour after it was trained
