"""How many requests an endpoint's queue holds, and when a refused visitor should come back, both from the measured
service times. Each endpoint keeps an exponential moving average of its recent service times (seconds from the start
of a run to its answer); an endpoint that answers `concurrency` requests at once in `s` seconds each serves
`target_wait * concurrency / s` waiting requests within `target_wait`, so that is how many places its queue holds
(between MIN_QUEUE_PLACES and MAX_QUEUE_PLACES). A request refused by a full queue is told the time the requests
ahead of it take (`waiting * s / concurrency`): by then its place is free. Until an endpoint has answered once, its
service time is taken to be PRIOR_SERVICE_SECONDS.

>>> queue_places(service_seconds=0.5, concurrency=2, target_wait=30)
120
>>> retry_after_seconds(waiting=120, service_seconds=0.5, concurrency=2)
30
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

from shared.limits import (
    MAX_QUEUE_PLACES,
    MAX_RETRY_AFTER_SECONDS,
    MIN_QUEUE_PLACES,
    PRIOR_SERVICE_SECONDS,
)

# How much the newest service time counts in the average: a model loaded by the first request, or a machine that
# gets busier, shows in the bound within a few requests.
RECENT_WEIGHT = 0.3


class ServiceTimes:
    """The exponential moving average of each endpoint's recent service times, in seconds."""

    def __init__(self, recent_weight: float = RECENT_WEIGHT) -> None:
        self.recent_weight = recent_weight
        self._averages: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, endpoint: str, seconds: float) -> float:
        """Add one measured run; returns the endpoint's new average."""
        seconds = max(float(seconds), 0.0)
        with self._lock:
            previous = self._averages.get(endpoint)
            average = seconds if previous is None else previous + self.recent_weight * (seconds - previous)
            self._averages[endpoint] = average
        return average

    def average(self, endpoint: str) -> float | None:
        """The endpoint's average service time, or None before its first answer."""
        return self._averages.get(endpoint)

    def averages(self) -> dict[str, float]:
        with self._lock:
            return dict(self._averages)


def service_or_prior(service_seconds: float | None) -> float:
    return PRIOR_SERVICE_SECONDS if service_seconds is None else max(service_seconds, 1e-3)


def queue_places(service_seconds: float | None, concurrency: int, target_wait: float) -> int:
    """The waiting requests an endpoint holds: as many as it serves within `target_wait` seconds, running
    `concurrency` at once at `service_seconds` each, between MIN_QUEUE_PLACES and MAX_QUEUE_PLACES."""
    served = math.floor(target_wait * max(concurrency, 1) / service_or_prior(service_seconds))
    return min(max(served, MIN_QUEUE_PLACES), MAX_QUEUE_PLACES)


def expected_wait(waiting: int, service_seconds: float | None, concurrency: int) -> float:
    """Seconds until `waiting` requests of one endpoint have been served."""
    return waiting * service_or_prior(service_seconds) / max(concurrency, 1)


def backlog_seconds(queues: Iterable[tuple[int, float | None, int]]) -> float:
    """Seconds until every endpoint's waiting requests have been served, one endpoint after another (they share the
    same processors): `queues` holds (waiting, service_seconds, concurrency) per endpoint."""
    return sum(expected_wait(waiting, seconds, concurrency) for waiting, seconds, concurrency in queues)


def retry_after_seconds(waiting: int, service_seconds: float | None, concurrency: int) -> int:
    """The Retry-After for a request refused by a full queue: the time the `waiting` requests ahead of it take, in
    whole seconds, at least 1 and at most MAX_RETRY_AFTER_SECONDS."""
    return whole_seconds(expected_wait(waiting, service_seconds, concurrency))


def whole_seconds(seconds: float) -> int:
    return min(max(math.ceil(seconds), 1), MAX_RETRY_AFTER_SECONDS)


def busy_message(retry_after: int, reason: str) -> str:
    """What a refused visitor reads: when to come back first, then why."""
    return f"Busy: try again in about {retry_after} s. {reason}"
