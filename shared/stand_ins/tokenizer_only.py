"""Stand-ins that are only a tokenizer, for the tokenizer playground: one per algorithm the real models use
(WordPiece cased and lower-cased, GPT-2's byte-level BPE, XLM-RoBERTa's SentencePiece Unigram).

They are trained in milliseconds on the built-in corpus, so their vocabularies are small and their splits differ
from the real models'; their algorithms, special tokens, offsets and round trips behave like the real ones. The
size is ignored: a tokenizer has no weights whose size would matter.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoConfig, PreTrainedTokenizerFast

from shared.stand_ins.tokenizers import CORPUS, ROBERTA_SPECIAL_TOKENS, byte_bpe_tokenizer, wordpiece_tokenizer

# XLM-RoBERTa's special tokens in its own id order: <s>=0, <pad>=1, </s>=2, <unk>=3, <mask> (last there, 4 here).
SENTENCEPIECE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def save(tokenizer: PreTrainedTokenizerFast, model_type: str, target: Path) -> None:
    """The tokenizer, and the model's config.json as its Hub repository has it: `AutoTokenizer` reads the model
    type from there when it loads a repository from the Hugging Face cache offline."""
    tokenizer.save_pretrained(target)
    AutoConfig.for_model(model_type).save_pretrained(target)


def bert_cased_tokenizer(target: Path, size: str) -> None:
    """google-bert/bert-base-cased's kind: WordPiece, case and accents kept."""
    save(wordpiece_tokenizer(lowercase=False), "bert", target)


def bert_uncased_tokenizer(target: Path, size: str) -> None:
    """google-bert/bert-base-uncased's kind: WordPiece after lower-casing and stripping accents."""
    save(wordpiece_tokenizer(lowercase=True), "bert", target)


def gpt2_tokenizer(target: Path, size: str) -> None:
    """openai-community/gpt2's kind: byte-level BPE, `<|endoftext|>` its only special token, added to no text."""
    save(byte_bpe_tokenizer(sentence_pair_template=False), "gpt2", target)


def sentencepiece_unigram_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """An XLM-RoBERTa-style tokenizer: a Unigram model over `▁`-marked words (SentencePiece's scheme), NFKC with runs
    of spaces collapsed, and RoBERTa's `<s> a </s></s> b </s>` template."""
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.train_from_iterator(
        CORPUS.splitlines(),
        trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=SENTENCEPIECE_SPECIALS, unk_token="<unk>", show_progress=False
        ),
    )
    bos, eos = ("<s>", tokenizer.token_to_id("<s>")), ("</s>", tokenizer.token_to_id("</s>"))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[bos, eos]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_input_names=["input_ids", "attention_mask"], **ROBERTA_SPECIAL_TOKENS
    )


def xlm_roberta_tokenizer(target: Path, size: str) -> None:
    """FacebookAI/xlm-roberta-base's kind: SentencePiece Unigram."""
    save(sentencepiece_unigram_tokenizer(), "xlm-roberta", target)
