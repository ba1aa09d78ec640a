"""What each endpoint is asked in the benchmark, and the bare in-process model call that does the same work.

The bare calls load the same stand-in directories with the demos' own loaders and pass the same arguments the
demos pass, so "app over bare" is what Gradio, HTTP, validation and formatting add, nothing else.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from gradio_client import handle_file
from PIL import Image

from demos import TASKS as DEMOS_BY_TASK
from shared.stand_ins import ensure_stand_in

ROOT = Path(__file__).resolve().parent.parent
SENTIMENT_TEXT = "I loved this film, but the ending was a letdown."
ZERO_SHOT_TEXT = "The striker scored twice in the second half."
ZERO_SHOT_LABELS = "sports, politics, cooking"
ZERO_SHOT_TEMPLATE = "This example is {}."
QA_CONTEXT = (
    "I searched the car, the garden and the kitchen drawers. In the end my daughter found the keys in the fruit bowl, "
    "under two lemons, where I had left them the night before."
)
QA_QUESTION = "Where were the keys?"
PROMPT = "Hello, I'm a language model,"
PHOTO = ROOT / "demos" / "examples" / "coffee.jpg"
SEGMENT_THRESHOLD, SEGMENT_OVERLAP = 0.85, 0.8
# The tabs the benchmark asks (those `app_request` knows), in tab order as the registry lists them.
BENCHMARKED = {"sentiment", "zero_shot", "qa", "generate", "segment"}
TASKS = tuple(task for task in DEMOS_BY_TASK if task in BENCHMARKED)
# The model alone, in-process, on this many copies of the request in one batch: the most any server could answer.
CEILING_REQUESTS = 16


def stand_in_family(task: str) -> str:
    """The stand-in family of the task's default model, as its `Demo` declares it."""
    return DEMOS_BY_TASK[task].models[0].stand_in


def stand_in_dirs(size: str, cache_dir: Path, tasks=TASKS) -> dict[str, Path]:
    return {task: ensure_stand_in(stand_in_family(task), size, cache_dir / "stand-ins") for task in tasks}


REQUEST_NUMBERS = itertools.count(1)


def app_request(task: str, max_new_tokens: int) -> tuple[tuple, dict]:
    """(args, kwargs) for `client.predict`/`submit` on our app's endpoint, defaults as a visitor leaves them. Each
    text ends with the request's number, so the app runs the model every time instead of answering from memory."""
    number = f" ({next(REQUEST_NUMBERS)})"
    if task == "sentiment":
        return (SENTIMENT_TEXT + number,), {"api_name": "/sentiment"}
    if task == "zero_shot":
        return (ZERO_SHOT_TEXT + number, ZERO_SHOT_LABELS, False, ZERO_SHOT_TEMPLATE), {"api_name": "/zero_shot"}
    if task == "qa":
        return (QA_CONTEXT, QA_QUESTION + number, 3), {"api_name": "/qa"}
    if task == "generate":
        return (PROMPT + number,), {"api_name": "/generate", "strategy": "greedy", "max_new_tokens": max_new_tokens}
    if task == "segment":
        return (handle_file(str(PHOTO)), SEGMENT_THRESHOLD, SEGMENT_OVERLAP), {"api_name": "/segment"}
    raise KeyError(task)


def peer_request(task: str) -> tuple[tuple, dict]:
    """The same request to the peer's `from_pipeline` Interface (its generation settings are fixed at start)."""
    if task == "sentiment":
        return (SENTIMENT_TEXT,), {"api_name": "/sentiment"}
    if task == "zero_shot":
        return (ZERO_SHOT_TEXT, ZERO_SHOT_LABELS, False), {"api_name": "/zero_shot"}
    if task == "generate":
        return (PROMPT,), {"api_name": "/generate"}
    raise KeyError(task)


@dataclass
class BareCall:
    """The model work of one request, in-process: `run()` does it once."""

    task: str
    run: Callable[[], Any]
    what: str


def generate_settings(max_new_tokens: int) -> dict:
    """What demos.generate passes `model.generate` for greedy decoding (see `DecodingSettings.generate_kwargs`)."""
    return dict(max_new_tokens=max_new_tokens, repetition_penalty=1.0, do_sample=False, num_beams=1)


def bare_calls(directories: dict[str, Path], max_new_tokens: int) -> dict[str, BareCall]:
    """Load each task's stand-in as the app does (its `Demo.loader`, CPU, float32) and wrap the call it makes."""
    from demos import qa, segment
    from shared.detr_panoptic import find_segments

    def loaded(task: str) -> Any:
        return DEMOS_BY_TASK[task].loader(str(directories[task]), "cpu", torch.float32)

    calls = {}
    if "sentiment" in directories:
        classifier = loaded("sentiment")
        calls["sentiment"] = BareCall(
            "sentiment",
            lambda: classifier([SENTIMENT_TEXT], top_k=None, truncation=True, batch_size=1),
            "text-classification pipeline call",
        )
        calls["sentiment_ceiling"] = BareCall(
            "sentiment",
            lambda: classifier(
                [SENTIMENT_TEXT] * CEILING_REQUESTS, top_k=None, truncation=True, batch_size=CEILING_REQUESTS
            ),
            f"{CEILING_REQUESTS} requests in one batch",
        )
    if "zero_shot" in directories:
        nli = loaded("zero_shot")
        labels = [label.strip() for label in ZERO_SHOT_LABELS.split(",")]
        calls["zero_shot"] = BareCall(
            "zero_shot",
            lambda: nli(
                ZERO_SHOT_TEXT,
                candidate_labels=labels,
                multi_label=False,
                hypothesis_template=ZERO_SHOT_TEMPLATE,
                batch_size=len(labels),
                truncation="only_first",
            ),
            "zero-shot pipeline call, all labels in one batch",
        )
        calls["zero_shot_ceiling"] = BareCall(
            "zero_shot",
            lambda: nli(
                [ZERO_SHOT_TEXT] * CEILING_REQUESTS,
                candidate_labels=labels,
                multi_label=False,
                hypothesis_template=ZERO_SHOT_TEMPLATE,
                batch_size=CEILING_REQUESTS * len(labels),
                truncation="only_first",
            ),
            f"{CEILING_REQUESTS} requests, all their labels in one batch",
        )
    if "qa" in directories:
        reader = loaded("qa")
        calls["qa"] = BareCall(
            "qa",
            lambda: qa.answer_question(reader, QA_QUESTION, QA_CONTEXT, top_k=3, max_answer_len=15),
            "tokenize + forward + span search (demos.qa.answer_question: there is no QA pipeline in transformers 5)",
        )
    if "generate" in directories:
        bundle = loaded("generate")
        inputs = bundle.processor(PROMPT, return_tensors="pt")
        settings = generate_settings(max_new_tokens)

        def run_generate() -> torch.Tensor:
            """The new tokens only."""
            return bundle.model.generate(**inputs, **settings)[:, inputs["input_ids"].shape[1] :]

        calls["generate"] = BareCall("generate", run_generate, f"model.generate, greedy, {max_new_tokens} new tokens")
        calls["generate_first_token"] = BareCall(
            "generate",
            lambda: bundle.model.generate(**inputs, **generate_settings(1)),
            "model.generate of 1 new token (one forward pass of the prompt)",
        )
    if "segment" in directories:
        detr = loaded("segment")
        with Image.open(PHOTO) as photo:
            image = segment.fit_image(photo)
        calls["segment"] = BareCall(
            "segment",
            lambda: find_segments(detr, image, SEGMENT_THRESHOLD, SEGMENT_OVERLAP),
            "image processor + DETR forward (as the app runs it) + panoptic post-processing",
        )
    return calls
