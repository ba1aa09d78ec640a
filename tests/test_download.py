"""`python app.py --download` fills the Hugging Face cache with every task's default model, and afterwards the app
runs with HF_HUB_OFFLINE=1. The Hub is out of reach here, so the offline run reads a cache seeded with tiny
stand-ins under the real model ids, laid out as huggingface_hub lays out a download."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import huggingface_hub
import pytest
from gradio_client import Client, handle_file

import app
from demos import TASKS, segment, tokens
from shared.bundled import MINILM
from shared.runtime import Runtime
from shared.settings import Settings
from shared.stand_ins import ensure_stand_in
from tests.helpers import free_port, served


def test_download_fetches_each_default_model_and_does_not_serve(monkeypatch, tmp_path):
    fetched = []
    monkeypatch.setattr(app, "fetch_model", lambda loader, model_id: fetched.append((loader, model_id)))
    monkeypatch.setattr(gr.Blocks, "launch", lambda *args, **kwargs: pytest.fail("--download must not serve"))
    local = tmp_path / "my-sentiment-model"
    local.mkdir()
    app.main(["--download", "--model", f"sentiment={local}", "--cache-dir", str(tmp_path)])
    runtime = Runtime(Settings(cache_dir=tmp_path))
    expected = [
        (loader, choice.model_id)
        for task, choice, loader in app.default_models(runtime)
        if task != "sentiment" and choice.model_id != MINILM  # a local directory, and a bundled copy
    ]
    assert fetched == list(dict.fromkeys(expected))  # in tab order, each model once even when several tabs run it
    # Every tokenizer the Tokens tab compares by default, and no model twice.
    tokenizers = {model_id for loader, model_id in fetched if loader == TASKS["tokens"].loader}
    assert tokenizers == set(tokens.DEFAULT_COMPARISON)
    assert len(set(fetched)) == len(fetched)


def test_download_refuses_stand_ins_and_names_models_it_could_not_fetch(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="drop --stand-ins"):
        app.main(["--download", "--stand-ins", "tiny", "--cache-dir", str(tmp_path)])

    def offline(loader, model_id):
        raise app.ModelUnavailable(f"{model_id} is not in the cache")

    monkeypatch.setattr(app, "fetch_model", offline)
    with pytest.raises(SystemExit, match="generate: openai-community/gpt2 is not in the cache"):
        app.main(["--download", "--cache-dir", str(tmp_path)])


def seed_hub_cache(hub_cache: Path, stand_in_root: Path) -> None:
    """Put a tiny stand-in where a download of each default model would be: models--org--name/snapshots/<rev>."""
    defaults = app.default_models(Runtime(Settings(cache_dir=stand_in_root)))
    # A model id two tabs use (gpt2: generation, tokens) gets the stand-in with weights, as a download would.
    for choice in {choice.model_id: choice for _, choice, _ in reversed(defaults)}.values():
        repo = hub_cache / ("models--" + choice.model_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text("0" * 40)
        (repo / "snapshots").mkdir()
        (repo / "snapshots" / ("0" * 40)).symlink_to(ensure_stand_in(choice.stand_in, "tiny", stand_in_root))


def test_after_download_the_app_runs_offline(monkeypatch, tmp_path, cache_dir):
    hub_cache = tmp_path / "hub"
    seed_hub_cache(hub_cache, cache_dir / "stand-ins")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
    assert huggingface_hub.constants.HF_HUB_OFFLINE  # set by conftest before anything imported huggingface_hub
    # Offline, --download finds every default model in the cache through the app's own loaders, and says so.
    app.main(["--download", "--cache-dir", str(tmp_path)])
    # The app, with no stand-ins, serves the Hub ids from that cache.
    with served(Runtime(Settings(device="cpu", port=free_port(), cache_dir=tmp_path))) as (url, _):
        client = Client(url, verbose=False)
        label, _, status = client.predict("I loved this film.", api_name="/sentiment")
        assert TASKS["sentiment"].models[0].model_id in status and "stand-in" not in status
        assert label["label"]
        _, table, *_ = client.predict(handle_file(str(segment.EXAMPLE_PHOTOS[1])), 0.5, 0.8, api_name="/segment")
        assert table["data"]
