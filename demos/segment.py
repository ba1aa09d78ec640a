"""Panoptic segmentation: DETR splits a photo into things, counted one by one (person #1, person #2, a cup), and
stuff, shown once per class (sky, wall, grass), with one coloured mask per segment and a table of their scores and
areas."""

from __future__ import annotations

import atexit
import colorsys
import functools
import io
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch
from gradio import processing_utils
from gradio.components.annotated_image import AnnotatedImageData, Annotation
from gradio.data_classes import FileData
from PIL import Image, ImageOps
from transformers.models.detr.modeling_detr import DetrSegmentationOutput

from demos.common import (
    check_image_pixels,
    model_dropdown,
    photo_upload,
    report_loading,
    served_by,
    stopwatch,
    tab_intro,
    user_errors,
)
from shared.coco_panoptic import STUFF_NAMES
from shared.errors import UserError
from shared.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MAX_UPLOAD_MB
from shared.loading import ModelLoader
from shared.model_choices import ModelChoice
from shared.runtime import Runtime

TASK = "segment"
TITLE = "Panoptic segmentation"
DESCRIPTION = (
    "DETR asks a fixed set of object queries what they see: each answers with a class, a score and a mask. "
    "Queries scoring above `threshold` are kept, each pixel goes to the kept query surest of it, and a query left "
    "with less than `overlap_mask_area_threshold` of its own mask is dropped. Things (people, cups) are counted one "
    "by one; stuff (sky, wall, grass) is one segment per class. "
    f"Photos up to {MAX_IMAGE_PIXELS // 1_000_000} megapixels and {MAX_UPLOAD_MB} MB; larger sides are scaled down "
    f"to {MAX_IMAGE_SIDE} px."
)
MODELS = [ModelChoice("facebook/detr-resnet-50-panoptic", stand_in="detr-panoptic")]
LOADER = ModelLoader("DetrForSegmentation", "DetrImageProcessor")
DEFAULT_THRESHOLD = 0.85
DEFAULT_OVERLAP_MASK_AREA_THRESHOLD = 0.8
TABLE_HEADERS = ["label", "score", "area %"]
EXAMPLES_DIR = Path(__file__).parent / "examples"
# Gradio copies returned files into its own cache, so ours are only needed for a moment.
DOWNLOADS_MAX_AGE_SECONDS = 600
EXAMPLE_PHOTOS = [EXAMPLES_DIR / name for name in ("astronaut.jpg", "coffee.jpg", "chelsea.jpg")]


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


def kept_queries(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    """Which object queries panoptic post-processing keeps, picked as `post_process_panoptic_segmentation` picks
    them: the most likely class (softmax over all classes) is not "no object" and its probability beats
    `threshold`. A boolean (batch, num_queries) tensor."""
    scores, labels = torch.nn.functional.softmax(logits.float(), dim=-1).max(-1)
    return labels.ne(logits.shape[-1] - 1) & (scores > threshold)


def kept_query_masks(
    model: Any,
    queries: torch.Tensor,
    memory: torch.Tensor,
    attention_mask: torch.Tensor,
    projected_feature_map: torch.Tensor,
    fpn_features: list[torch.Tensor],
) -> torch.Tensor:
    """DetrForSegmentation's `bbox_attention` and `mask_head` for some queries only: (batch, queries, H/4, W/4) mask
    logits. What does not depend on the query is computed once per photo instead of once per query: the encoder
    features' share of `conv1` and each FPN stage's `fpn_adapter` (the stock head runs both on 100 copies)."""
    head = model.mask_head
    batch_size, num_queries = queries.shape[:2]
    if num_queries == 0:
        return projected_feature_map.new_zeros((batch_size, 0, *fpn_features[-1].shape[-2:]))
    attention_maps = model.bbox_attention(queries, memory, attention_mask=attention_mask).flatten(0, 1)

    def per_query(photo_part: torch.Tensor, query_part: torch.Tensor) -> torch.Tensor:
        """photo (batch, C, H, W) + query (batch * queries, C, H, W), broadcast without copying the photo's part."""
        return (query_part.unflatten(0, (batch_size, num_queries)) + photo_part.unsqueeze(1)).flatten(0, 1)

    # conv1 sees [encoder features, attention maps] stacked on channels, so it splits into a sum of two convs.
    conv1, channels = head.conv1, projected_feature_map.shape[1]
    photo_part = torch.nn.functional.conv2d(
        projected_feature_map, conv1.conv.weight[:, :channels], conv1.conv.bias, padding=conv1.conv.padding
    )
    query_part = torch.nn.functional.conv2d(
        attention_maps, conv1.conv.weight[:, channels:], None, padding=conv1.conv.padding
    )
    hidden = conv1.activation(conv1.norm(per_query(photo_part, query_part)))
    hidden = head.conv2(hidden)
    for stage, fpn_feature in zip(head.fpn_stages, fpn_features, strict=True):
        adapted = stage.fpn_adapter(fpn_feature)
        upsampled = torch.nn.functional.interpolate(hidden, size=adapted.shape[-2:], mode="nearest")
        hidden = stage.refine(per_query(adapted, upsampled))
    masks = head.output_conv(hidden)
    return masks.view(batch_size, num_queries, *masks.shape[-2:])


def forward_kept_queries(
    model: Any, pixel_values: torch.Tensor, pixel_mask: torch.Tensor | None, threshold: float
) -> DetrSegmentationOutput:
    """`forward`, but masks only for the queries that post-processing at `threshold` keeps: DETR's class head runs
    first and the mask head (~90% of the stock forward) only for the kept queries; none kept, no mask head. Returns
    the kept queries' logits, boxes and masks, in query order, so `panoptic_map` gives what it gives on `forward`.
    With several photos, a query kept in any of them is kept in all (post-processing drops the others again)."""
    detr = model.detr.model
    batch_size, device = pixel_values.shape[0], pixel_values.device
    if pixel_mask is None:
        pixel_mask = torch.ones((batch_size, *pixel_values.shape[-2:]), device=device)
    with torch.inference_mode():
        # As DetrForSegmentation.forward, up to the class head.
        vision_features = detr.backbone(pixel_values, pixel_mask)
        feature_map, mask = vision_features[-1]
        projected_feature_map = detr.input_projection(feature_map)
        spatial_position_embeddings = (
            detr.position_embedding(shape=feature_map.shape, device=device, dtype=pixel_values.dtype, mask=mask)
            .flatten(2)
            .transpose(1, 2)
        )
        flattened_mask = mask.flatten(1)
        encoder_outputs = detr.encoder(
            inputs_embeds=projected_feature_map.flatten(2).transpose(1, 2),
            attention_mask=flattened_mask,
            spatial_position_embeddings=spatial_position_embeddings,
        )
        query_position_embeddings = detr.query_position_embeddings.weight.unsqueeze(0).repeat(batch_size, 1, 1)
        sequence_output = detr.decoder(
            inputs_embeds=torch.zeros_like(query_position_embeddings),
            attention_mask=None,
            spatial_position_embeddings=spatial_position_embeddings,
            object_queries_position_embeddings=query_position_embeddings,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=flattened_mask,
        )[0]
        logits = model.detr.class_labels_classifier(sequence_output)
        pred_boxes = model.detr.bbox_predictor(sequence_output).sigmoid()

        keep = kept_queries(logits, threshold).any(0)
        height, width = feature_map.shape[-2:]
        memory = encoder_outputs.last_hidden_state.transpose(1, 2).view(batch_size, model.config.d_model, height, width)
        attention_mask = torch.where(
            flattened_mask.view(batch_size, 1, 1, height, width).bool(),
            torch.full((), 0.0, device=device, dtype=memory.dtype),
            torch.finfo(memory.dtype).min,
        )
        fpn_features = [vision_features[2][0], vision_features[1][0], vision_features[0][0]]
        pred_masks = kept_query_masks(
            model, sequence_output[:, keep], memory, attention_mask, projected_feature_map, fpn_features
        )
    return DetrSegmentationOutput(logits=logits[:, keep], pred_boxes=pred_boxes[:, keep], pred_masks=pred_masks)


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


# zlib level for the mask layers: a two-colour layer compresses almost as well at 1 as at PIL's default 6.
MASK_PNG_COMPRESSION = 1
ANNOTATION_RED = "#ff0000"  # gr.AnnotatedImage's colour for a label not in its color_map


def mask_layer(mask: np.ndarray, colour: str = ANNOTATION_RED) -> Image.Image:
    """One mask as gr.AnnotatedImage draws it: `colour` (hex), opaque, inside the mask; clear outside. A two-entry
    palette with the outside transparent: the same RGBA pixels in a quarter of the bytes to compress."""
    digits = colour.lstrip("#")
    step = len(digits) // 3  # read as Gradio reads it, "#f00" included
    layer = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.astype(np.uint8).tobytes())
    layer.putpalette([0, 0, 0, *(int(digits[index : index + step], 16) for index in range(0, 3 * step, step))])
    layer.info["transparency"] = bytes([0, 255])
    return layer


def cached_png(image: Image.Image, cache_dir: str) -> str:
    """Save as Gradio saves a component's images: in a folder of `cache_dir` named by the file's hash."""
    with io.BytesIO() as buffer:
        image.save(buffer, format="png", compress_level=MASK_PNG_COMPRESSION)
        data = buffer.getvalue()
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.png"
    path.write_bytes(data)
    return str(path.resolve())


def quick_mask_layers(component: gr.AnnotatedImage) -> gr.AnnotatedImage:
    """Have `component` send boolean masks faster. Its own postprocess builds four float64 planes per mask and
    writes each as an RGBA PNG at zlib level 6: ~15 ms per mask at 800x1066 (a photo of 14 segments: 210 ms, more
    than the app adds everywhere else). The same pixels go out here as a palette PNG at level 1. Any other value
    goes Gradio's way."""
    stock = component.postprocess

    def postprocess(value: Any) -> AnnotatedImageData | None:
        if value is None or not all(isinstance(mask, np.ndarray) and mask.dtype == bool for mask, _ in value[1]):
            return stock(value)
        base = stock((value[0], []))
        colours = component.color_map or {}
        layers = [
            Annotation(
                image=FileData(
                    path=cached_png(mask_layer(mask, colours.get(label, ANNOTATION_RED)), component.GRADIO_CACHE)
                ),
                label=label,
            )
            for mask, label in value[1]
        ]
        return AnnotatedImageData(image=base.image, annotations=layers)

    component.postprocess = postprocess
    return component


def table_rows(segments: list[Segment]) -> list[list]:
    return [
        [segment.label, round(segment.score, 4), round(100 * float(segment.mask.mean()), 2)] for segment in segments
    ]


def status_line(segments: list[Segment], threshold: float, served: str) -> str:
    if not segments:
        return f"No segment scored above threshold {threshold:g}; lower it to see more. {served}"
    return f"{len(segments)} segments. {served}"


def segment_colour(index: int) -> tuple[int, int, int]:
    """A distinct, stable colour for the n-th segment (golden-angle hues)."""
    hue = (index * 137.508) % 360 / 360
    return tuple(round(255 * channel) for channel in colorsys.hsv_to_rgb(hue, 0.75, 0.95))


def overlay(image: Image.Image, segments: list[Segment], opacity: float = 0.5) -> Image.Image:
    """The photo with each segment's mask painted in its colour, as the downloadable PNG."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    for index, segment in enumerate(segments):
        colour = np.array(segment_colour(index), dtype=np.float32)
        pixels[segment.mask] = (1 - opacity) * pixels[segment.mask] + opacity * colour
    return Image.fromarray(pixels.round().astype(np.uint8))


def mask_rle(mask: np.ndarray) -> dict:
    """A boolean HxW mask as COCO's uncompressed RLE: run lengths over the pixels in column-major order, starting
    with a run of background (pycocotools' `frPyObjects` reads it as is)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def rle_mask(rle: dict) -> np.ndarray:
    """The inverse of `mask_rle`, for scripts reading the JSON download."""
    height, width = rle["size"]
    values = np.arange(len(rle["counts"])) % 2 == 1
    flat = np.repeat(values, rle["counts"])
    return flat.reshape((height, width), order="F")


def segments_record(
    segments: list[Segment], image: Image.Image, model_id: str, threshold: float, overlap_mask_area_threshold: float
) -> dict:
    """What the JSON download holds: the settings, and per segment its label, score, area, colour in the PNG
    overlay, and mask as RLE."""
    return {
        "model_id": model_id,
        "width": image.width,
        "height": image.height,
        "threshold": threshold,
        "overlap_mask_area_threshold": overlap_mask_area_threshold,
        "mask_encoding": "COCO uncompressed RLE (column-major run lengths, background first)",
        "segments": [
            {
                "label": label,
                "score": score,
                "area_percent": area,
                "colour": list(segment_colour(index)),
                "mask": mask_rle(segment.mask),
            }
            for index, (segment, (label, score, area)) in enumerate(zip(segments, table_rows(segments), strict=True))
        ],
    }


@functools.cache
def downloads_root() -> Path:
    """One directory per server process for the download files, removed when the process exits."""
    root = Path(tempfile.mkdtemp(prefix="segment-downloads-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def remove_old_downloads(root: Path, max_age_seconds: float = DOWNLOADS_MAX_AGE_SECONDS) -> None:
    oldest_kept = time.time() - max_age_seconds
    for folder in root.iterdir():
        if folder.stat().st_mtime < oldest_kept:
            shutil.rmtree(folder, ignore_errors=True)


def save_downloads(overlay_image: Image.Image, record: dict) -> tuple[str, str]:
    """Write the PNG overlay and the JSON into a fresh directory (Gradio copies them into its own cache); folders
    from earlier requests are removed once they are ten minutes old."""
    root = downloads_root()
    remove_old_downloads(root)
    folder = Path(tempfile.mkdtemp(prefix="segments-", dir=root))
    png, data = folder / "segments.png", folder / "segments.json"
    # Fast deflate: `optimize=True` made the file 3.5% smaller but cost 0.85 s per photo; level 1 costs 0.07 s.
    overlay_image.save(png, compress_level=1)
    data.write_text(json.dumps(record))
    return str(png), str(data)


@user_errors
def segment_photo(
    runtime: Runtime,
    choices: list[ModelChoice],
    image: Image.Image | None,
    threshold: float,
    overlap_mask_area_threshold: float,
    model_id: str | None,
    progress: Callable[..., Any] | None = None,
):
    image = fit_image(image)
    threshold = check_threshold("threshold", threshold)
    overlap_mask_area_threshold = check_threshold("overlap_mask_area_threshold", overlap_mask_area_threshold)
    report_loading(progress, runtime, TASK, choices, model_id)
    with runtime.model(TASK, choices, model_id, LOADER) as loaded, stopwatch() as elapsed:
        if progress is not None:
            progress(0.2, desc=f"Running {loaded.model_id} on the photo…")
        model, processor = loaded.loaded.model, loaded.loaded.processor
        inputs = model_inputs(processor, image, loaded.device, loaded.dtype)
        outputs = forward_kept_queries(model, **inputs, threshold=threshold)
        segmentation, segments_info = panoptic_map(
            processor, outputs, (image.height, image.width), threshold, overlap_mask_area_threshold
        )
        segments = merge_segments(segmentation, segments_info, model.config.id2label)
        seconds = elapsed()
    if progress is not None:
        progress(0.9, desc="Drawing the overlay and writing the downloads…")
    record = segments_record(segments, image, loaded.model_id, threshold, overlap_mask_area_threshold)
    overlay_png, segments_json = save_downloads(overlay(image, segments), record)
    return (
        (image, annotations(segments)),
        table_rows(segments),
        status_line(segments, threshold, served_by(loaded, seconds)),
        overlay_png,
        segments_json,
    )


def build_tab(runtime: Runtime) -> None:
    choices = tab_intro(runtime, TASK, MODELS, DESCRIPTION)
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
            # JPEG for the photo under the masks: WebP, the default, took 35 ms per photo; JPEG takes 2 ms.
            segments = quick_mask_layers(gr.AnnotatedImage(label="Segments", format="jpeg"))
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                datatype=["str", "number", "number"],
                label="One row per segment",
                interactive=False,
            )
            status = gr.Markdown(label="Status")
            with gr.Row():
                overlay_download = gr.DownloadButton("Download overlay (PNG)", value=None, variant="secondary")
                json_download = gr.DownloadButton("Download segments (JSON)", value=None, variant="secondary")
    gr.Examples([[str(path)] for path in EXAMPLE_PHOTOS], inputs=[image], cache_examples=False)

    def segment(
        image: Image.Image | None,
        threshold: float,
        overlap_mask_area_threshold: float,
        model_id: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
    ):
        """Panoptic segmentation of a photo: one mask per thing instance and per stuff class, a table of their
        labels, scores and areas, and two downloads: the photo with the masks painted on (PNG) and the segments with
        their masks as COCO RLE (JSON)."""
        return segment_photo(runtime, choices, image, threshold, overlap_mask_area_threshold, model_id, progress)

    # One photo at a time: a large photo's masks take much memory.
    button.click(
        segment,
        [image, threshold, overlap_mask_area_threshold, model],
        [segments, table, status, overlay_download, json_download],
        api_name="segment",
        concurrency_limit=1,
        concurrency_id=TASK,
    )
