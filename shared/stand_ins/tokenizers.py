"""Small tokenizers trained in a few milliseconds on a built-in corpus, for stand-in models.

They are real fast tokenizers (with character offsets), so the code paths that use offsets and special tokens run
as they do with the Hub models; only the vocabulary is small.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

CORPUS = """
The quick brown fox jumps over the lazy dog. Time flies like an arrow; fruit flies like bananas.
I loved this movie, it was wonderful and moving. I hated this film, it was boring and far too long.
We went to the river bank. I need to go to the bank to make a deposit. Where did I leave the keys?
Hello, I'm a language model, and I can write stories about people, places, cities and science.
The Eiffel Tower is in Paris, the capital of France. It was built in 1889 and is 330 metres tall.
The boys are shy. In the hospital the woman works as a nurse and the man works as a doctor.
Ciao mi chiamo Mattia e studio linguistica computazionale. Das Wetter ist heute schön. ¿Dónde está la estación?
Questions and answers, context and meaning: who, what, when, where, why and how? 0 1 2 3 4 5 6 7 8 9 % $ € .
""".strip()

WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
# What each of them is for, in RoBERTa's and XLM-RoBERTa's tokenizers.
ROBERTA_SPECIAL_TOKENS = dict(
    bos_token="<s>",
    eos_token="</s>",
    sep_token="</s>",
    cls_token="<s>",
    unk_token="<unk>",
    pad_token="<pad>",
    mask_token="<mask>",
)


def wordpiece_tokenizer(lowercase: bool = True, vocab_size: int = 600) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer: `[CLS] a [SEP] b [SEP]`, `##` continuation pieces."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(
        CORPUS.splitlines(),
        trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=WORDPIECE_SPECIALS, show_progress=False),
    )
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"],
    )


def byte_bpe_tokenizer(vocab_size: int = 600, sentence_pair_template: bool = True) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer. With the template it wraps text RoBERTa-style (`<s> a </s></s> b </s>`);
    without it, GPT-2 style, with `<|endoftext|>` as its only special token."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = BPE_SPECIALS if sentence_pair_template else ["<|endoftext|>"]
    tokenizer.train_from_iterator(
        CORPUS.splitlines(),
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    if not sentence_pair_template:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer,
            bos_token="<|endoftext|>",
            eos_token="<|endoftext|>",
            unk_token="<|endoftext|>",
            model_input_names=["input_ids", "attention_mask"],
        )
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", tokenizer.token_to_id("</s>")), ("<s>", tokenizer.token_to_id("<s>")), trim_offsets=True
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_input_names=["input_ids", "attention_mask"], **ROBERTA_SPECIAL_TOKENS
    )
