"""The scripting example in clients/ runs as written against the app, and what it prints makes sense."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "clients" / "every_endpoint.py"


def test_the_client_example_scripts_every_endpoint(app_url, capsys):
    results = runpy.run_path(str(EXAMPLE))["main"](app_url)
    assert results.keys() == {"sentiment", "zero_shot", "qa", "generate", "beams", "segment", "segment_json", "system"}
    assert len(results["sentiment"]["confidences"]) == 2
    assert sum(entry["confidence"] for entry in results["zero_shot"]["confidences"]) == pytest.approx(1.0, abs=1e-3)
    streamed = results["generate"]
    assert len(streamed) > 2
    assert all(later.startswith(earlier) for earlier, later in zip(streamed[:-1], streamed[1:], strict=True))
    assert results["beams"].count("Hello") == 0 and "The best thing about teaching is" in results["beams"]
    assert len(results["segment"]["data"]) >= 3
    assert [item["label"] for item in results["segment_json"]] == [row[0] for row in results["segment"]["data"]]
    assert {row[0] for row in results["system"]["data"]} >= {"sentiment", "zero_shot", "qa", "generate", "segment"}
    assert "Traceback" not in capsys.readouterr().err
