"""The peer the benchmark compares against: `gr.Interface.from_pipeline(pipeline)` for sentiment, zero-shot and
generation, on the same stand-in directories our app loads, one Interface per task in one process (as our app
serves every tab from one process). Run as `python -m benchmarks.peer --port P --source TASK=DIR ...`.

Gradio 6.31's `from_pipeline` names `transformers.pipelines.text2text_generation`, which transformers 5 removed, so
every call would fail with AttributeError; the submodules it names are imported and a placeholder stands in for
the removed one (this changes nothing else).
"""

from __future__ import annotations

import argparse
import sys
import types

import gradio as gr
import torch
import transformers

from shared.limits import DEFAULT_CONCURRENCY_LIMIT

# task -> (transformers pipeline task, API name as in our app)
PIPELINE_TASKS = {
    "sentiment": "text-classification",
    "zero_shot": "zero-shot-classification",
    "generate": "text-generation",
}


def patch_gradio_for_transformers5() -> None:
    # Imported submodules become attributes of `transformers.pipelines`, as Gradio expects; lazy ones do not.
    import transformers.pipelines.object_detection  # noqa: F401
    import transformers.pipelines.text_classification  # noqa: F401
    import transformers.pipelines.token_classification  # noqa: F401

    if not hasattr(transformers.pipelines, "text2text_generation"):

        class Missing:  # isinstance() against it is always False
            pass

        placeholder = types.ModuleType("transformers.pipelines.text2text_generation")
        placeholder.Text2TextGenerationPipeline = Missing
        placeholder.TranslationPipeline = Missing
        transformers.pipelines.text2text_generation = placeholder


def peer_pipeline(task: str, source: str, max_new_tokens: int) -> transformers.Pipeline:
    kwargs = {}
    if task == "generate":
        # The same settings as the benchmark's requests to our app: greedy, a fixed number of new tokens.
        kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
    return transformers.pipeline(PIPELINE_TASKS[task], model=source, device="cpu", dtype=torch.float32, **kwargs)


def build_peer(sources: dict[str, str], max_new_tokens: int, concurrency: dict[str, int]) -> gr.Blocks:
    patch_gradio_for_transformers5()
    interfaces = [
        gr.Interface.from_pipeline(
            peer_pipeline(task, source, max_new_tokens),
            api_name=task,
            concurrency_limit=concurrency.get(task, "default"),
            flagging_mode="never",
        )
        for task, source in sources.items()
    ]
    return gr.TabbedInterface(interfaces, list(sources))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", action="append", required=True, metavar="TASK=DIR")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--default-concurrency-limit", type=int, default=DEFAULT_CONCURRENCY_LIMIT)
    parser.add_argument("--concurrency", action="append", default=[], metavar="TASK=N")
    args = parser.parse_args(argv)
    sources = dict(item.split("=", 1) for item in args.source)
    concurrency = {task: int(n) for task, n in (item.split("=", 1) for item in args.concurrency)}
    app = build_peer(sources, args.max_new_tokens, concurrency)
    app.queue(default_concurrency_limit=args.default_concurrency_limit).launch(
        server_name="127.0.0.1", server_port=args.port, quiet=True
    )


if __name__ == "__main__":
    main(sys.argv[1:])
