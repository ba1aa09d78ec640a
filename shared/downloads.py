"""Files the app writes for a visitor to download: one folder per server process, removed when the process exits;
each answer gets a fresh subfolder, and subfolders older than ten minutes are removed (Gradio serves its own copy).
Also the one way to write a file that a visitor may be downloading meanwhile (`write_whole`)."""

from __future__ import annotations

import atexit
import functools
import os
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
        try:
            is_old = folder.stat().st_mtime < oldest_kept
        except OSError:  # another answer's pruning removed it first
            continue
        if is_old:
            shutil.rmtree(folder, ignore_errors=True)


def new_download_folder(prefix: str) -> Path:
    """A fresh folder for one answer's files; old ones are pruned first."""
    root = downloads_root()
    remove_old_downloads(root)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=root))


def write_whole(path: Path, data: bytes) -> Path:
    """Write `data` to `path` under another name and rename it into place, so that a reader never sees it partly
    written. Files named by their contents' hash are rewritten by every answer that has the same picture, while a
    visitor may be downloading the earlier copy: written in place, the download was cut short."""
    descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path
