"""`python -m benchmarks --quick` on tiny stand-ins, against real app and peer subprocesses: every figure of the
JSON is there, positive, and the ratios are the ones computed from the figures beside them."""

from __future__ import annotations

import json

import pytest

from benchmarks.__main__ import CLIENT_KIND_TASKS, PEER_TASKS, QUICK, main, table
from benchmarks.workloads import TASKS


def positive(value) -> bool:
    return isinstance(value, int | float) and value > 0


@pytest.fixture(scope="module")
def results(cache_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    main(["--quick", "--stand-ins", "tiny", "--cache-dir", str(cache_dir), "--output", str(output)])
    assert output.stat().st_size < 100_000
    return json.loads(output.read_text())


def test_no_section_failed(results):
    failed = {name: value for name, value in results.items() if isinstance(value, dict) and "error" in value}
    assert not failed


def test_cold_start_and_memory_are_measured(results):
    assert positive(results["cold_start"]["page_served_s"])
    assert set(results["cold_start"]["first_request_s"]) == set(TASKS)
    assert all(positive(s) for s in results["cold_start"]["first_request_s"].values())
    assert positive(results["peer_cold_start_s"])
    memory = results["memory_all_models_loaded"]
    assert 100 < memory["rss_mb"] <= memory["peak_rss_mb"] <= results["memory_at_end"]["peak_rss_mb"]


def test_every_endpoint_has_bare_and_app_latency_and_their_ratio(results):
    assert set(results["overhead"]) == set(TASKS)
    for row in results["overhead"].values():
        assert positive(row["bare_ms"]) and positive(row["app_ms"])
        assert row["ratio"] == pytest.approx(row["app_ms"] / row["bare_ms"], rel=0.01)
        assert row["overhead_ms"] == pytest.approx(row["app_ms"] - row["bare_ms"], abs=0.2)
        assert isinstance(row["within_budget"], bool)


def test_ours_and_the_peer_answer_at_every_concurrency(results):
    assert set(results["vs_peer"]) == set(PEER_TASKS)
    for row in results["vs_peer"].values():
        assert positive(row["ours_ms"]) and positive(row["peer_ms"])
        assert row["ours_over_peer"] == pytest.approx(row["ours_ms"] / row["peer_ms"], rel=0.01)
        assert set(row["throughput"]) == {str(n) for n in QUICK.levels}
        for level in row["throughput"].values():
            assert positive(level["ours_rps"]) and positive(level["peer_rps"])
            assert level["ours_errors"] == 0 and level["peer_errors"] == 0


def test_throughput_counts_answers_in_steady_state_and_classifiers_show_the_model_alone(results):
    for task, row in results["vs_peer"].items():
        for clients, level in row["throughput"].items():
            assert level["ours_counted"] > int(clients) and level["peer_counted"] > int(clients)
        if task == "generate":
            assert "model_alone_rps" not in row
            continue
        top = row["throughput"]["16"]
        assert positive(row["model_alone_rps"])
        assert row["ceiling_over_peer"] == pytest.approx(row["model_alone_rps"] / top["peer_rps"], rel=0.01, abs=6e-4)
        assert row["ours_over_ceiling"] == pytest.approx(top["ours_rps"] / row["model_alone_rps"], rel=0.01, abs=6e-4)


def test_generation_streams_and_counts_tokens_per_second(results):
    generation = results["generation"]
    first, per_s = generation["first_token_ms"], generation["tokens_per_s"]
    assert all(positive(first[name]) for name in ("ours", "peer", "bare_one_forward"))
    assert all(positive(per_s[name]) for name in ("ours", "peer", "bare"))
    tokens, seconds = generation["max_new_tokens"], generation["total_ms"]["ours"] / 1000
    assert per_s["ours"] == pytest.approx(tokens / seconds, rel=0.01)
    assert generation["ours_tokens_per_s_over_bare"] == pytest.approx(per_s["ours"] / per_s["bare"], rel=0.01)
    assert first["ours"] <= generation["total_ms"]["ours"]
    assert generation["updates_per_request"] >= 2, "the text should arrive in several updates, not whole"


def test_int8_rows_are_there(results):
    assert {"sentiment", "zero_shot", "qa", "generate"} <= set(results["int8"])
    for task, row in results["int8"].items():
        if task != "memory":
            assert positive(row["int8_ms"]) and positive(row["fp32_ms"])


def test_client_kind_rows_measure_rest_and_gradio_client_beside_the_browser(results):
    for task in CLIENT_KIND_TASKS:
        kinds = results["vs_peer"][task]["client_kinds"]
        assert set(kinds) == {"browser", "rest", "gradio_client"}
        for kind in ("rest", "gradio_client"):
            row = kinds[kind]
            assert positive(row["ours_ms"]) and positive(row["peer_ms"])
            assert row["ours_over_peer"] == pytest.approx(row["ours_ms"] / row["peer_ms"], rel=0.01)
            assert set(row["throughput"]) == {str(n) for n in QUICK.client_kind_levels}
            for level in row["throughput"].values():
                assert positive(level["ours_rps"]) and positive(level["peer_rps"])
                assert level["ours_errors"] == 0 and level["peer_errors"] == 0
    assert "| sentiment | rest |" in table(results) and "| sentiment | gradio_client |" in table(results)
