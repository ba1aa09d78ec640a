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

# COCO panoptic categories by COCO category id, as facebook/detr-resnet-50-panoptic numbers its classes.
COCO_PANOPTIC_THINGS: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train", 8: "truck", 9: "boat",
    10: "traffic light", 11: "fire hydrant", 13: "stop sign", 14: "parking meter", 15: "bench", 16: "bird", 17: "cat",
    18: "dog", 19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe",
    27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee", 35: "skis",
    36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat", 40: "baseball glove", 41: "skateboard",
    42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass", 47: "cup", 48: "fork", 49: "knife",
    50: "spoon", 51: "bowl", 52: "banana", 53: "apple", 54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot",
    58: "hot dog", 59: "pizza", 60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed",
    67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote", 76: "keyboard",
    77: "cell phone", 78: "microwave", 79: "oven", 80: "toaster", 81: "sink", 82: "refrigerator", 84: "book",
    85: "clock", 86: "vase", 87: "scissors", 88: "teddy bear", 89: "hair drier", 90: "toothbrush",
}  # fmt: skip
COCO_PANOPTIC_STUFF: dict[int, str] = {
    92: "banner", 93: "blanket", 95: "bridge", 100: "cardboard", 107: "counter", 109: "curtain", 112: "door-stuff",
    118: "floor-wood", 119: "flower", 122: "fruit", 125: "gravel", 128: "house", 130: "light", 133: "mirror-stuff",
    138: "net", 141: "pillow", 144: "platform", 145: "playingfield", 147: "railroad", 148: "river", 149: "road",
    151: "roof", 154: "sand", 155: "sea", 156: "shelf", 159: "snow", 161: "stairs", 166: "tent", 168: "towel",
    171: "wall-brick", 175: "wall-stone", 176: "wall-tile", 177: "wall-wood", 178: "water-other", 180: "window-blind",
    181: "window-other", 184: "tree-merged", 185: "fence-merged", 186: "ceiling-merged", 187: "sky-other-merged",
    188: "cabinet-merged", 189: "table-merged", 190: "floor-other-merged", 191: "pavement-merged",
    192: "mountain-merged", 193: "grass-merged", 194: "dirt-merged", 195: "paper-merged", 196: "food-other-merged",
    197: "building-other-merged", 198: "rock-merged", 199: "wall-other-merged", 200: "rug-merged",
}  # fmt: skip
COCO_PANOPTIC_LABELS = 250  # the real model's class count: COCO ids up to 200, the rest unused ("N/A")
UNUSED_LABEL = "N/A"

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


def coco_panoptic_id2label() -> dict[int, str]:
    names = {**COCO_PANOPTIC_THINGS, **COCO_PANOPTIC_STUFF}
    return {label_id: names.get(label_id, UNUSED_LABEL) for label_id in range(COCO_PANOPTIC_LABELS)}


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
