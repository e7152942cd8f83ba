"""The packed encoder: sentences laid end to end give the embeddings sentence-transformers gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_models import build_tiny_sentence_model

from analyzer import encoder, semantic
from analyzer.encoder import packed_encoder

# Lengths from two word pieces to past the 64 kept, repeats, an empty text and stray spaces.
TEXTS = [
    "Hi.",
    "Would Thursday at ten work to pick this up again?",
    "Can we schedule a follow-up?",
    "we scheduled the follow-up last week",
    "",
    "   lots   of   spaces   ",
    "so um what does your team use today for the dialer and the crm and the reporting " * 4,
    "Hi.",
    "Great, talk soon.",
]


def st_embeddings(model, texts: list[str]) -> np.ndarray:
    return model.encode(texts, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sentence_model(tmp_path_factory.mktemp("tiny") / "mean")


@pytest.fixture(scope="module")
def tiny(tiny_model_path: Path) -> semantic.Embedder:
    return semantic.Embedder(tiny_model_path, None)


def test_a_bert_with_mean_pooling_runs_packed(tiny: semantic.Embedder) -> None:
    assert tiny._packed is not None
    packed = tiny._packed.encode(TEXTS)
    expected = st_embeddings(tiny.model, TEXTS)
    assert packed.shape == (len(TEXTS), 32)
    assert np.abs(packed - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(packed, axis=1), 1.0, atol=1e-5)


def test_each_text_keeps_its_row_whatever_the_order(tiny: semantic.Embedder) -> None:
    forward = tiny._packed.encode(TEXTS)
    backward = tiny._packed.encode(TEXTS[::-1])
    assert np.abs(forward - backward[::-1]).max() < 1e-5
    assert np.abs(forward[0] - forward[7]).max() < 1e-6  # the same text, the same vector


def test_passes_cut_by_word_pieces_give_the_same_embeddings(tiny, monkeypatch) -> None:
    whole = tiny._packed.encode(TEXTS)
    monkeypatch.setattr(encoder, "TOKENS_PER_PASS", 12)  # about one sentence per pass
    assert np.abs(tiny._packed.encode(TEXTS) - whole).max() < 1e-5


def test_a_cut_model_runs_packed_with_the_layers_kept(tiny_model_path: Path) -> None:
    cut = semantic.Embedder(tiny_model_path, 1)
    assert cut.layers == 1 and len(cut._packed.layers) == 1
    assert np.abs(cut.encode(TEXTS) - st_embeddings(cut.model, TEXTS)).max() < 1e-5


def test_a_model_it_cannot_run_exactly_is_left_to_sentence_transformers(tmp_path) -> None:
    path = build_tiny_sentence_model(tmp_path / "cls", pooling="cls")
    embedder = semantic.Embedder(path, None)
    assert packed_encoder(embedder.model) is None and embedder._packed is None
    assert np.abs(embedder.encode(TEXTS) - st_embeddings(embedder.model, TEXTS)).max() < 1e-6


@pytest.mark.semantic
@pytest.mark.usefixtures("real_semantic_model")
def test_the_shipped_model_packed_gives_its_own_embeddings() -> None:
    embedder = semantic.get_embedder()
    assert embedder._packed is not None
    packed = embedder._packed.encode(TEXTS)
    expected = st_embeddings(embedder.model, TEXTS)
    assert np.min(np.sum(packed * expected, axis=1)) > 0.99999
    assert np.abs(packed - expected).max() < 1e-5
