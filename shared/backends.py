"""Where the model work of a request runs: the backend seam between the tabs and the models.

A tab asks its backend to hold the model of a `ModelRequest` for a block, then runs its model work through it:
`held.run(operation, *args)` calls `operation(built, *args)`, where `built` is what the task's loader built (a
pipeline, a model bundle or a tokenizer) and `operation` is a module-level function that takes plain arguments and
returns plain data. `InProcess` (the default) runs it here, through the runtime's model cache and batcher; the Ray
Serve backend (shared/ray_serve.py) runs the very same function in a replica that holds its own cache, so nothing
the function gets or returns may be a Gradio object or a live model.

    >>> backend = InProcess(runtime)  # doctest: +SKIP
    >>> with backend.hold(ModelRequest("sentiment", choice, loader)) as held:  # doctest: +SKIP
    ...     batched = held.run_batched(classify, ["Great!"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shared.batching import ForwardBatcher
from shared.loading import Loader
from shared.model_cache import LoadedModel
from shared.model_choices import ModelChoice

if TYPE_CHECKING:
    from shared.runtime import Runtime

# operation(built, *args, **kwargs) -> plain data; batched operations take the batcher first.
Operation = Callable[..., Any]


@dataclass(frozen=True)
class ModelRequest:
    """Which model a request needs: the task (its cache entry and its Serve application), the allowlisted choice
    and the task's loader."""

    task: str
    choice: ModelChoice
    loader: Loader


@dataclass(frozen=True)
class ServedModel:
    """What the status line says about the model that answered; plain data, so it can come back from a replica."""

    model_id: str
    device: str
    precision: str
    stand_in: bool
    where: str = ""  # empty in-process; "Ray Serve replica <id>" when a replica answered

    @classmethod
    def of(cls, loaded: LoadedModel, where: str = "") -> ServedModel:
        return cls(loaded.model_id, loaded.device, loaded.precision, loaded.stand_in, where)


class HeldModel(Protocol):
    """A model held for one request by a backend."""

    served: ServedModel | None  # known once the model answered

    def run(self, operation: Operation, *args: Any, **kwargs: Any) -> Any: ...

    def run_batched(self, operation: Operation, *args: Any, **kwargs: Any) -> Any: ...

    def run_on_model(self, operation: Operation, *args: Any, **kwargs: Any) -> Any: ...

    def stream(self, operation: Operation, *args: Any, **kwargs: Any) -> Iterator[Any]: ...


class Backend(Protocol):
    name: str

    def hold(self, request: ModelRequest) -> Any: ...  # a context manager yielding a HeldModel

    def is_loaded(self, request: ModelRequest) -> bool: ...

    def describe(self) -> str: ...


class LocalModel:
    """A model from this process's cache, held for one request."""

    def __init__(self, loaded: LoadedModel, batcher: ForwardBatcher, where: str = "") -> None:
        self.model = loaded
        self.batcher = batcher
        self.served: ServedModel | None = ServedModel.of(loaded, where)

    def run(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        return operation(self.model.built, *args, **kwargs)

    def run_batched(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        """`operation(batcher, built, ...)`: its forward passes are shared with concurrent requests."""
        return operation(self.batcher, self.model.built, *args, **kwargs)

    def run_on_model(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        """`operation(loaded_model, ...)`: for model work that also reads the model's id, source or precision."""
        return operation(self.model, *args, **kwargs)

    def stream(self, operation: Operation, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from operation(self.model.built, *args, **kwargs)


class InProcess:
    """The models in this process: the runtime's cache (loaded once, evicted over budget) and its batcher."""

    name = "in-process"

    def __init__(self, runtime: Runtime, where: str = "") -> None:
        self.runtime = runtime
        self.where = where

    @contextmanager
    def hold(self, request: ModelRequest) -> Iterator[LocalModel]:
        choice = request.choice
        with self.runtime.cache.use(request.task, choice.model_id, request.loader, choice.stand_in) as loaded:
            yield LocalModel(loaded, self.runtime.batcher, self.where)

    def is_loaded(self, request: ModelRequest) -> bool:
        return self.runtime.cache.is_loaded(request.task, request.choice.model_id, request.loader)

    def describe(self) -> str:
        return f"in-process on `{self.runtime.device}`"
