"""Panoptic segmentation: DETR splits a photo into things, counted one by one (person #1, person #2, a cup), and
stuff, shown once per class (sky, wall, grass), with one coloured mask per segment and a table of their scores and
areas. The model work is in shared/detr_panoptic.py, the encoding of masks and downloads in shared/mask_encoding.py;
this module checks the inputs, lays out the tab and has gr.AnnotatedImage send its masks as palette PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio import processing_utils
from gradio.components.annotated_image import AnnotatedImageData, Annotation
from gradio.data_classes import FileData
from PIL import Image, ImageOps

from demos.common import (
    check_image_pixels,
    model_dropdown,
    photo_upload,
    status_cleared_on_error,
    tab_intro,
    user_errors,
)
from demos.messages import say
from demos.tab import Demo, Tab
from shared.detr_panoptic import Segment, find_segments
from shared.downloads import write_whole
from shared.errors import UserError
from shared.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MAX_UPLOAD_MB, number
from shared.loading import ModelLoader
from shared.mask_encoding import mask_png, overlay, save_downloads, segment_hex, segments_record, table_rows
from shared.model_choices import ModelChoice

DEFAULT_THRESHOLD = 0.85
DEFAULT_OVERLAP_MASK_AREA_THRESHOLD = 0.8
TABLE_HEADERS = ["label", "score", "area %"]
EXAMPLES_DIR = Path(__file__).parent / "examples"
EXAMPLE_PHOTOS = [EXAMPLES_DIR / name for name in ("astronaut.jpg", "coffee.jpg", "chelsea.jpg")]


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


def annotations(segments: list[Segment]) -> list[tuple[np.ndarray, str]]:
    """The masks as gr.AnnotatedImage wants them: (boolean HxW mask, label)."""
    return [(segment.mask, segment.label) for segment in segments]


def cached_png(data: bytes, cache_dir: str) -> str:
    """Save as Gradio saves a component's images: in a folder of `cache_dir` named by the file's hash."""
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    return str(write_whole(folder / "image.png", data).resolve())


def quick_mask_layers(component: gr.AnnotatedImage) -> gr.AnnotatedImage:
    """Have `component` send boolean masks faster, the n-th in `segment_hex(n)`. Its own postprocess builds four
    float64 planes per mask and writes each as an RGBA PNG at zlib level 6, which on a photo of a dozen segments costs
    more than the app adds everywhere else. The same pixels go out here as a palette PNG at level 1
    (`shared.mask_encoding.mask_png`). Any other value goes Gradio's way.

    The colours are the segments' order, not a `color_map` update: an update would replace this component, for the
    session, by a stock one with the slow postprocess. The page shows them as they are, and its legend chips in the
    same colours, through the CSS of `demos/layout.py`."""
    stock = component.postprocess

    def postprocess(value: Any) -> AnnotatedImageData | None:
        if value is None or not all(isinstance(mask, np.ndarray) and mask.dtype == bool for mask, _ in value[1]):
            return stock(value)
        base = stock((value[0], []))
        layers = [
            Annotation(
                image=FileData(path=cached_png(mask_png(mask, segment_hex(index)), component.GRADIO_CACHE)),
                label=label,
            )
            for index, (mask, label) in enumerate(value[1])
        ]
        return AnnotatedImageData(image=base.image, annotations=layers)

    component.postprocess = postprocess
    return component


def status_line(segments: list[Segment], threshold: float, served: str) -> str:
    if not segments:
        return say(f"No segment scored above threshold {threshold:g}; lower it to see more. {served}")
    return say(f"{len(segments)} segments. {served}")


@user_errors
def segment(
    tab: Tab,
    image: Image.Image | None,
    threshold: float,
    overlap_mask_area_threshold: float,
    model_id: str | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio spots the progress tracker by this default)
):
    """Panoptic segmentation of a photo: one mask per thing instance and per stuff class, a table of their
    labels, scores and areas, and two downloads: the photo with the masks painted on (PNG) and the segments with
    their masks as COCO RLE (JSON)."""
    image = fit_image(image)
    threshold = number("threshold", threshold, 0, 1)
    overlap_mask_area_threshold = number("overlap_mask_area_threshold", overlap_mask_area_threshold, 0, 1)
    with tab.model(model_id, progress) as served:
        progress(0.2, desc=f"Running {served.model_id} on the photo…")
        segments = served.run(find_segments, image, threshold, overlap_mask_area_threshold)
    progress(0.9, desc="Drawing the overlay and writing the downloads…")
    record = segments_record(segments, image, served.model_id, threshold, overlap_mask_area_threshold)
    overlay_png, segments_json = save_downloads(overlay(image, segments), record)
    return (
        (image, annotations(segments)),
        table_rows(segments),
        status_line(segments, threshold, served.status()),
        overlay_png,
        segments_json,
    )


def offered_downloads() -> tuple[gr.DownloadButton, gr.DownloadButton]:
    """Both download buttons enabled, once a result has filled them. A separate step, because a button update in
    the endpoint's own answer would reach gradio_client as an update dict instead of the file."""
    return gr.DownloadButton(interactive=True), gr.DownloadButton(interactive=True)


def withdrawn_downloads() -> tuple[gr.DownloadButton, gr.DownloadButton]:
    """Both download buttons emptied and disabled: before a result, after an error, and for a new photo."""
    return gr.DownloadButton(value=None, interactive=False), gr.DownloadButton(value=None, interactive=False)


def new_photo(image: Image.Image | None) -> tuple[gr.DownloadButton, gr.DownloadButton]:
    """On upload: the downloads of the previous photo are withdrawn. Taking the photo as input has `photo_upload`
    decode it now, so a file that is not an image (a text file renamed .jpg past the upload filter's first bytes, a
    cut-off JPEG) gets its message at once rather than at Segment."""
    return withdrawn_downloads()


def refused_photo() -> tuple[None, gr.DownloadButton, gr.DownloadButton]:
    """After an upload that is not a readable image: no broken picture left in the box, and no downloads."""
    return None, *withdrawn_downloads()


def build_tab(tab: Tab) -> None:
    tab_intro(tab)
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
            model = model_dropdown(tab.choices)
            button = gr.Button("Segment", variant="primary")
        with gr.Column():
            # JPEG for the photo under the masks: it encodes many times faster than WebP, the default.
            segments = quick_mask_layers(
                gr.AnnotatedImage(label="Segments", format="jpeg", elem_classes=["segments-image"])
            )
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                datatype=["str", "number", "number"],
                label="One row per segment",
                interactive=False,
            )
            status = gr.Markdown(label="Status")
            with gr.Row():
                # Disabled until there is a result to download.
                overlay_download = gr.DownloadButton(
                    "Download overlay (PNG)", value=None, variant="secondary", interactive=False
                )
                json_download = gr.DownloadButton(
                    "Download segments (JSON)", value=None, variant="secondary", interactive=False
                )
    gr.Examples([[str(path)] for path in EXAMPLE_PHOTOS], inputs=[image], cache_examples=False)

    downloads = [overlay_download, json_download]
    # One photo at a time: a large photo's masks take much memory.
    segmented = button.click(
        tab.bind(segment),
        [image, threshold, overlap_mask_area_threshold, model],
        [segments, table, status, *downloads],
        api_name="segment",
        concurrency_limit=1,
        concurrency_id="segment",
    )
    quietly = dict(queue=False, show_progress="hidden", api_visibility="private")
    segmented.success(offered_downloads, None, downloads, **quietly)
    segmented.failure(withdrawn_downloads, None, downloads, **quietly)
    image.upload(new_photo, image, downloads, show_progress="hidden", api_visibility="private").failure(
        refused_photo, None, [image, *downloads], queue=False, show_progress="hidden", api_visibility="private"
    )
    image.clear(withdrawn_downloads, None, downloads, queue=False, show_progress="hidden", api_visibility="private")
    status_cleared_on_error(segmented, status)


DEMO = Demo(
    task="segment",
    title="Panoptic segmentation",
    description=(
        "DETR asks a fixed set of object queries what they see: each answers with a class, a score and a mask. "
        "Queries scoring above `threshold` are kept, each pixel goes to the kept query surest of it, and a query "
        "left with less than `overlap_mask_area_threshold` of its own mask is dropped. Things (people, cups) are "
        "counted one by one; stuff (sky, wall, grass) is one segment per class. "
        f"Photos up to {MAX_IMAGE_PIXELS // 1_000_000} megapixels and {MAX_UPLOAD_MB} MB; larger sides are scaled "
        f"down to {MAX_IMAGE_SIDE} px."
    ),
    models=(ModelChoice("facebook/detr-resnet-50-panoptic", stand_in="detr-panoptic"),),
    loader=ModelLoader("DetrForSegmentation", "DetrImageProcessor"),
    build_tab=build_tab,
)
