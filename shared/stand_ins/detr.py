"""Stand-in for the panoptic segmentation model: DETR with a timm ResNet backbone, labelled with COCO panoptic classes.

A DETR with random weights at the usual tiny initialisation gives every object query the same class and the same
mask, so panoptic post-processing keeps nothing and a test of it proves nothing. `make_queries_distinct`
re-initialises the few weights that a trained DETR has learned to make queries differ (which place each query looks
at, how sure it is of a class, how sharp its mask is), so the stand-in yields several segments on a photo.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.nn import init
from transformers import DetrConfig, DetrForSegmentation, DetrImageProcessor

from shared.coco_panoptic import UNUSED_LABEL, coco_panoptic_id2label

TINY_LABELS = [
    "person", "bicycle", "car", "bird", "cat", "dog", "bottle", "cup", "spoon", "chair", "dining table", "tv",
    "book", "clock", "sky-other-merged", "wall-other-merged", "tree-merged", "grass-merged", "table-merged",
    "floor-wood",
]  # fmt: skip

TINY_DIMS = dict(
    backbone="resnet10t",
    d_model=32,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=8,
    decoder_attention_heads=8,
    encoder_ffn_dim=37,
    decoder_ffn_dim=37,
    num_queries=30,
)
FULL_DIMS = dict(backbone="resnet50")  # DetrConfig's defaults are detr-resnet-50's sizes
TINY_IMAGE_SIZE = {"shortest_edge": 128, "longest_edge": 213}
FULL_IMAGE_SIZE = {"shortest_edge": 800, "longest_edge": 1333}

CLASS_LOGIT_SCALE = 11.0
MASK_LOGIT_STD = 6.0
MASK_COVER = 0.02


@torch.no_grad()
def make_queries_distinct(model: DetrForSegmentation) -> None:
    """Re-initialise what a trained DETR learns to make its object queries differ: see the module docstring."""
    detr = model.detr.model
    d_model = model.config.d_model
    reference = torch.nn.functional.interpolate(torch.randn(1, 3, 8, 8), size=(256, 256), mode="bilinear")

    # Random ResNet features share one large mean direction everywhere in the image; projecting it out leaves the
    # encoder what varies from place to place, as a trained projection does.
    features, _ = detr.backbone(reference, torch.ones(1, 256, 256, dtype=torch.long))[-1]
    mean_direction = features[0].flatten(1).mean(1)
    mean_direction /= mean_direction.norm()
    projection = detr.input_projection.weight[:, :, 0, 0]
    projection -= torch.outer(projection @ mean_direction, mean_direction)

    # Each query looks at its own place in the image...
    init.normal_(detr.query_position_embeddings.weight, std=1.0)
    for layer in detr.decoder.layers:
        init.normal_(layer.encoder_attn.q_proj.weight, std=1.0)
        init.normal_(layer.encoder_attn.k_proj.weight, std=1.0)
    # ...is sure of one class, never of an unused id...
    classifier = model.detr.class_labels_classifier
    init.normal_(classifier.weight, std=CLASS_LOGIT_SCALE / math.sqrt(d_model))
    unused = [i for i, name in model.config.id2label.items() if name == UNUSED_LABEL]
    classifier.bias[unused] = -10.0
    # ...and draws a sharp mask over part of the image, not all of it: scaled and shifted on the reference image.
    output_conv = model.mask_head.output_conv
    init.zeros_(output_conv.bias)
    mask_logits = model(pixel_values=reference).pred_masks.flatten()
    gain = MASK_LOGIT_STD / mask_logits.std()
    output_conv.weight *= gain
    output_conv.bias.fill_(-torch.quantile(mask_logits * gain, 1 - MASK_COVER).item())


def detr_panoptic(target: Path, size: str) -> None:
    """DetrForSegmentation like facebook/detr-resnet-50-panoptic (`full`), or a few-layer copy (`tiny`)."""
    torch.manual_seed(0)
    if size == "tiny":
        id2label, dims, image_size = dict(enumerate(TINY_LABELS)), TINY_DIMS, TINY_IMAGE_SIZE
    else:
        id2label, dims, image_size = coco_panoptic_id2label(), FULL_DIMS, FULL_IMAGE_SIZE
    label2id = {name: label_id for label_id, name in id2label.items() if name != UNUSED_LABEL}
    config = DetrConfig(**dims, id2label=id2label, label2id=label2id)
    model = DetrForSegmentation(config).eval()
    make_queries_distinct(model)
    model.save_pretrained(target)
    DetrImageProcessor(format="coco_panoptic", size=image_size).save_pretrained(target)
