"""What a chart on the page draws, read from the chart itself: Vega gives every bar an ARIA label naming each field
of its data row ("filler: nurse (A); probability: 0.23; sentence: A: woman; ..."), and each axis one listing its
values in the order drawn. Tests compare these with the table or numbers beside the chart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def drawn_bars(chart) -> list[dict[str, str]]:
    """The bars `chart` (a locator holding one `.vega-embed`) draws, left to right, as field -> text; a field is
    named by its axis or legend title (lower case) when it has one."""
    labels = chart.locator(".mark-rect path").evaluate_all("bars => bars.map(bar => bar.getAttribute('aria-label'))")
    bars = []
    for label in labels:
        if not label:
            continue
        fields = {}
        for part in label.split("; "):
            name, _, value = part.partition(": ")
            fields[name.lower()] = value
        bars.append(fields)
    return bars


def x_axis_values(chart) -> list[str]:
    """The x axis's labels in the order drawn."""
    return chart.locator("g.role-axis[aria-label^='X-axis'] .role-axis-label text").all_text_contents()


def legend_labels(chart) -> list[str]:
    return chart.locator(".role-legend-label text").all_text_contents()


def table_rows(table) -> list[list[str]]:
    """The body cells of a `gr.Dataframe` (a locator holding one), row by row."""
    cells = table.locator("[data-testid^='cell-']").evaluate_all(
        "cells => cells.map(cell => [cell.dataset.testid, cell.innerText.trim()])"
    )
    rows: dict[int, dict[int, str]] = {}
    for test_id, text in cells:
        parts = test_id.split("-")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        rows.setdefault(int(parts[1]), {})[int(parts[2])] = text
    return [[row[column] for column in sorted(row)] for _, row in sorted(rows.items())]


def settled(read: Callable[[], Any], check: Callable[[Any], bool], timeout: float = 30) -> Any:
    """`read()` once `check` accepts it (charts redraw a moment after the table fills); the last reading on
    timeout, for the test's assertion to show."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.25)
