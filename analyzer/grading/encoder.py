"""A BERT sentence encoder run on a call's sentences laid end to end, with no padding.

sentence-transformers pads every sentence of a batch to the batch's longest. A call's sentences
run from a few word pieces to 64, so on the bench's 10-minute call the model computed 1,623
positions for 1,145 real word pieces: a third of its matrix products were padding. Here the
sentences are sorted by length and laid end to end. The dense layers, where nearly all the time
goes, run once over every real word piece in one large matrix product each (query, key and value
in one). Attention runs per group of sentences of one length, which need no mask.

The model is read straight from its sentence-transformers folder (config.json, model.safetensors,
tokenizer.json and the pooling module's config) with torch, safetensors and tokenizers alone:
importing sentence-transformers and transformers costs about 8 s of CPU per process, paid by
every batch worker and every `analyzer score`. The embeddings are those sentence-transformers
gives, to float rounding (tests/test_encoder.py checks it).

Only a BERT encoder with mean pooling and no prompt runs this way (all-MiniLM-L6-v2 and its
kind): `load_packed_encoder` returns None for any other folder, and the caller loads it with
sentence-transformers instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from analyzer.errors import ModelError

TOKENS_PER_PASS = 8192  # word pieces per forward pass: bounds memory for a long list of texts
ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}  # config.json's hidden_act values it can run


@dataclass(frozen=True)
class _Layer:
    """One transformer layer's weights; query, key and value stacked into one matrix."""

    qkv: tuple[torch.Tensor, torch.Tensor]
    attention_out: tuple[torch.Tensor, torch.Tensor]
    attention_norm: tuple[torch.Tensor, torch.Tensor]
    intermediate: tuple[torch.Tensor, torch.Tensor]
    output: tuple[torch.Tensor, torch.Tensor]
    output_norm: tuple[torch.Tensor, torch.Tensor]


class PackedEncoder:
    """Mean-pooled, unit-length sentence embeddings from a BERT's weights and tokenizer."""

    def __init__(
        self,
        weights: dict[str, torch.Tensor],
        config: dict[str, Any],
        tokenizer: Any,  # a tokenizers.Tokenizer
        max_tokens: int,
        layers: int | None = None,
        lowercase: bool = False,
        device: str = "cpu",
    ) -> None:
        self.heads = int(config["num_attention_heads"])
        self.width = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.activation = ACTIVATIONS[config.get("hidden_act", "gelu")]
        self.lowercase = lowercase
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        w = {
            name: tensor.to(device=device, dtype=torch.float32) for name, tensor in weights.items()
        }
        self.device = device
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"]
        self.embedding_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        total = int(config["num_hidden_layers"])
        self.layers = [_layer(w, f"encoder.layer.{n}.") for n in range(layers or total)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, width) float32 embeddings of unit length, in the order given."""
        texts = [t.lower() for t in texts] if self.lowercase else list(texts)
        encodings = self.tokenizer.encode_batch(texts)
        ids = [e.ids for e in encodings]
        types = [e.type_ids for e in encodings]
        lengths = [len(row) for row in ids]
        order = sorted(range(len(ids)), key=lambda i: lengths[i])
        out = np.zeros((len(ids), self.width), dtype=np.float32)
        for chunk in _chunks(order, lengths):
            vectors = self._forward([ids[i] for i in chunk], [types[i] for i in chunk])
            out[chunk] = vectors.cpu().numpy()
        return out

    @torch.inference_mode()
    def _forward(self, ids: list[list[int]], types: list[list[int]]) -> torch.Tensor:
        """Embeddings of sentences sorted by length, laid end to end."""
        groups = _groups([len(row) for row in ids])  # (start, length, count) of equal lengths
        flat = torch.tensor([i for row in ids for i in row], device=self.device)
        positions = torch.tensor([p for row in ids for p in range(len(row))], device=self.device)
        kinds = torch.tensor([t for row in types for t in row], device=self.device)
        h = self.word[flat] + self.position[positions] + self.token_type[kinds]
        h = F.layer_norm(h, (self.width,), *self.embedding_norm, eps=self.eps)
        per_head = self.width // self.heads
        for layer in self.layers:
            qkv = F.linear(h, *layer.qkv)
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
            h = self._norm(F.linear(context, *layer.attention_out) + h, layer.attention_norm)
            inner = self.activation(F.linear(h, *layer.intermediate))
            h = self._norm(F.linear(inner, *layer.output) + h, layer.output_norm)
        pooled = torch.cat(
            [
                h[start : start + length * count].view(count, length, -1).mean(dim=1)
                for start, length, count in groups
            ]
        )
        return F.normalize(pooled, dim=1)

    def _norm(self, x: torch.Tensor, weights: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return F.layer_norm(x, (self.width,), *weights, eps=self.eps)


def load_packed_encoder(
    path: Path, layers: int | None, max_tokens: int, device: str = "cpu"
) -> PackedEncoder | None:
    """The sentence-transformers folder at `path` as a PackedEncoder running its first `layers`
    layers (None: all), or None when it is not a BERT with mean pooling this runs exactly.
    Raises ModelError when such a folder cannot be read or has fewer layers than asked."""
    plan = _read_plan(path)
    if plan is None:
        return None
    config = plan.config
    check_layer_count(path, layers, int(config["num_hidden_layers"]))
    try:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        weights = load_file(str(path / "model.safetensors"))
        weights = {name.removeprefix("bert."): tensor for name, tensor in weights.items()}
        tokenizer = Tokenizer.from_str(plan.tokenizer)
        most = plan.max_seq_length or max_tokens
        limit = min(max_tokens, most, int(config["max_position_embeddings"]))
        return PackedEncoder(weights, config, tokenizer, limit, layers, plan.lowercase, device)
    except Exception as e:  # a broken file raises anything from OSError to KeyError
        raise ModelError(f"{path}: cannot load the sentence-embedding model: {e}") from e


def check_layer_count(path: Path, layers: int | None, total: int) -> None:
    """Raise ModelError unless `layers` (None: all) is a count the model at `path` has."""
    if layers is not None and not 1 <= layers <= total:
        raise ModelError(f"{path}: semantic_layers is {layers}, but the model has {total} layers")


@dataclass(frozen=True)
class _Plan:
    """What a folder the packed encoder can run says about how to run it."""

    config: dict[str, Any]  # config.json
    lowercase: bool  # sentence-transformers lowercases the input first
    max_seq_length: int | None  # sentence-transformers' cut, in word pieces
    tokenizer: str  # tokenizer.json, read once for the checks and the tokenizer


def _read_plan(path: Path) -> _Plan | None:
    """How to run the folder, when it is one module list this runs exactly: a BERT at the
    root, mean pooling, maybe Normalize; else None."""
    try:
        modules = json.loads((path / "modules.json").read_text())
        config = json.loads((path / "config.json").read_text())
        sbert = _json_or_empty(path / "sentence_bert_config.json")
        st_config = _json_or_empty(path / "config_sentence_transformers.json")
        tokenizer_config = _json_or_empty(path / "tokenizer_config.json")
        tokenizer_text = (path / "tokenizer.json").read_text()
        tokenizer_json = json.loads(tokenizer_text)
    except (OSError, ValueError):
        return None
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    if modules[0].get("path", "") != "" or not (path / "model.safetensors").is_file():
        return None
    pooling = _json_or_empty(path / modules[1].get("path", "") / "config.json")
    modes_on = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    mean = pooling.get("pooling_mode") == "mean" or modes_on == ["pooling_mode_mean_tokens"]
    normalizer = tokenizer_json.get("normalizer") or {}
    if (
        not mean
        or config.get("model_type") != "bert"
        or config.get("hidden_act", "gelu") not in ACTIVATIONS
        or config.get("position_embedding_type", "absolute") != "absolute"
        or st_config.get("default_prompt_name")
        or normalizer.get("type") != "BertNormalizer"
        # transformers rebuilds the normaliser when tokenizer_config.json says otherwise
        or tokenizer_config.get("do_lower_case", normalizer.get("lowercase"))
        != normalizer.get("lowercase")
        or tokenizer_config.get("strip_accents") != normalizer.get("strip_accents")
    ):
        return None
    return _Plan(
        config, bool(sbert.get("do_lower_case", False)), sbert.get("max_seq_length"), tokenizer_text
    )


def _json_or_empty(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _layer(w: dict[str, torch.Tensor], prefix: str) -> _Layer:
    def pair(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return w[f"{prefix}{name}.weight"], w[f"{prefix}{name}.bias"]

    a = "attention.self."
    return _Layer(
        qkv=(
            torch.cat([w[f"{prefix}{a}{n}.weight"] for n in ("query", "key", "value")]),
            torch.cat([w[f"{prefix}{a}{n}.bias"] for n in ("query", "key", "value")]),
        ),
        attention_out=pair("attention.output.dense"),
        attention_norm=pair("attention.output.LayerNorm"),
        intermediate=pair("intermediate.dense"),
        output=pair("output.dense"),
        output_norm=pair("output.LayerNorm"),
    )


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
