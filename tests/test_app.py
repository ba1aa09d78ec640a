"""The app as a whole: the tab registry, the command line, preloading, and a missing model failing only its tab."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client

import app as app_module
from demos import DEMOS, TASKS, attention, sentiment, system, zero_shot
from demos.tab import Tab
from shared.bundled import MINILM
from shared.runtime import Runtime
from shared.settings import Settings
from shared.stand_ins import ensure_stand_in
from tests.helpers import free_port, served

ROOT = Path(__file__).resolve().parent.parent
API_NAMES = {
    *("sentiment", "zero_shot", "qa", "generate", "segment"),
    *("next_token", "tokens", "decode_ids", "fill_mask", "embeddings", "semantic_search", "attention"),
    *("attention_steps", "pipeline_steps", "evaluate", "train_classifier", "classify_sentences"),
}


def api_names(blocks) -> list[str]:
    return [fn.api_name for fn in blocks.fns.values() if fn.api_name and fn.api_visibility == "public"]


@pytest.mark.parametrize("demo", DEMOS, ids=lambda demo: demo.task)
def test_every_demo_declares_its_task_models_and_loader(demo):
    assert demo.task in API_NAMES and demo.title and demo.description and demo.models and demo.loader
    assert all(choice.stand_in for choice in demo.models), "every allowlisted model needs a stand-in family"
    assert demo.default_models(list(demo.models)), "a tab runs at least one model before a visitor picks one"


def test_building_every_tab_loads_no_model_and_names_each_endpoint_once(tmp_path):
    runtime = Runtime(Settings(stand_ins="tiny", cache_dir=tmp_path, device="cpu"))
    blocks = app_module.build_app(runtime)
    names = api_names(blocks)
    assert API_NAMES | {"system"} <= set(names)
    assert len(names) == len(set(names))
    assert runtime.cache.load_count == 0 and not (tmp_path / "stand-ins").exists()


def test_view_api_lists_every_endpoint(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {f"/{name}" for name in API_NAMES} <= set(endpoints)


def test_flags_have_environment_equivalents_and_flags_win():
    environ = {
        "DEMO_PORT": "9000",
        "DEMO_DEVICE": "cpu",
        "DEMO_MODELS": "qa=deepset/roberta-base-squad2,generate=/models/gpt",
        "DEMO_STAND_INS": "tiny",
        "DEMO_AUTH": "ada:secret",
        "DEMO_MAX_MEMORY_GB": "2.5",
        "DEMO_PRELOAD": "1",
    }
    settings = app_module.parse_settings(["--port", "9100"], environ)
    assert settings.port == 9100 and settings.device == "cpu" and settings.stand_ins == "tiny"
    assert settings.model_overrides == {"qa": "deepset/roberta-base-squad2", "generate": "/models/gpt"}
    assert settings.auth == (("ada", "secret"),) and settings.max_memory_bytes == int(2.5 * 2**30)
    assert settings.preload


def test_defaults_serve_on_localhost_with_real_models():
    settings = app_module.parse_settings([], {})
    assert (settings.host, settings.port, settings.stand_ins, settings.share) == ("127.0.0.1", 7860, None, False)


@pytest.mark.parametrize("argv", [["--model", "translate=t5"], ["--model", "qa"], ["--auth", "nopassword"]])
def test_bad_flags_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit):
        app_module.parse_settings(argv, {})
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEMO_PORT", "abc"),
        ("DEMO_AUTH", "x"),
        ("DEMO_MAX_MEMORY_GB", "lots"),
        ("DEMO_STAND_INS", "huge"),
        ("DEMO_SHARE", "maybe"),
        ("DEMO_PRELOAD", "sometimes"),
        ("DEMO_CPU_INT8", "fast"),
    ],
)
def test_an_environment_variable_that_does_not_parse_is_a_usage_error_naming_it(variable, value, capsys):
    with pytest.raises(SystemExit) as stopped:
        app_module.parse_settings([], {variable: value})
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert f"{variable}={value!r}" in error and "usage:" in error


def test_the_app_started_with_a_bad_environment_variable_exits_without_a_traceback():
    environ = {**os.environ, "DEMO_PORT": "abc", "DEMO_MAX_MEMORY_GB": "lots"}
    started = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 2
    assert "DEMO_PORT='abc'" in started.stderr and "DEMO_MAX_MEMORY_GB='lots'" in started.stderr
    assert "Traceback" not in started.stderr


def test_help_names_every_flag_and_its_environment_variable(capsys):
    with pytest.raises(SystemExit):
        app_module.parse_settings(["--help"], {})
    text = " ".join(capsys.readouterr().out.split())
    for flag in ["--host", "--port", "--share", "--auth", "--device", "--model", "--preload", "--max-memory-gb"]:
        assert flag in text
    for variable in app_module.ENVIRONMENT.values():
        assert variable in text


def test_preload_loads_every_default_model_in_the_background(tmp_path):
    runtime = Runtime(Settings(stand_ins="tiny", cache_dir=tmp_path, device="cpu"))
    runtime.preload(app_module.default_models(runtime)).join(timeout=300)
    loaded = {(entry.task, entry.model_id) for entry in runtime.cache.loaded_models()}
    assert {(demo.task, demo.models[0].model_id) for demo in DEMOS} <= loaded
    tokens = TASKS["tokens"]
    assert {("tokens", choice.model_id) for choice in tokens.default_models(list(tokens.models))} <= loaded
    assert len(loaded) == len(DEMOS) + 2  # the Tokens tab compares three tokenizers by default


def test_the_system_tab_lists_loaded_models_in_tab_order(runtime):
    # The cache keeps its models most recently used last: use a later tab's model, then an earlier one's.
    for demo in (attention.DEMO, sentiment.DEMO):
        with Tab(demo, runtime).model(None):
            pass
    tasks = [row[0] for row in system.model_rows(runtime)]
    assert tasks.index("sentiment") < tasks.index("attention")
    assert tasks == sorted(tasks, key=[demo.task for demo in DEMOS].index)


@pytest.fixture(scope="module")
def offline_client(tmp_path_factory):
    """Real Hub models (none cached, no network), except sentiment, pointed at a local saved model."""
    local_model = ensure_stand_in("distilbert-sentiment", "tiny", tmp_path_factory.mktemp("local"))
    settings = Settings(device="cpu", port=free_port(), model_overrides={"sentiment": str(local_model)})
    with served(Runtime(settings)) as (url, _):
        yield Client(url, verbose=False)


def test_a_model_that_cannot_be_downloaded_fails_its_tab_with_a_clear_message(offline_client):
    with pytest.raises(Exception, match="could not be loaded") as error:
        offline_client.predict("text", "a, b", False, "This is {}.", None, api_name="/zero_shot")
    assert zero_shot.DEMO.models[0].model_id in str(error.value)
    assert "Traceback" not in str(error.value)


def test_other_tabs_keep_working_and_the_operator_model_is_the_default(offline_client):
    label, _, status = offline_client.predict("Fine.", None, api_name="/sentiment")
    assert label["label"] in {"POSITIVE", "NEGATIVE"}
    assert "local" in status and sentiment.DEMO.models[0].model_id not in status


def test_the_stand_in_banner_names_the_models_that_run_with_real_weights(tmp_path):
    blocks = app_module.build_app(Runtime(Settings(stand_ins="tiny", cache_dir=tmp_path, device="cpu")))
    banners = [
        block.value
        for block in blocks.blocks.values()
        if isinstance(block, gr.Markdown) and "stand-in-banner" in (block.elem_classes or [])
    ]
    real = [banner for banner in banners if f"`{MINILM}`: it runs with real" in banner]
    assert len(banners) == len(DEMOS)
    offering = [demo for demo in DEMOS if "sentence-transformers/all-MiniLM-L6-v2" in {c.model_id for c in demo.models}]
    assert len(real) == len(offering) >= 5  # Tokens, Embeddings, Attention, Attention from scratch, Train a classifier


def test_gradio_does_not_rebuild_its_monitoring_summary_after_every_request(served_app):
    """The app never enables Gradio's monitoring dashboard, so the served app's queue must not spend CPU after every
    request on its summary (a pandas group-by over up to 10,000 past events)."""
    _, blocks = served_app
    assert blocks._queue.ANAYLTICS_CACHE_FREQUENCY >= 1_000_000  # Gradio's spelling


def test_start_up_waits_for_a_page_slower_than_gradios_three_seconds():
    """On a busy machine the first render of the page can take longer than Gradio's start-up check allows."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class SlowPage(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            time.sleep(3.5)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        assert not gr.networking.url_ok(url)
        assert app_module.page_answers(url, seconds=20)
    finally:
        server.shutdown()
    assert not app_module.page_answers("http://127.0.0.1:9/", seconds=1)


def test_the_ray_backend_flags_have_environment_equivalents_and_flags_win():
    environ = {"DEMO_BACKEND": "ray", "DEMO_RAY_ADDRESS": "10.0.0.5:6379", "DEMO_SERVE_CONFIG": "/etc/demo/serve.yaml"}
    settings = app_module.parse_settings([], environ)
    assert (settings.backend, settings.ray_address, str(settings.serve_config)) == (
        "ray",
        "10.0.0.5:6379",
        "/etc/demo/serve.yaml",
    )
    flagged = app_module.parse_settings(["--backend", "in-process", "--ray-address", "head:6379"], environ)
    assert (flagged.backend, flagged.ray_address) == ("in-process", "head:6379")
    assert app_module.parse_settings([], {}).backend == "in-process"
    with pytest.raises(SystemExit):
        app_module.parse_settings([], {"DEMO_BACKEND": "spark"})
