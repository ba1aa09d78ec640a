"""The shared model cache: each (task, model, device) is loaded once, lazily, even under concurrent requests,
and the least recently used models that no request is using are evicted to keep within a memory budget."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from transformers import Pipeline, PreTrainedTokenizerBase

from shared.device import choose_dtype
from shared.loading import Loader, ModelBundle, load, memory_bytes, quantize_int8

logger = logging.getLogger(__name__)

Built = TypeVar("Built")

CacheKey = tuple[str, str, str, Loader]  # (task, model_id, device, loader): two loaders of one model never collide


@dataclass
class LoadedModel:
    task: str
    model_id: str
    source: str
    device: str
    dtype: torch.dtype
    built: Pipeline | ModelBundle | PreTrainedTokenizerBase  # what the loader built; read it through the properties
    stand_in: bool
    load_seconds: float
    memory_bytes: int
    hits: int = 0
    in_use: int = 0
    last_used: float = field(default_factory=time.monotonic)
    int8: bool = False  # linear layers quantised to int8 (--cpu-int8)
    key: CacheKey | None = None  # the cache's key for it: what answers kept for this model are filed under

    @property
    def pipeline(self) -> Pipeline:
        return self._built_as(Pipeline)

    @property
    def bundle(self) -> ModelBundle:
        return self._built_as(ModelBundle)

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The tokenizer alone (`TokenizerLoader`), or the one that prepares a bundle's or a pipeline's inputs."""
        if isinstance(self.built, PreTrainedTokenizerBase):
            return self.built
        tokenizer = self.built.processor if isinstance(self.built, ModelBundle) else self.built.tokenizer
        if not isinstance(tokenizer, PreTrainedTokenizerBase):
            raise TypeError(f"{self.model_id} for {self.task} has no tokenizer")
        return tokenizer

    def _built_as(self, kind: type[Built]) -> Built:
        if not isinstance(self.built, kind):
            raise TypeError(
                f"{self.model_id} for {self.task} was built as {type(self.built).__name__}, not {kind.__name__}"
            )
        return self.built

    @property
    def precision(self) -> str:
        """What the status line and the System tab show: the dtype, or that the linear layers are int8."""
        dtype = str(self.dtype).removeprefix("torch.")
        return f"int8 dynamic, {dtype} activations" if self.int8 else dtype


@dataclass(frozen=True)
class LoadingModel:
    task: str
    model_id: str
    started: float


class ModelCache:
    """Loads models through one path and keeps them while the memory budget allows.

    `source_for(model_id, stand_in_family)` maps an allowlisted model to what the loader opens (a Hub id or a
    local directory) and says whether that is a stand-in.
    """

    def __init__(
        self,
        device: str,
        source_for: Callable[[str, str | None], tuple[str, bool]],
        max_memory_bytes: int | None = None,
        load_function: Callable[..., Any] = load,
        cpu_int8: bool = False,
    ) -> None:
        self.device = device
        self.max_memory_bytes = max_memory_bytes
        self.cpu_int8 = cpu_int8  # quantise the linear layers of models whose loader allows it, after loading
        self._source_for = source_for
        self._load_function = load_function
        self._entries: OrderedDict[CacheKey, LoadedModel] = OrderedDict()
        self._loading: dict[CacheKey, LoadingModel] = {}
        self._key_locks: dict[CacheKey, threading.Lock] = {}
        self._lock = threading.Lock()
        self.load_count = 0
        # Called with the key of each evicted model (under the cache's lock: keep them quick), e.g. to drop the
        # answers kept for it.
        self.eviction_listeners: list[Callable[[CacheKey], None]] = []

    @contextmanager
    def use(
        self, task: str, model_id: str, loader: Loader, stand_in_family: str | None = None
    ) -> Iterator[LoadedModel]:
        """Yield the loaded model, loading it first if needed; it cannot be evicted while the block runs."""
        entry = self._acquire(task, model_id, loader, stand_in_family)
        try:
            yield entry
        finally:
            with self._lock:
                entry.in_use -= 1
                entry.last_used = time.monotonic()
                self._evict_over_budget()

    def _acquire(self, task: str, model_id: str, loader: Loader, stand_in_family: str | None) -> LoadedModel:
        key = (task, model_id, self.device, loader)
        with self._lock:
            entry = self._claim(key)
            if entry is not None:
                return entry
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._claim(key)
                if entry is not None:
                    return entry
                self._loading[key] = LoadingModel(task, model_id, time.monotonic())
            try:
                entry = self._load(key, loader, stand_in_family)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                entry.in_use, entry.hits = 1, 1
                self._entries[key] = entry
                self._evict_over_budget()
            return entry

    def _claim(self, key: CacheKey) -> LoadedModel | None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.in_use += 1
            entry.hits += 1
            self._entries.move_to_end(key)
        return entry

    def _load(self, key: CacheKey, loader: Loader, stand_in_family: str | None) -> LoadedModel:
        task, model_id, device, _ = key
        started = time.perf_counter()
        source, stand_in = self._source_for(model_id, stand_in_family)
        dtype = choose_dtype(device, loader.half_allowed)
        loaded = self._load_function(loader, source, device, dtype, model_id)
        # Before the entry is published, so no request ever sees a half-quantised model.
        int8 = self.cpu_int8 and loader.int8_allowed and quantize_int8(loaded)
        self.load_count += 1
        seconds = time.perf_counter() - started
        logger.info("Loaded %s for %s on %s in %.1f s%s", model_id, task, device, seconds, " (int8)" if int8 else "")
        return LoadedModel(
            task, model_id, source, device, dtype, loaded, stand_in, seconds, memory_bytes(loaded), int8=int8, key=key
        )

    def _evict_over_budget(self) -> None:
        if self.max_memory_bytes is None:
            return
        evicted = False
        while self.total_memory_bytes() > self.max_memory_bytes:
            idle = [key for key, entry in self._entries.items() if entry.in_use == 0]
            if not idle:
                break
            victim = self._entries.pop(idle[0])
            logger.info("Evicted %s (%s) to stay within the memory budget", victim.model_id, victim.task)
            for listener in self.eviction_listeners:
                listener(idle[0])
            evicted = True
        if evicted:
            gc.collect()
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()

    def total_memory_bytes(self) -> int:
        return sum(entry.memory_bytes for entry in self._entries.values())

    def loaded_models(self) -> list[LoadedModel]:
        with self._lock:
            return list(self._entries.values())

    def loading_models(self) -> list[LoadingModel]:
        with self._lock:
            return list(self._loading.values())

    def is_loaded(self, task: str, model_id: str, loader: Loader | None = None) -> bool:
        """Whether the model is in memory for `task` (with this `loader`, or any loader when None)."""
        with self._lock:
            return any(key[:3] == (task, model_id, self.device) and loader in (None, key[3]) for key in self._entries)
