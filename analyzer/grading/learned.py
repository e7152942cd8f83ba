"""The learned file: what `analyzer learn` writes and the grader reads.

Per item, a small logistic model over the sentence embedding and the zero-shot features
(`ItemModel`), with what it was learned from (`ItemSummary`); together, `Learned`. The file is
JSON (numbers and strings, never pickle), records the rubric id and version, the embedding model,
the items with their example counts, the tool version and the date; a file for another rubric,
version or model, a corrupt file, or one from a newer version of this tool is refused with a
LearnedFileError naming it (`load_learned`, `check_model`).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analyzer import __version__
from analyzer.errors import LearnedFileError
from analyzer.grading.calibration import AUTO_FEATURES, to_grader_scale
from analyzer.grading.rubric import Rubric

FORMAT = "analyzer-learned"  # the file's "format" field
FILE_VERSION = 1  # bumped when the file's layout changes; newer files are refused
FEATURES = AUTO_FEATURES  # the zero-shot inputs, beside the embedding


@dataclass(frozen=True)
class ItemModel:
    """p = sigmoid(weights . [embedding, FEATURES] + bias); met from `threshold`."""

    weights: np.ndarray
    bias: float
    threshold: float

    def probability(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
        return sigmoid(design_matrix(vectors, columns) @ self.weights + self.bias)

    def score(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
        """The probability on the grader's scale: the threshold lands on the met score, and
        below it nothing reaches partial credit (the labels it learned from are done or not
        done: there is no near miss to learn)."""
        return to_grader_scale(self.probability(vectors, columns), self.threshold, 0.0)


@dataclass(frozen=True)
class ItemSummary:
    """What one item was learned from, or why it stays zero-shot."""

    id: str
    learned: bool
    done: int  # calls where the item was done (met or partial; forbidden: the line said)
    not_done: int  # calls where it was not
    marked: int  # sentences a person marked as doing it
    reason: str = ""  # why it stays zero-shot

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "learned": self.learned,
            "calls_done": self.done,
            "calls_not_done": self.not_done,
            "marked_sentences": self.marked,
        }
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class Learned:
    """Every item model learned for one rubric version, and what each was learned from."""

    rubric: str
    rubric_version: str
    model: str  # the embedding model (Embedder.name) the inputs came from
    items: dict[str, ItemModel]
    summary: list[ItemSummary]
    calls: int
    created: str
    skipped: list[str] = field(default_factory=list)  # calls left out, and why
    dimensions: int = 0  # of the embedding
    tool_version: str = __version__
    source: str = ""  # where the examples came from
    path: str = ""  # the file it was read from

    def get(self, key: tuple[str, str]) -> ItemModel | None:
        """The matcher's lookup: the model of item `key[1]`, None for a trigger set or an item
        that stayed zero-shot."""
        return self.items.get(key[1]) if key[0] == "item" else None

    @property
    def description(self) -> str:
        return f"learned: {len(self.items)} of {len(self.summary)} items"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "file_version": FILE_VERSION,
            "tool_version": self.tool_version,
            "created": self.created,
            "rubric": self.rubric,
            "rubric_version": self.rubric_version,
            "model": self.model,
            "features": ["embedding", *FEATURES],
            "dimensions": self.dimensions,
            "calls": self.calls,
            "source": self.source,
            "items": {
                s.id: {
                    **s.to_dict(),
                    **(
                        {
                            "weights": [round(float(w), 6) for w in self.items[s.id].weights],
                            "bias": round(self.items[s.id].bias, 6),
                            "threshold": round(self.items[s.id].threshold, 6),
                        }
                        if s.id in self.items
                        else {}
                    ),
                }
                for s in self.summary
            },
        }


def save_learned(learned: Learned, path: Path) -> None:
    """Write the learned file atomically (a temporary file beside it, then renamed)."""
    path = Path(path)
    text = json.dumps(learned.to_dict(), indent=1) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        raise LearnedFileError(path, f"cannot write the learned file ({e.strerror or e})") from e


def load_learned(path: Path, rubric: Rubric) -> Learned:
    """Read a learned file for `rubric`.

    Refuses, naming the file: a missing or unreadable file, one that is not a learned file or
    is corrupt, one from a newer version of this tool, one for another rubric or version, or
    naming items the rubric does not have. (A file for another embedding model is refused when
    a grader is built with it: `check_model`.)"""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise LearnedFileError(path, "no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise LearnedFileError(path, f"cannot read it ({e})") from e
    except ValueError as e:
        raise LearnedFileError(path, f"not a learned file: corrupt JSON ({e})") from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LearnedFileError(path, "not a learned file (written by `analyzer learn`)")
    version = data.get("file_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise LearnedFileError(path, "corrupt learned file: no file_version")
    if version > FILE_VERSION:
        raise LearnedFileError(
            path,
            f"written by a newer version of analyzer ({data.get('tool_version', '?')}, file "
            f"version {version}); this one reads up to {FILE_VERSION}: upgrade, or learn again",
        )
    if data.get("rubric") != rubric.rubric or str(data.get("rubric_version")) != str(
        rubric.version
    ):
        raise LearnedFileError(
            path,
            f"learned for rubric {data.get('rubric')} v{data.get('rubric_version')}, not "
            f"{rubric.rubric} v{rubric.version}: learn again for this rubric",
        )
    try:
        learned = _from_dict(data, rubric)
    except (KeyError, TypeError, ValueError) as e:
        raise LearnedFileError(path, f"corrupt learned file ({e})") from e
    learned.path = str(path)
    return learned


def _from_dict(data: dict[str, Any], rubric: Rubric) -> Learned:
    items = data["items"]
    if not isinstance(items, dict):
        raise TypeError("items is not an object")
    known = {item.id for item in rubric.items}
    unknown = sorted(set(items) - known)
    if unknown:
        raise ValueError(f"items not in the rubric: {', '.join(unknown)}")
    if list(data["features"]) != ["embedding", *FEATURES]:
        raise ValueError(f"features {data['features']} are not {['embedding', *FEATURES]}")
    models: dict[str, ItemModel] = {}
    summary = []
    width = int(data["dimensions"]) + len(FEATURES)  # weights per item: embedding + features
    for item_id, entry in items.items():
        learned = bool(entry["learned"])
        summary.append(
            ItemSummary(
                item_id,
                learned,
                int(entry["calls_done"]),
                int(entry["calls_not_done"]),
                int(entry["marked_sentences"]),
                str(entry.get("reason", "")),
            )
        )
        if not learned:
            continue
        weights = np.array([float(w) for w in entry["weights"]], dtype=np.float64)
        bias, threshold = float(entry["bias"]), float(entry["threshold"])
        if len(weights) != width or width <= len(FEATURES):
            raise ValueError(f"item {item_id}: {len(weights)} weights, not {width}")
        if not all(math.isfinite(v) for v in (*weights, bias, threshold)):
            raise ValueError(f"item {item_id}: weights that are not numbers")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"item {item_id}: threshold {threshold} is not a probability")
        models[item_id] = ItemModel(weights, bias, threshold)
    return Learned(
        rubric=str(data["rubric"]),
        rubric_version=str(data["rubric_version"]),
        model=str(data["model"]),
        items=models,
        summary=summary,
        calls=int(data["calls"]),
        created=str(data["created"]),
        dimensions=int(data["dimensions"]),
        tool_version=str(data["tool_version"]),
        source=str(data.get("source", "")),
    )


def check_model(learned: Learned, model: str) -> None:
    """Refuse a learned file whose inputs came from another embedding model."""
    if learned.model != model:
        raise LearnedFileError(
            learned.path or "learned file",
            f"learned with the embedding model {learned.model!r}, not {model!r}: learn again "
            "with this model (or set the model it was learned with)",
        )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def design_matrix(vectors: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
    """The model's inputs per sentence: the embedding, then FEATURES."""
    extra = np.stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES], axis=1)
    return np.hstack([np.asarray(vectors, dtype=np.float64), extra])
