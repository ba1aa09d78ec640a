"""The app's settings: parsed once from flags and environment variables in `app.py`, then handed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shared.limits import DEFAULT_MAX_QUEUED_PER_CLIENT, QUEUE_WAIT_SECONDS
from shared.stand_ins import StandInSize
from shared.web_defences import DEFAULT_UPLOAD_FOLDER_MB, DEFAULT_UPLOAD_MB_PER_CLIENT

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
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks whose X-Forwarded-For/-Host/-Proto are believed
    allowed_hosts: tuple[str, ...] = ()  # host names served besides IP addresses and localhost
    frame_ancestors: tuple[str, ...] = ()  # origins that may show the app in a frame, besides the app itself
    max_queued_per_client: int = DEFAULT_MAX_QUEUED_PER_CLIENT
    upload_folder_mb: float = DEFAULT_UPLOAD_FOLDER_MB  # uploads and outputs kept; the oldest go first
    upload_mb_per_client: float = DEFAULT_UPLOAD_MB_PER_CLIENT  # per client address in any 10 minutes
    queue_wait_seconds: float = QUEUE_WAIT_SECONDS  # each endpoint queues what it answers within this wait

    @property
    def max_memory_bytes(self) -> int | None:
        return None if self.max_memory_gb is None else int(self.max_memory_gb * 2**30)

    @property
    def stand_in_root(self) -> Path:
        return self.cache_dir / "stand-ins"
