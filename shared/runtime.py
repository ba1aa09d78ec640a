"""What a demo is handed: the settings, the chosen device and the shared model cache, with the task allowlists."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.backends import Backend, InProcess
from shared.batching import ForwardBatcher
from shared.bundled import bundled_directory
from shared.device import choose_device
from shared.errors import ModelUnavailable
from shared.loading import Loader
from shared.model_cache import LoadedModel, ModelCache
from shared.model_choices import ModelChoice, allowed_choices, pick_choice
from shared.result_cache import ResultCache
from shared.settings import Settings
from shared.stand_ins import ensure_stand_in, is_stand_in

logger = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.device = choose_device(settings.device)
        cpu_int8 = settings.cpu_int8 and self.device == "cpu"
        if settings.cpu_int8 and not cpu_int8:
            logger.info("--cpu-int8 is ignored on %s: int8 quantisation is for the CPU only", self.device)
        self.cache = ModelCache(self.device, self.source_for, settings.max_memory_bytes, cpu_int8=cpu_int8)
        self.batcher = ForwardBatcher()  # shares forward passes between concurrent text-classification requests
        self.answers = ResultCache()  # deterministic requests answered again from memory; a model's go with it
        self.cache.eviction_listeners.append(self.answers.forget_model)
        # Where the tabs' model work runs: here, unless the app is started with --backend ray (shared/ray_serve.py).
        self.backend: Backend = InProcess(self)

    def source_for(self, model_id: str, stand_in_family: str | None) -> tuple[str, bool]:
        """What to load for an allowlisted model: a local directory as is, a verified copy of the real weights from
        an installed package (even in stand-in mode: real beats random), a stand-in in stand-in mode, else the Hub
        id (served from the local Hugging Face cache when it is there)."""
        if Path(model_id).is_dir():
            return model_id, is_stand_in(model_id)
        if (bundled := bundled_directory(model_id)) is not None:
            return str(bundled), False
        if self.settings.stand_ins is None:
            return model_id, False
        if stand_in_family is None:
            raise ModelUnavailable(f"There is no stand-in for {model_id!r}; pass a local directory with --model.")
        return str(ensure_stand_in(stand_in_family, self.settings.stand_ins, self.settings.stand_in_root)), True

    def choices(self, task: str, declared: list[ModelChoice]) -> list[ModelChoice]:
        return allowed_choices(declared, self.settings.model_overrides.get(task))

    @contextmanager
    def model(
        self, task: str, choices: list[ModelChoice], model_id: str | None, loader: Loader
    ) -> Iterator[LoadedModel]:
        """The loaded model for an allowlisted `model_id` (the task's default when None), held for the block."""
        choice = pick_choice(choices, model_id)
        with self.cache.use(task, choice.model_id, loader, choice.stand_in) as loaded:
            yield loaded

    def preload(self, defaults: list[tuple[str, ModelChoice, Loader]]) -> threading.Thread:
        """Load each task's default model in the background while the UI is already served."""

        def load_all() -> None:
            for task, choice, loader in defaults:
                try:
                    with self.cache.use(task, choice.model_id, loader, choice.stand_in):
                        pass
                except Exception:
                    logger.exception(
                        "Preloading %s for %s failed; it will be retried on first use", choice.model_id, task
                    )

        thread = threading.Thread(target=load_all, name="preload", daemon=True)
        thread.start()
        return thread
