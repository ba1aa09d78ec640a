"""Stand-ins for the bare BERT encoders (no task head) that the embedding and attention tabs look inside."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertModel

from shared.stand_ins.tokenizers import wordpiece_tokenizer

BERT_VOCAB = 30522
TINY_DIMS = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)


def save_bert_encoder(target: Path, size: str, full_dims: dict) -> None:
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = wordpiece_tokenizer(lowercase=True)
    config = BertConfig(
        vocab_size=len(tokenizer) if size == "tiny" else BERT_VOCAB,
        pad_token_id=tokenizer.pad_token_id,
        **(TINY_DIMS if size == "tiny" else full_dims),
    )
    model = BertModel(config).eval()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def minilm_encoder(target: Path, size: str) -> None:
    """sentence-transformers/all-MiniLM-L6-v2's shape: 6 layers, 384 wide, 12 heads."""
    save_bert_encoder(
        target, size, dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)
    )


def bert_encoder(target: Path, size: str) -> None:
    """google-bert/bert-base-uncased's shape: 12 layers, 768 wide, 12 heads."""
    save_bert_encoder(
        target, size, dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    )
