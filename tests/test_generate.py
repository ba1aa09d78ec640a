"""Text generation: the generation thread, its Stop criterion and pacing (shared/generation.py), and the /generate
endpoint of the running app (streaming, seeds, beam search and Stop) on the tiny GPT-2 and Llama stand-ins. The
decoding settings themselves: tests/test_decoding.py."""

from __future__ import annotations

import inspect
import queue
import re
import threading
import time
from dataclasses import fields

import pytest
import torch
from transformers import TextIteratorStreamer

import app
from demos import generate, next_token
from demos.tab import Tab
from shared import generation
from shared.decoding import GREEDY, DecodingSettings
from shared.limits import MAX_NEW_TOKENS
from shared.runtime import Runtime
from shared.settings import Settings
from tests.helpers import slowed_without_end

PROMPT = generate.PROMPT


def settings(**changes) -> list:
    """The /generate inputs in API order, with defaults that stream one sampled sequence."""
    values = dict(
        prompt=PROMPT,
        model_id=None,
        strategy="sampling",
        max_new_tokens=30,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        repetition_penalty=1.0,
        num_return_sequences=1,
        num_beams=2,
        seed=123,
    )
    values.update(changes)
    return list(values.values())


def wait_until(condition, timeout: float = 60.0) -> bool:
    """Poll `condition`; the timeout only catches hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def sequences_of(text: str) -> list[str]:
    return re.split(r"\n\n(?=\[\d+\] )", text)


# --- pure helpers ----------------------------------------------------------------------------------------------


def test_several_sequences_are_numbered_and_one_is_left_as_is():
    assert generate.numbered(["only"]) == "only"
    assert generate.numbered(["a b", "c"]) == "[1] a b\n\n[2] c"
    assert sequences_of(generate.numbered(["a\n\nb", "c"])) == ["[1] a\n\nb", "[2] c"]


def interactive_settings(strategy: str) -> set[str]:
    names = {name: name for name in generate.interactive_settings(strategy)}  # names standing in for components
    return {name for name, update in generate.setting_updates(names, strategy).items() if update["interactive"]}


def test_setting_updates_grey_out_what_the_strategy_ignores():
    always = {"max_new_tokens", "repetition_penalty"}
    assert interactive_settings("greedy") == always
    assert interactive_settings("sampling") == always | {
        "temperature",
        "top_k",
        "top_p",
        "seed",
        "num_return_sequences",
    }
    assert interactive_settings("beam search") == always | {"num_return_sequences", "num_beams"}
    assert set(generate.interactive_settings("greedy")) == always | {
        *("temperature", "top_k", "top_p", "seed", "num_return_sequences", "num_beams")
    }


# --- Stop ---------------------------------------------------------------------------------------------------------


def test_stop_requested_says_stop_for_every_sequence_once_the_event_is_set():
    event = threading.Event()
    criterion = generation.StopRequested(event)
    input_ids = torch.zeros((3, 5), dtype=torch.long)
    assert criterion(input_ids, None).tolist() == [False, False, False]
    event.set()
    assert criterion(input_ids, None).tolist() == [True, True, True]


@pytest.fixture
def gpt2(runtime):
    """The tiny GPT-2 stand-in as the app's cache holds it."""
    with Tab(generate.DEMO, runtime).model(None) as served:
        yield served.model


@pytest.fixture
def slow_gpt2_without_end(gpt2):
    """The cached GPT-2 made slow (about 20 ms a token) and unable to choose its end token, so a generation of
    MAX_NEW_TOKENS runs for many seconds and only Stop can end it early; counts its forward passes."""
    with slowed_without_end(gpt2.bundle.model, gpt2.tokenizer.eos_token_id) as calls:
        yield calls


def test_generation_thread_stops_soon_after_stop_is_set(gpt2, slow_gpt2_without_end):
    inputs = dict(gpt2.tokenizer(PROMPT, return_tensors="pt"))
    streamer = TextIteratorStreamer(gpt2.tokenizer, skip_prompt=True)
    kwargs = DecodingSettings.checked(GREEDY, MAX_NEW_TOKENS).generate_kwargs()
    running = generation.Generation(gpt2.bundle.model, inputs, kwargs, seed=None, streamer=streamer)
    running.start()
    assert generation.running_generations() == 1
    pieces = [piece for piece, _ in zip(streamer, range(3), strict=False)]
    running.stop_and_wait(timeout=60)
    assert len(pieces) == 3 and generation.running_generations() == 0
    new_tokens = running.output.shape[1] - inputs["input_ids"].shape[1]
    assert 3 <= new_tokens < MAX_NEW_TOKENS // 2 and len(slow_gpt2_without_end) < MAX_NEW_TOKENS // 2


# --- the /generate endpoint ---------------------------------------------------------------------------------------


def test_sampling_streams_a_text_that_grows_from_the_prompt(client, monkeypatch):
    monkeypatch.setattr(generate, "UPDATE_SECONDS", 0.0)  # the tiny stand-in writes 40 tokens within one interval
    job = client.submit(*settings(max_new_tokens=40), api_name="/generate")
    outputs = list(job)
    texts = [text for text, _ in outputs]
    assert len(texts) >= 4, "expected several intermediate outputs while streaming"
    assert all(text.startswith(PROMPT) for text in texts)
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:], strict=False))
    assert len(texts[-1]) > len(texts[0]) > len(PROMPT)
    assert all("generating" in status for _, status in outputs[:-1])
    final_status = outputs[-1][1]
    assert re.search(r"sampling · seed 123 · \d+ new tokens", final_status)
    assert "openai-community/gpt2" in final_status and "stand-in" in final_status


def test_the_same_seed_gives_the_same_text_and_another_seed_another(client):
    first, status = client.predict(*settings(seed=2024), api_name="/generate")
    again, _ = client.predict(*settings(seed=2024), api_name="/generate")
    other, _ = client.predict(*settings(seed=2025), api_name="/generate")
    assert first == again != other
    assert "seed 2024" in status


def test_without_a_seed_the_status_shows_the_random_seed_that_reproduces_the_text(client):
    first, status = client.predict(*settings(seed=None), api_name="/generate")
    seed = int(re.search(r"seed (\d+)", status).group(1))
    again, _ = client.predict(*settings(seed=seed), api_name="/generate")
    assert again == first


def test_greedy_is_deterministic_and_reports_no_seed(client):
    first, status = client.predict(*settings(strategy="greedy", temperature=0.01, seed=1), api_name="/generate")
    again, _ = client.predict(*settings(strategy="greedy", temperature=4.0, seed=2), api_name="/generate")
    assert first == again and first.startswith(PROMPT) and len(first) > len(PROMPT)
    assert "greedy" in status and "seed" not in status


def test_beam_search_returns_the_sequences_whole_and_numbered(client):
    job = client.submit(
        *settings(strategy="beam search", num_return_sequences=2, num_beams=3, max_new_tokens=15), api_name="/generate"
    )
    outputs = list(job)
    text, status = outputs[-1]
    sequences = sequences_of(text)
    assert [sequence[:4] for sequence in sequences] == ["[1] ", "[2] "]
    assert all(sequence[4:].startswith(PROMPT) for sequence in sequences)
    assert all(earlier == "" for earlier, _ in outputs[:-1]), "beam search is not streamed"
    assert "beam search" in status and "15 new tokens" in status


def test_sampling_several_sequences_returns_each_one(client):
    text, _ = client.predict(*settings(num_return_sequences=3, max_new_tokens=10), api_name="/generate")
    sequences = sequences_of(text)
    assert len(sequences) == 3 and all(
        sequence.startswith(f"[{i}] {PROMPT}") for i, sequence in enumerate(sequences, 1)
    )


def test_the_api_speaks_transformers_names_and_needs_only_a_prompt(client):
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/generate"]
    names = [parameter["parameter_name"] for parameter in endpoint["parameters"]]
    assert names == [
        "prompt",
        "model_id",
        "strategy",
        "max_new_tokens",
        "temperature",
        "top_k",
        "top_p",
        "repetition_penalty",
        "num_return_sequences",
        "num_beams",
        "seed",
    ]
    assert all(parameter["parameter_has_default"] for parameter in endpoint["parameters"])
    text, status = client.predict(PROMPT, api_name="/generate")
    assert text.startswith(PROMPT) and "sampling · seed" in status


def test_the_api_takes_the_decoding_settings_in_their_declared_order():
    """build_tab lays the inputs out in the order of `DecodingSettings`' fields: the endpoint must take them so."""
    parameters = list(inspect.signature(generate.generate).parameters)
    settings_fields = [field.name for field in fields(DecodingSettings)]
    assert parameters == ["tab", "prompt", "model_id", *settings_fields, "seed", "progress"]


def test_gradio_calls_the_module_level_endpoints_with_the_tab(tmp_path):
    blocks = app.build_app(Runtime(Settings(stand_ins="tiny", cache_dir=tmp_path, device="cpu")))
    bound = {fn.api_name: fn.fn for fn in blocks.fns.values() if fn.api_name in {"generate", "next_token"}}
    assert bound["generate"].func is generate.generate and bound["next_token"].func is next_token.next_token
    assert all(isinstance(endpoint.args[0], Tab) for endpoint in bound.values())
    assert bound["generate"].args[0].demo is generate.DEMO


def test_calling_the_endpoint_function_gives_what_the_api_answers(client, runtime):
    request = settings(strategy="greedy", max_new_tokens=12)
    over_the_api, api_status = client.predict(*request, api_name="/generate")
    *updates, (text, status) = generate.generate(Tab(generate.DEMO, runtime), *request)
    assert text == over_the_api and text.startswith(PROMPT) and len(text) > len(PROMPT)
    assert all(later.startswith(earlier) for (earlier, _), (later, _) in zip(updates, updates[1:], strict=False))
    assert "greedy · 12 new tokens" in status and "greedy · 12 new tokens" in api_status


def test_the_llama_stand_in_generates_too(client):
    model_id = generate.DEMO.models[1].model_id
    text, status = client.predict(*settings(model_id=model_id, max_new_tokens=10), api_name="/generate")
    assert text.startswith(PROMPT) and model_id in status


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(prompt="   "), "Type a prompt"),
        (dict(strategy="beam search", num_return_sequences=3, num_beams=2), "Raise num_beams to 3"),
        (dict(max_new_tokens=MAX_NEW_TOKENS + 1), f"greater than maximum value {MAX_NEW_TOKENS}"),
        (dict(model_id="evil/model"), "not in the list of choices|not offered here"),
    ],
)
def test_bad_requests_get_a_clear_error(client, changes, message):
    with pytest.raises(Exception, match=message):
        client.predict(*settings(**changes), api_name="/generate")


def test_cancelling_a_request_stops_its_generation_on_the_server(client, slow_gpt2_without_end):
    job = client.submit(*settings(strategy="greedy", max_new_tokens=MAX_NEW_TOKENS), api_name="/generate")
    first_text, _ = next(job)
    assert first_text.startswith(PROMPT)
    assert generation.running_generations() == 1
    job.cancel()
    assert wait_until(lambda: generation.running_generations() == 0), "the generate thread kept running"
    # The end token is masked, so only the Stop criterion can have ended it this early.
    assert len(slow_gpt2_without_end) < MAX_NEW_TOKENS // 2
    text, status = client.submit(*settings(max_new_tokens=5), api_name="/generate").result(timeout=60)
    assert text.startswith(PROMPT) and "5 new tokens" in status


def test_greedy_streams_each_token_as_soon_as_it_is_generated(client, gpt2, monkeypatch):
    """The first update shows the first token (one forward pass of the prompt), and with no pacing every later token
    arrives in an update of its own, not held back until its word is complete."""
    monkeypatch.setattr(generate, "UPDATE_SECONDS", 0.0)  # the tiny stand-in writes tokens microseconds apart
    prompt = f"{PROMPT} streamed"  # a prompt no other test sends: a remembered answer arrives whole
    inputs = gpt2.tokenizer(prompt, return_tensors="pt")
    tokens = gpt2.bundle.model.generate(**inputs, max_new_tokens=12, do_sample=False)[0, inputs["input_ids"].shape[1] :]
    expected = []
    for count in range(1, len(tokens) + 1):
        text = prompt + gpt2.tokenizer.decode(tokens[:count], skip_special_tokens=True)
        if not text.endswith("\ufffd") and (not expected or text != expected[-1]):
            expected.append(text)
    job = client.submit(*settings(prompt=prompt, strategy="greedy", max_new_tokens=12), api_name="/generate")
    streamed = []
    for text, _ in job:
        if text and (not streamed or text != streamed[-1]):
            streamed.append(text)
    assert len(expected) >= 3
    assert streamed == expected


class QueueStreamer:
    """What `paced` reads: `next()` waits up to `timeout` seconds for a piece, StopIteration at the end."""

    def __init__(self) -> None:
        self.pieces: queue.Queue = queue.Queue()
        self.timeout: float | None = None

    def __next__(self) -> str:
        piece = self.pieces.get(timeout=self.timeout)
        if piece is None:
            raise StopIteration
        return piece


def streamer_of(*pieces: str | None) -> QueueStreamer:
    streamer = QueueStreamer()
    for piece in pieces:
        streamer.pieces.put(piece)
    return streamer


def test_paced_without_an_interval_hands_on_every_piece():
    assert list(generation.paced(streamer_of("Hel", "lo", "", " world", None), interval=0.0)) == ["Hel", "lo", " world"]


def test_paced_shows_the_first_piece_at_once_and_gathers_the_rest_until_the_interval_is_up():
    assert list(generation.paced(streamer_of("Hel", "lo", " world", None), interval=60.0)) == ["Hel", "lo world"]


def test_paced_sends_gathered_text_when_the_interval_is_up_even_if_nothing_else_comes():
    streamer = streamer_of("a", "b")
    started = time.monotonic()
    threading.Timer(2.0, streamer.pieces.put, args=(None,)).start()  # the end comes much later
    arrivals = [(piece, time.monotonic() - started) for piece in generation.paced(streamer, interval=0.2)]
    written = [(piece, seconds) for piece, seconds in arrivals if piece is not None]  # None: still writing
    assert [piece for piece, _ in written] == ["a", "b"]
    assert written[1][1] < 1.5, "the gathered piece waited for the end instead of the interval"


def test_paced_yields_none_while_nothing_is_written(monkeypatch):
    monkeypatch.setattr(generation, "PROGRESS_SECONDS", 0.01)
    streamer = QueueStreamer()
    threading.Timer(0.3, streamer.pieces.put, args=(None,)).start()
    pieces = list(generation.paced(streamer, interval=0.1))
    assert pieces and set(pieces) == {None}


# --- shared work between requests ---------------------------------------------------------------------------------


def test_concurrent_greedy_requests_share_forward_passes_and_each_writes_its_solo_text(
    client, gpt2, slow_gpt2_without_end
):
    prompts = [f"{PROMPT} shared number {index}" for index in range(4)]
    expected = []
    for prompt in prompts:
        inputs = gpt2.tokenizer(prompt, return_tensors="pt")
        tokens = gpt2.bundle.model.generate(**inputs, max_new_tokens=8, do_sample=False)[0]
        expected.append(
            prompt + gpt2.tokenizer.decode(tokens[inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        )
    jobs = [
        client.submit(*settings(prompt=prompt, strategy="greedy", max_new_tokens=8), api_name="/generate")
        for prompt in prompts
    ]
    answers = [job.result(timeout=120) for job in jobs]
    assert [text for text, _ in answers] == expected
    assert any("batched with" in status for _, status in answers)


def test_a_repeated_greedy_request_is_answered_from_memory_and_a_random_seed_never(client):
    greedy = settings(prompt=f"{PROMPT} remembered", strategy="greedy", max_new_tokens=6)
    first_text, first_status = client.predict(*greedy, api_name="/generate")
    again_text, again_status = client.predict(*greedy, api_name="/generate")
    assert "cached" not in first_status and "cached" in again_status and again_text == first_text
    seeded = settings(prompt=f"{PROMPT} remembered", max_new_tokens=6, seed=11)
    assert "cached" not in client.predict(*seeded, api_name="/generate")[1]
    assert "cached" in client.predict(*seeded, api_name="/generate")[1]
    random_seed = settings(prompt=f"{PROMPT} remembered", max_new_tokens=6, seed=-1)
    statuses = [client.predict(*random_seed, api_name="/generate")[1] for _ in range(2)]
    assert not any("cached" in status for status in statuses)
