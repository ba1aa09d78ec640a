"""The tab contract. Each tab module declares itself once, as `DEMO = Demo(...)`: its task, title, description,
allowlist, loader, UI builder and default models; `demos.DEMOS` lists them in tab order, and app.py, `--download`,
the benchmarks and the System tab read only that.

At start-up each `Demo` is bound to the runtime as a `Tab`, the one way an endpoint gets its model: `tab.model(
model_id, progress)` checks the model against the allowlist, tells the visitor when a first use has to load it, and
yields it with a stopwatch; `served.remember(request, compute)` answers a deterministic request it has answered
before from memory (shared/result_cache.py), and the status line then says "cached". An endpoint is a
module-level function whose first parameter is the `Tab`; Gradio calls `tab.bind(endpoint)`, the same function
with the tab filled in, and tests call the function itself.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from demos.common import report_loading, served_by
from shared.loading import Loader
from shared.model_cache import LoadedModel
from shared.model_choices import ModelChoice
from shared.result_cache import MISSING, ResultCache
from shared.runtime import Runtime

Answer = TypeVar("Answer")


def first_model(choices: list[ModelChoice]) -> list[str]:
    """What most tabs run before a visitor picks anything: the first model of the allowlist."""
    return [choices[0].model_id]


@dataclass(frozen=True)
class Demo:
    """What a tab is: everything the app, `--download`, the benchmarks and the System tab need to know of it."""

    task: str  # the key of `--model TASK=...`, the cache and the tab's id
    title: str
    description: str  # Markdown at the top of the tab
    models: tuple[ModelChoice, ...]  # the allowlist; the first is the default
    loader: Loader
    build_tab: Callable[[Tab], None]  # lays out the components and wires the endpoints; loads no model
    default_model_ids: Callable[[list[ModelChoice]], list[str]] = first_model

    def default_models(self, choices: list[ModelChoice]) -> list[ModelChoice]:
        wanted = self.default_model_ids(choices)
        return [choice for choice in choices if choice.model_id in wanted]


class Served:
    """A model held for one request, with the time since the request got it."""

    def __init__(self, model: LoadedModel, answers: ResultCache | None = None) -> None:
        self.model = model
        self.cached = False  # whether the answer came from memory (`remember`)
        self._answers = answers
        self._started = time.perf_counter()
        self._finished: float | None = None

    def remember(self, request: Hashable, compute: Callable[[], Answer]) -> Answer:
        """What `compute()` returns for this `request` to this model, from memory when it was answered recently.
        `request` must hold everything the answer depends on besides the model (the endpoint, inputs, settings);
        never remember what a random seed drew."""
        if self._answers is None or self.model.key is None:
            return compute()
        answer, self.cached = self._answers.remember(self.model.key, request, compute)
        return answer

    def recall(self, request: Hashable) -> Any:
        """The answer kept for `request` to this model (and the status line says "cached"), or None; for an
        endpoint that streams, which cannot hand `remember` one function."""
        if self._answers is None or self.model.key is None:
            return None
        answer = self._answers.get(self.model.key, request)
        if answer is MISSING:
            return None
        self.cached = True
        return answer

    def keep(self, request: Hashable, answer: Any) -> None:
        """Keep the finished `answer` to `request` for `recall`."""
        if self._answers is not None and self.model.key is not None:
            self._answers.put(self.model.key, request, answer)

    def elapsed(self) -> float:
        end = self._finished if self._finished is not None else time.perf_counter()
        return end - self._started

    def finish(self) -> None:
        self._finished = time.perf_counter()

    def status(self, batch_requests: int = 1) -> str:
        """The line under every answer: which model and device served it, and how long it took."""
        if self.cached:
            return f"{served_by(self.model, self.elapsed())} · cached"
        return served_by(self.model, self.elapsed(), batch_requests)


class Tab:
    """A `Demo` bound to the runtime: its allowlist as the operator configured it, and its models."""

    def __init__(self, demo: Demo, runtime: Runtime) -> None:
        self.demo = demo
        self.runtime = runtime
        self.choices = runtime.choices(demo.task, list(demo.models))

    @property
    def task(self) -> str:
        return self.demo.task

    @contextmanager
    def model(self, model_id: str | None, progress: Callable[..., Any] | None = None) -> Iterator[Served]:
        """The allowlisted `model_id` (the default when None), loaded once and held for the block; the stopwatch
        starts once it is loaded and stops when the block ends."""
        report_loading(progress, self.runtime, self.task, self.choices, model_id, self.demo.loader)
        with self.runtime.model(self.task, self.choices, model_id, self.demo.loader) as loaded:
            served = Served(loaded, self.runtime.answers)
            try:
                yield served
            finally:
                served.finish()

    def bind(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        """`endpoint` with this tab as its first argument, as Gradio calls it: Gradio reads the API's parameter
        names from its signature (the tab left out) and the description (also the MCP tool's) from its docstring,
        which opens with the tab's title."""
        bound = functools.partial(endpoint, self)
        bound.__name__ = endpoint.__name__  # type: ignore[attr-defined]
        bound.__qualname__ = endpoint.__qualname__  # type: ignore[attr-defined]
        bound.__doc__ = f"{self.demo.title} tab. {endpoint.__doc__ or ''}"
        bound.__module__ = endpoint.__module__  # type: ignore[attr-defined]
        return bound
