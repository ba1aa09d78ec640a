"""Next-token odds, a part of the Text generation tab (not a tab of its own): the distribution the sampler draws the
first new token from (after temperature, top-k, top-p and the repetition penalty) beside the raw one, computed with
the logits processors `generate` itself uses, charted and served as /next_token. `demos.generate` lays it out
with `build_next_token_odds` and lends it its tab, models and settings sliders."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd
import torch
from transformers.convert_slow_tokenizer import bytes_to_unicode

from demos.common import bar_plot, drawn_in_data_order, status_cleared_on_error, user_errors
from demos.messages import say
from demos.tab import Tab
from shared.decoding import SAMPLING, DecodingSettings, check_prompt, entropy_bits, next_token_distributions
from shared.errors import UserError
from shared.limits import whole_number
from shared.model_cache import LoadedModel

# Bars per distribution at most, and how many prompts' logits are kept so a slider move reshapes them without
# another forward pass (a GPT-2 row is 50,257 floats, 200 KB).
MAX_SHOWN_TOKENS = 50
SHOWN_TOKENS = 10
MAX_CACHED_PROMPTS = 8
RAW, AFTER_SETTINGS = "raw", "after settings"
ODDS_COLORS = {RAW: "#9ca3af", AFTER_SETTINGS: "#f97316"}
# The sliders of the generation tab the odds follow, in the order /next_token takes them.
SETTINGS = ("temperature", "top_k", "top_p", "repetition_penalty")
# Byte-level BPE names each byte with a printable character; used to show a token that is part of a UTF-8 character.
BYTE_OF_CHARACTER = {character: byte for byte, character in bytes_to_unicode().items()}


def readable_token(text: str) -> str:
    r"""A token's text with its whitespace shown: a space as "␣", a newline as "\n" (as repr writes it)."""
    if not text:
        return "∅"
    return "".join("␣" if char == " " else char if char.isprintable() else repr(char)[1:-1] for char in text)


def token_text(tokenizer: Any, token_id: int) -> tuple[str, str]:
    r"""(text, shown): what the token writes, and that text made readable for a chart label. A token that is only
    part of a UTF-8 character decodes to "\ufffd"; it is shown as its bytes (e.g. "\xe2\x80") when the
    tokenizer is byte-level, else by its vocabulary name."""
    text = tokenizer.decode([token_id])
    if "\ufffd" not in text:
        return text, readable_token(text)
    name = tokenizer.convert_ids_to_tokens(token_id) or ""
    if name and all(character in BYTE_OF_CHARACTER for character in name):
        return text, repr(bytes(BYTE_OF_CHARACTER[character] for character in name))[2:-1].replace(" ", "␣")
    return text, readable_token(name) if name else f"<id {token_id}>"


def odds_numbers(
    raw: torch.Tensor, after: torch.Tensor, shown: int, describe: Callable[[int], tuple[str, str]]
) -> dict[str, Any]:
    """The numbers behind the chart: the `shown` likeliest tokens after the settings (ties, and tokens the filters
    drop, in raw order) with both probabilities, and the whole vocabulary's summary: how many tokens sampling can
    still draw, the raw probability they held, both totals and both entropies. `describe(token_id)` gives a token's
    (text, shown text)."""
    by_raw = torch.sort(raw, descending=True, stable=True).indices
    order = by_raw[torch.sort(after[by_raw], descending=True, stable=True).indices][:shown]
    kept = after > 0
    tokens = []
    for rank, token_id in enumerate(order.tolist(), start=1):
        text, shown_text = describe(token_id)
        tokens.append(
            {
                "rank": rank,
                "token": shown_text,
                "text": text,
                "token_id": token_id,
                "raw_probability": float(raw[token_id]),
                "probability_after_settings": float(after[token_id]),
                "kept": bool(kept[token_id]),
            }
        )
    return {
        "tokens": tokens,
        "vocab_size": raw.numel(),
        "kept_tokens": int(kept.sum()),
        "kept_raw_mass": float(raw[kept].double().sum()),
        "raw_total": float(raw.double().sum()),
        "after_settings_total": float(after.double().sum()),
        "raw_entropy_bits": entropy_bits(raw),
        "entropy_after_settings_bits": entropy_bits(after),
    }


def bar_label(token: dict[str, Any], distribution: str) -> str:
    """One bar's x label; each token has two bars, so the label names the distribution too."""
    return f"{token['rank']}. {token['token']} · {'raw' if distribution == RAW else 'after'}"


CHART_COLUMNS = {"token": "str", "probability": "float", "distribution": "str"}


def odds_frame(numbers: dict[str, Any]) -> pd.DataFrame:
    """Two rows per shown token, raw then after settings, in the chart's order."""
    rows = [
        {"token": bar_label(token, distribution), "probability": token[field], "distribution": distribution}
        for token in numbers["tokens"]
        for distribution, field in ((RAW, "raw_probability"), (AFTER_SETTINGS, "probability_after_settings"))
    ]
    return pd.DataFrame(rows, columns=list(CHART_COLUMNS))


def settings_summary(settings: DecodingSettings) -> str:
    parts = [f"temperature {settings.temperature:g}", f"top_k {settings.top_k}" if settings.top_k else "top_k off"]
    parts.append(f"top_p {settings.top_p:g}" if settings.top_p < 1 else "top_p off")
    if settings.repetition_penalty != 1:
        parts.append(f"repetition_penalty {settings.repetition_penalty:g}")
    return ", ".join(parts)


def odds_summary(numbers: dict[str, Any], settings: str) -> str:
    return (
        f"With {settings}, sampling draws the next token from **{numbers['kept_tokens']:,}** of "
        f"{numbers['vocab_size']:,} tokens, which held {numbers['kept_raw_mass']:.1%} of the raw probability; "
        f"entropy {numbers['raw_entropy_bits']:.2f} → {numbers['entropy_after_settings_bits']:.2f} bits. "
        f"{greedy_choice(numbers['tokens'])}"
    )


def greedy_choice(tokens: list[dict[str, Any]]) -> str:
    """Which token greedy decoding takes: the likeliest, the first bar (temperature, top_k and top_p never change
    which token is likeliest), by its text and its id in the vocabulary."""
    if not tokens:
        return ""
    first = tokens[0]
    shown = first["token"].replace("`", "ˋ")
    token_id = first["token_id"]
    return say(f"Greedy decoding would take the likeliest token, the first bar: `{shown}` (token id {token_id}).")


class RecentLogits:
    """The next-token logits of the last few (model, prompt) pairs, so moving a slider reshapes them instead of
    running the model again. Bounded, least recently used first out; safe to share between request threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[torch.Tensor, torch.Tensor] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: tuple[torch.Tensor, torch.Tensor]) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


RECENT_LOGITS = RecentLogits(MAX_CACHED_PROMPTS)


def prompt_logits(loaded: LoadedModel, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, logits at the last prompt position) on the CPU, from the cache or one forward pass."""
    key = (loaded.model_id, loaded.source, loaded.precision, prompt)
    if (cached := RECENT_LOGITS.get(key)) is not None:
        return cached
    model = loaded.bundle.model
    inputs = loaded.tokenizer(prompt, return_tensors="pt").to(model.device)
    prompt_tokens = inputs["input_ids"].shape[1]
    context_tokens = getattr(model.config, "max_position_embeddings", None)
    if context_tokens is not None and prompt_tokens > context_tokens:
        raise UserError(
            f"The prompt is {prompt_tokens:,} tokens; the model reads at most {context_tokens:,}. Shorten the prompt."
        )
    with torch.inference_mode():
        logits = model(**inputs, logits_to_keep=1).logits[0, -1]
    entry = (inputs["input_ids"][0].cpu(), logits.to(dtype=torch.float32, device="cpu"))
    RECENT_LOGITS.put(key, entry)
    return entry


def next_token_odds(loaded: LoadedModel, prompt: str, settings: DecodingSettings, shown: int) -> dict[str, Any]:
    """The model work of /next_token: the numbers for the first token sampling would add to `prompt`."""
    input_ids, logits = prompt_logits(loaded, prompt)
    raw, after = next_token_distributions(logits, settings, input_ids)
    tokenizer = loaded.tokenizer
    numbers = odds_numbers(raw, after, shown, lambda token_id: token_text(tokenizer, token_id))
    return {"model_id": loaded.model_id, "settings": {name: getattr(settings, name) for name in SETTINGS}, **numbers}


@user_errors
def next_token(
    tab: Tab,
    prompt: str,
    model_id: str | None,
    temperature: float,
    top_k: float,
    top_p: float,
    repetition_penalty: float,
    shown: float,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
) -> tuple[gr.BarPlot, dict[str, Any], str]:
    """The probabilities of the first token sampling would add to a prompt: raw (the softmax of the logits at the
    last prompt position) and after the settings (temperature, top_k (0 = off), top_p (1 = off) and
    repetition_penalty, applied by transformers' own logits processors in `generate`'s order), for the `shown`
    likeliest tokens. Returns (bar chart, numbers: the shown tokens with both probabilities, how many tokens
    sampling keeps, the raw probability they held, the totals over the vocabulary and both entropies, status)."""
    prompt = check_prompt(prompt)
    # Checked as /generate checks them.
    settings = DecodingSettings.checked(SAMPLING, 1, temperature, top_k, top_p, repetition_penalty)
    shown = whole_number("shown", shown, 1, MAX_SHOWN_TOKENS)
    with tab.model(model_id, progress) as served:
        numbers = served.run_on_model(next_token_odds, prompt, settings, shown)
    frame = odds_frame(numbers)
    chart = gr.BarPlot(value=frame)  # in the frame's order once `drawn_in_data_order` has redrawn it
    return chart, numbers, f"{odds_summary(numbers, settings_summary(settings))}\n\n{served.status()}"


def follow_settings(tab: Tab, requested: bool, *request: Any) -> tuple:
    """Redraw the odds when a setting changes (`request`: the inputs of /next_token), once the visitor has asked
    for them."""
    if not requested:
        return gr.skip(), gr.skip(), gr.skip()
    return next_token(tab, *request)


def odds_shown() -> bool:
    return True


def build_next_token_odds(tab: Tab, prompt: gr.Textbox, model: gr.Dropdown, settings: dict[str, Any]) -> None:
    """The "Next-token odds" accordion, wired to the tab's `prompt`, `model` and sampling `settings` sliders (by
    name: at least those in SETTINGS)."""
    with gr.Accordion("Next-token odds", open=False):
        gr.Markdown(
            "The first token sampling would add to the prompt: its probability **raw** (the softmax of the "
            "model's scores) and **after settings** (what temperature, top_k, top_p and the repetition "
            "penalty leave for the sampler to draw from). Move a slider to see what it does."
        )
        with gr.Row():
            shown = gr.Slider(
                1,
                MAX_SHOWN_TOKENS,
                value=SHOWN_TOKENS,
                step=1,
                precision=0,
                label="shown",
                info=f"Tokens to chart, up to {MAX_SHOWN_TOKENS}.",
            )
            button = gr.Button("Show next-token odds")
        chart = bar_plot(
            CHART_COLUMNS,
            x="token",
            y="probability",
            color="distribution",
            color_map=ODDS_COLORS,
            y_lim=[0, None],
            x_title="next token",
            x_label_angle=-45,
            label="Next-token probabilities",
        )
        status = gr.Markdown()
        numbers = gr.JSON(label="Numbers", max_height=320)
    requested = gr.State(False)

    followed = [settings[name] for name in SETTINGS]
    inputs = [prompt, model, *followed, shown]
    outputs = [chart, numbers, status]
    # One forward pass of the prompt at most (none when only a setting moved); while a slider is dragged only the
    # latest of its values waits for the one running.
    queue = dict(concurrency_limit=1, concurrency_id="next_token")
    asked = button.click(tab.bind(next_token), inputs, outputs, api_name="next_token", **queue)
    asked.success(odds_shown, None, requested, api_visibility="private")
    drawn_in_data_order(asked, chart)
    status_cleared_on_error(asked, status)
    # `.change`, not `.release`: it also fires for arrow keys on a slider and for an example filling the settings.
    followed = gr.on(
        [setting.change for setting in (*followed, shown)],
        tab.bind(follow_settings),
        [requested, *inputs],
        outputs,
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="minimal",
        **queue,
    )
    drawn_in_data_order(followed, chart)
    status_cleared_on_error(followed, status)
