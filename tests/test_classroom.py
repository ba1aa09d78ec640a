"""`python -m benchmarks.classroom` on tiny stand-ins with a few visitors for a few seconds, against real app and
peer subprocesses: the report has both sides with the same endpoints, the visitors' requests were answered, none
failed, and the figures of each row agree with each other. No timing is asserted (that is the benchmark's job)."""

from __future__ import annotations

import json

import pytest

from benchmarks.classroom import CLASS_TASKS, main, table

VISITORS = 4


@pytest.fixture(scope="module")
def report(cache_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("classroom") / "classroom.json"
    main(
        [
            *("--visitors", str(VISITORS), "--duration", "4", "--think", "0.3"),
            *("--stand-ins", "tiny", "--cache-dir", str(cache_dir), "--output", str(output)),
        ]
    )
    assert output.stat().st_size < 100_000
    return json.loads(output.read_text())


def sides(report: dict) -> dict:
    return {name: report["classes"][str(VISITORS)][name] for name in ("ours", "peer")}


def test_each_side_served_the_class_and_every_visitor_opened_the_page(report):
    assert list(report["classes"]) == [str(VISITORS)]
    for side in sides(report).values():
        assert side["endpoints"]["page"]["answered"] == VISITORS
        assert set(side["endpoints"]) <= {"page", *CLASS_TASKS}


def test_requests_were_answered_and_none_failed(report):
    for name, side in sides(report).items():
        tasks = {task: row for task, row in side["endpoints"].items() if task != "page"}
        assert sum(row["answered"] for row in tasks.values()) >= VISITORS, name
        assert all(row["errors"] == 0 for row in side["endpoints"].values()), side["error_samples"]
        assert all(row["refused"] == 0 for row in tasks.values()), side["refusal_samples"]


def test_every_click_is_counted_once_and_percentiles_are_ordered(report):
    for side in sides(report).values():
        for task, row in side["endpoints"].items():
            if task == "page":
                continue
            outcomes = row["answered"] + row["refused"] + row["errors"] + row["unfinished"]
            assert sum(row["clicks"].values()) == outcomes
            assert set(row["clicks"]) <= {"example", "own"}
            if row["answered"] or row["unfinished"]:
                assert 0 < row["p50_ms"] <= row["p95_ms"]
            if row["answered"]:
                assert 0 < row["first_update_p50_ms"] <= row["first_update_p95_ms"]


def test_the_ratios_are_computed_from_the_figures_beside_them(report):
    figures = report["classes"][str(VISITORS)]
    for task, ratios in figures["ours_over_peer"].items():
        ours, peer = figures["ours"]["endpoints"][task], figures["peer"]["endpoints"].get(task, {})
        if ratios["p95_ours_over_peer"] is not None:
            assert ratios["p95_ours_over_peer"] == pytest.approx(ours["p95_ms"] / peer["p95_ms"], rel=0.01)


def test_the_table_has_a_row_per_endpoint(report):
    text = table(report)
    assert f"{VISITORS} visitors" in text
    for task in sides(report)["ours"]["endpoints"]:
        assert f"| {task} |" in text
