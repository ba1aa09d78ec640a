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

# Requests waiting in the queue (running ones not counted); past this a visitor is told the app is busy.
MAX_QUEUED_REQUESTS = 32
# Requests of one event running at once unless the event sets its own limit.
DEFAULT_CONCURRENCY_LIMIT = 2
# Fairness (gradio_defences.FairQueue): places in the queue, waiting or running, one browser session or one client
# address may hold across all endpoints (--max-queued-per-client; loopback clients are told apart by session only),
# places one endpoint may take of MAX_QUEUED_REQUESTS, and how long a job may go without anyone reading its result.
DEFAULT_MAX_QUEUED_PER_CLIENT = 6
MAX_QUEUED_PER_ENDPOINT = MAX_QUEUED_REQUESTS // 2
UNREAD_JOB_GRACE_SECONDS = 5.0
MAX_IMAGE_SIDE = 1333


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


# --- Fill the blank -------------------------------------------------------------------------------------------------


# --- Embeddings -----------------------------------------------------------------------------------------------------


# --- Attention ------------------------------------------------------------------------------------------------------


# --- Segmentation ---------------------------------------------------------------------------------------------------


# --- Next-token odds ------------------------------------------------------------------------------------------------
