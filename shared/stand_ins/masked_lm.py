"""Stand-ins for the masked language models of the fill-the-blank tab: DistilBERT and BERT (uncased WordPiece,
`[MASK]`) and XLM-RoBERTa (byte-level BPE, `<mask>`), each with its language-modelling head. Tiny ones draw their
weights with a wider spread than the default, so the probabilities at the mask differ visibly instead of all being
about 1/vocabulary; full ones keep the real models' sizes and vocabulary sizes, for benchmarks."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import AddedToken
from transformers import (
    BertConfig,
    BertForMaskedLM,
    DistilBertConfig,
    DistilBertForMaskedLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
)

from shared.stand_ins.tokenizers import byte_bpe_tokenizer, wordpiece_tokenizer

# All three real tokenizers declare 512 tokens.
MODEL_MAX_LENGTH = 512
# With the default 0.02 every token gets about the same probability and the ranking is noise around a flat line.
TINY_INITIALIZER_RANGE = 0.4
TINY_BERT_DIMS = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=37,
    initializer_range=TINY_INITIALIZER_RANGE,
)
BERT_UNCASED_VOCAB = 30522
XLM_ROBERTA_VOCAB = 250002


def save(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, target: Path) -> None:
    tokenizer.model_max_length = MODEL_MAX_LENGTH
    model.eval()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def distilbert_mlm(target: Path, size: str) -> None:
    """Like distilbert/distilbert-base-uncased: 6 layers of 768 at full size."""
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = wordpiece_tokenizer(lowercase=True)
    if size == "tiny":
        dims = dict(dim=32, n_layers=2, n_heads=2, hidden_dim=37, initializer_range=TINY_INITIALIZER_RANGE)
        vocab = len(tokenizer)
    else:
        dims, vocab = {}, BERT_UNCASED_VOCAB
    config = DistilBertConfig(vocab_size=vocab, pad_token_id=tokenizer.pad_token_id, **dims)
    save(DistilBertForMaskedLM(config), tokenizer, target)


def bert_mlm(target: Path, size: str) -> None:
    """Like google-bert/bert-base-uncased: 12 layers of 768 at full size (BertConfig's defaults)."""
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = wordpiece_tokenizer(lowercase=True)
    if size == "tiny":
        dims, vocab = TINY_BERT_DIMS, len(tokenizer)
    else:
        dims, vocab = {}, BERT_UNCASED_VOCAB
    config = BertConfig(vocab_size=vocab, pad_token_id=tokenizer.pad_token_id, **dims)
    save(BertForMaskedLM(config), tokenizer, target)


def xlm_roberta_mlm(target: Path, size: str) -> None:
    """Like FacebookAI/xlm-roberta-base: 12 layers of 768 and a 250,002-token vocabulary at full size."""
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = byte_bpe_tokenizer()
    # As in the real tokenizer, `<mask>` swallows the space before it, so "a <mask>." fills as "a word.".
    tokenizer.add_special_tokens({"mask_token": AddedToken("<mask>", lstrip=True, rstrip=False, special=True)})
    if size == "tiny":
        dims, vocab = TINY_BERT_DIMS, len(tokenizer)
    else:
        dims, vocab = {}, XLM_ROBERTA_VOCAB
    config = XLMRobertaConfig(
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_position_embeddings=MODEL_MAX_LENGTH + 2,  # RoBERTa's positions start after the padding index
        **dims,
    )
    save(XLMRobertaForMaskedLM(config), tokenizer, target)
