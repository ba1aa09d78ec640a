"""Handing back a thread's OpenMP workers when it has finished its model work, so that idle threads slow no one.

PyTorch's CPU kernels (and MKL's) run on GNU OpenMP (libgomp) in the Linux wheels. libgomp gives every thread that
starts a parallel region its own pool of worker threads and keeps that pool for as long as the thread lives. Once
the pools of a process hold more threads than there are CPUs, libgomp throttles them all: between parallel regions
its workers sleep after 100 spins instead of 300,000, and each small operator then pays for waking them. Gradio
runs handlers on long-lived worker threads, so after a few requests served by different threads every forward pass
was throttled, even with one request at a time: a few idle threads that had once run one matrix product made
GPT-2 `generate` and a DistilBERT call markedly slower, and releasing their pools took both back to their speed
without those threads (`python -m benchmarks` measures the app with it).

`omp_pause_resource_all(omp_pause_soft)` frees the calling thread's pool only (libgomp's `gomp_pause_host`); the
thread's next parallel region builds a new one (a thread start, well under a millisecond). Where the OpenMP runtime
is not libgomp (Intel's or LLVM's, e.g. on macOS), this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from pathlib import Path

import torch  # noqa: F401 (loads the OpenMP runtime this module looks for)

logger = logging.getLogger(__name__)

OMP_PAUSE_SOFT = 1


@functools.cache
def libgomps() -> tuple[ctypes.CDLL, ...]:
    """Every libgomp this process has loaded: torch's own copy in the pip wheels, and any other (scikit-learn's
    wheels bring one of their own, and which one a thread's pool belongs to depends on who started it)."""
    if not sys.platform.startswith("linux"):
        return ()
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return ()
    paths = {line.split()[-1] for line in maps.splitlines() if "libgomp" in line and line.split()[-1].startswith("/")}
    libraries = []
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
            library.omp_pause_resource_all.argtypes = [ctypes.c_int]
            libraries.append(library)
        except (OSError, AttributeError):
            logger.debug("No usable omp_pause_resource_all in %s", path)
    return tuple(libraries)


def libgomp() -> ctypes.CDLL | None:
    """The first libgomp loaded, or None when there is none (the tests skip without one)."""
    return next(iter(libgomps()), None)


def release_thread_pool() -> None:
    """Free the OpenMP worker threads that the calling thread's parallel regions started (if any), in every libgomp
    of the process."""
    for library in libgomps():
        library.omp_pause_resource_all(OMP_PAUSE_SOFT)
