"""Fixtures: tiny stand-ins built once per test run in a temp dir, and the real app served on a free port."""

from __future__ import annotations

import os
import re
import socket

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import transformers  # noqa: E402
from gradio_client import Client  # noqa: E402

from app import launch  # noqa: E402
from shared.runtime import Runtime  # noqa: E402
from shared.settings import Settings  # noqa: E402

transformers.logging.disable_progress_bar()
transformers.logging.set_verbosity_error()


def untimed(status: str) -> str:
    """A status line without its timing, the one part two calls of an endpoint do not share."""
    return re.sub(r" in \d+\.\d\d s", " in … s", status)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("demo-cache")


@pytest.fixture(scope="session")
def tiny_settings(cache_dir) -> Settings:
    return Settings(stand_ins="tiny", cache_dir=cache_dir, device="cpu", port=free_port())


@pytest.fixture(scope="session")
def runtime(tiny_settings: Settings) -> Runtime:
    return Runtime(tiny_settings)


@pytest.fixture(scope="session")
def app_url(runtime: Runtime):
    app = launch(runtime, block=False)
    yield f"http://{runtime.settings.host}:{runtime.settings.port}/"
    app.close()


@pytest.fixture(scope="session")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def tiny_detr(tiny_settings: Settings) -> tuple:
    """The tiny DETR panoptic stand-in as (model, image processor), loaded once for the segmentation tests."""
    from shared.stand_ins import ensure_stand_in

    path = ensure_stand_in("detr-panoptic", "tiny", tiny_settings.stand_in_root)
    model = transformers.DetrForSegmentation.from_pretrained(path).eval()
    return model, transformers.DetrImageProcessor.from_pretrained(path)
