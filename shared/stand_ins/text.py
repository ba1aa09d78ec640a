"""Stand-ins for the text-classification models: sentiment classifiers and NLI heads for zero-shot."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    BartConfig,
    BartForSequenceClassification,
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    PreTrainedModel,
    RobertaConfig,
    RobertaForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

from shared.stand_ins.tokenizers import byte_bpe_tokenizer, wordpiece_tokenizer

SST2_LABELS = ["NEGATIVE", "POSITIVE"]
TWEET_SENTIMENT_LABELS = ["negative", "neutral", "positive"]
ROBERTUITO_LABELS = ["NEG", "NEU", "POS"]  # pysentimiento/robertuito-sentiment-analysis (Spanish tweets)
MNLI_LABELS = ["contradiction", "neutral", "entailment"]
ZEROSHOT_V2_LABELS = ["entailment", "not_entailment"]


def label_maps(labels: list[str]) -> dict:
    return {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}


def save(model: PreTrainedModel, tokenizer, target: Path) -> None:
    model.eval()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def distilbert_sentiment(target: Path, size: str) -> None:
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = wordpiece_tokenizer(lowercase=True)
    dims = dict(dim=32, n_layers=2, n_heads=2, hidden_dim=37) if size == "tiny" else {}
    vocab = len(tokenizer) if size == "tiny" else 30522
    config = DistilBertConfig(vocab_size=vocab, pad_token_id=tokenizer.pad_token_id, **dims, **label_maps(SST2_LABELS))
    save(DistilBertForSequenceClassification(config), tokenizer, target)


def xlm_roberta_sentiment(target: Path, size: str) -> None:
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = byte_bpe_tokenizer()
    dims = (
        dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37) if size == "tiny" else {}
    )
    vocab = len(tokenizer) if size == "tiny" else 250002
    config = XLMRobertaConfig(
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_position_embeddings=514,
        **dims,
        **label_maps(TWEET_SENTIMENT_LABELS),
    )
    save(XLMRobertaForSequenceClassification(config), tokenizer, target)


def robertuito_sentiment(target: Path, size: str) -> None:
    """A RoBERTa classifier shaped like RoBERTuito: 30,002 tokens, 128 positions (+2 for RoBERTa's offset)."""
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = byte_bpe_tokenizer()
    dims = (
        dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37) if size == "tiny" else {}
    )
    vocab = len(tokenizer) if size == "tiny" else 30002
    config = RobertaConfig(
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_position_embeddings=130,
        **dims,
        **label_maps(ROBERTUITO_LABELS),
    )
    save(RobertaForSequenceClassification(config), tokenizer, target)


def deberta_v2_nli(target: Path, size: str) -> None:
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = wordpiece_tokenizer(lowercase=False)
    dims = (
        dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
        if size == "tiny"
        else dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    )
    vocab = len(tokenizer) if size == "tiny" else 128100
    config = DebertaV2Config(
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
        relative_attention=True,
        position_buckets=256,
        pos_att_type=["p2c", "c2p"],
        max_relative_positions=-1,
        position_biased_input=False,
        type_vocab_size=0,
        **dims,
        **label_maps(ZEROSHOT_V2_LABELS),
    )
    save(DebertaV2ForSequenceClassification(config), tokenizer, target)


def bart_nli(target: Path, size: str) -> None:
    torch.manual_seed(0)  # the same stand-in every time it is built
    tokenizer = byte_bpe_tokenizer()
    dims = (
        dict(
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=37,
            decoder_ffn_dim=37,
        )
        if size == "tiny"
        else {}
    )
    vocab = len(tokenizer) if size == "tiny" else 50265
    config = BartConfig(
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
        **dims,
        **label_maps(MNLI_LABELS),
    )
    save(BartForSequenceClassification(config), tokenizer, target)
