"""The scripting example in clients/ runs as written against the app, and what it prints makes sense; the checks
of its answers are shared with the Ray backend's test (tests/test_ray_serve.py)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from demos import generate

EXAMPLE = Path(__file__).resolve().parent.parent / "clients" / "every_endpoint.py"


def test_the_client_example_scripts_every_endpoint(app_url, capsys, monkeypatch):
    monkeypatch.setattr(generate, "UPDATE_SECONDS", 0.0)  # the tiny stand-in writes 20 tokens within one interval
    check_every_endpoint(runpy.run_path(str(EXAMPLE))["main"](app_url))
    assert "Traceback" not in capsys.readouterr().err


def check_every_endpoint(results: dict, streamed_updates: int = 3) -> None:
    """What clients/every_endpoint.py's answers must hold, on the tiny stand-ins, wherever the models run (the Ray
    backend's test asks the same). `streamed_updates`: the fewest generation updates expected (a replica sends one
    every generate.UPDATE_SECONDS, which the tiny stand-in's 20 tokens may not outlast)."""
    assert results.keys() == {
        *("sentiment", "zero_shot", "qa", "generate", "beams", "segment", "segment_json", "system"),
        *("next_token", "tokens", "decoded", "fill_mask", "embeddings", "semantic_search", "attention"),
        *("attention_steps", "pipeline_steps", "evaluate", "train_classifier", "classify_sentences"),
    }
    assert len(results["sentiment"]["confidences"]) == 2
    assert sum(entry["confidence"] for entry in results["zero_shot"]["confidences"]) == pytest.approx(1.0, abs=1e-3)
    streamed = results["generate"]
    assert len(streamed) >= streamed_updates
    assert all(later.startswith(earlier) for earlier, later in zip(streamed[:-1], streamed[1:], strict=True))
    assert results["beams"].count("Hello") == 0 and "The best thing about teaching is" in results["beams"]
    assert len(results["segment"]["data"]) >= 3
    assert [item["label"] for item in results["segment_json"]] == [row[0] for row in results["segment"]["data"]]
    assert {row[0] for row in results["system"]["data"]} >= {"sentiment", "zero_shot", "qa", "generate", "segment"}
    kept = [token for token in results["next_token"]["tokens"] if token["probability_after_settings"] > 0]
    assert len(kept) == 5  # top_k=5
    assert results["decoded"] == "Ciao mi chiamo Mattia"  # cased WordPiece decodes its own ids back
    assert [row[1] for row in results["fill_mask"]["data"]] == [1, 2, 3, 4, 5]
    assert results["embeddings"]["matrix"][0][0] == pytest.approx(1.0, abs=1e-4)
    # all-MiniLM-L6-v2 runs with its real weights: the deposit sentence answers the savings question best.
    assert results["semantic_search"]["ranking"][0]["sentence"].startswith("I need to go to the bank")
    assert all(sum(item["focus"]["row"]) == pytest.approx(1.0, abs=1e-3) for item in results["attention"]["sentences"])
    assert all(
        sum(row) == pytest.approx(1.0) for item in results["attention_steps"]["sentences"] for row in item["weights"]
    )
    assert results["pipeline_steps"]["labels"] == ["NEG", "NEU", "POS"]
    assert results["evaluate"]["n"] == 12 and 0 <= results["evaluate"]["accuracy"] <= 1
    assert results["classify_sentences"]["data"][0][1] == "sports"  # real MiniLM vectors
