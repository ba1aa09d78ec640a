"""Files the app writes for a visitor to download: one folder per server process, removed when the process exits;
each answer gets a fresh subfolder, and subfolders older than ten minutes are removed (Gradio serves its own copy)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import time
from pathlib import Path

MAX_AGE_SECONDS = 600.0


@functools.cache
def downloads_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="demo-downloads-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def remove_old_downloads(root: Path, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
    oldest_kept = time.time() - max_age_seconds
    for folder in root.iterdir():
        if folder.stat().st_mtime < oldest_kept:
            shutil.rmtree(folder, ignore_errors=True)


def new_download_folder(prefix: str) -> Path:
    """A fresh folder for one answer's files; old ones are pruned first."""
    root = downloads_root()
    remove_old_downloads(root)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=root))
