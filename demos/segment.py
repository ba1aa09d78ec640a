"""Panoptic segmentation: DETR splits a photo into things, counted one by one (person #1, person #2, a cup), and
stuff, shown once per class (sky, wall, grass), with one coloured mask per segment and a table of their scores and
areas."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageOps
from transformers.models.detr.modeling_detr import DetrSegmentationOutput

from demos.common import (
    check_image_pixels,
    model_cards,
    model_dropdown,
    photo_upload,
    served_by,
    stand_in_banner,
    stopwatch,
    user_errors,
)
from shared.errors import UserError
from shared.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
from shared.loading import ModelLoader
from shared.model_choices import ModelChoice
from shared.runtime import Runtime
from shared.stand_ins.detr import COCO_PANOPTIC_STUFF

TASK = "segment"
TITLE = "Panoptic segmentation"
DESCRIPTION = (
    "DETR asks a fixed set of object queries what they see: each answers with a class, a score and a mask. "
    "Queries scoring above `threshold` are kept, each pixel goes to the kept query surest of it, and a query left "
    "with less than `overlap_mask_area_threshold` of its own mask is dropped. Things (people, cups) are counted one "
    "by one; stuff (sky, wall, grass) is one segment per class. "
    f"Photos up to {MAX_IMAGE_PIXELS // 1_000_000} megapixels; larger sides are scaled down to {MAX_IMAGE_SIDE} px."
)
MODELS = [ModelChoice("facebook/detr-resnet-50-panoptic", stand_in="detr-panoptic")]
LOADER = ModelLoader("DetrForSegmentation", "DetrImageProcessor")
DEFAULT_THRESHOLD = 0.85
DEFAULT_OVERLAP_MASK_AREA_THRESHOLD = 0.8
TABLE_HEADERS = ["label", "score", "area %"]
EXAMPLES_DIR = Path(__file__).parent / "examples"
EXAMPLE_PHOTOS = [EXAMPLES_DIR / name for name in ("astronaut.jpg", "coffee.jpg", "chelsea.jpg")]
STUFF_NAMES = frozenset(COCO_PANOPTIC_STUFF.values())


@dataclass
class Segment:
    """One thing instance, or all of one stuff class, as a boolean mask over the photo."""

    label: str
    score: float
    mask: np.ndarray


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB for the model; transparent parts become white rather than whatever colour hides under them."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def fit_image(image: Image.Image | None) -> Image.Image:
    """The uploaded photo upright, in RGB, its longest side at most MAX_IMAGE_SIDE (which also bounds the size of
    every mask sent back)."""
    if image is None:
        raise UserError("Upload an image (a photo in JPEG, PNG or WebP), or pick one of the examples.")
    if not isinstance(image, Image.Image):
        raise TypeError(f"fit_image expects a PIL image, got {type(image).__name__}")
    check_image_pixels(image.width, image.height)
    image = to_rgb(ImageOps.exif_transpose(image))
    longest = max(image.size)
    if longest > MAX_IMAGE_SIDE:
        scale = MAX_IMAGE_SIDE / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def check_threshold(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise UserError(f"{name} must be a number between 0 and 1, got {value!r}.")
    return float(value)


def model_inputs(processor: Any, image: Image.Image, device: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The photo as DETR's pixel tensors: resized and normalised by the model's own image processor."""
    inputs = processor(images=image, return_tensors="pt")
    return {"pixel_values": inputs["pixel_values"].to(device, dtype), "pixel_mask": inputs["pixel_mask"].to(device)}


def forward(model: Any, pixel_values: torch.Tensor, pixel_mask: torch.Tensor) -> DetrSegmentationOutput:
    """Pixel tensors in, a class and a mask per object query out; nothing else."""
    with torch.inference_mode():
        return model(pixel_values=pixel_values, pixel_mask=pixel_mask)


def panoptic_map(
    processor: Any,
    outputs: DetrSegmentationOutput,
    size: tuple[int, int],
    threshold: float,
    overlap_mask_area_threshold: float,
) -> tuple[np.ndarray, list[dict]]:
    """transformers' post-processing: a map of segment ids at `size` (height, width) and what each id is."""
    # Stuff is fused in `merge_segments`, not here: transformers' fusing can give two segments the same id.
    result = processor.post_process_panoptic_segmentation(
        DetrSegmentationOutput(logits=outputs.logits.float(), pred_masks=outputs.pred_masks.float()),
        threshold=threshold,
        overlap_mask_area_threshold=overlap_mask_area_threshold,
        label_ids_to_fuse=set(),
        target_sizes=[size],
    )[0]
    return result["segmentation"].cpu().numpy().astype(np.int32), result["segments_info"]


def instance_labels(names: list[str]) -> list[str]:
    """Number the names that occur more than once ("person #1", "person #2"): gr.AnnotatedImage highlights all
    entries sharing a label together."""
    counts, seen, labels = Counter(names), Counter(), []
    for name in names:
        seen[name] += 1
        labels.append(f"{name} #{seen[name]}" if counts[name] > 1 else name)
    return labels


def merge_segments(
    segmentation: np.ndarray,
    segments_info: list[dict],
    id2label: dict[int, str],
    stuff_names: frozenset[str] = STUFF_NAMES,
) -> list[Segment]:
    """One segment per thing instance and one per stuff class, best score first, each with a unique label."""
    merged: dict[tuple, Segment] = {}
    for info in segments_info:
        name = id2label.get(info["label_id"], f"LABEL_{info['label_id']}")
        key = ("stuff", name) if name in stuff_names else ("thing", info["id"])
        mask = segmentation == info["id"]
        if key in merged:
            merged[key].mask |= mask
            merged[key].score = max(merged[key].score, float(info["score"]))
        else:
            merged[key] = Segment(name, float(info["score"]), mask)
    segments = sorted(merged.values(), key=lambda segment: -segment.score)
    for segment, label in zip(segments, instance_labels([segment.label for segment in segments]), strict=True):
        segment.label = label
    return segments


def annotations(segments: list[Segment]) -> list[tuple[np.ndarray, str]]:
    """The masks as gr.AnnotatedImage wants them: (boolean HxW mask, label)."""
    return [(segment.mask, segment.label) for segment in segments]


def table_rows(segments: list[Segment]) -> list[list]:
    return [
        [segment.label, round(segment.score, 4), round(100 * float(segment.mask.mean()), 2)] for segment in segments
    ]


def status_line(segments: list[Segment], threshold: float, served: str) -> str:
    if not segments:
        return f"No segment scored above threshold {threshold:g}; lower it to see more. {served}"
    return f"{len(segments)} segments. {served}"


@user_errors
def segment_photo(
    runtime: Runtime,
    choices: list[ModelChoice],
    image: Image.Image | None,
    threshold: float,
    overlap_mask_area_threshold: float,
    model_id: str | None,
):
    image = fit_image(image)
    threshold = check_threshold("threshold", threshold)
    overlap_mask_area_threshold = check_threshold("overlap_mask_area_threshold", overlap_mask_area_threshold)
    with runtime.model(TASK, choices, model_id, LOADER) as loaded, stopwatch() as elapsed:
        model, processor = loaded.loaded.model, loaded.loaded.processor
        inputs = model_inputs(processor, image, loaded.device, loaded.dtype)
        outputs = forward(model, **inputs)
        segmentation, segments_info = panoptic_map(
            processor, outputs, (image.height, image.width), threshold, overlap_mask_area_threshold
        )
        segments = merge_segments(segmentation, segments_info, model.config.id2label)
        seconds = elapsed()
    return (
        (image, annotations(segments)),
        table_rows(segments),
        status_line(segments, threshold, served_by(loaded, seconds)),
    )


def build_tab(runtime: Runtime) -> None:
    choices = runtime.choices(TASK, MODELS)
    gr.Markdown(f"{DESCRIPTION}\n\n{model_cards(choices)}")
    stand_in_banner(runtime)
    with gr.Row():
        with gr.Column():
            image = photo_upload(type="pil", image_mode=None, label="Photo")
            threshold = gr.Slider(
                0,
                1,
                value=DEFAULT_THRESHOLD,
                step=0.01,
                label="threshold",
                info="Keep a query whose class score is above this.",
            )
            overlap_mask_area_threshold = gr.Slider(
                0,
                1,
                value=DEFAULT_OVERLAP_MASK_AREA_THRESHOLD,
                step=0.01,
                label="overlap_mask_area_threshold",
                info="Drop a segment left with less than this share of its own mask once overlaps are settled.",
            )
            model = model_dropdown(choices)
            button = gr.Button("Segment", variant="primary")
        with gr.Column():
            segments = gr.AnnotatedImage(label="Segments")
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                datatype=["str", "number", "number"],
                label="One row per segment",
                interactive=False,
            )
            status = gr.Markdown(label="Status")
    gr.Examples([[str(path)] for path in EXAMPLE_PHOTOS], inputs=[image], cache_examples=False)

    def segment(image: Image.Image | None, threshold: float, overlap_mask_area_threshold: float, model_id: str):
        """Panoptic segmentation of a photo: one mask per thing instance and per stuff class, and a table of their
        labels, scores and areas."""
        return segment_photo(runtime, choices, image, threshold, overlap_mask_area_threshold, model_id)

    # One photo at a time: a large photo's masks take much memory.
    button.click(
        segment,
        [image, threshold, overlap_mask_area_threshold, model],
        [segments, table, status],
        api_name="segment",
        concurrency_limit=1,
        concurrency_id=TASK,
    )
