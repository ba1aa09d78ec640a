"""The app's settings: parsed once from flags and environment variables in `app.py`, then handed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shared.stand_ins import StandInSize

BACKENDS = ("in-process", "ray")
Backend = Literal["in-process", "ray"]


def default_serve_config() -> Path:
    return Path(__file__).resolve().parent.parent / "serve_config.yaml"


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "transformers-demo-suite"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: tuple[tuple[str, str], ...] = ()
    device: str = "auto"
    model_overrides: dict[str, str] = field(default_factory=dict)
    preload: bool = False
    max_memory_gb: float | None = None
    stand_ins: StandInSize | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    cpu_int8: bool = False  # dynamic int8 quantisation of the text models' linear layers on the CPU
    mcp: bool = False  # serve the endpoints as MCP tools too (Gradio's MCP server)
    download: bool = False  # fetch each task's default model into the Hugging Face cache, then exit
    backend: Backend = "in-process"  # where the model work runs: here, or on Ray Serve replicas
    ray_address: str | None = None  # the Ray cluster to join; None starts a private one on this machine
    serve_config: Path = field(default_factory=default_serve_config)  # the Serve applications for --backend ray

    @property
    def max_memory_bytes(self) -> int | None:
        return None if self.max_memory_gb is None else int(self.max_memory_gb * 2**30)

    @property
    def stand_in_root(self) -> Path:
        return self.cache_dir / "stand-ins"
