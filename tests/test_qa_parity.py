"""Parity of the QA tab's span search with transformers 4.x's question-answering pipeline.

Both stand-in families answer the same cases here and under transformers 4.x (`tests/qa_parity/run_v4_pipeline.py`
in the Python that `TF4_PYTHON` names): the answers, their character offsets and their scores must agree. Opt in with
`TF4_PYTHON=/path/to/python pytest -m slow tests/test_qa_parity.py`; tests/qa_parity/README.md sets that Python up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import torch

from demos import qa
from shared.stand_ins import ensure_stand_in

TF4_PYTHON = os.environ.get("TF4_PYTHON")
RUN_V4_PIPELINE = Path(__file__).parent / "qa_parity" / "run_v4_pipeline.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TF4_PYTHON, reason="set TF4_PYTHON to a Python with transformers 4.x to compare"),
]

LONG_CONTEXT = " ".join(
    f"Chapter {number}. {qa.EIFFEL_TOWER if number % 2 else qa.LOST_KEYS}" for number in range(1, 13)
)
CASES = [
    dict(question="When was the Eiffel Tower built?", context=qa.EIFFEL_TOWER),
    dict(question="Where did I leave the keys?", context=qa.LOST_KEYS, top_k=3),
    dict(question="Who designed the tower?", context=LONG_CONTEXT, top_k=5),
    dict(question="Where did my daughter find the keys?", context=LONG_CONTEXT, top_k=4, max_seq_len=96, doc_stride=32),
    dict(question="How tall is it?", context=qa.EIFFEL_TOWER, top_k=4, max_answer_len=3),
    dict(question="Who painted the Mona Lisa?", context=qa.EIFFEL_TOWER, top_k=10, handle_impossible_answer=True),
    dict(
        question="What did I make?",
        context=LONG_CONTEXT,
        top_k=3,
        max_seq_len=128,
        doc_stride=48,
        handle_impossible_answer=True,
    ),
]

# The stand-ins' weights are random (and their WordPiece vocabulary differs between builds), so which question
# lets "no answer" into the top answers is searched for with our span search; transformers 4.x must then agree.
# With one-token answers the [CLS] score competes with a few dozen spans rather than with thousands.
NO_ANSWER_CANDIDATES = [
    dict(question=question, context=sentence, top_k=5, max_answer_len=1, handle_impossible_answer=True)
    for sentence in re.split(r"(?<=\.) ", f"{qa.EIFFEL_TOWER} {qa.LOST_KEYS}")
    for question in ["Who?", "What?", "When?", "Where?", "Why?", "Who painted the Mona Lisa?", "Where are the keys?"]
]


def case_where_no_answer_ranks(bundle) -> dict:
    for case in NO_ANSWER_CANDIDATES:
        if any(answer.no_answer for answer in qa.answer_question(bundle, **case).answers):
            return case
    pytest.fail("No candidate case lets 'no answer' into the top answers; add candidates.")


def v4_answers(model_dir: Path, cases: list[dict], scratch: Path) -> list[list[dict]]:
    cases_file = scratch / "cases.json"
    cases_file.write_text(json.dumps(cases))
    finished = subprocess.run(
        [TF4_PYTHON, str(RUN_V4_PIPELINE), str(model_dir), str(cases_file)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    output = json.loads(finished.stdout.strip().splitlines()[-1])
    assert output["transformers"].startswith("4.")
    return output["answers"]


@pytest.mark.parametrize("family", [choice.stand_in for choice in qa.DEMO.models])
def test_answers_match_the_transformers_4_pipeline(family, tiny_settings, tmp_path):
    model_dir = ensure_stand_in(family, "tiny", tiny_settings.stand_in_root)
    bundle = qa.DEMO.loader(str(model_dir), "cpu", torch.float32)
    cases = [*CASES, case_where_no_answer_ranks(bundle)]
    expected = v4_answers(model_dir, cases, tmp_path)
    windows_used = []
    for case, reference in zip(cases, expected, strict=True):
        options = {key: value for key, value in case.items() if key not in ("question", "context")}
        found = qa.answer_question(bundle, case["question"], case["context"], **options)
        windows_used.append(found.windows)
        ours = [dict(answer=a.text, start=a.start, end=a.end) for a in found.answers]
        theirs = [dict(answer=a["answer"], start=a["start"], end=a["end"]) for a in reference]
        assert ours == theirs, case
        assert [a.score for a in found.answers] == pytest.approx([a["score"] for a in reference], abs=1e-4), case
    # The comparison covered what it claims to: several windows, several answers, and a "no answer" that ranked.
    assert max(windows_used) >= 5 and sum(windows > 1 for windows in windows_used) >= 3
    assert any(len(reference) > 1 for reference in expected)
    assert any(answer["answer"] == "" for answer in expected[-1])
