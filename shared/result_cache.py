"""Answers kept in memory: a deterministic request (the same inputs and settings to the same loaded model) that was
answered recently is answered again without running the model. In a class most requests are example clicks.

Entries are kept per model (the model cache's key), least recently used first out, at most `entries_per_model`
per model; a model's entries go when the model cache evicts the model, so a reloaded model starts afresh. Values
are plain data (what a tab's model function returns) and are copied on the way in and out, so no caller can
change another's answer. The caller decides what is deterministic: sampling with a random seed is never put here.

    >>> answers = ResultCache(entries_per_model=2)
    >>> answers.get("gpt2", ("greedy", "Hello")) is MISSING
    True
    >>> answers.put("gpt2", ("greedy", "Hello"), {"text": "Hello there"})
    >>> answers.get("gpt2", ("greedy", "Hello"))
    {'text': 'Hello there'}
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

Answer = TypeVar("Answer")

ENTRIES_PER_MODEL = 256
MISSING: Any = object()


class ResultCache:
    """Bounded answers per model; safe to share between request threads."""

    def __init__(self, entries_per_model: int = ENTRIES_PER_MODEL) -> None:
        self.entries_per_model = entries_per_model
        self.hits = 0
        self.misses = 0
        self._models: dict[Hashable, OrderedDict[Hashable, Any]] = {}
        self._lock = threading.Lock()

    def get(self, model_key: Hashable, request_key: Hashable) -> Any:
        """A copy of the answer kept for this request to this model, or MISSING."""
        with self._lock:
            answers = self._models.get(model_key)
            if answers is None or request_key not in answers:
                self.misses += 1
                return MISSING
            answers.move_to_end(request_key)
            self.hits += 1
            answer = answers[request_key]
        return copy.deepcopy(answer)

    def put(self, model_key: Hashable, request_key: Hashable, answer: Any) -> None:
        kept = copy.deepcopy(answer)
        with self._lock:
            answers = self._models.setdefault(model_key, OrderedDict())
            answers[request_key] = kept
            answers.move_to_end(request_key)
            while len(answers) > self.entries_per_model:
                answers.popitem(last=False)

    def remember(
        self, model_key: Hashable, request_key: Hashable, compute: Callable[[], Answer]
    ) -> tuple[Answer, bool]:
        """(answer, whether it came from memory): the kept answer, or `compute()` kept for next time. Two concurrent
        first requests both compute (no lock is held while the model runs)."""
        answer = self.get(model_key, request_key)
        if answer is not MISSING:
            return answer, True
        answer = compute()
        self.put(model_key, request_key, answer)
        return answer, False

    def forget_model(self, model_key: Hashable) -> None:
        """Drop every answer of this model (it was evicted, so the next load may differ)."""
        with self._lock:
            self._models.pop(model_key, None)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(answers) for answers in self._models.values())
