"""Sentence vectors the sentence-transformers way (all-MiniLM-L6-v2's recipe): the last layer's token vectors
averaged over the attention mask, then scaled to length 1, so a dot product is a cosine similarity."""

from __future__ import annotations

import torch

from shared.loading import ModelBundle, max_input_tokens

# all-MiniLM-L6-v2's sentence_bert_config.json: sentence-transformers truncates longer inputs to this many tokens.
MAX_SENTENCE_TOKENS = 256


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The average of each sequence's token vectors, padding left out."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def l2_normalize(vectors: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(vectors, p=2, dim=-1)


def sentence_embeddings(bundle: ModelBundle, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """One unit vector per text (float32, on the CPU), `batch_size` texts a forward pass."""
    tokenizer, model = bundle.processor, bundle.model
    limit = min(MAX_SENTENCE_TOKENS, max_input_tokens(model, tokenizer) or MAX_SENTENCE_TOKENS)
    vectors = []
    for start in range(0, len(texts), batch_size):
        encoded = tokenizer(
            texts[start : start + batch_size], padding=True, truncation=True, max_length=limit, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = model(**encoded.to(model.device)).last_hidden_state.float()
            vectors.append(l2_normalize(mean_pool(hidden, encoded["attention_mask"])).cpu())
    return torch.cat(vectors)
