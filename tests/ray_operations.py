"""Model operations the Ray tests send to a replica, in a module of their own with nothing heavy to import: a replica
imports an operation by its module and name (the app's folder is on the replicas' PYTHONPATH)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOLD_SECONDS = 300


def held_until_released(bundle: Any, gate: str, poll_seconds: float = 0.05) -> Iterator[str]:
    """Take a replica's request slot: say "holding", then keep the slot until the file `gate` exists (at most
    HOLD_SECONDS), then say "released". The test decides when the slot frees, however slow the machine is."""
    yield "holding"
    deadline = time.monotonic() + HOLD_SECONDS
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(poll_seconds)
    yield "released"
