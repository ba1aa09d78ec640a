"""Choosing the device once for the whole app: CUDA, then Apple MPS, then CPU, unless the operator says otherwise."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def choose_device(
    requested: str = "auto", cuda_available: bool | None = None, mps_available: bool | None = None
) -> str:
    """Return the torch device string to use. Availability can be injected so the choice is testable anywhere."""
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if mps_available is None:
        mps_available = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    requested = requested.strip().lower()
    if requested == "auto":
        if cuda_available:
            return "cuda"
        return "mps" if mps_available else "cpu"
    kind = requested.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"Unknown device {requested!r}: use one of {', '.join(DEVICE_CHOICES)} (or cuda:N).")
    if kind == "cuda" and not cuda_available:
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device.")
    if kind == "mps" and not mps_available:
        raise ValueError("--device mps was asked for, but torch sees no Apple MPS device.")
    return requested


def choose_dtype(device: str, half_allowed: bool = True) -> torch.dtype:
    """Half precision where the device runs it well and the model allows it; float32 on CPU."""
    if not half_allowed or device == "cpu":
        return torch.float32
    if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16
