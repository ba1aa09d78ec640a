"""Stand-ins for the text-generation models: a GPT-2 and a Llama (SmolLM2) causal language model.

Both use the GPT-2 style byte-level BPE tokenizer and save a generation config whose end-of-text token is the
tokenizer's, so generation stops, pads and streams as it does with the Hub models. Weights are drawn from a fixed
seed, so a stand-in built twice generates the same text.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedModel

from shared.stand_ins.tokenizers import byte_bpe_tokenizer

GPT2_VOCAB = 50257
SMOLLM2_VOCAB = 49152


def only_writable_tokens(model: PreTrainedModel, tokenizer) -> None:
    """Zero the (tied) embedding rows of ids the small tokenizer cannot write, and of end-of-text: their logits
    are then 0 while the writable ones' maximum is positive, so greedy text streams visibly (an id past the
    tokenizer decodes to "") and runs to max_new_tokens, as a benchmark needs. The compute cost is unchanged."""
    with torch.no_grad():
        embeddings = model.get_input_embeddings().weight
        embeddings[len(tokenizer) :] = 0
        embeddings[tokenizer.eos_token_id] = 0


def save_with_generation_config(model: PreTrainedModel, tokenizer, target: Path) -> None:
    end_of_text = tokenizer.eos_token_id
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=end_of_text, pad_token_id=end_of_text
    )
    model.eval()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def gpt2_lm(target: Path, size: str) -> None:
    """openai-community/gpt2 (124M: 12 layers of 768) at full size; 2 layers of 32 when tiny."""
    tokenizer = byte_bpe_tokenizer(sentence_pair_template=False)
    dims = dict(n_embd=32, n_layer=2, n_head=2) if size == "tiny" else dict(n_embd=768, n_layer=12, n_head=12)
    config = GPT2Config(
        vocab_size=len(tokenizer) if size == "tiny" else GPT2_VOCAB,
        n_positions=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **dims,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    if size == "full":
        only_writable_tokens(model, tokenizer)
    save_with_generation_config(model, tokenizer, target)


def llama_lm(target: Path, size: str) -> None:
    """HuggingFaceTB/SmolLM2-135M (30 layers of 576, grouped-query attention) at full size; 2 layers of 32 when
    tiny."""
    tokenizer = byte_bpe_tokenizer(sentence_pair_template=False)
    dims = (
        dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64)
        if size == "tiny"
        else dict(
            hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, intermediate_size=1536
        )
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer) if size == "tiny" else SMOLLM2_VOCAB,
        max_position_embeddings=8192,
        rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        **dims,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    if size == "full":
        only_writable_tokens(model, tokenizer)
    save_with_generation_config(model, tokenizer, target)
