"""The System tab: the device, the models loaded, their memory, load times and hit counts. Its tasks are the
registry's (`demos.DEMOS`): the models are listed in tab order."""

from __future__ import annotations

import os
import socket
import time

import gradio as gr
import torch

from demos import DEMOS
from shared.runtime import Runtime

TITLE = "System"
TABLE_HEADERS = [
    *("task", "model", "device", "dtype", "memory (MB)", "load time (s)", "hits", "in use", "stand-in"),
    "served by",
]


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
        f"**Front:** `{front_name(runtime)}` · **models run:** {runtime.backend.describe()}",
    ]
    for item in loading:
        lines.append(f"Loading `{item.model_id}` for {item.task}… {time.monotonic() - item.started:.0f} s so far")
    return "\n\n".join(lines)


def tab_position(task: str) -> int:
    """Where the task's tab sits in the registry; a task no tab declares goes last."""
    tasks = [demo.task for demo in DEMOS]
    return tasks.index(task) if task in tasks else len(tasks)


def model_rows(runtime: Runtime) -> list[list]:
    """The models in memory: this process's cache, or on Ray Serve what each application's replica holds."""
    remote = getattr(runtime.backend, "loaded_models", None)
    if remote is not None:
        return [
            [
                *(row["task"], row["model_id"], row["device"], row["precision"]),
                *(round(row["memory_bytes"] / 2**20, 1), round(row["load_seconds"], 2), row["hits"], row["in_use"]),
                "yes" if row["stand_in"] else "no",
                f"replica {row['replica']}",
            ]
            for row in sorted(remote(), key=lambda row: tab_position(row["task"]))
        ]
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
            "this process",
        ]
        for entry in entries
    ]


def build_tab(runtime: Runtime, tab: gr.Tab) -> None:
    summary = gr.Markdown(label="Device")
    # Long model ids wrap, so that all ten columns fit a laptop screen; a phone scrolls the table sideways.
    table = gr.Dataframe(
        headers=TABLE_HEADERS,
        label="Loaded models",
        interactive=False,
        wrap=True,
        # Wide enough for each header's longest word (a phone scrolls the table in its own box)
        column_widths=["95px", "250px", "75px", "85px", "100px", "100px", "60px", "75px", "85px", "220px"],
    )
    refresh = gr.Button("Refresh")

    def system_status() -> tuple[str, list[list]]:
        """The device summary and one row per loaded model."""
        return device_summary(runtime), model_rows(runtime)

    refresh.click(system_status, None, [summary, table], api_name="system")
    tab.select(system_status, None, [summary, table], api_visibility="private")
