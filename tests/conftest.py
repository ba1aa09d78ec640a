"""Fixtures: tiny stand-ins built once per test run in a temp dir, and the real app served on a free port."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import transformers  # noqa: E402
from gradio_client import Client  # noqa: E402

from shared.runtime import Runtime  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.helpers import served, stand_in_settings  # noqa: E402

transformers.logging.disable_progress_bar()
transformers.logging.set_verbosity_error()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("demo-cache")


@pytest.fixture(scope="session")
def tiny_settings(cache_dir) -> Settings:
    return stand_in_settings(cache_dir)


@pytest.fixture(scope="session")
def runtime(tiny_settings: Settings) -> Runtime:
    return Runtime(tiny_settings)


@pytest.fixture(scope="session")
def served_app(runtime: Runtime):
    """The app on the session's stand-ins, as production serves it: (its URL, the running Blocks)."""
    with served(runtime) as url_and_app:
        yield url_and_app


@pytest.fixture(scope="session")
def app_url(served_app) -> str:
    return served_app[0]


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


@pytest.fixture(scope="session")
def real_minilm():
    """all-MiniLM-L6-v2's real tokenizer and model, from the copy installed with the requirements, loaded here
    without the app: what tests compare the app's numbers with."""
    from shared.bundled import MINILM, bundled_directory

    directory = bundled_directory(MINILM)
    if directory is None:
        pytest.skip("the bundled all-MiniLM-L6-v2 copy is not installed")
    return transformers.AutoTokenizer.from_pretrained(directory), transformers.AutoModel.from_pretrained(
        directory
    ).eval()
