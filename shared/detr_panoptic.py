"""DETR panoptic segmentation without Gradio, in the steps of a transformers pipeline: the photo as pixel tensors
(`model_inputs`), the forward pass (`forward_kept_queries`, which runs DETR's mask head only for the object queries
post-processing keeps), transformers' panoptic post-processing (`panoptic_map`), and one segment per thing instance
and per stuff class (`merge_segments`). `find_segments` chains them on a loaded model and processor.

>>> segments = find_segments(bundle, photo, threshold=0.85, overlap_mask_area_threshold=0.8)  # doctest: +SKIP
>>> [(segment.label, round(segment.score, 2)) for segment in segments]  # doctest: +SKIP
[('person', 1.0), ('sky-other-merged', 0.99), ...]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers.models.detr.modeling_detr import DetrSegmentationOutput

from shared.coco_panoptic import STUFF_NAMES
from shared.loading import ModelBundle


@dataclass
class Segment:
    """One thing instance, or all of one stuff class, as a boolean mask over the photo."""

    label: str
    score: float
    mask: np.ndarray


def model_inputs(
    processor: Any, image: Image.Image, device: str | torch.device, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
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
    first and the mask head (most of the stock forward's time) only for the kept queries; none kept, no mask head.
    Returns the kept queries' logits, boxes and masks, in query order, so `panoptic_map` gives what it gives on
    `forward`. With several photos, a query kept in any of them is kept in all (post-processing drops the others
    again)."""
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


def find_segments(
    bundle: ModelBundle, image: Image.Image, threshold: float, overlap_mask_area_threshold: float
) -> list[Segment]:
    """The segments of an RGB photo, best score first, with masks at the photo's size: the model work of one
    request, on the device and in the dtype the model was loaded with."""
    model, processor = bundle.model, bundle.processor
    inputs = model_inputs(processor, image, model.device, model.dtype)
    outputs = forward_kept_queries(model, **inputs, threshold=threshold)
    segmentation, segments_info = panoptic_map(
        processor, outputs, (image.height, image.width), threshold, overlap_mask_area_threshold
    )
    return merge_segments(segmentation, segments_info, model.config.id2label)
