"""`python -m benchmarks.generation [--size full|tiny] [--requests 8] [--max-new-tokens 32] [--cache-dir DIR]`:
concurrent greedy generations sharing the model (shared/batched_generation.py) against the same requests run one
after another with `model.generate`, on the full-size GPT-2 stand-in.

The requests are `requests` different prompts, all submitted at once; the batched side's wall time runs from the
first submission to the last request's end, the sequential side's is the sum of the solo `generate` calls. The
row says whether every batched text equals its solo run's token for token, and the time to the first token of the
first request (one prompt forward pass) beside a solo `generate(max_new_tokens=1)`. The two sides alternate
`repeats` times so load from elsewhere on the machine falls on both; each figure is the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

from shared.batched_generation import Decoding, batched_decoder  # noqa: E402
from shared.settings import default_cache_dir  # noqa: E402
from shared.stand_ins import ensure_stand_in  # noqa: E402

PROMPTS = (
    "Hello, I'm a language model,",
    "The weather today is",
    "Once upon a time, in a quiet village by the sea, there lived",
    "Transformers are",
    "My favourite recipe starts with",
    "In 1905, a patent clerk in Bern",
    "The best way to learn a language is",
    "Gradio apps let you",
)


def prompts_for(count: int) -> list[str]:
    return [PROMPTS[index % len(PROMPTS)] + " " * (index // len(PROMPTS)) for index in range(count)]


def sequential(model, prompt_ids: list[torch.Tensor], max_new_tokens: int) -> tuple[float, list[list[int]]]:
    started = time.perf_counter()
    texts = []
    for ids in prompt_ids:
        output = model.generate(
            input_ids=ids.unsqueeze(0),
            attention_mask=torch.ones_like(ids).unsqueeze(0),
            max_new_tokens=max_new_tokens,
            do_sample=False,
        )
        texts.append(output[0, ids.numel() :].tolist())
    return time.perf_counter() - started, texts


def batched(model, prompt_ids: list[torch.Tensor], max_new_tokens: int) -> tuple[float, float, list[list[int]], int]:
    decoder = batched_decoder(model)
    started = time.perf_counter()
    requests = [decoder.submit(ids, Decoding(max_new_tokens=max_new_tokens)) for ids in prompt_ids]
    while not requests[0].new_tokens:
        time.sleep(0.001)
    first_token = time.perf_counter() - started
    for request in requests:
        request.wait()
    return (
        time.perf_counter() - started,
        first_token,
        [request.new_tokens for request in requests],
        max(request.most_batched for request in requests),
    )


def solo_first_token(model, ids: torch.Tensor) -> float:
    started = time.perf_counter()
    model.generate(input_ids=ids.unsqueeze(0), attention_mask=torch.ones_like(ids).unsqueeze(0), max_new_tokens=1)
    return time.perf_counter() - started


def measure(
    size: str = "full", cache_dir: Path | None = None, requests: int = 8, max_new_tokens: int = 32, repeats: int = 1
) -> dict:
    root = Path(cache_dir or default_cache_dir()) / "stand-ins"
    path = ensure_stand_in("gpt2-lm", size, root)
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    prompt_ids = [tokenizer(prompt, return_tensors="pt").input_ids[0] for prompt in prompts_for(requests)]
    batched(model, prompt_ids[:2], 2)  # warm-up: first calls allocate
    sequential_s, batched_s, first_s, solo_first_s, same, most_batched = [], [], [], [], True, 0
    for _ in range(repeats):
        seconds, solo_texts = sequential(model, prompt_ids, max_new_tokens)
        sequential_s.append(seconds)
        seconds, first_token, texts, widest = batched(model, prompt_ids, max_new_tokens)
        batched_s.append(seconds)
        first_s.append(first_token)
        solo_first_s.append(solo_first_token(model, prompt_ids[0]))
        same = same and texts == solo_texts
        most_batched = max(most_batched, widest)
    sequential_median, batched_median = statistics.median(sequential_s), statistics.median(batched_s)
    return {
        "model": f"gpt2-lm stand-in ({size})",
        "requests": requests,
        "max_new_tokens": max_new_tokens,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "sequential_s": round(sequential_median, 2),
        "batched_s": round(batched_median, 2),
        "speedup": round(sequential_median / batched_median, 2),
        "same_texts": same,
        "most_batched": most_batched,
        "first_token_s": round(statistics.median(first_s), 3),
        "solo_first_token_s": round(statistics.median(solo_first_s), 3),
    }


def table(results: dict) -> str:
    return "\n".join(
        [
            f"{results['requests']} concurrent greedy generations of {results['max_new_tokens']} tokens, "
            f"{results['model']}, median of {results['repeats']} run(s), {results['torch_threads']} torch threads",
            "",
            "| one after another (s) | batched (s) | speed-up | same texts | widest batch | first token (s) "
            "| solo first token (s) |",
            "| ---: | ---: | ---: | :---: | ---: | ---: | ---: |",
            f"| {results['sequential_s']:.2f} | {results['batched_s']:.2f} | {results['speedup']:.2f}x "
            f"| {'yes' if results['same_texts'] else 'NO'} | {results['most_batched']} "
            f"| {results['first_token_s']:.3f} | {results['solo_first_token_s']:.3f} |",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("full", "tiny"), default="full", help="Stand-in size (default full).")
    parser.add_argument("--requests", type=int, default=8, help="Concurrent requests (default 8).")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="Tokens per request (default 32).")
    parser.add_argument("--repeats", type=int, default=1, help="Runs per figure; the median is shown (default 1).")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="Where stand-ins are built.")
    args = parser.parse_args(argv)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    started = time.perf_counter()
    results = measure(args.size, args.cache_dir, args.requests, args.max_new_tokens, args.repeats)
    print(table(results))
    print(f"\nTook {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
