"""Batched decoding (shared/batched_generation.py) against `model.generate` on the tiny stand-ins of both
generation families: concurrent requests share forward passes, yet each gets its solo text, its own seed, its own
stream and its own Stop."""

from __future__ import annotations

import threading

import pytest
import torch
import transformers
from transformers import TextIteratorStreamer

from shared.batched_generation import Decoding, batched_decoder, can_batch, left_pad, logits_processors
from shared.stand_ins import ensure_stand_in

PROMPTS = [
    "Hello, I'm a language model,",
    "The weather today is",
    "Once upon a time, in a quiet village by the sea, there lived",
    "Transformers",
    "My favourite recipe starts with a long list of things to buy",
]


@pytest.fixture(scope="module", params=["gpt2-lm", "llama-lm"])
def model_and_tokenizer(request, cache_dir):
    path = ensure_stand_in(request.param, "tiny", cache_dir / "stand-ins")
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    return model, transformers.AutoTokenizer.from_pretrained(path)


def prompt_ids(tokenizer, prompt: str) -> torch.Tensor:
    return tokenizer(prompt, return_tensors="pt").input_ids[0]


def solo(model, ids: torch.Tensor, seed: int | None = None, **kwargs) -> list[int]:
    if seed is not None:
        torch.manual_seed(seed)
    output = model.generate(input_ids=ids.unsqueeze(0), attention_mask=torch.ones_like(ids).unsqueeze(0), **kwargs)
    return output[0, ids.numel() :].tolist()


def test_left_pad_adds_zeros_before_the_contents():
    padded = left_pad(torch.tensor([[1, 2]]), 4, dim=1)
    assert padded.tolist() == [[0, 0, 1, 2]]
    keys = torch.ones(1, 2, 3, 4)
    assert left_pad(keys, 5, dim=2)[:, :, :2].abs().sum() == 0
    assert left_pad(keys, 5, dim=2).shape == (1, 2, 5, 4)


def test_greedy_decoding_uses_only_the_repetition_penalty():
    assert len(logits_processors(Decoding(max_new_tokens=4, temperature=0.5, top_k=3))) == 0
    sampling = logits_processors(Decoding(max_new_tokens=4, do_sample=True, temperature=0.5, top_k=0, top_p=0.9))
    assert [type(processor).__name__ for processor in sampling] == ["TemperatureLogitsWarper", "TopPLogitsWarper"]


def test_both_families_can_be_batched(model_and_tokenizer):
    model, _ = model_and_tokenizer
    assert can_batch(model)


def test_concurrent_greedy_requests_share_forward_passes_and_each_equals_its_solo_run(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    ids = [prompt_ids(tokenizer, prompt) for prompt in PROMPTS]
    expected = [solo(model, item, max_new_tokens=12, do_sample=False) for item in ids]
    decoder = batched_decoder(model)
    passes_before = decoder.forward_passes
    requests = [decoder.submit(item, Decoding(max_new_tokens=12)) for item in ids]
    for request in requests:
        assert request.wait(timeout=60)
    assert [request.new_tokens for request in requests] == expected
    assert max(request.most_batched for request in requests) > 1
    # Alone, five requests of 12 tokens take 60 forward passes; shared, far fewer.
    assert decoder.forward_passes - passes_before < len(PROMPTS) * 12


def test_requests_of_different_lengths_join_and_leave_a_running_batch(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    decoder = batched_decoder(model)
    long_ids, short_ids = prompt_ids(tokenizer, PROMPTS[2]), prompt_ids(tokenizer, PROMPTS[3])
    long_request = decoder.submit(long_ids, Decoding(max_new_tokens=30))
    while len(long_request.new_tokens) < 3:
        assert not long_request.done.wait(0.001)
    short_request = decoder.submit(short_ids, Decoding(max_new_tokens=4, repetition_penalty=1.3))
    late_request = decoder.submit(prompt_ids(tokenizer, PROMPTS[0]), Decoding(max_new_tokens=20))
    for request in (long_request, short_request, late_request):
        request.wait(timeout=60)
    assert long_request.new_tokens == solo(model, long_ids, max_new_tokens=30, do_sample=False)
    assert short_request.new_tokens == solo(model, short_ids, max_new_tokens=4, repetition_penalty=1.3)
    assert late_request.new_tokens == solo(model, prompt_ids(tokenizer, PROMPTS[0]), max_new_tokens=20)


def test_a_seed_reproduces_the_solo_sample_whatever_runs_beside_it(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    ids = prompt_ids(tokenizer, PROMPTS[0])
    settings = dict(temperature=0.7, top_k=20, top_p=0.9)
    expected = solo(model, ids, seed=42, max_new_tokens=10, do_sample=True, **settings)
    decoder = batched_decoder(model)
    neighbours = [
        decoder.submit(prompt_ids(tokenizer, prompt), Decoding(max_new_tokens=10, do_sample=True, seed=seed))
        for seed, prompt in enumerate(PROMPTS[1:])
    ]
    seeded = decoder.submit(ids, Decoding(max_new_tokens=10, do_sample=True, seed=42, **settings))
    seeded.wait(timeout=60)
    for neighbour in neighbours:
        neighbour.wait(timeout=60)
    assert seeded.new_tokens == expected


def test_stop_ends_one_request_and_the_others_finish_unchanged(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    decoder = batched_decoder(model)
    kept_ids = prompt_ids(tokenizer, PROMPTS[1])
    stopped = decoder.submit(prompt_ids(tokenizer, PROMPTS[0]), Decoding(max_new_tokens=200))
    kept = decoder.submit(kept_ids, Decoding(max_new_tokens=40))
    while len(stopped.new_tokens) < 5:
        assert not stopped.done.wait(0.001)
    stopped.stop.set()
    assert stopped.wait(timeout=30)
    assert len(stopped.new_tokens) < 200
    kept.wait(timeout=60)
    assert kept.new_tokens == solo(model, kept_ids, max_new_tokens=40, do_sample=False)


def test_each_request_streams_its_own_text(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    decoder = batched_decoder(model)
    streams, requests = [], []
    for prompt in PROMPTS[:3]:
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, timeout=30)
        streams.append(streamer)
        requests.append(decoder.submit(prompt_ids(tokenizer, prompt), Decoding(max_new_tokens=8), streamer))
    texts = [""] * len(streams)

    def read(index: int) -> None:
        texts[index] = "".join(streams[index])

    readers = [threading.Thread(target=read, args=(index,)) for index in range(len(streams))]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=60)
    for request, text in zip(requests, texts, strict=True):
        assert text == tokenizer.decode(request.new_tokens)
    assert len(set(texts)) == len(texts)
