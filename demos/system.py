"""The System tab: the device, the models loaded, their memory, load times and hit counts. Its tasks are the
registry's (`demos.DEMOS`): the models are listed in tab order."""

from __future__ import annotations

import time

import gradio as gr
import torch

from demos import DEMOS
from shared.runtime import Runtime

TITLE = "System"
TABLE_HEADERS = ["task", "model", "device", "dtype", "memory (MB)", "load time (s)", "hits", "in use", "stand-in"]


def device_summary(runtime: Runtime) -> str:
    settings = runtime.settings
    budget = "none" if settings.max_memory_gb is None else f"{settings.max_memory_gb:g} GB"
    used = runtime.cache.total_memory_bytes() / 2**20
    loading = runtime.cache.loading_models()
    lines = [
        f"**Device:** `{runtime.device}` (asked for `{settings.device}`) · torch {torch.__version__} · "
        f"{torch.get_num_threads()} CPU threads",
        f"**Models in memory:** {len(runtime.cache.loaded_models())}, {used:,.1f} MB · **memory budget:** {budget}",
        f"**Stand-ins:** {settings.stand_ins or 'off (real Hub models)'}",
    ]
    for item in loading:
        lines.append(f"Loading `{item.model_id}` for {item.task}… {time.monotonic() - item.started:.0f} s so far")
    return "\n\n".join(lines)


def tab_position(task: str) -> int:
    """Where the task's tab sits in the registry; a task no tab declares goes last."""
    tasks = [demo.task for demo in DEMOS]
    return tasks.index(task) if task in tasks else len(tasks)


def model_rows(runtime: Runtime) -> list[list]:
    """One row per loaded model, in tab order (most recently used last within a tab)."""
    entries = sorted(runtime.cache.loaded_models(), key=lambda entry: tab_position(entry.task))
    return [
        [
            entry.task,
            entry.model_id,
            entry.device,
            entry.precision,
            round(entry.memory_bytes / 2**20, 1),
            round(entry.load_seconds, 2),
            entry.hits,
            entry.in_use,
            "yes" if entry.stand_in else "no",
        ]
        for entry in entries
    ]


def build_tab(runtime: Runtime, tab: gr.Tab) -> None:
    summary = gr.Markdown(label="Device")
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Loaded models", interactive=False)
    refresh = gr.Button("Refresh")

    def system_status() -> tuple[str, list[list]]:
        """The device summary and one row per loaded model."""
        return device_summary(runtime), model_rows(runtime)

    refresh.click(system_status, None, [summary, table], api_name="system")
    tab.select(system_status, None, [summary, table], api_visibility="private")
