"""Fixtures: tiny stand-ins built once per test run in a temp dir, and the real app served on a free port."""

from __future__ import annotations

import os
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("demo-cache")


@pytest.fixture(scope="session")
def tiny_settings(cache_dir) -> Settings:
    # Tests send a dozen requests at once from one gradio_client session; fairness has its own app and tests.
    return Settings(stand_ins="tiny", cache_dir=cache_dir, device="cpu", port=free_port(), max_queued_per_client=64)


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
