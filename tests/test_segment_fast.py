"""The kept-queries forward of the segmentation tab (shared/detr_panoptic.py) gives what the stock DETR forward and
transformers' stock image-segmentation pipeline give, while running the mask head only for the queries
post-processing keeps.

Mask logits may differ from the stock ones by float rounding: oneDNN sums a convolution over 4 queries in another
order than over 100, and `conv1` is split into a photo part and a query part. They stay within MASK_LOGIT_ATOL of
logits of size ~10. Segment ids, labels and scores are identical; the segment map is identical except, at most, at
a pixel where the stock path's two best segments tie to within that rounding (NEAR_TIE), which goes either way.
The stock path has the same freedom: it can flip such a pixel when it runs the same photo in a batch of two."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from PIL import Image
from transformers import pipeline

from demos import segment
from shared import detr_panoptic, mask_encoding
from shared.loading import ModelBundle

MODEL_ID = segment.DEMO.models[0].model_id
MASK_LOGIT_ATOL = 1e-4
# A logit moved by d moves a score-weighted mask probability by at most a factor exp(d) ~ 1 + d; two of them in
# opposite directions can swap if they are within 2 d of each other.
NEAR_TIE = 2 * MASK_LOGIT_ATOL  # relative gap between a pixel's two best score-weighted mask probabilities
OVERLAP = segment.DEFAULT_OVERLAP_MASK_AREA_THRESHOLD
# On the tiny stand-in (30 queries) these keep none, a few, about a third, most, and all of the queries.
THRESHOLDS = [1.0, 0.9999, 0.99, 0.85, 0.0]
PHOTOS = segment.EXAMPLE_PHOTOS


@pytest.fixture(scope="module")
def stock_outputs(tiny_detr):
    """The stock full forward on each example photo, run once: (photo, inputs, outputs) by photo name."""
    model, processor = tiny_detr
    runs = {}
    for path in PHOTOS:
        photo = segment.fit_image(Image.open(path))
        inputs = detr_panoptic.model_inputs(processor, photo, "cpu", torch.float32)
        runs[path.name] = (photo, inputs, detr_panoptic.forward(model, **inputs))
    return runs


def near_ties(stock, threshold: float, size: tuple[int, int]) -> np.ndarray:
    """Pixels where post-processing's argmax over the kept queries' score-weighted mask probabilities is a
    near-tie in the stock outputs."""
    keep = detr_panoptic.kept_queries(stock.logits, threshold)[0]
    if keep.sum() < 2:
        return np.zeros(size, dtype=bool)
    scores = torch.softmax(stock.logits[0, keep], dim=-1).max(-1).values
    probabilities = torch.nn.functional.interpolate(
        stock.pred_masks[:, keep].sigmoid(), size=size, mode="bilinear", align_corners=False
    )[0]
    best, second = (probabilities * scores.view(-1, 1, 1)).topk(2, dim=0).values
    return ((best - second) <= NEAR_TIE * best).numpy()


def assert_same_map(ours: np.ndarray, theirs: np.ndarray, near_tie: np.ndarray) -> None:
    differ = ours != theirs
    assert not (differ & ~near_tie).any(), f"{int((differ & ~near_tie).sum())} pixels differ without a near-tie"
    assert differ.mean() < 1e-4


def test_kept_queries_picks_what_post_processing_keeps():
    no_object = 3
    probabilities = torch.tensor(
        [
            [0.90, 0.05, 0.03, 0.02],  # class 0 at 0.90: kept
            [0.02, 0.03, 0.05, 0.90],  # "no object" is most likely: dropped however sure
            [0.10, 0.50, 0.20, 0.20],  # class 1 at exactly the threshold: dropped (post-processing wants more)
            [0.05, 0.10, 0.60, 0.25],  # class 2 at 0.60: kept
            [0.30, 0.30, 0.10, 0.30],  # a tie with "no object" goes to the first class: kept
        ]
    )
    logits = probabilities.log().unsqueeze(0)
    assert logits.shape[-1] - 1 == no_object
    assert detr_panoptic.kept_queries(logits, 0.5).tolist() == [[True, False, False, True, False]]
    assert detr_panoptic.kept_queries(logits, 0.2).tolist() == [[True, False, True, True, True]]
    assert not detr_panoptic.kept_queries(logits, 1.0).any()


def test_the_thresholds_cover_none_few_and_many_kept_queries(stock_outputs):
    coffee = stock_outputs["coffee.jpg"][2]
    assert (coffee.logits.argmax(-1) == coffee.logits.shape[-1] - 1).any(), "a query that sees no object, dropped"
    for _, _, outputs in stock_outputs.values():
        counts = [int(detr_panoptic.kept_queries(outputs.logits, threshold).sum()) for threshold in THRESHOLDS]
        num_queries = outputs.logits.shape[1]
        assert counts[0] == 0 and 1 <= counts[1] <= 6 and counts[3] >= num_queries // 2
        assert counts == sorted(counts) and len(set(counts)) == len(counts)


# Every threshold on the photo with "no object" queries, two more on each other photo (post-processing is slow).
@pytest.mark.parametrize(
    ("photo", "threshold"),
    [("coffee.jpg", threshold) for threshold in THRESHOLDS]
    + [("astronaut.jpg", 0.9999), ("astronaut.jpg", 0.0), ("chelsea.jpg", 0.99), ("chelsea.jpg", 0.85)],
)
def test_kept_queries_forward_equals_the_stock_forward_and_post_processing(tiny_detr, stock_outputs, photo, threshold):
    model, processor = tiny_detr
    image, inputs, stock = stock_outputs[photo]
    fast = detr_panoptic.forward_kept_queries(model, **inputs, threshold=threshold)

    keep = detr_panoptic.kept_queries(stock.logits, threshold)[0]
    assert fast.pred_masks.shape == (1, int(keep.sum()), *stock.pred_masks.shape[-2:])
    assert torch.equal(fast.logits, stock.logits[:, keep])
    assert torch.equal(fast.pred_boxes, stock.pred_boxes[:, keep])
    torch.testing.assert_close(fast.pred_masks, stock.pred_masks[:, keep], rtol=0, atol=MASK_LOGIT_ATOL)

    size = (image.height, image.width)
    fast_map, fast_info = detr_panoptic.panoptic_map(processor, fast, size, threshold, OVERLAP)
    stock_map, stock_info = detr_panoptic.panoptic_map(processor, stock, size, threshold, OVERLAP)
    assert fast_info == stock_info
    assert_same_map(fast_map, stock_map, near_ties(stock, threshold, size))
    assert (len(fast_info) == 0) == (threshold == 1.0)


# A few, most and all queries kept, one photo each: the comparison with the stock forward above covers the rest.
@pytest.mark.parametrize(
    ("photo", "threshold"),
    zip(PHOTOS, [0.9999, 0.85, 0.0], strict=True),
    ids=lambda value: getattr(value, "stem", str(value)),
)
def test_kept_queries_forward_equals_transformers_stock_pipeline(tiny_detr, photo, threshold):
    model, processor = tiny_detr
    stock_pipeline = pipeline("image-segmentation", model=model, image_processor=processor, device="cpu")
    image = segment.fit_image(Image.open(photo))
    expected = stock_pipeline(image, subtask="panoptic", threshold=threshold, overlap_mask_area_threshold=OVERLAP)

    inputs = detr_panoptic.model_inputs(processor, image, "cpu", torch.float32)
    outputs = detr_panoptic.forward_kept_queries(model, **inputs, threshold=threshold)
    near_tie = near_ties(detr_panoptic.forward(model, **inputs), threshold, (image.height, image.width))
    segmentation, segments_info = detr_panoptic.panoptic_map(
        processor, outputs, (image.height, image.width), threshold, OVERLAP
    )

    assert len(expected) >= 1
    assert [(model.config.id2label[info["label_id"]], info["score"]) for info in segments_info] == [
        (entry["label"], entry["score"]) for entry in expected
    ]
    for info, entry in zip(segments_info, expected, strict=True):
        assert_same_map(segmentation == info["id"], np.array(entry["mask"]) == 255, near_tie)


def test_kept_queries_forward_on_a_batch_of_two_photos_of_different_sizes(tiny_detr):
    model, processor = tiny_detr
    photos = [segment.fit_image(Image.open(path)) for path in PHOTOS[1:]]
    inputs = processor(images=photos, return_tensors="pt")  # padded to one size, with a pixel mask
    threshold = 0.99
    stock = detr_panoptic.forward(model, inputs["pixel_values"], inputs["pixel_mask"])
    fast = detr_panoptic.forward_kept_queries(model, inputs["pixel_values"], inputs["pixel_mask"], threshold)

    keep = detr_panoptic.kept_queries(stock.logits, threshold)
    assert keep[0].tolist() != keep[1].tolist(), "each photo keeps other queries"
    union = keep.any(0)
    assert fast.pred_masks.shape[:2] == (2, int(union.sum()))
    torch.testing.assert_close(fast.pred_masks, stock.pred_masks[:, union], rtol=0, atol=MASK_LOGIT_ATOL)
    sizes = [(photo.height, photo.width) for photo in photos]
    options = dict(
        threshold=threshold, overlap_mask_area_threshold=OVERLAP, label_ids_to_fuse=set(), target_sizes=sizes
    )
    for index, (ours, theirs) in enumerate(
        zip(
            processor.post_process_panoptic_segmentation(fast, **options),
            processor.post_process_panoptic_segmentation(stock, **options),
            strict=True,
        )
    ):
        assert ours["segments_info"] == theirs["segments_info"] and ours["segments_info"]
        single = type(stock)(logits=stock.logits[index : index + 1], pred_masks=stock.pred_masks[index : index + 1])
        near_tie = near_ties(single, threshold, sizes[index])
        assert_same_map(ours["segmentation"].numpy(), theirs["segmentation"].numpy(), near_tie)


def test_the_mask_head_runs_for_kept_queries_only_and_not_at_all_when_none_is_kept(tiny_detr, stock_outputs):
    model, _ = tiny_detr
    _, inputs, stock = stock_outputs[PHOTOS[0].name]
    calls = []
    hooks = [
        model.bbox_attention.register_forward_hook(lambda module, args, output: calls.append(("attention", output))),
        model.mask_head.output_conv.register_forward_hook(lambda module, args, output: calls.append(("mask", output))),
    ]
    try:
        detr_panoptic.forward_kept_queries(model, **inputs, threshold=1.0)
        assert calls == []
        detr_panoptic.forward_kept_queries(model, **inputs, threshold=0.9999)
        kept = int(detr_panoptic.kept_queries(stock.logits, 0.9999).sum())
        assert [(name, output.shape[1] if name == "attention" else output.shape[0]) for name, output in calls] == [
            ("attention", kept),
            ("mask", kept),
        ]
        assert kept < model.config.num_queries
    finally:
        for hook in hooks:
            hook.remove()


def test_find_segments_gives_the_stock_forwards_segments_on_a_loaded_bundle(tiny_detr, stock_outputs):
    model, processor = tiny_detr
    image, _, stock = stock_outputs["chelsea.jpg"]
    size = (image.height, image.width)
    expected = detr_panoptic.merge_segments(
        *detr_panoptic.panoptic_map(processor, stock, size, 0.85, OVERLAP), model.config.id2label
    )
    found = detr_panoptic.find_segments(ModelBundle(model, processor), image, 0.85, OVERLAP)
    assert len(expected) >= 3
    assert [(piece.label, piece.score) for piece in found] == [(piece.label, piece.score) for piece in expected]
    near_tie = near_ties(stock, 0.85, size)
    for ours, theirs in zip(found, expected, strict=True):
        assert_same_map(ours.mask, theirs.mask, near_tie)


def test_endpoint_gives_the_stock_forwards_segments_and_masks(client, tiny_detr):
    model, processor = tiny_detr
    photo, threshold = PHOTOS[2], 0.85
    result = client.predict(handle_file(str(photo)), threshold, OVERLAP, MODEL_ID, api_name="/segment")
    annotated, table = result[0], result[1]

    image = segment.fit_image(Image.open(photo))
    size = (image.height, image.width)
    stock = detr_panoptic.forward(model, **detr_panoptic.model_inputs(processor, image, "cpu", torch.float32))
    segmentation, info = detr_panoptic.panoptic_map(processor, stock, size, threshold, OVERLAP)
    expected = detr_panoptic.merge_segments(segmentation, info, model.config.id2label)

    assert len(expected) >= 3
    rows = mask_encoding.table_rows(expected)
    assert [row[:2] for row in table["data"]] == [row[:2] for row in rows]  # labels and scores
    assert [row[2] for row in table["data"]] == pytest.approx([row[2] for row in rows], abs=0.011)  # area %
    labels = [entry["label"] for entry in annotated["annotations"]]
    assert labels == [piece.label for piece in expected] and len(set(labels)) == len(labels)
    near_tie = near_ties(stock, threshold, size)
    for entry, piece in zip(annotated["annotations"], expected, strict=True):
        with Image.open(entry["image"]) as mask:
            assert_same_map(np.array(mask.convert("RGBA"))[..., 3] > 0, piece.mask, near_tie)
