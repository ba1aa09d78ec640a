"""The tab contract. Each tab module declares itself once, as `DEMO = Demo(...)`: its task, title, description,
allowlist, loader, UI builder and default models; `demos.DEMOS` lists them in tab order, and app.py, `--download`,
the benchmarks and the System tab read only that.

At start-up each `Demo` is bound to the runtime as a `Tab`, the one way an endpoint gets its model: `tab.model(
model_id, progress)` checks the model against the allowlist, tells the visitor when a first use has to load it, and
yields it with a stopwatch; `served.remember(request, compute)` answers a deterministic request it has answered
before from memory (shared/result_cache.py, in-process models only), and the status line then says "cached". An
endpoint is a module-level function whose first parameter is the `Tab`; Gradio calls `tab.bind(endpoint)`, the same
function with the tab filled in, and tests call the function itself.

The model work itself goes through the runtime's backend (shared/backends.py): `served.run(operation, *args)` calls
`operation(built, *args)` (`built`: the pipeline, bundle or tokenizer the task's loader built) in this process, or in
a Ray Serve replica with `--backend ray`, so an operation takes and returns plain data only.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from demos.common import report_loading, served_by
from demos.messages import say
from shared.backends import HeldModel, LocalModel, ModelRequest, Operation, ServedModel
from shared.loading import Loader
from shared.model_cache import LoadedModel
from shared.model_choices import ModelChoice, pick_choice
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
    """A model held for one request by the runtime's backend, with the time since the request got it."""

    def __init__(self, held: HeldModel, model_id: str, answers: ResultCache | None = None) -> None:
        self.held = held
        self.model_id = model_id  # the allowlisted model the request asked for
        self.cached = False  # whether the answer came from memory (`remember`)
        self._answers = answers
        self._started = time.perf_counter()
        self._finished: float | None = None

    def _answers_key(self) -> Hashable | None:
        """What answers kept for this model are filed under: its cache key, in-process only (a replica's model is
        evicted where this process cannot see it)."""
        if self._answers is None or not isinstance(self.held, LocalModel):
            return None
        return self.held.model.key

    def remember(self, request: Hashable, compute: Callable[[], Answer]) -> Answer:
        """What `compute()` returns for this `request` to this model, from memory when it was answered recently.
        `request` must hold everything the answer depends on besides the model (the endpoint, inputs, settings);
        never remember what a random seed drew."""
        key = self._answers_key()
        if key is None:
            return compute()
        answer, self.cached = self._answers.remember(key, request, compute)
        return answer

    def recall(self, request: Hashable) -> Any:
        """The answer kept for `request` to this model (and the status line says "cached"), or None; for an
        endpoint that streams, which cannot hand `remember` one function."""
        key = self._answers_key()
        if key is None:
            return None
        answer = self._answers.get(key, request)
        if answer is MISSING:
            return None
        self.cached = True
        return answer

    def keep(self, request: Hashable, answer: Any) -> None:
        """Keep the finished `answer` to `request` for `recall`."""
        if (key := self._answers_key()) is not None:
            self._answers.put(key, request, answer)

    @property
    def model(self) -> LoadedModel:
        """The loaded model itself: in-process only; with --backend ray it lives in a replica, so use `run`."""
        return self.held.model

    @property
    def info(self) -> ServedModel:
        """What answered: the model, device and precision, and where (a replica on Ray); known once it ran."""
        if self.held.served is None:
            raise RuntimeError("The model has not answered yet: call run, run_batched or stream first.")
        return self.held.served

    def run(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        """`operation(built, *args, **kwargs)` wherever the backend runs models."""
        return self.held.run(operation, *args, **kwargs)

    def run_batched(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        """`operation(batcher, built, *args, **kwargs)`: forward passes shared with concurrent requests."""
        return self.held.run_batched(operation, *args, **kwargs)

    def run_on_model(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        """`operation(loaded_model, *args, **kwargs)`, for model work that also reads the model's id or source."""
        return self.held.run_on_model(operation, *args, **kwargs)

    def stream(self, operation: Operation, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """What the generator `operation(built, *args, **kwargs)` yields, as it yields it; closing this stops it."""
        return self.held.stream(operation, *args, **kwargs)

    def elapsed(self) -> float:
        end = self._finished if self._finished is not None else time.perf_counter()
        return end - self._started

    def finish(self) -> None:
        self._finished = time.perf_counter()

    def status(self, batch_requests: int = 1) -> str:
        """The line under every answer: which model and device served it (and where), and how long it took."""
        if self.cached:
            return served_by(self.info, self.elapsed()) + say(" · cached")
        return served_by(self.info, self.elapsed(), batch_requests)


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
        choice = pick_choice(self.choices, model_id)
        request = ModelRequest(self.task, choice, self.demo.loader)
        report_loading(progress, self.runtime, self.task, self.choices, model_id, self.demo.loader)
        with self.runtime.backend.hold(request) as held:
            served = Served(held, choice.model_id, self.runtime.answers)
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
