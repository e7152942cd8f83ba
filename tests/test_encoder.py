"""The packed encoder: sentences laid end to end give the embeddings sentence-transformers gives,
read from the model's files without importing sentence-transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_models import build_tiny_sentence_model

from analyzer.errors import ModelError
from analyzer.grading import encoder, semantic

from conftest import ROOT

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


def reference(path: Path, texts: list[str], layers: int | None = None) -> np.ndarray:
    """What sentence-transformers itself gives for the folder (cut to `layers`)."""
    model = semantic._load_sentence_transformer(path)
    semantic._keep_layers(model, layers, path)
    return model.encode(texts, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sentence_model(tmp_path_factory.mktemp("tiny") / "mean")


@pytest.fixture(scope="module")
def tiny(tiny_model_path: Path) -> semantic.Embedder:
    return semantic.Embedder(tiny_model_path, None)


def test_a_bert_with_mean_pooling_runs_packed(tiny, tiny_model_path) -> None:
    assert tiny._packed is not None and tiny.model is None
    packed = tiny.encode(TEXTS)
    assert packed.shape == (len(TEXTS), 32) and tiny.dimensions == 32 and tiny.layers == 3
    assert np.abs(packed - reference(tiny_model_path, TEXTS)).max() < 1e-5
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
    assert np.abs(cut.encode(TEXTS) - reference(tiny_model_path, TEXTS, 1)).max() < 1e-5


def test_more_layers_than_the_model_has_is_refused(tiny_model_path: Path) -> None:
    with pytest.raises(ModelError) as e:
        semantic.Embedder(tiny_model_path, 4)
    assert str(e.value) == (f"{tiny_model_path}: semantic_layers is 4, but the model has 3 layers")


def test_broken_weights_name_the_folder(tiny_model_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_model_path.rglob("*"):
        if f.is_file():
            (broken / f.relative_to(tiny_model_path)).parent.mkdir(parents=True, exist_ok=True)
            (broken / f.relative_to(tiny_model_path)).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match=r"broken: cannot load the sentence-embedding model"):
        semantic.Embedder(broken, None)


def test_a_model_it_cannot_run_exactly_is_left_to_sentence_transformers(tmp_path) -> None:
    path = build_tiny_sentence_model(tmp_path / "cls", pooling="cls")
    embedder = semantic.Embedder(path, None)
    assert embedder._packed is None and embedder.model is not None
    assert np.abs(embedder.encode(TEXTS) - reference(path, TEXTS)).max() < 1e-6


def test_a_model_with_a_default_prompt_is_left_to_sentence_transformers(tmp_path) -> None:
    path = build_tiny_sentence_model(tmp_path / "prompted")
    settings = json.loads((path / "config_sentence_transformers.json").read_text())
    settings.update(prompts={"query": "query: "}, default_prompt_name="query")
    (path / "config_sentence_transformers.json").write_text(json.dumps(settings))
    assert encoder.load_packed_encoder(path, None, 64) is None


def test_grading_with_the_packed_model_never_imports_sentence_transformers() -> None:
    """Importing sentence-transformers costs seconds per process (each batch worker)."""
    script = (
        "import sys\n"
        "from analyzer.grading import semantic\n"
        "e = semantic.get_embedder()\n"
        "e.encode(['Can we book a demo on Thursday?'])\n"
        "print(e._packed is not None, 'sentence_transformers' in sys.modules,"
        " 'transformers' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.split() == ["True", "False", "False"]


@pytest.mark.semantic
@pytest.mark.usefixtures("real_semantic_model")
def test_the_shipped_model_packed_gives_its_own_embeddings() -> None:
    embedder = semantic.get_embedder()
    assert embedder._packed is not None
    packed = embedder.encode(TEXTS)
    expected = reference(embedder.path, TEXTS, semantic.LAYERS)
    assert np.min(np.sum(packed * expected, axis=1)) > 0.99999
    assert np.abs(packed - expected).max() < 1e-5
