"""Text generation: a causal language model continues a prompt with the decoding strategy and settings chosen in
the UI. Greedy decoding and sampling of one sequence stream word by word, sharing each token's forward pass with
the other visitors' generations (shared/batched_generation.py); beam search and several sequences run a
`model.generate` of their own and arrive whole. A request that is answered again with the same settings (greedy,
beam search, or sampling with a seed the visitor chose) comes from memory. Stop (or closing the tab) ends the
generation on the server at the next token, and a seed makes sampling reproducible. "Next-token odds"
(demos/next_token.py) charts the distribution the sampler draws the first new token from, inside this tab.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import fields
from typing import Any

import gradio as gr

from demos import next_token
from demos.common import model_dropdown, run_by, tab_intro, user_errors
from demos.messages import say
from demos.tab import Demo, Tab
from shared import limits
from shared.batching import CONCURRENT_REQUESTS
from shared.decoding import (
    BEAM_SEARCH,
    GREEDY,
    SAMPLING,
    STRATEGIES,
    USED_BY,
    DecodingSettings,
    check_prompt,
    sampling_seed,
)
from shared.generation import Written, continue_prompt
from shared.loading import ModelBundle, ModelLoader
from shared.model_choices import ModelChoice

# At most ten updates a second (the first token at once): each update costs Gradio CPU time the model needs.
UPDATE_SECONDS = 0.1
# The narrowest a slider with its label, number box and info line reads without crowding (pixels).
SLIDER_WIDTH = 260
PROMPT = "Hello, I'm a language model,"
# The prompt, then these settings by name.
EXAMPLES = [
    dict(strategy=SAMPLING, temperature=0.7, top_k=50, top_p=0.95, num_return_sequences=1, seed=42),
    dict(strategy=SAMPLING, temperature=1.2, top_k=0, top_p=1.0, num_return_sequences=1, seed=7),
    dict(strategy=SAMPLING, temperature=0.9, top_k=40, top_p=0.9, num_return_sequences=3, seed=2024),
    dict(strategy=GREEDY, temperature=1.0, top_k=50, top_p=1.0, num_return_sequences=1, seed=-1),
    dict(strategy=BEAM_SEARCH, temperature=1.0, top_k=50, top_p=1.0, num_return_sequences=2, seed=-1),
]


def numbered(texts: tuple[str, ...] | list[str]) -> str:
    """One text as it is; several as `[1] …`, `[2] …`, separated by a blank line."""
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"[{index}] {text}" for index, text in enumerate(texts, start=1))


# The end of the status line while the text is written, and what replaces it when the generation ends early: Stop
# cancels the request, so the server sends nothing more, and Gradio runs the event's failure handler (as for an
# error). Then the browser ends the streamed line with STOPPED (what comes before says how many tokens, and the
# seed), and empties any other line: an earlier answer's "Served by …" must not stand under an error.
GENERATING = "generating…"
STOPPED = "stopped"
# (Gradio can report a cancelled request's failure twice: a line already stopped stays.)
STOPPED_IN = {GENERATING: STOPPED, "generando…": "detenido"}  # a Spanish page's line ends in Spanish
STOPPED_OR_FAILED_JS = f"""(status) => {{
    if (typeof status !== "string") return "";
    for (const [running, ended] of Object.entries({json.dumps(STOPPED_IN)})) {{
        if (status.endsWith(running)) return status.slice(0, -running.length) + ended;
        if (status.endsWith(" · " + ended)) return status;
    }}
    return "";
}}"""


def decoding_summary(strategy: str, seed: int | None, new_tokens: int | None = None, stopped: bool = False) -> str:
    """The status line's account of the decoding: the strategy, the seed when sampling (to write the same text
    again), how many new tokens (so far, while it runs), and whether the time limit stopped it."""
    parts = [strategy]
    if seed is not None:
        parts.append(say(f"seed {seed}"))
    if new_tokens is not None:
        parts.append(say(f"{new_tokens} new tokens"))
    if stopped:
        parts.append(say(f"stopped at the {limits.MAX_GENERATION_SECONDS:.0f} s limit"))
    return " · ".join(parts)


def sampling_seed_given(seed: float | str | None) -> bool:
    """Whether the visitor chose the seed (empty and -1 ask for a random one)."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return False
    try:
        return float(seed) != -1
    except ValueError:
        return False


def interactive_settings(strategy: str) -> dict[str, bool]:
    """For each setting the strategy radio can grey out (every one but the strategy), whether `strategy` reads it."""
    used = USED_BY.get(strategy, set())
    return {name: name in used for name in sorted(set().union(*USED_BY.values()))}


def setting_updates(settings: dict[str, Any], strategy: str) -> dict[Any, dict]:
    """Grey out the `settings` components (by name) the chosen strategy ignores."""
    return {settings[name]: gr.update(interactive=used) for name, used in interactive_settings(strategy).items()}


def write_continuation(
    bundle: ModelBundle, prompt: str, settings: DecodingSettings, seed: int | None, update_seconds: float
) -> Iterator[Written]:
    """The model work of /generate: `continue_prompt` with the bundle's model and tokenizer (closing it stops it)."""
    yield from continue_prompt(bundle.model, bundle.processor, prompt, settings, seed, update_seconds)


@user_errors
def generate(
    tab: Tab,
    prompt: str,
    model_id: str | None,
    strategy: str,
    max_new_tokens: float,
    temperature: float | None,
    top_k: float | None,
    top_p: float | None,
    repetition_penalty: float,
    num_return_sequences: float | None,
    num_beams: float | None,
    seed: float | str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
) -> Iterator[tuple[str, str]]:
    """Continue a prompt with a causal language model. Greedy and single-sequence sampling stream token by token;
    beam search and several sequences arrive whole. Yields (text, status)."""
    prompt = check_prompt(prompt)
    settings = DecodingSettings.checked(
        strategy, max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences, num_beams
    )
    seed_chosen = settings.strategy != SAMPLING or sampling_seed_given(seed)
    seed = sampling_seed(seed) if settings.strategy == SAMPLING else None
    # Greedy and beam search always write the same text, sampling with the visitor's seed too; a random seed never.
    request = ("generate", prompt, settings, seed) if seed_chosen else None
    with tab.model(model_id, progress) as served:
        if request is not None and (kept := served.recall(request)) is not None:
            texts, new_tokens = kept
            yield numbered(texts), f"{served.status()} · {decoding_summary(settings.strategy, seed, new_tokens)}"
            return
        written = served.stream(write_continuation, prompt, settings, seed, UPDATE_SECONDS)
        with closing(written):  # a request that goes away stops its generation
            for update in written:
                if not update.finished:
                    summary = decoding_summary(settings.strategy, seed, update.new_tokens)
                    yield update.text, f"{served.status(update.batch_requests)} · {summary} · {say(GENERATING)}"
        stopped = served.elapsed() >= limits.MAX_GENERATION_SECONDS
        if request is not None and not stopped:
            served.keep(request, (update.texts, update.new_tokens))
        summary = decoding_summary(settings.strategy, seed, update.new_tokens, stopped=stopped)
        yield numbered(update.texts), f"{served.status(update.batch_requests)} · {summary}"


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox(
                label="Prompt",
                value=PROMPT,
                lines=4,
                info=f"The model continues this text. Up to {limits.MAX_TEXT_CHARS:,} characters.",
            )
            model = model_dropdown(tab.choices)
            strategy = gr.Radio(list(STRATEGIES), value=SAMPLING, label="Decoding strategy")
            max_new_tokens = gr.Slider(
                1, limits.MAX_NEW_TOKENS, value=50, step=1, precision=0, label="max_new_tokens", info="Tokens to add."
            )
            # Each sampling slider at least SLIDER_WIDTH wide: the row wraps (two, then one) where three would not fit.
            with gr.Row():
                temperature = gr.Slider(
                    limits.MIN_TEMPERATURE,
                    limits.MAX_TEMPERATURE,
                    value=0.8,
                    step=0.01,
                    label="temperature",
                    info="Sampling: below 1 is safer, above 1 wilder.",
                    min_width=SLIDER_WIDTH,
                )
                top_k = gr.Slider(
                    0,
                    limits.MAX_TOP_K,
                    value=50,
                    step=1,
                    precision=0,
                    label="top_k",
                    info="Sampling: 0 turns it off.",
                    min_width=SLIDER_WIDTH,
                )
                top_p = gr.Slider(
                    limits.MIN_TOP_P,
                    1.0,
                    value=0.95,
                    step=0.01,
                    label="top_p",
                    info="Sampling: 1 turns it off.",
                    min_width=SLIDER_WIDTH,
                )
            with gr.Row():
                num_return_sequences = gr.Slider(
                    1,
                    limits.MAX_NUM_SEQUENCES,
                    value=1,
                    step=1,
                    precision=0,
                    label="num_return_sequences",
                    info="Sampling and beam search. Several sequences arrive whole, not streamed.",
                )
                num_beams = gr.Slider(
                    2,
                    limits.MAX_NUM_BEAMS,
                    value=4,
                    step=1,
                    precision=0,
                    label="num_beams",
                    info="Beam search; at least num_return_sequences.",
                    interactive=False,
                )
            with gr.Row():
                repetition_penalty = gr.Slider(
                    1.0,
                    limits.MAX_REPETITION_PENALTY,
                    value=1.0,
                    step=0.05,
                    label="repetition_penalty",
                    info="Above 1 discourages repeating tokens; 1 turns it off.",
                )
                seed = gr.Number(
                    value=-1,
                    precision=0,
                    minimum=-1,
                    maximum=limits.MAX_SEED,
                    label="seed",
                    info="Sampling: the same seed gives the same text; -1 or empty picks one at random (shown below).",
                )
            with gr.Row():
                button = gr.Button("Generate", variant="primary")
                stop = gr.Button("Stop", variant="stop")
        settings = {
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "repetition_penalty": repetition_penalty,
            "num_return_sequences": num_return_sequences,
            "num_beams": num_beams,
            "seed": seed,
        }
        with gr.Column():
            output = gr.Textbox(label="Generated text", lines=14, interactive=False, buttons=["copy"])
            status = gr.Markdown(label="Status")
            next_token.build_next_token_odds(tab, prompt, model, settings)
    controls = {"strategy": strategy, **settings}
    gr.Examples(
        [[PROMPT, *example.values()] for example in EXAMPLES],
        inputs=[prompt, *(controls[name] for name in EXAMPLES[0])],
        cache_examples=False,
    )

    strategy.change(
        functools.partial(setting_updates, settings), strategy, list(settings.values()), api_visibility="private"
    )
    # The API takes the settings in the order of `DecodingSettings`' fields, then the seed.
    inputs = [prompt, model, *(controls[field.name] for field in fields(DecodingSettings)), seed]
    generation = gr.on(
        run_by(button, prompt, seed),
        tab.bind(generate),
        inputs,
        [output, status],
        api_name="generate",
        concurrency_limit=CONCURRENT_REQUESTS,  # greedy and sampled requests share the model's running batch
        concurrency_id=tab.task,
    )
    generation.failure(
        None, status, status, js=STOPPED_OR_FAILED_JS, queue=False, show_progress="hidden", api_visibility="private"
    )
    stop.click(None, None, None, cancels=[generation])


DEMO = Demo(
    task="generate",
    title="Text generation",
    description=(
        "A causal language model continues your prompt one token at a time. **Greedy** takes the likeliest token, "
        "**sampling** draws from the distribution reshaped by temperature, top-k and top-p, **beam search** keeps "
        "the `num_beams` likeliest continuations. Greedy and sampling of one sequence stream as they are written; "
        "**Stop** ends the generation on the server too. **Next-token odds** (below the text) charts the first new "
        "token's probabilities before and after temperature, top-k and top-p, so you see what each slider does."
    ),
    models=(
        ModelChoice("openai-community/gpt2", stand_in="gpt2-lm"),
        ModelChoice("HuggingFaceTB/SmolLM2-135M", stand_in="llama-lm"),
    ),
    loader=ModelLoader("AutoModelForCausalLM", "AutoTokenizer", int8_allowed=True),
    build_tab=build_tab,
)
