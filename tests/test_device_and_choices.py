"""Device choice, dtype choice, allowlists and the operator's model overrides."""

import pytest
import torch

from shared.device import choose_device, choose_dtype
from shared.errors import UserError
from shared.model_choices import ModelChoice, allowed_choices, parse_model_override, pick_choice

AVAILABILITY = [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")]


@pytest.mark.parametrize(("cuda", "mps", "expected"), AVAILABILITY)
def test_auto_prefers_cuda_then_mps_then_cpu(cuda, mps, expected):
    assert choose_device("auto", cuda_available=cuda, mps_available=mps) == expected


def test_explicit_device_overrides_auto():
    assert choose_device("cpu", cuda_available=True, mps_available=True) == "cpu"
    assert choose_device("cuda:1", cuda_available=True, mps_available=False) == "cuda:1"


@pytest.mark.parametrize(("requested", "message"), [("cuda", "no CUDA"), ("mps", "no Apple MPS"), ("tpu", "Unknown")])
def test_unavailable_or_unknown_device_is_refused(requested, message):
    with pytest.raises(ValueError, match=message):
        choose_device(requested, cuda_available=False, mps_available=False)


def test_cpu_runs_float32_and_half_is_only_used_where_allowed():
    assert choose_dtype("cpu") == torch.float32
    assert choose_dtype("mps") == torch.float16
    assert choose_dtype("mps", half_allowed=False) == torch.float32


DECLARED = [ModelChoice("org/default", stand_in="family-a"), ModelChoice("org/other", stand_in="family-b")]


def test_operator_model_becomes_the_default_and_keeps_the_allowlist():
    choices = allowed_choices(DECLARED, "/models/mine")
    assert [choice.model_id for choice in choices] == ["/models/mine", "org/default", "org/other"]
    assert choices[0].stand_in == "family-a"


def test_operator_can_promote_an_allowlisted_model_to_default():
    assert [choice.model_id for choice in allowed_choices(DECLARED, "org/other")] == ["org/other", "org/default"]


def test_visitors_can_only_pick_allowlisted_models():
    assert pick_choice(DECLARED, None).model_id == "org/default"
    assert pick_choice(DECLARED, "org/other").model_id == "org/other"
    with pytest.raises(UserError, match="not offered here"):
        pick_choice(DECLARED, "evil/model")


def test_model_override_is_parsed_and_checked():
    assert parse_model_override("qa=deepset/roberta-base-squad2", {"qa"}) == ("qa", "deepset/roberta-base-squad2")
    with pytest.raises(ValueError, match="TASK=HUB_ID"):
        parse_model_override("qa", {"qa"})
    with pytest.raises(ValueError, match="unknown task"):
        parse_model_override("translate=t5-small", {"qa"})
