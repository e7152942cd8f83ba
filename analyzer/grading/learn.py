"""Learning from what managers confirmed: `analyzer learn`, and grading with what it learned.

The zero-shot grader knows an item only by its rubric text and a few phrases. A team that has
confirmed calls knows more: which calls did the item and which did not, and often which
sentence did it. `learn` fits, per item, a small logistic model over the sentence embedding and
the zero-shot features (the words' score, the cosine with the item, the margin over the other
items, the cues), from:

- negatives: every sentence of the item's party on a call where the item was missed (for a
  forbidden item: where the line was never said);
- positives: on a call where the item was met, the sentences a person marked as doing it
  (`evidence.csv` in a golden set, the sentence a manager clicked on the review page); where
  nobody marked one, the sentence the model scores highest, re-picked over MIL_ROUNDS rounds as
  the model improves (multiple-instance learning); and the rubric's own phrases and text;
- the decision threshold per item from out-of-fold scores of the training calls (INNER_FOLDS),
  so it is not chosen on sentences the model has already seen.

An item with fewer than MIN_CALLS calls on either side stays zero-shot, and the file says so.
The file is JSON (numbers and strings, never pickle), records the rubric id and version, the
embedding model, the items with their example counts, the tool version and the date; a file for
another rubric, version or model, a corrupt file, or one from a newer version of this tool is
refused with a LearnedFileError naming it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analyzer import __version__
from analyzer.errors import AnalyzerError, LearnedFileError, ModelError
from analyzer.grading.calibration import AUTO_FEATURES, load_calibration, to_grader_scale
from analyzer.grading.match import MEANING_OF
from analyzer.grading.rubric import Item, Rubric
from analyzer.transcripts.transcript import Transcript, Turn

FORMAT = "analyzer-learned"  # the file's "format" field
FILE_VERSION = 1  # bumped when the file's layout changes; newer files are refused
MIN_CALLS = 5  # calls an item needs on each side (done, not done) to be learned
L2 = 1.0  # ridge penalty on the weights: a few hundred sentences against 390 inputs
MIL_ROUNDS = 3  # re-picks of the unmarked positive sentence
INNER_FOLDS = 3  # folds of the training calls whose held-out scores choose the threshold
PHRASE_WEIGHT = 1.0  # each rubric phrase counts as much as one marked sentence
FEATURES = AUTO_FEATURES  # the zero-shot inputs, beside the embedding


@dataclass(frozen=True)
class Example:
    """One labelled call: the statuses a person gave and the turns they marked per item."""

    call_id: str
    transcript: Transcript
    statuses: dict[str, str]  # item id -> met | partial | missed | na
    evidence: dict[str, tuple[int, ...]] = field(default_factory=dict)  # item id -> turns
    rep: str | None = None
    # every turn that did an item is marked (a golden set's evidence.csv), not just one a
    # manager clicked: then the other sentences of a marked call are negatives
    exhaustive: bool = False


@dataclass(frozen=True)
class ItemModel:
    """p = sigmoid(weights . [embedding, FEATURES] + bias); met from `threshold`."""

    weights: np.ndarray
    bias: float
    threshold: float

    def probability(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
        return _sigmoid(_design(vectors, columns) @ self.weights + self.bias)

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


# -- learning ------------------------------------------------------------------------------------


@dataclass
class _ItemData:
    """One item's sentences over the training calls: inputs, call index, marked or not."""

    x: np.ndarray  # (sentences, embedding + FEATURES)
    call: np.ndarray  # index into the examples
    marked: np.ndarray  # a person marked the sentence as doing the item
    zero_shot: np.ndarray  # the zero-shot probability (the first pick of an unmarked positive)
    done: np.ndarray  # per example: the item was done (None: not labelled, e.g. n/a)
    labelled: np.ndarray
    phrases: np.ndarray  # (phrases, inputs): the rubric's phrases and text, as sentences
    exhaustive: np.ndarray  # per example: every sentence that did the item is marked


def learn(
    examples: Sequence[Example],
    rubric: Rubric,
    *,
    source: str = "",
    progress: Callable[[str], None] | None = None,
) -> Learned:
    """Fit every item of `rubric` that has enough labelled calls; the rest stay zero-shot."""
    from analyzer.grading.grade import (
        Grader,  # the engine loads spaCy and the model: only when learning
    )

    grader = Grader(rubric)
    matcher = grader.matcher
    if matcher.semantic is None:
        raise ModelError("learning needs the sentence-embedding model (the semantic extra)")
    per_call, kept, skipped = [], [], []
    for example in examples:
        if progress:
            progress(example.call_id)
        try:
            per_call.append(grader.sentence_inputs(example.transcript, example.rep))
        except ModelError:
            raise
        except AnalyzerError as e:  # one call that cannot be read never stops the rest
            skipped.append(f"{example.call_id}: {e}")
            continue
        kept.append(example)
    examples = kept
    phrase_inputs = {item.id: _phrase_design(grader, item) for item in rubric.items}
    models: dict[str, ItemModel] = {}
    summary: list[ItemSummary] = []
    for item in rubric.items:
        data = _item_data(item, examples, per_call, phrase_inputs)
        done = int((data.done & data.labelled).sum())
        not_done = int((~data.done & data.labelled).sum())
        marked = int(data.marked.sum())
        if done < MIN_CALLS or not_done < MIN_CALLS:
            reason = (
                f"{done} call{'s' if done != 1 else ''} done and {not_done} not: "
                f"needs {MIN_CALLS} of each"
            )
            summary.append(ItemSummary(item.id, False, done, not_done, marked, reason))
            continue
        models[item.id] = _fit_item(data)
        summary.append(ItemSummary(item.id, True, done, not_done, marked))
    return Learned(
        rubric=rubric.rubric,
        rubric_version=str(rubric.version),
        model=matcher.semantic.embedder.name,
        items=models,
        summary=summary,
        calls=len(examples),
        skipped=skipped,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        dimensions=matcher.semantic.embedder.dimensions,
        source=source,
    )


def _item_data(
    item: Item,
    examples: Sequence[Example],
    per_call: Sequence[SentenceInputs],
    phrase_inputs: dict[str, np.ndarray],
) -> _ItemData:
    xs, calls, marked, zero = [], [], [], []
    done = np.zeros(len(examples), dtype=bool)
    labelled = np.zeros(len(examples), dtype=bool)
    auto = load_calibration().auto
    for n, (example, inputs) in enumerate(zip(examples, per_call, strict=True)):
        status = example.statuses.get(item.id)
        if status is None or status == "na":
            continue
        labelled[n] = True
        # a forbidden item is "done" when the line was said: the call is then marked missed
        done[n] = status == "missed" if item.forbidden else status in ("met", "partial")
        rows = inputs.rows(item)
        if not rows.size:
            continue
        columns = {name: inputs.columns[item.id][name][rows] for name in FEATURES}
        xs.append(_design(inputs.vectors[rows], columns))
        calls.append(np.full(rows.size, n))
        turns = set(example.evidence.get(item.id, ()))
        marked.append(np.array([inputs.turns[k] in turns for k in rows], dtype=bool) & done[n])
        zero.append(auto.probability(columns))
    width = len(next(iter(phrase_inputs.values()))[0]) if phrase_inputs else 0
    return _ItemData(
        x=np.vstack(xs) if xs else np.zeros((0, width)),
        call=np.concatenate(calls) if calls else np.zeros(0, dtype=int),
        marked=np.concatenate(marked) if marked else np.zeros(0, dtype=bool),
        zero_shot=np.concatenate(zero) if zero else np.zeros(0),
        done=done,
        labelled=labelled,
        exhaustive=np.array([e.exhaustive for e in examples], dtype=bool),
        phrases=phrase_inputs.get(item.id, np.zeros((0, width))),
    )


def _fit_item(data: _ItemData) -> ItemModel:
    """The item's model: the mean of INNER_FOLDS models, each fitted without one fold of the
    training calls, whose scores on that fold choose the threshold. (A model refitted on every
    call would score new calls higher than the held-out scores the threshold was chosen on: a
    call's best sentence is an extreme, and it grows with the weights.)"""
    calls = np.nonzero(data.labelled)[0]
    folds = {int(c): k % INNER_FOLDS for k, c in enumerate(calls)}
    held_out = np.full(len(data.call), np.nan)
    fits = []
    for k in range(INNER_FOLDS):
        train = np.array([folds.get(int(c), -1) not in (k, -1) for c in data.call], dtype=bool)
        test = np.array([folds.get(int(c), -1) == k for c in data.call], dtype=bool)
        weights, bias = _fit_mil(data, train)
        held_out[test] = data.x[test] @ weights + bias
        fits.append((weights, bias))
    threshold = _choose_threshold(data, held_out)
    weights = np.mean([w for w, _ in fits], axis=0)
    bias = float(np.mean([b for _, b in fits]))
    return ItemModel(weights, bias, threshold)


def _fit_mil(data: _ItemData, use: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit on the sentences in `use`: negatives from calls where the item was not done,
    positives marked (or picked, re-picked each round) on calls where it was, and the
    phrases."""
    done_call = data.done[data.call] & data.labelled[data.call]
    marked_calls = set(data.call[data.marked & use].tolist())
    in_marked_call = np.isin(data.call, list(marked_calls))
    # Where the marking is exhaustive (a golden set's evidence.csv lists every turn), a marked
    # call's other sentences did not do the item either: the hardest negatives there are.
    negative = use & (~done_call | (in_marked_call & data.exhaustive[data.call] & ~data.marked))
    unmarked = use & done_call & ~in_marked_call
    score = data.zero_shot.copy()
    weights, bias = np.zeros(data.x.shape[1]), 0.0
    for _ in range(MIL_ROUNDS if unmarked.any() else 1):
        picked = _best_per_call(score, data.call, unmarked)
        positive = (data.marked & use) | picked
        x = np.vstack([data.x[positive], data.phrases, data.x[negative]])
        n_pos = int(positive.sum()) + len(data.phrases)
        n_neg = int(negative.sum())
        y = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
        # the two sides weigh the same in all, whatever their counts
        w = np.concatenate(
            [
                np.full(int(positive.sum()), 1.0),
                np.full(len(data.phrases), PHRASE_WEIGHT),
                np.full(n_neg, n_pos / max(1, n_neg)),
            ]
        )
        weights, bias = fit_logistic(x, y, w, L2)
        score = data.x @ weights + bias
    return weights, bias


def _best_per_call(score: np.ndarray, call: np.ndarray, among: np.ndarray) -> np.ndarray:
    """A mask with, for each call, its highest-scoring sentence among `among`."""
    picked = np.zeros(len(score), dtype=bool)
    if not among.any():
        return picked
    idx = np.nonzero(among)[0]
    order = idx[np.lexsort((-score[idx], call[idx]))]
    first = np.r_[True, call[order][1:] != call[order][:-1]]
    picked[order[first]] = True
    return picked


def _choose_threshold(data: _ItemData, held_out: np.ndarray) -> float:
    """The probability from which a call counts as done: of the out-of-fold call maxima, the
    cut that agrees best with the labels (kappa plus F1), kept near the labels' own rate."""
    calls = np.nonzero(data.labelled)[0]
    best = np.full(len(data.done), -np.inf)
    valid = ~np.isnan(held_out)
    np.maximum.at(best, data.call[valid], held_out[valid])
    z, truth = best[calls], data.done[calls]
    finite = np.isfinite(z)
    if not finite.any():
        return 0.5
    candidates = np.unique(np.quantile(z[finite], np.linspace(0.02, 0.98, 49)))

    from analyzer.reports.evaluate import cohen_kappa, confusion, f1  # the metrics the reports use

    labels = ["met" if t else "missed" for t in truth]

    def quality(cut: float) -> float:
        said = z > cut
        pairs = [("met" if s else "missed", t) for s, t in zip(said, labels, strict=True)]
        agreement = (cohen_kappa(pairs) or 0.0) + (f1(confusion(pairs)) or 0.0)
        return agreement - abs(float(said.mean() - truth.mean()))

    cut = max(candidates, key=quality)
    return float(_sigmoid(np.array([cut]))[0])


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float
) -> tuple[np.ndarray, float]:
    """Weights and bias by Newton's method, rows weighted by `w`, an L2 penalty on the weights
    (not the bias)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    penalty = np.diag([0.0] + [l2] * x.shape[1])
    for _ in range(50):
        p = _sigmoid(design @ beta)
        gradient = design.T @ (w * (p - y)) + penalty @ beta
        hessian = design.T @ (design * (w * p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    return beta[1:], float(beta[0])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def _design(vectors: np.ndarray, columns: dict[str, np.ndarray]) -> np.ndarray:
    extra = np.stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES], axis=1)
    return np.hstack([np.asarray(vectors, dtype=np.float64), extra])


# -- what the grader gives learning --------------------------------------------------------------


@dataclass(frozen=True)
class SentenceInputs:
    """One call's sentences as learning reads them (Grader.sentence_inputs)."""

    turns: np.ndarray  # per sentence: its turn
    roles: np.ndarray  # per sentence: rep | customer
    embedded: np.ndarray  # per sentence: long enough to embed
    vectors: np.ndarray  # (sentences, dimensions)
    columns: dict[str, dict[str, np.ndarray]]  # item id -> feature -> per sentence

    def rows(self, item: Item) -> np.ndarray:
        """The sentences whose meaning the item reads (its party's, embedded)."""
        return np.nonzero(self.embedded & (self.roles == MEANING_OF[item.speaker]))[0]


# -- where the examples come from ----------------------------------------------------------------


def examples_from_golden(folders: Sequence[Path], rubric: Rubric) -> list[Example]:
    """Every labelled call of the golden sets (labels.csv, evidence.csv when there is one);
    each folder is checked whole (`evaluate.read_golden`)."""
    from analyzer.reports.evaluate import read_golden

    examples: list[Example] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        for example in read_golden(Path(folder), rubric).examples():
            if example.call_id in seen:
                raise LearnedFileError(
                    folder, f"call {example.call_id} is also in {seen[example.call_id]}"
                )
            seen[example.call_id] = Path(folder)
            examples.append(example)
    return examples


def examples_from_store(db_path: Path, rubric: Rubric) -> list[Example]:
    """The calls managers confirmed for this rubric version: their item statuses (overrides
    included) and the sentences they marked as evidence on the review page."""
    from analyzer.review.calls import confirmed_examples
    from analyzer.store import Store
    from analyzer.transcripts.transcript import transcript_from_dict

    with Store.open(db_path, readonly=True) as store:
        confirmed = confirmed_examples(store, rubric.rubric, rubric.version)
    return [
        Example(
            c.call_id,
            transcript_from_dict(c.transcript, c.call_id),
            dict(c.statuses),
            {item_id: tuple(turns) for item_id, turns in c.evidence_turns.items()},
        )
        for c in confirmed
    ]


# -- the file ------------------------------------------------------------------------------------


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


def _phrase_design(grader: Any, item: Item) -> np.ndarray:
    """The item's phrases and text as sentences of its party: positive examples of it."""
    from analyzer.grading.semantic import _plain

    role = MEANING_OF[item.speaker]
    texts = [_plain(text) for text in [*item.phrases, item.text]]
    transcript = Transcript("phrases", [Turn(role, t, role=role) for t in texts], rep=None)
    inputs = grader.sentence_inputs(transcript, roles={role: role})
    rows = inputs.rows(item)
    columns = {name: inputs.columns[item.id][name][rows] for name in FEATURES}
    return _design(inputs.vectors[rows], columns)
