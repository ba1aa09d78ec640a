"""The peer the benchmarks compare against: what a user would build with Gradio's defaults on the same stand-in
directories our app loads, one Interface per task in one `gr.TabbedInterface` (as our app serves every tab from one
process). `gr.Interface.from_pipeline(pipeline)` for sentiment, zero-shot and generation; for question answering
(transformers 5 has no QA pipeline) and segmentation (`from_pipeline` has no image-segmentation) a plain
`gr.Interface` around the call a user would write. No caching, no batching, no streaming. Run as
`python -m benchmarks.peer --port P --source TASK=DIR ... [--default-concurrency-limit N]`.

Gradio 6.31's `from_pipeline` names `transformers.pipelines.text2text_generation`, which transformers 5 removed, so
every call would fail with AttributeError; the submodules it names are imported and a placeholder stands in for
the removed one (this changes nothing else).
"""

from __future__ import annotations

import argparse
import sys
import types

import gradio as gr
import numpy as np
import torch
import transformers
from PIL import Image

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


def qa_interface(source: str, concurrency_limit: int | str) -> gr.Interface:
    """Context and question in, the best answer and its score out, with the same model work as our /qa (the
    transformers 4.x pipeline's tokenize, forward and span search, as `demos.qa.answer_question` does it)."""
    from demos import TASKS as DEMOS_BY_TASK
    from demos.qa import answer_question

    bundle = DEMOS_BY_TASK["qa"].loader(source, "cpu", torch.float32)

    def answer(context: str, question: str) -> tuple[str, float]:
        best = answer_question(bundle, question, context, top_k=1).answers[0]
        return best.text, best.score

    return gr.Interface(
        answer,
        [gr.Textbox(label="Context", lines=5), gr.Textbox(label="Question")],
        [gr.Textbox(label="Answer"), gr.Number(label="Score")],
        api_name="qa",
        concurrency_limit=concurrency_limit,
        flagging_mode="never",
    )


def segment_interface(source: str, concurrency_limit: int | str) -> gr.Interface:
    """A photo and the two thresholds in, the photo with its panoptic segments out: the stock image-segmentation
    pipeline as its model card shows it."""
    model = transformers.DetrForSegmentation.from_pretrained(source).eval()
    processor = transformers.DetrImageProcessor.from_pretrained(source)
    segmenter = transformers.pipeline("image-segmentation", model=model, image_processor=processor, device="cpu")

    def segment(photo: Image.Image, threshold: float, overlap_mask_area_threshold: float) -> tuple:
        found = segmenter(
            photo, subtask="panoptic", threshold=threshold, overlap_mask_area_threshold=overlap_mask_area_threshold
        )
        return photo, [(np.asarray(item["mask"]) / 255.0, item["label"]) for item in found]

    return gr.Interface(
        segment,
        [gr.Image(type="pil", label="Photo"), gr.Slider(0, 1, value=0.85), gr.Slider(0, 1, value=0.8)],
        gr.AnnotatedImage(label="Segments"),
        api_name="segment",
        concurrency_limit=concurrency_limit,
        flagging_mode="never",
    )


def build_peer(sources: dict[str, str], max_new_tokens: int, concurrency: dict[str, int]) -> gr.Blocks:
    patch_gradio_for_transformers5()
    interfaces = []
    for task, source in sources.items():
        limit = concurrency.get(task, "default")
        if task == "qa":
            interfaces.append(qa_interface(source, limit))
        elif task == "segment":
            interfaces.append(segment_interface(source, limit))
        else:
            interfaces.append(
                gr.Interface.from_pipeline(
                    peer_pipeline(task, source, max_new_tokens),
                    api_name=task,
                    concurrency_limit=limit,
                    flagging_mode="never",
                )
            )
    return gr.TabbedInterface(interfaces, list(sources))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", action="append", required=True, metavar="TASK=DIR")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument(
        "--default-concurrency-limit", type=int, default=DEFAULT_CONCURRENCY_LIMIT, help="1 is Gradio's default"
    )
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
