"""`python -m benchmarks.segmentation [--size full|tiny] [--repeats N] [--cache-dir DIR]`: seconds per photo for the
segmentation tab's kept-queries forward beside transformers' stock `image-segmentation` pipeline (panoptic), on the
full-size DETR-R50 stand-in at DETR's default resolution (a shipped photo resized to 1066x800, which the processor
keeps at 800x1066), for 5, 20 and 100 kept segments.

Both sides go from the PIL photo to segments: ours is the tab's path (`shared.detr_panoptic`: `model_inputs`,
`forward_kept_queries`, `panoptic_map`, `merge_segments`), theirs is `pipeline(...)(photo, subtask="panoptic", ...)`
on the same model object. Runs alternate between the two, so load from other work on the machine falls on both; each
figure is the median of `repeats` runs. The stand-in's weights are random, so the threshold of each case is chosen
from the photo's sorted class scores so that exactly that many queries pass it (the midpoint between the N-th and
the N+1-th best score; 0 for all of them); the table says how many were kept and whether both sides found the same
segments (labels and scores).

`--batching` measures instead whether concurrent photos would be faster as one batch: DETR's backbone and
transformer (the part of a request that batching could share; the mask head runs on each photo's own kept queries)
on two photos one after another vs. on the two as one padded batch with a pixel mask, for two photos of different
sizes (the batch padded to the larger) and two of the same size, and how far the batched outputs are from the solo
ones."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402

from demos import segment  # noqa: E402
from shared import detr_panoptic  # noqa: E402
from shared.settings import default_cache_dir  # noqa: E402
from shared.stand_ins import ensure_stand_in  # noqa: E402

KEPT_SEGMENTS = (5, 20, 100)
PHOTO = segment.EXAMPLES_DIR / "coffee.jpg"
PHOTO_SIZE = (1066, 800)  # width, height: DETR's processor keeps it at 800x1066 (shortest edge 800)
OVERLAP = segment.DEFAULT_OVERLAP_MASK_AREA_THRESHOLD


def threshold_keeping(logits: torch.Tensor, count: int) -> float:
    """A threshold that exactly `count` queries of this photo pass (strictly greater, as post-processing wants)."""
    probabilities = torch.softmax(logits[0].double(), dim=-1)
    scores, labels = probabilities.max(-1)
    scores = scores[labels != logits.shape[-1] - 1].sort(descending=True).values.tolist()
    if count >= len(scores):
        return 0.0
    return (scores[count - 1] + scores[count]) / 2


def ours(model, processor, photo: Image.Image, threshold: float) -> list[tuple[str, float]]:
    inputs = detr_panoptic.model_inputs(processor, photo, "cpu", torch.float32)
    outputs = detr_panoptic.forward_kept_queries(model, **inputs, threshold=threshold)
    segmentation, info = detr_panoptic.panoptic_map(processor, outputs, (photo.height, photo.width), threshold, OVERLAP)
    detr_panoptic.merge_segments(segmentation, info, model.config.id2label)
    return [(model.config.id2label[item["label_id"]], item["score"]) for item in info]


def stock(pipe, photo: Image.Image, threshold: float) -> list[tuple[str, float]]:
    found = pipe(photo, subtask="panoptic", threshold=threshold, overlap_mask_area_threshold=OVERLAP)
    return [(item["label"], item["score"]) for item in found]


def timed(fn, *args) -> tuple[float, list]:
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


def measure(
    size: str = "full",
    cache_dir: Path | None = None,
    repeats: int = 2,
    quick: bool = False,
    kept_segments: tuple[int, ...] = KEPT_SEGMENTS,
    report=None,
) -> dict:
    """Seconds per photo, ours and the stock pipeline's, per number of kept segments; `quick`: one run each.
    `report(case)` is called as each case is done (the stock pipeline at 100 queries needs ~12 GB at its peak)."""
    repeats = 1 if quick else repeats
    root = Path(cache_dir or default_cache_dir()) / "stand-ins"
    path = ensure_stand_in("detr-panoptic", size, root)
    model = transformers.DetrForSegmentation.from_pretrained(path).eval()
    processor = transformers.DetrImageProcessor.from_pretrained(path)
    pipe = transformers.pipeline("image-segmentation", model=model, image_processor=processor, device="cpu")
    photo = Image.open(PHOTO).convert("RGB").resize(PHOTO_SIZE if size == "full" else (320, 240))
    inputs = detr_panoptic.model_inputs(processor, photo, "cpu", torch.float32)
    with torch.inference_mode():
        logits = model.detr(**inputs).logits  # the class head alone: the same logits as the full forward

    cases = []
    for count in kept_segments:
        threshold = threshold_keeping(logits, count)
        kept = int(detr_panoptic.kept_queries(logits, threshold).sum())
        ours_seconds, stock_seconds, same = [], [], True
        for _ in range(repeats):
            seconds, our_segments = timed(ours, model, processor, photo, threshold)
            ours_seconds.append(seconds)
            seconds, stock_segments = timed(stock, pipe, photo, threshold)
            stock_seconds.append(seconds)
            same = same and our_segments == stock_segments
        ours_median, stock_median = statistics.median(ours_seconds), statistics.median(stock_seconds)
        cases.append(
            {
                "kept_queries": kept,
                "threshold": threshold,
                "segments": len(our_segments),
                "same_segments": same,
                "ours_s": round(ours_median, 3),
                "stock_s": round(stock_median, 3),
                "speedup": round(stock_median / ours_median, 2),
            }
        )
        if report is not None:
            report(cases[-1])
    return {
        "model": f"detr-panoptic stand-in ({size}), {model.config.num_queries} queries",
        "pixels": list(inputs["pixel_values"].shape[-2:]),
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "cases": cases,
    }


def transformer_outputs(model, pixel_values: torch.Tensor, pixel_mask: torch.Tensor) -> torch.Tensor:
    """DETR's backbone, encoder and decoder: the decoder's output per object query."""
    with torch.inference_mode():
        return model.detr.model(pixel_values=pixel_values, pixel_mask=pixel_mask).last_hidden_state


def one_after_another(model, inputs: list[dict[str, torch.Tensor]]) -> list[torch.Tensor]:
    return [transformer_outputs(model, **photo_inputs) for photo_inputs in inputs]


def measure_batching(size: str = "full", cache_dir: Path | None = None, repeats: int = 3) -> list[dict]:
    """Seconds for two photos' backbone and transformer one after another and as one padded batch (runs alternate,
    median of `repeats`), and the largest difference between the batched and the solo decoder outputs."""
    root = Path(cache_dir or default_cache_dir()) / "stand-ins"
    path = ensure_stand_in("detr-panoptic", size, root)
    model = transformers.DetrForSegmentation.from_pretrained(path).eval()
    processor = transformers.DetrImageProcessor.from_pretrained(path)
    astronaut, coffee = (Image.open(path).convert("RGB") for path in segment.EXAMPLE_PHOTOS[:2])
    groups = {
        "different sizes": [astronaut, coffee],
        "same size": [coffee, coffee.transpose(Image.Transpose.FLIP_LEFT_RIGHT)],
    }
    cases = []
    for name, photos in groups.items():
        solo_inputs = [detr_panoptic.model_inputs(processor, photo, "cpu", torch.float32) for photo in photos]
        batch = processor(images=photos, return_tensors="pt")
        transformer_outputs(model, **solo_inputs[0])  # warm-up
        solo_seconds, batched_seconds = [], []
        for _ in range(repeats):
            seconds, solo = timed(one_after_another, model, solo_inputs)
            solo_seconds.append(seconds)
            seconds, batched = timed(transformer_outputs, model, batch["pixel_values"], batch["pixel_mask"])
            batched_seconds.append(seconds)
        solo_median, batched_median = statistics.median(solo_seconds), statistics.median(batched_seconds)
        cases.append(
            {
                "photos": name,
                "pixels": [list(inputs["pixel_values"].shape[-2:]) for inputs in solo_inputs],
                "batch_pixels": list(batch["pixel_values"].shape[-2:]),
                "one_after_another_s": round(solo_median, 3),
                "batched_s": round(batched_median, 3),
                "speedup": round(solo_median / batched_median, 2),
                "max_difference": float(max((one[0] - batched[n]).abs().max() for n, one in enumerate(solo))),
            }
        )
    return cases


def batching_table(cases: list[dict]) -> str:
    lines = [
        "DETR backbone + transformer, two photos: one after another vs. one padded batch",
        "",
        "| photos | pixels | batch pixels | one after another (s) | batched (s) | speed-up | max difference |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for case in cases:
        pixels = " + ".join(f"{height}x{width}" for height, width in case["pixels"])
        height, width = case["batch_pixels"]
        lines.append(
            f"| {case['photos']} | {pixels} | 2 × {height}x{width} | {case['one_after_another_s']:.2f} "
            f"| {case['batched_s']:.2f} | {case['speedup']:.2f}x | {case['max_difference']:.2g} |"
        )
    return "\n".join(lines)


def table(results: dict) -> str:
    height, width = results["pixels"]
    lines = [
        f"Panoptic segmentation, {results['model']}, {height}x{width} pixels, median of {results['repeats']} "
        f"run(s), {results['torch_threads']} torch threads",
        "",
        "| kept queries | segments | same segments | ours (s) | stock pipeline (s) | speed-up |",
        "| ---: | ---: | :---: | ---: | ---: | ---: |",
    ]
    for case in results["cases"]:
        lines.append(
            f"| {case['kept_queries']} | {case['segments']} | {'yes' if case['same_segments'] else 'NO'} "
            f"| {case['ours_s']:.2f} | {case['stock_s']:.2f} | {case['speedup']:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.segmentation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("full", "tiny"), default="full", help="Stand-in size (default full).")
    parser.add_argument("--repeats", type=int, default=2, help="Runs per figure; the median is shown (default 2).")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="Where stand-ins are built.")
    parser.add_argument(
        "--batching", action="store_true", help="Compare two photos one after another with one padded batch."
    )
    args = parser.parse_args(argv)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    started = time.perf_counter()
    if args.batching:
        print(batching_table(measure_batching(args.size, args.cache_dir, args.repeats)))
        print(f"\nTook {time.perf_counter() - started:.0f} s.")
        return
    results = measure(args.size, args.cache_dir, args.repeats, report=lambda case: print(case, flush=True))
    print(table(results))
    print(f"\nTook {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
