"""Whether the models can be had before anyone asks for them: is the Hugging Face Hub reachable, and which models
are on this disk already (a local directory, a copy bundled with the requirements, or the Hugging Face cache).

Checked once at start-up, cheaply (one TCP connection with a short timeout, file lookups in the cache), so that an
offline machine says at once what works and what to do, instead of each tab retrying the Hub for half a minute.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from huggingface_hub import constants, try_to_load_from_cache

from shared.bundled import bundled_directory

logger = logging.getLogger(__name__)

# A model repository has config.json; a tokenizer-only one (some of the Tokens tab's) has tokenizer_config.json.
MARKER_FILES = ("config.json", "tokenizer_config.json")
PROBE_SECONDS = 1.5


def hub_reachable(endpoint: str | None = None, timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the Hub's host opens within `timeout`; False without trying in offline mode."""
    if constants.HF_HUB_OFFLINE:
        return False
    address = urlsplit(endpoint or constants.ENDPOINT)
    port = address.port or (443 if address.scheme == "https" else 80)
    try:
        with socket.create_connection((address.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def on_disk(model_id: str, cache_dir: str | Path | None = None) -> bool:
    """Whether `model_id` loads without the network: a local directory, a bundled copy, or in the HF cache."""
    if Path(model_id).is_dir() or bundled_directory(model_id) is not None:
        return True
    return any(isinstance(try_to_load_from_cache(model_id, name, cache_dir=cache_dir), str) for name in MARKER_FILES)


def offline() -> bool:
    """Whether loads look in the local cache only (HF_HUB_OFFLINE, or the Hub found unreachable at start-up)."""
    return bool(constants.HF_HUB_OFFLINE)


def go_offline() -> None:
    """Make every later load look in the local cache only: a missing model fails at once instead of retrying."""
    constants.HF_HUB_OFFLINE = True


@dataclass(frozen=True)
class HubStatus:
    reachable: bool
    missing: dict[str, list[str]]  # task -> its default models that are not on this disk

    @property
    def offline_gaps(self) -> dict[str, list[str]]:
        """The tasks that cannot run as started: offline, with default models missing."""
        return {} if self.reachable else {task: ids for task, ids in self.missing.items() if ids}


def check_hub(defaults: Iterable[tuple[str, str]], reachable: bool | None = None) -> HubStatus:
    """Probe the Hub (unless `reachable` is given) and look up each (task, default model id) on this disk."""
    if reachable is None:
        reachable = hub_reachable()
    missing: dict[str, list[str]] = {}
    for task, model_id in defaults:
        ids = missing.setdefault(task, [])
        if not on_disk(model_id):
            ids.append(model_id)
    return HubStatus(reachable=reachable, missing=missing)
