"""A BERT sentence encoder run on a call's sentences laid end to end, with no padding.

sentence-transformers pads every sentence of a batch to the batch's longest. A call's sentences
run from a few word pieces to 64, so on the bench's 10-minute call the model computed 1,623
positions for 1,145 real word pieces: a third of its matrix products were padding. Here the
sentences are sorted by length and laid end to end. The dense layers, where nearly all the time
goes, run once over every real word piece in one large matrix product each (query, key and value
in one). Attention runs per group of sentences of one length, which need no mask. The embeddings
are those sentence-transformers gives, to float rounding (tests/test_semantic.py checks it).

Only a BERT-style encoder with mean pooling runs this way (all-MiniLM-L6-v2 and its kind):
`packed_encoder` returns None for any other model, and the caller keeps sentence-transformers'
own `encode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

TOKENS_PER_PASS = 8192  # word pieces per forward pass: bounds memory for a long list of texts


@dataclass(frozen=True)
class _Layer:
    """One transformer layer's weights, query, key and value stacked into one matrix."""

    qkv_weight: torch.Tensor
    qkv_bias: torch.Tensor
    attention_out: Any  # Linear
    attention_norm: Any  # LayerNorm
    intermediate: Any  # Linear
    activation: Any
    output: Any  # Linear
    output_norm: Any  # LayerNorm


class PackedEncoder:
    """Mean-pooled, unit-length sentence embeddings from a sentence-transformers BERT model."""

    def __init__(self, model: Any) -> None:
        bert = model[0].auto_model
        self.model = model
        self.embeddings = bert.embeddings
        self.heads = int(bert.config.num_attention_heads)
        self.width = int(bert.config.hidden_size)
        self.layers = [
            _Layer(
                qkv_weight=torch.cat([a.query.weight, a.key.weight, a.value.weight]).detach(),
                qkv_bias=torch.cat([a.query.bias, a.key.bias, a.value.bias]).detach(),
                attention_out=layer.attention.output.dense,
                attention_norm=layer.attention.output.LayerNorm,
                intermediate=layer.intermediate.dense,
                activation=layer.intermediate.intermediate_act_fn,
                output=layer.output.dense,
                output_norm=layer.output.LayerNorm,
            )
            for layer in bert.encoder.layer
            for a in [layer.attention.self]
        ]
        self.device = self.embeddings.word_embeddings.weight.device

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, width) float32 embeddings of unit length, in the order given."""
        features = self.model.preprocess(list(texts))  # the model's own tokenizing and truncation
        mask = features["attention_mask"].bool()
        lengths = mask.sum(dim=1).tolist()
        ids = [row[keep] for row, keep in zip(features["input_ids"], mask, strict=True)]
        types = features.get("token_type_ids")
        types = (
            [row[keep] for row, keep in zip(types, mask, strict=True)]
            if types is not None
            else [torch.zeros_like(row) for row in ids]
        )
        order = sorted(range(len(ids)), key=lambda i: lengths[i])
        out = np.zeros((len(ids), self.width), dtype=np.float32)
        for chunk in _chunks(order, lengths):
            vectors = self._forward([ids[i] for i in chunk], [types[i] for i in chunk])
            out[chunk] = vectors.cpu().numpy()
        return out

    @torch.inference_mode()
    def _forward(self, ids: list[torch.Tensor], types: list[torch.Tensor]) -> torch.Tensor:
        """Embeddings of sentences sorted by length, laid end to end."""
        groups = _groups([len(row) for row in ids])  # (start, length, count) of equal lengths
        flat = torch.cat(ids).to(self.device)
        positions = torch.cat([torch.arange(len(row)) for row in ids]).to(self.device)
        e = self.embeddings
        h = e.word_embeddings(flat) + e.position_embeddings(positions)
        h = e.LayerNorm(h + e.token_type_embeddings(torch.cat(types).to(self.device)))
        per_head = self.width // self.heads
        for layer in self.layers:
            qkv = F.linear(h, layer.qkv_weight, layer.qkv_bias)
            context = torch.empty_like(h)
            for start, length, count in groups:
                end = start + length * count
                q, k, v = (
                    qkv[start:end]
                    .view(count, length, 3, self.heads, per_head)
                    .permute(2, 0, 3, 1, 4)
                )
                attended = F.scaled_dot_product_attention(q, k, v)
                context[start:end] = attended.transpose(1, 2).reshape(-1, self.width)
            h = layer.attention_norm(layer.attention_out(context) + h)
            h = layer.output_norm(layer.output(layer.activation(layer.intermediate(h))) + h)
        pooled = torch.cat(
            [
                h[start : start + length * count].view(count, length, -1).mean(dim=1)
                for start, length, count in groups
            ]
        )
        return F.normalize(pooled, dim=1)


def packed_encoder(model: Any) -> PackedEncoder | None:
    """A PackedEncoder for a sentence-transformers model it can run exactly, else None."""
    modules = list(model)
    if not modules or not 2 <= len(modules) <= 3:
        return None
    bert = getattr(modules[0], "auto_model", None)
    config = getattr(bert, "config", None)
    pooling = modules[1]
    if (
        config is None
        or getattr(config, "is_decoder", False)
        or getattr(config, "position_embedding_type", "absolute") not in (None, "absolute")
        or getattr(pooling, "pooling_mode", None) != "mean"
        or (len(modules) == 3 and type(modules[2]).__name__ != "Normalize")
        or getattr(getattr(model, "tokenizer", None), "padding_side", "right") != "right"
    ):
        return None
    try:
        return PackedEncoder(model)
    except AttributeError:  # not laid out as BERT is (embeddings, encoder.layer[...].attention)
        return None


def _chunks(order: list[int], lengths: list[int]) -> list[list[int]]:
    """`order` cut into runs of at most TOKENS_PER_PASS word pieces (one sentence at least)."""
    chunks: list[list[int]] = [[]]
    tokens = 0
    for i in order:
        if chunks[-1] and tokens + lengths[i] > TOKENS_PER_PASS:
            chunks.append([])
            tokens = 0
        chunks[-1].append(i)
        tokens += lengths[i]
    return [chunk for chunk in chunks if chunk]


def _groups(lengths: list[int]) -> list[tuple[int, int, int]]:
    """(start offset, length, count) of each run of equal lengths in a sorted list."""
    groups: list[tuple[int, int, int]] = []
    start = 0
    for length in lengths:
        if groups and groups[-1][1] == length:
            first, _, count = groups[-1]
            groups[-1] = (first, length, count + 1)
        else:
            groups.append((start, length, 1))
        start += length
    return groups
