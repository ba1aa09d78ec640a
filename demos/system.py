"""The System tab: the device, the models loaded, their memory, load times and hit counts."""

from __future__ import annotations

import os
import socket
import time

import gradio as gr
import torch

from shared.runtime import Runtime

TITLE = "System"
TABLE_HEADERS = ["task", "model", "device", "dtype", "memory (MB)", "load time (s)", "hits", "in use", "stand-in"]


def front_name(runtime: Runtime) -> str:
    """Which copy of the app answered: several fronts can serve one address behind a balancer."""
    return f"{socket.gethostname()}:{runtime.settings.port} (process {os.getpid()})"


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
        f"**Front:** `{front_name(runtime)}`",
    ]
    for item in loading:
        lines.append(f"Loading `{item.model_id}` for {item.task}… {time.monotonic() - item.started:.0f} s so far")
    return "\n\n".join(lines)


def model_rows(runtime: Runtime) -> list[list]:
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
        for entry in runtime.cache.loaded_models()
    ]


def build_tab(runtime: Runtime, tab: gr.Tab) -> None:
    summary = gr.Markdown(label="Device")
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Loaded models", interactive=False)
    refresh = gr.Button("Refresh")

    def system_status():
        return device_summary(runtime), model_rows(runtime)

    refresh.click(system_status, None, [summary, table], api_name="system")
    tab.select(system_status, None, [summary, table], api_visibility="private")
