"""Panoptic segmentation: photo checks, segment merging and labelling, the DETR stand-in, and the /segment endpoint."""

from __future__ import annotations

import io
import json
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest
import torch
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from transformers import DetrConfig, DetrForSegmentation, DetrImageProcessor

from demos import segment
from demos.tab import Tab
from shared import detr_panoptic, mask_encoding
from shared.errors import UserError
from shared.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
from shared.stand_ins.detr import TINY_DIMS, TINY_IMAGE_SIZE, TINY_LABELS

MODEL_ID = segment.DEMO.models[0].model_id


def segments_of(model, processor, image: Image.Image, threshold: float = segment.DEFAULT_THRESHOLD):
    image = segment.fit_image(image)
    outputs = detr_panoptic.forward(model, **detr_panoptic.model_inputs(processor, image, "cpu", torch.float32))
    segmentation, info = detr_panoptic.panoptic_map(
        processor, outputs, (image.height, image.width), threshold, segment.DEFAULT_OVERLAP_MASK_AREA_THRESHOLD
    )
    return detr_panoptic.merge_segments(segmentation, info, model.config.id2label)


def test_fit_image_refuses_a_missing_image():
    with pytest.raises(UserError, match="Upload an image"):
        segment.fit_image(None)


def test_fit_image_refuses_too_many_pixels_before_decoding_them():
    side = int(MAX_IMAGE_PIXELS**0.5) + 10
    with pytest.raises(UserError, match="Scale it down"):
        segment.fit_image(Image.new("L", (side, side)))


def test_fit_image_bounds_the_longest_side_and_keeps_the_aspect_ratio():
    fitted = segment.fit_image(Image.new("RGB", (4000, 1000), "red"))
    assert fitted.size == (MAX_IMAGE_SIDE, round(MAX_IMAGE_SIDE / 4))
    small = Image.new("RGB", (64, 48))
    assert segment.fit_image(small).size == (64, 48)


def test_fit_image_turns_transparency_white_and_greyscale_rgb():
    transparent = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert segment.fit_image(transparent).getpixel((0, 0)) == (255, 255, 255)
    assert segment.fit_image(Image.new("L", (8, 8), 100)).mode == "RGB"


def test_fit_image_applies_the_exif_orientation():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise: stored 40 wide, shown 40 tall
    Image.new("RGB", (40, 20)).save(buffer, "JPEG", exif=exif)
    assert segment.fit_image(Image.open(buffer)).size == (20, 40)


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.5", None, True, float("nan")])
@pytest.mark.parametrize("name", ["threshold", "overlap_mask_area_threshold"])
def test_the_endpoint_refuses_a_threshold_that_is_not_a_share(runtime, name, value):
    photo = Image.open(segment.EXAMPLE_PHOTOS[0])
    thresholds = {"threshold": 0.85, "overlap_mask_area_threshold": 0.8, name: value}
    with pytest.raises(gr.Error, match=f"{name} must be between 0 and 1"):
        segment.segment(Tab(segment.DEMO, runtime), photo, **thresholds, model_id=None)


def test_instance_labels_number_only_repeated_names():
    assert detr_panoptic.instance_labels(["person", "cup", "person", "sky", "person"]) == [
        "person #1",
        "cup",
        "person #2",
        "sky",
        "person #3",
    ]


def test_merge_segments_fuses_stuff_keeps_things_apart_and_labels_them_uniquely():
    segmentation = np.array([[1, 1, 2, 2], [3, 3, 4, 4], [0, 0, 0, 0]])
    info = [
        {"id": 1, "label_id": 0, "score": 0.9},
        {"id": 2, "label_id": 0, "score": 0.95},
        {"id": 3, "label_id": 1, "score": 0.8},
        {"id": 4, "label_id": 1, "score": 0.99},
    ]
    merged = detr_panoptic.merge_segments(segmentation, info, {0: "person", 1: "sky"}, stuff_names=frozenset({"sky"}))
    assert [(piece.label, piece.score) for piece in merged] == [("sky", 0.99), ("person #1", 0.95), ("person #2", 0.9)]
    assert merged[0].mask.tolist() == [[False] * 4, [True] * 4, [False] * 4]
    rows = mask_encoding.table_rows(merged)
    assert rows[0] == ["sky", 0.99, pytest.approx(100 * 4 / 12, abs=0.01)]


def test_a_detr_at_default_initialisation_finds_nothing_which_is_why_the_stand_in_is_reinitialised():
    torch.manual_seed(0)
    config = DetrConfig(**TINY_DIMS, id2label=dict(enumerate(TINY_LABELS)))
    model = DetrForSegmentation(config).eval()
    processor = DetrImageProcessor(format="coco_panoptic", size=TINY_IMAGE_SIZE)
    photo = Image.open(segment.EXAMPLE_PHOTOS[0])
    assert len(segments_of(model, processor, photo, threshold=0.5)) <= 1


@pytest.mark.parametrize("photo", segment.EXAMPLE_PHOTOS, ids=lambda path: path.stem)
def test_the_stand_in_finds_several_segments_on_each_example_photo(tiny_detr, photo):
    model, processor = tiny_detr
    image = Image.open(photo)
    segments = segments_of(model, processor, image)
    assert len(segments) >= 3
    labels = [piece.label for piece in segments]
    assert len(labels) == len(set(labels))
    assert all(piece.mask.shape == (image.height, image.width) for piece in segments)
    assert not np.any(np.sum([piece.mask for piece in segments], axis=0) > 1), "each pixel has at most one segment"
    assert all(threshold < piece.score <= 1 for piece in segments for threshold in [segment.DEFAULT_THRESHOLD])


def test_example_photos_are_small_and_credited():
    sources = (segment.EXAMPLES_DIR / "SOURCES.md").read_text()
    for photo in segment.EXAMPLE_PHOTOS:
        assert photo.stat().st_size < 200_000
        assert photo.name in sources


def layers(data) -> list[tuple[str, np.ndarray]]:
    result = []
    for annotation in data.annotations:
        with Image.open(annotation.image.path) as layer:
            result.append((annotation.label, np.asarray(layer.convert("RGBA"))))
    return result


def test_quick_mask_layers_send_the_pixels_gradio_would():
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    masks = [
        (rng.random((60, 80)) > 0.5, "person #1"),
        (rng.random((60, 80)) > 0.9, "person #2"),
        (np.zeros((60, 80), dtype=bool), "sky"),
        (np.ones((60, 80), dtype=bool), "wall"),
    ]
    # The quick layers colour the n-th mask in the tab's palette; Gradio's would, given that as its color_map.
    colours = {label: mask_encoding.segment_hex(index) for index, (_, label) in enumerate(masks)}
    stock = gr.AnnotatedImage(format="jpeg", color_map=colours)
    quick = segment.quick_mask_layers(gr.AnnotatedImage(format="jpeg"))
    expected, sent = stock.postprocess((photo, masks)), quick.postprocess((photo, masks))
    assert sent.image.path == expected.image.path  # the photo underneath: saved by Gradio, the same file
    assert [label for label, _ in layers(sent)] == [label for _, label in masks]
    for (_, ours), (_, gradios) in zip(layers(sent), layers(expected), strict=True):
        np.testing.assert_array_equal(ours, gradios)
    # Anything but boolean masks goes Gradio's way.
    stock = gr.AnnotatedImage(format="jpeg")
    soft = [(rng.random((60, 80)), "haze")]
    np.testing.assert_array_equal(
        layers(quick.postprocess((photo, soft)))[0][1], layers(stock.postprocess((photo, soft)))[0][1]
    )
    assert quick.postprocess(None) is None


def test_endpoint_returns_one_uniquely_labelled_mask_per_table_row(client):
    annotated, table, status, _, _ = client.predict(
        handle_file(str(segment.EXAMPLE_PHOTOS[2])), 0.85, 0.8, MODEL_ID, api_name="/segment"
    )
    labels = [entry["label"] for entry in annotated["annotations"]]
    assert len(labels) >= 3 and len(labels) == len(set(labels))
    assert table["headers"] == segment.TABLE_HEADERS
    assert [row[0] for row in table["data"]] == labels
    assert all(isinstance(row[2], float) and 0 < row[2] <= 100 for row in table["data"])
    assert sum(row[2] for row in table["data"]) <= 100.01
    with Image.open(annotated["image"]) as shown, Image.open(annotated["annotations"][0]["image"]) as mask:
        assert shown.size == mask.size == Image.open(segment.EXAMPLE_PHOTOS[2]).size
    for entry, row in zip(annotated["annotations"], table["data"], strict=True):
        with Image.open(entry["image"]) as layer:
            alpha = np.asarray(layer.convert("RGBA"))[..., 3]
        assert set(np.unique(alpha)) <= {0, 255}
        assert 100 * float((alpha == 255).mean()) == pytest.approx(row[2], abs=0.01)  # each mask is its row's area
    assert f"{len(labels)} segments" in status and "stand-in" in status


def test_endpoint_bounds_the_size_of_what_it_sends_back(client, tmp_path):
    large = tmp_path / "large.png"
    Image.open(segment.EXAMPLE_PHOTOS[0]).resize((2400, 2400)).save(large)
    annotated, *_ = client.predict(handle_file(str(large)), 0.85, 0.8, MODEL_ID, api_name="/segment")
    with Image.open(annotated["annotations"][0]["image"]) as mask:
        assert max(mask.size) == MAX_IMAGE_SIDE


def test_endpoint_says_when_nothing_passes_the_threshold(client):
    annotated, table, status, _, _ = client.predict(
        handle_file(str(segment.EXAMPLE_PHOTOS[1])), 1.0, 0.8, MODEL_ID, api_name="/segment"
    )
    assert annotated["annotations"] == [] and table["data"] in ([], [["", "", ""]])
    assert "lower it" in status


def test_endpoint_refuses_a_file_that_is_not_an_image(client, tmp_path):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("this is text, not a picture")
    with pytest.raises(httpx.HTTPStatusError) as refused:  # refused at upload, by its first bytes
        client.predict(handle_file(str(not_an_image)), 0.85, 0.8, MODEL_ID, api_name="/segment")
    assert refused.value.response.status_code == 415
    # The server is still serving.
    _, table, *_ = client.predict(handle_file(str(segment.EXAMPLE_PHOTOS[1])), 0.85, 0.8, MODEL_ID, api_name="/segment")
    assert table["data"]


def test_endpoint_refuses_too_many_pixels_with_a_message(client, tmp_path):
    side = int(MAX_IMAGE_PIXELS**0.5) + 10
    huge = tmp_path / "huge.png"
    Image.new("1", (side, side)).save(huge)  # a few KB on disk, 40+ megapixels decoded
    with pytest.raises(AppError, match="Scale it down"):
        client.predict(handle_file(str(huge)), 0.85, 0.8, MODEL_ID, api_name="/segment")


def test_endpoint_offers_the_overlay_and_the_segments_as_downloads(client):
    photo = segment.EXAMPLE_PHOTOS[2]
    annotated, table, _, overlay_png, segments_json = client.predict(
        handle_file(str(photo)), 0.85, 0.8, MODEL_ID, api_name="/segment"
    )
    assert overlay_png.endswith(".png") and segments_json.endswith(".json")
    record = json.loads(Path(segments_json).read_text())
    with Image.open(overlay_png) as painted, Image.open(photo) as original:
        # The photo with the masks painted on, and the legend strip below it.
        assert painted.format == "PNG" and painted.width == original.width and painted.height > original.height
        on_photo = np.asarray(painted)[: original.height]
        assert on_photo.tolist() != np.asarray(original.convert("RGB")).tolist()
        legend = {tuple(pixel) for pixel in np.asarray(painted)[original.height :].reshape(-1, 3).tolist()}
        assert {tuple(item["colour"]) for item in record["segments"]} <= legend
    assert record["model_id"] == MODEL_ID and record["threshold"] == 0.85
    assert [[item["label"], item["score"], item["area_percent"]] for item in record["segments"]] == table["data"]
    for item, annotation in zip(record["segments"], annotated["annotations"], strict=True):
        with Image.open(annotation["image"]) as shown:
            mask = mask_encoding.rle_mask(item["mask"])
            assert mask.shape == (record["height"], record["width"])
            assert np.array_equal(mask, np.asarray(shown.convert("L")) > 0)
