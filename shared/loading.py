"""The one load path: every model, whether a pipeline or a model with its processor, is built by a loader here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import transformers

from shared.errors import ModelUnavailable

logger = logging.getLogger(__name__)


@dataclass
class ModelBundle:
    """A model with the tokenizer or image processor that prepares its inputs."""

    model: Any
    processor: Any


@dataclass(frozen=True)
class PipelineLoader:
    """Loads a transformers pipeline for `pipeline_task` (e.g. "text-classification")."""

    pipeline_task: str
    half_allowed: bool = True

    def __call__(self, source: str, device: str, dtype: torch.dtype) -> Any:
        return transformers.pipeline(
            self.pipeline_task, model=source, device=device, dtype=dtype, trust_remote_code=False
        )


@dataclass(frozen=True)
class ModelLoader:
    """Loads `model_class` and `processor_class` (names in `transformers`, e.g. "AutoModelForQuestionAnswering")."""

    model_class: str
    processor_class: str = "AutoTokenizer"
    half_allowed: bool = True

    def __call__(self, source: str, device: str, dtype: torch.dtype) -> ModelBundle:
        model = getattr(transformers, self.model_class).from_pretrained(source, dtype=dtype, trust_remote_code=False)
        processor = getattr(transformers, self.processor_class).from_pretrained(source, trust_remote_code=False)
        return ModelBundle(model.to(device).eval(), processor)


Loader = PipelineLoader | ModelLoader


def torch_module_of(loaded: Any) -> torch.nn.Module | None:
    """The `nn.Module` inside a pipeline or bundle, for memory accounting."""
    module = getattr(loaded, "model", None)
    return module if isinstance(module, torch.nn.Module) else None


def memory_bytes(loaded: Any) -> int:
    module = torch_module_of(loaded)
    if module is None:
        return 0
    tensors = [*module.parameters(), *module.buffers()]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def load(loader: Loader, source: str, device: str, dtype: torch.dtype, model_id: str) -> Any:
    """Run `loader`, turning every way a load can fail into a `ModelUnavailable` that names the fix."""
    try:
        return loader(source, device, dtype)
    except torch.OutOfMemoryError as error:
        raise ModelUnavailable(
            f"Model {model_id!r} does not fit in memory on {device}. Free memory, lower --max-memory-gb "
            "for the other models, or pick a smaller model."
        ) from error
    except (OSError, ValueError, KeyError) as error:
        logger.warning("Loading %s from %s failed: %s", model_id, source, error)
        raise ModelUnavailable(
            f"Model {model_id!r} could not be loaded: it is not in the local Hugging Face cache and could not be "
            "downloaded (or its files are damaged). Fix: run `python app.py --download` once with network, or "
            "point `--model TASK=/path/to/local/dir` at a saved copy, or start with `--stand-ins tiny`. "
            f"Detail: {str(error).splitlines()[0][:200] if str(error) else type(error).__name__}"
        ) from error
