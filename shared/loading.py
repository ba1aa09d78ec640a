"""The one load path: every model, whether a pipeline or a model with its processor, is built by a loader here."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import transformers
from safetensors import SafetensorError
from transformers.pytorch_utils import Conv1D

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
    int8_allowed: bool = False  # whether --cpu-int8 quantises this model's linear layers (text models only)

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
    int8_allowed: bool = False  # whether --cpu-int8 quantises this model's linear layers (text models only)
    attn_implementation: str | None = None  # "eager" for models whose attention weights are shown

    def __call__(self, source: str, device: str, dtype: torch.dtype) -> ModelBundle:
        options = {"attn_implementation": self.attn_implementation} if self.attn_implementation else {}
        model = getattr(transformers, self.model_class).from_pretrained(
            source, dtype=dtype, trust_remote_code=False, **options
        )
        processor = getattr(transformers, self.processor_class).from_pretrained(source, trust_remote_code=False)
        return ModelBundle(model.to(device).eval(), processor)


@dataclass(frozen=True)
class TokenizerLoader:
    """Loads only a tokenizer (`AutoTokenizer`), for tabs that show how text becomes ids; no weights, no device."""

    half_allowed: bool = False
    int8_allowed: bool = False

    def __call__(self, source: str, device: str, dtype: torch.dtype) -> Any:
        return transformers.AutoTokenizer.from_pretrained(source, trust_remote_code=False)


Loader = PipelineLoader | ModelLoader | TokenizerLoader


def max_input_tokens(model: Any, tokenizer: Any) -> int | None:
    """How many tokens the model can read: its position table's size (less RoBERTa's padding offset), or the
    tokenizer's `model_max_length` when that is smaller. Hub tokenizers may have no real `model_max_length` in
    transformers 5 (it reads as 1e30), so the position table is what bounds an input."""
    positions = getattr(model.config, "max_position_embeddings", None)
    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    padding_idx = getattr(embeddings, "padding_idx", None)
    if positions is not None and isinstance(padding_idx, int):
        positions -= padding_idx + 1  # RoBERTa counts positions from padding_idx + 1
    limits = [limit for limit in (positions, getattr(tokenizer, "model_max_length", None)) if limit]
    return int(min(limits)) if limits else None


def torch_module_of(loaded: Any) -> torch.nn.Module | None:
    """The `nn.Module` inside a pipeline or bundle, for memory accounting."""
    module = getattr(loaded, "model", None)
    return module if isinstance(module, torch.nn.Module) else None


def memory_bytes(loaded: Any) -> int:
    module = torch_module_of(loaded)
    if module is None:
        return 0
    tensors = [*module.parameters(), *module.buffers()]
    # Int8 linear layers keep their weights packed, outside parameters() and buffers().
    for layer in module.modules():
        if isinstance(layer, torch.ao.nn.quantized.dynamic.Linear):
            weight, bias = layer._weight_bias()
            tensors += [weight] if bias is None else [weight, bias]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def conv1d_as_linear(module: torch.nn.Module) -> None:
    """Replace transformers' `Conv1D` (GPT-2's linear layers, weight stored transposed) by equal `nn.Linear`s, in
    place, so that int8 quantisation reaches them."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                linear = torch.nn.Linear(child.nx, child.nf, device=child.weight.device, dtype=child.weight.dtype)
                linear.weight = torch.nn.Parameter(child.weight.detach().t().contiguous(), requires_grad=False)
                linear.bias = torch.nn.Parameter(child.bias.detach().clone(), requires_grad=False)
                setattr(parent, name, linear)


def quantize_int8(loaded: Any) -> bool:
    """Dynamic int8 quantisation, in place, of the linear layers of a pipeline's or bundle's model on the CPU:
    weights stored as int8, activations quantised on the fly. Returns whether there was a model to quantise.

    `torch.ao.quantization.quantize_dynamic` is deprecated in favour of torchao's `quantize_`, but torchao 0.18
    does not pay off here: with `Int8DynamicActivationInt8WeightConfig`, DistilBERT at batch 1 ran slower than
    float32 in eager mode (no fused int8 CPU kernel), and under `torch.compile` only as fast as `quantize_dynamic`
    after a long compile per model and a recompile per new input shape. Revisit when torchao has an eager int8 CPU
    path."""
    module = torch_module_of(loaded)
    if module is None:
        return False
    conv1d_as_linear(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices: see above, the deprecated API is the fast one here
        torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return True


def load(loader: Loader, source: str, device: str, dtype: torch.dtype, model_id: str) -> Any:
    """Run `loader`, turning every way a load can fail into a `ModelUnavailable` that names the fix."""
    try:
        return loader(source, device, dtype)
    except torch.OutOfMemoryError as error:
        raise ModelUnavailable(
            f"Model {model_id!r} does not fit in memory on {device}. Free memory, lower --max-memory-gb "
            "for the other models, or pick a smaller model."
        ) from error
    except (OSError, ValueError, KeyError, SafetensorError) as error:  # SafetensorError: damaged weights
        logger.warning("Loading %s from %s failed: %s", model_id, source, error)
        raise ModelUnavailable(
            f"Model {model_id!r} could not be loaded: it is not in the local Hugging Face cache and could not be "
            "downloaded (or its files are damaged). Fix: run `python app.py --download` once with network, or "
            "point `--model TASK=/path/to/local/dir` at a saved copy, or start with `--stand-ins tiny`. "
            f"Detail: {str(error).splitlines()[0][:200] if str(error) else type(error).__name__}"
        ) from error
