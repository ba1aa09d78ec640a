"""A thread that has run model work hands back its OpenMP workers: idle pools throttle everyone's (shared/openmp.py)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest
import torch

from demos.common import user_errors
from shared.openmp import libgomp, release_thread_pool

pytestmark = pytest.mark.skipif(
    libgomp() is None or torch.get_num_threads() < 2, reason="needs libgomp and at least two torch threads"
)


def native_threads() -> int:
    """OS threads of this process that Python did not start (OpenMP's workers among them), once their number has
    settled: a released worker exits a moment after it is told to."""
    counts: list[int] = []
    deadline = time.monotonic() + 5
    while len(counts) < 5 or len(set(counts[-5:])) > 1:
        if time.monotonic() > deadline:
            break
        python_threads = {thread.native_id for thread in threading.enumerate()}
        counts.append(sum(1 for task in os.listdir("/proc/self/task") if int(task) not in python_threads))
        time.sleep(0.02)
    return counts[-1]


def workers_left_by(work: Callable[[], object]) -> int:
    """Run `work` on a thread that stays alive afterwards, as Gradio's worker threads do; return how many native
    threads the process has gained while that thread lingers."""
    finished, leave = threading.Event(), threading.Event()

    def body() -> None:
        work()
        finished.set()
        leave.wait()

    before = native_threads()
    thread = threading.Thread(target=body)
    thread.start()
    finished.wait()
    gained = native_threads() - before
    leave.set()
    thread.join()
    return gained


def parallel_work() -> float:
    """Large enough for torch to start a parallel region (and MKL a threaded matrix product)."""
    matrix = torch.randn(768, 768, generator=torch.Generator().manual_seed(0))
    return float((matrix @ matrix).tanh().abs().sum())


def test_a_thread_keeps_its_openmp_workers_until_it_releases_them():
    assert workers_left_by(parallel_work) >= 1  # what makes idle Gradio workers throttle the busy one

    def work_then_release() -> None:
        parallel_work()
        release_thread_pool()

    assert workers_left_by(work_then_release) == 0


def test_the_thread_computes_again_after_releasing():
    def twice() -> tuple[float, float]:
        first = parallel_work()
        release_thread_pool()
        return first, parallel_work()

    expected = parallel_work()
    assert twice() == pytest.approx((expected, expected))  # a new pool is built and computes as the first did


def test_every_handler_hands_back_its_workers_on_success_and_on_error():
    @user_errors
    def handler(fail: bool) -> float:
        value = parallel_work()
        if fail:
            raise ValueError("boom")
        return value

    @user_errors
    def streaming_handler():
        yield parallel_work()
        yield parallel_work()

    def failing() -> None:
        with pytest.raises(Exception, match="Something went wrong"):
            handler(True)

    assert workers_left_by(lambda: handler(False)) == 0
    assert workers_left_by(failing) == 0
    assert workers_left_by(lambda: list(streaming_handler())) == 0
