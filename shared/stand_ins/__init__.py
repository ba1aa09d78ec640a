"""Stand-in models: random weights in the same architecture families as the real models, built locally.

`tiny` stand-ins build in seconds and let tests run the real loading and forward code; `full` ones have the real
models' sizes, for benchmarks (compute cost does not depend on the weights). Each is built once into
`<root>/<size>/<family>` and then loaded from disk like any saved model. Their outputs are meaningless, and the
UI says so.
"""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

StandInSize = Literal["tiny", "full"]
STAND_IN_SIZES: tuple[StandInSize, ...] = ("tiny", "full")
MARKER_FILE = "stand_in.json"

# family -> "module:function"; each function saves a model and its processor into a directory.
FAMILIES: dict[str, str] = {
    "distilbert-sentiment": "shared.stand_ins.text:distilbert_sentiment",
    "xlm-roberta-sentiment": "shared.stand_ins.text:xlm_roberta_sentiment",
    "robertuito-sentiment": "shared.stand_ins.text:robertuito_sentiment",
    "deberta-v2-nli": "shared.stand_ins.text:deberta_v2_nli",
    "bart-nli": "shared.stand_ins.text:bart_nli",
    "distilbert-qa": "shared.stand_ins.qa:distilbert_qa",
    "roberta-qa": "shared.stand_ins.qa:roberta_qa",
    "gpt2-lm": "shared.stand_ins.causal_lm:gpt2_lm",
    "llama-lm": "shared.stand_ins.causal_lm:llama_lm",
    "detr-panoptic": "shared.stand_ins.detr:detr_panoptic",
    "bert-cased-tokenizer": "shared.stand_ins.tokenizer_only:bert_cased_tokenizer",
    "bert-uncased-tokenizer": "shared.stand_ins.tokenizer_only:bert_uncased_tokenizer",
    "gpt2-tokenizer": "shared.stand_ins.tokenizer_only:gpt2_tokenizer",
    "xlm-roberta-tokenizer": "shared.stand_ins.tokenizer_only:xlm_roberta_tokenizer",
    "distilbert-mlm": "shared.stand_ins.masked_lm:distilbert_mlm",
    "bert-mlm": "shared.stand_ins.masked_lm:bert_mlm",
    "xlm-roberta-mlm": "shared.stand_ins.masked_lm:xlm_roberta_mlm",
    "minilm-encoder": "shared.stand_ins.encoders:minilm_encoder",
    "bert-encoder": "shared.stand_ins.encoders:bert_encoder",
}

_build_lock = threading.Lock()


def builder_for(family: str) -> Callable[[Path, StandInSize], None]:
    if family not in FAMILIES:
        raise KeyError(f"No stand-in family {family!r}; known: {', '.join(sorted(FAMILIES))}.")
    module_name, function_name = FAMILIES[family].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def is_stand_in(directory: str | Path) -> bool:
    return (Path(directory) / MARKER_FILE).is_file()


def ensure_stand_in(family: str, size: StandInSize, root: Path) -> Path:
    """Return the directory of the stand-in, building it first if it is not there yet."""
    if size not in STAND_IN_SIZES:
        raise ValueError(f"Stand-in size must be one of {STAND_IN_SIZES}, got {size!r}.")
    target = Path(root) / size / family
    if is_stand_in(target):
        return target
    build = builder_for(family)
    with _build_lock:
        if is_stand_in(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename, so no reader ever sees a half-written stand-in.
        staging = Path(tempfile.mkdtemp(prefix=f".{family}-", dir=target.parent))
        try:
            build(staging, size)
            (staging / MARKER_FILE).write_text(json.dumps({"family": family, "size": size, "weights": "random"}))
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
