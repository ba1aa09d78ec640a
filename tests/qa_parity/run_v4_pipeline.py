"""Answer question-answering cases with transformers 4.x's `pipeline("question-answering")`, as the reference the
QA tab's own span search is compared with. Run it with a Python that has transformers 4.x (see README.md here):

    python run_v4_pipeline.py MODEL_DIR CASES.json

Each case is an object with `question`, `context` and optionally `top_k`, `max_seq_len`, `doc_stride`,
`max_answer_len` and `handle_impossible_answer` (left out: the pipeline's default). It prints one JSON object:
`{"transformers": VERSION, "answers": [[{"answer", "score", "start", "end"}, ...] per case]}`.

A model saved by transformers 5 names its tokenizer class `TokenizersBackend`, which 4.x does not know; the model
is copied to a temporary directory and its tokenizer config points at `PreTrainedTokenizerFast` there instead.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import transformers

PIPELINE_OPTIONS = ("top_k", "max_seq_len", "doc_stride", "max_answer_len", "handle_impossible_answer")


def copy_for_v4(model_dir: Path, target: Path) -> Path:
    shutil.copytree(model_dir, target)
    config_path = target / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config.pop("backend", None)
    config_path.write_text(json.dumps(config))
    return target


def answer_cases(model_dir: Path, cases: list[dict]) -> list[list[dict]]:
    question_answerer = transformers.pipeline("question-answering", model=str(model_dir), device="cpu")
    results = []
    for case in cases:
        options = {name: case[name] for name in PIPELINE_OPTIONS if case.get(name) is not None}
        answers = question_answerer(question=case["question"], context=case["context"], **options)
        results.append(answers if isinstance(answers, list) else [answers])
    return results


def main(model_dir: str, cases_file: str) -> None:
    if not transformers.__version__.startswith("4."):
        sys.exit(f"This needs transformers 4.x; {sys.executable} has {transformers.__version__}.")
    transformers.logging.set_verbosity_error()
    cases = json.loads(Path(cases_file).read_text())
    with tempfile.TemporaryDirectory() as scratch:
        model_copy = copy_for_v4(Path(model_dir), Path(scratch) / "model")
        answers = answer_cases(model_copy, cases)
    print(json.dumps({"transformers": transformers.__version__, "answers": answers}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
