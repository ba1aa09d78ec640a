"""--cpu-int8: dynamic int8 quantisation of the text models on the CPU, its closeness to float32, and an app
started with it answering through the API and saying so."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
import transformers
from gradio_client import Client

from app import parse_settings
from demos import TASKS, sentiment, zero_shot
from shared.loading import conv1d_as_linear, memory_bytes, quantize_int8
from shared.runtime import Runtime
from shared.settings import Settings
from shared.stand_ins import ensure_stand_in
from tests.helpers import confidences, served, stand_in_settings

TEXTS = ["I loved this movie.", "The plot was a mess and the acting was worse.", "Ce film était magnifique !"]


def loaded_pair(demo, choice, cache_dir):
    """The same stand-in loaded twice through the demo's loader: float32, and quantised to int8."""
    directory = str(ensure_stand_in(choice.stand_in, "tiny", cache_dir / "stand-ins"))
    float32 = demo.loader(directory, "cpu", torch.float32)
    int8 = demo.loader(directory, "cpu", torch.float32)
    assert quantize_int8(int8)
    return float32, int8


def test_only_the_text_models_are_quantised():
    assert all(TASKS[task].loader.int8_allowed for task in ("sentiment", "zero_shot", "qa", "generate"))
    assert not TASKS["segment"].loader.int8_allowed


@pytest.mark.parametrize("choice", sentiment.DEMO.models, ids=lambda choice: choice.stand_in)
def test_int8_sentiment_probabilities_stay_within_0_05_of_float32(choice, cache_dir):
    float32, int8 = loaded_pair(sentiment.DEMO, choice, cache_dir)
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in int8.model.modules())
    assert memory_bytes(int8) < memory_bytes(float32)
    for want, got in zip(float32(TEXTS, top_k=None), int8(TEXTS, top_k=None), strict=True):
        want_scores = {item["label"]: item["score"] for item in want}
        assert {item["label"]: item["score"] for item in got} == pytest.approx(want_scores, abs=0.05)


@pytest.mark.parametrize("choice", zero_shot.DEMO.models, ids=lambda choice: choice.stand_in)
@pytest.mark.parametrize("multi_label", [False, True])
def test_int8_zero_shot_probabilities_stay_within_0_05_of_float32(choice, multi_label, cache_dir):
    float32, int8 = loaded_pair(zero_shot.DEMO, choice, cache_dir)
    kwargs = dict(candidate_labels=["sports", "politics", "cooking"], multi_label=multi_label)
    for text in TEXTS:
        want, got = float32(text, **kwargs), int8(text, **kwargs)
        want_scores = dict(zip(want["labels"], want["scores"], strict=True))
        assert dict(zip(got["labels"], got["scores"], strict=True)) == pytest.approx(want_scores, abs=0.05)


def test_gpt2_linear_layers_become_nn_linear_with_the_same_outputs(cache_dir):
    directory = ensure_stand_in(TASKS["generate"].models[0].stand_in, "tiny", cache_dir / "stand-ins")
    model = transformers.AutoModelForCausalLM.from_pretrained(directory).eval()
    converted = copy.deepcopy(model)
    conv1d_as_linear(converted)
    assert not any(isinstance(m, transformers.pytorch_utils.Conv1D) for m in converted.modules())
    input_ids = torch.tensor([[5, 17, 42, 8, 99]])
    with torch.no_grad():
        torch.testing.assert_close(converted(input_ids).logits, model(input_ids).logits, atol=1e-5, rtol=1e-5)


def test_flag_and_environment_variable_turn_it_on():
    assert not parse_settings([], {}).cpu_int8
    assert parse_settings(["--cpu-int8"], {}).cpu_int8
    assert parse_settings([], {"DEMO_CPU_INT8": "1"}).cpu_int8


def test_it_is_ignored_with_a_log_line_on_a_gpu(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr("shared.runtime.choose_device", lambda wanted: "cuda:0")
    with caplog.at_level(logging.INFO, logger="shared.runtime"):
        runtime = Runtime(Settings(cpu_int8=True, cache_dir=tmp_path))
    assert not runtime.cache.cpu_int8
    assert "--cpu-int8 is ignored on cuda:0" in caplog.text


@pytest.fixture(scope="module")
def int8_client(cache_dir):
    with served(Runtime(stand_in_settings(cache_dir, cpu_int8=True))) as (url, _):
        yield Client(url, verbose=False)


def test_an_int8_app_answers_every_text_tab_close_to_float32_and_says_int8(int8_client, client):
    for model in sentiment.DEMO.models:
        label, _, status = int8_client.predict(TEXTS[1], model.model_id, api_name="/sentiment")
        float_label, _, float_status = client.predict(TEXTS[1], model.model_id, api_name="/sentiment")
        assert confidences(label) == pytest.approx(confidences(float_label), abs=0.05)
        assert "int8" in status and "int8" not in float_status
    zero_shot_args = ("We went to the river bank.", "finance, geography, sports", False, "This example is {}.")
    scores, status = int8_client.predict(*zero_shot_args, None, api_name="/zero_shot")
    float_scores, _ = client.predict(*zero_shot_args, None, api_name="/zero_shot")
    assert confidences(scores) == pytest.approx(confidences(float_scores), abs=0.05)
    assert "int8" in status
    context = "I searched the car. In the end my daughter found the keys in the fruit bowl."
    *_, answers, status = int8_client.predict(context, "Where were the keys?", 3, api_name="/qa")
    assert answers["data"] and all(context[start:end] == text for text, _, start, end in answers["data"])
    assert "int8" in status
    text, status = int8_client.predict("Hello, I'm a language model,", api_name="/generate", max_new_tokens=8)
    assert text.startswith("Hello, I'm a language model,") and len(text) > len("Hello, I'm a language model,")
    assert "int8" in status

    _, models = int8_client.predict(api_name="/system")
    precision = {row[0]: row[3] for row in models["data"]}
    assert all("int8" in precision[task] for task in ("sentiment", "zero_shot", "qa", "generate"))
