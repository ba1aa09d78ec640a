"""Stand-ins for the extractive question-answering models: DistilBERT (SQuAD) and RoBERTa (SQuAD 2.0) with a span
head. Tiny ones draw their weights with a wide spread, so start and end logits are far apart and the chosen spans
are clear-cut rather than a coin toss between near-equal scores; full ones keep the real models' sizes."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    DistilBertConfig,
    DistilBertForQuestionAnswering,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForQuestionAnswering,
)

from shared.stand_ins.tokenizers import byte_bpe_tokenizer, wordpiece_tokenizer

# Both real tokenizers declare 512 tokens; questions and contexts longer than a window are split as with them.
MODEL_MAX_LENGTH = 512
# With the default 0.02 the span logits of a random model differ by hundredths and the best span is arbitrary.
TINY_INITIALIZER_RANGE = 1.0


def save(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, target: Path) -> None:
    tokenizer.model_max_length = MODEL_MAX_LENGTH
    model.eval()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def distilbert_qa(target: Path, size: str) -> None:
    """Like distilbert/distilbert-base-cased-distilled-squad: cased WordPiece, 6 layers of 768 at full size."""
    torch.manual_seed(0)
    tokenizer = wordpiece_tokenizer(lowercase=False)
    if size == "tiny":
        dims = dict(dim=32, n_layers=2, n_heads=2, hidden_dim=37, initializer_range=TINY_INITIALIZER_RANGE)
        vocab = len(tokenizer)
    else:
        dims, vocab = {}, 28996
    config = DistilBertConfig(vocab_size=vocab, pad_token_id=tokenizer.pad_token_id, **dims)
    save(DistilBertForQuestionAnswering(config), tokenizer, target)


def roberta_qa(target: Path, size: str) -> None:
    """Like deepset/roberta-base-squad2: byte-level BPE, 12 layers of 768 at full size."""
    torch.manual_seed(0)
    tokenizer = byte_bpe_tokenizer()
    if size == "tiny":
        dims = dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            initializer_range=TINY_INITIALIZER_RANGE,
        )
        vocab = len(tokenizer)
    else:
        dims, vocab = {}, 50265
    config = RobertaConfig(
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_position_embeddings=514,
        type_vocab_size=1,
        **dims,
    )
    save(RobertaForQuestionAnswering(config), tokenizer, target)
