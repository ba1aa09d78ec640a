"""`python -m benchmarks.sessions [--repeats N] [--cache-dir DIR]`: what a REST `/gradio_api/call/<api>` costs on
this app against the same call on a one-component Gradio app, both answering without a model.

Each REST call starts a new Gradio session, so this measures what a session costs with the app's size (see
demos/sessions.py). Ours is `/system`; the one-component app's `/system` returns a line of text from one Textbox.
A third column is a repeated `/sentiment` request on this app, answered from memory (shared/result_cache.py).
Calls alternate between the two servers (a, b, a, b, ...) so load from elsewhere falls on both; medians in ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

from benchmarks.servers import Server, app_server
from benchmarks.timing import interleaved, ms
from shared.settings import default_cache_dir


def rest_call(http: httpx.Client, base_url: str, api_name: str, data: list | None = None) -> list:
    """POST the inputs, then read the answer from the event stream, as curl users do."""
    event_id = http.post(f"{base_url}gradio_api/call/{api_name}", json={"data": data or []}).json()["event_id"]
    lines = http.get(f"{base_url}gradio_api/call/{api_name}/{event_id}").text.splitlines()
    if "event: complete" not in lines:
        raise RuntimeError(f"/{api_name} did not complete: {lines[-3:]}")
    return json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))


REMEMBERED_TEXT = "I loved this movie, the acting was wonderful."


def one_component_server() -> Server:
    return Server("one-component", ["-m", "benchmarks.sessions", "--serve-one-component"])


def serve_one_component(port: int) -> None:
    import gradio as gr

    with gr.Blocks() as app:
        status = gr.Textbox(label="Status")
        gr.Button("Refresh").click(lambda: "running", None, status, api_name="system")
    app.queue().launch(server_name="127.0.0.1", server_port=port, quiet=True)


def measure(cache_dir: Path, repeats: int = 40) -> dict:
    with app_server("tiny", cache_dir) as ours, one_component_server() as one, httpx.Client(timeout=60) as http:
        times = interleaved(
            {
                "ours": lambda: rest_call(http, ours.url, "system"),
                "one_component": lambda: rest_call(http, one.url, "system"),
                "ours_remembered": lambda: rest_call(http, ours.url, "sentiment", [REMEMBERED_TEXT, None]),
            },
            repeats,
            warmup=3,
        )
    ours_ms, one_ms = ms(times["ours"]), ms(times["one_component"])
    return {
        "repeats": len(times["ours"]),
        "ours_ms": ours_ms,
        "one_component_ms": one_ms,
        "ratio": ours_ms / one_ms,
        "remembered_ms": ms(times["ours_remembered"]),
    }


def table(results: dict) -> str:
    return "\n".join(
        [
            f"REST /gradio_api/call/system (a new session each), median of {results['repeats']} calls each",
            "",
            "| this app (ms) | one-component app (ms) | ratio | this app, a repeated /sentiment (ms) |",
            "| ---: | ---: | ---: | ---: |",
            f"| {results['ours_ms']:.1f} | {results['one_component_ms']:.1f} | {results['ratio']:.2f}x "
            f"| {results['remembered_ms']:.1f} |",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sessions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=40, help="Calls per server (default 40).")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="Where stand-ins are built.")
    parser.add_argument("--serve-one-component", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=7861, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_one_component:
        serve_one_component(args.port)
        return
    started = time.perf_counter()
    print(table(measure(args.cache_dir, args.repeats)))
    print(f"\nTook {time.perf_counter() - started:.0f} s.", file=sys.stderr)


if __name__ == "__main__":
    main()
