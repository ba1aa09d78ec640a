"""Limits on what a request may ask for. The UI shows the same numbers next to the inputs they bound."""

import math

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
MAX_IMAGE_SIDE = 1333


def is_finite_number(value: object) -> bool:
    """A real number a limit can be checked against: not None, a string, a bool, NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
