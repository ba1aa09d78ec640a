"""The README's "Adding a tab" recipe is true: its module, registered as a tab, serves its endpoint."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from app import serve
from demos.common import model_dropdown, tab_intro, user_errors
from demos.tab import Demo, Tab
from shared.errors import UserError
from shared.loading import TokenizerLoader
from shared.model_choices import ModelChoice
from shared.runtime import Runtime
from tests.helpers import free_port, stand_in_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def recipe_module() -> dict:
    section = README.read_text(encoding="utf-8").split("### Adding a tab", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace = dict(
        gr=gr, Tab=Tab, Demo=Demo, user_errors=user_errors, tab_intro=tab_intro, model_dropdown=model_dropdown,
        ModelChoice=ModelChoice, TokenizerLoader=TokenizerLoader, UserError=UserError,
    )  # fmt: skip
    exec(compile("\n".join(line[3:] for line in code.splitlines()), str(README), "exec"), namespace)
    return namespace


def test_the_recipe_tab_serves_its_endpoint(tmp_path):
    demo = recipe_module()["DEMO"]
    runtime = Runtime(stand_in_settings(tmp_path, port=free_port()))
    with gr.Blocks() as blocks:
        demo.build_tab(Tab(demo, runtime))
    serve(blocks, runtime.settings, block=False)
    try:
        client = Client(f"http://127.0.0.1:{runtime.settings.port}/", verbose=False)
        count, status = client.predict("Hello world", api_name="/word_count")
        assert count > 0 and "Served by `openai-community/gpt2`" in status
        with pytest.raises(AppError, match="Type a text"):
            client.predict(" ", api_name="/word_count")
    finally:
        blocks.close()
