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
The examples come from examples.py; the file learning writes is learned.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analyzer.errors import AnalyzerError, ModelError
from analyzer.grading.calibration import load_calibration
from analyzer.grading.examples import Example, SentenceInputs
from analyzer.grading.learned import (
    FEATURES,
    ItemModel,
    ItemSummary,
    Learned,
    design_matrix,
    sigmoid,
)
from analyzer.grading.match import MEANING_OF
from analyzer.grading.rubric import Item, Rubric
from analyzer.learning.metrics import cohen_kappa, confusion, f1
from analyzer.transcripts.transcript import Transcript, Turn

MIN_CALLS = 5  # calls an item needs on each side (done, not done) to be learned
L2 = 1.0  # ridge penalty on the weights: a few hundred sentences against 390 inputs
MIL_ROUNDS = 3  # re-picks of the unmarked positive sentence
INNER_FOLDS = 3  # folds of the training calls whose held-out scores choose the threshold
PHRASE_WEIGHT = 1.0  # each rubric phrase counts as much as one marked sentence


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
        xs.append(design_matrix(inputs.vectors[rows], columns))
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

    labels = ["met" if t else "missed" for t in truth]

    def quality(cut: float) -> float:
        said = z > cut
        pairs = [("met" if s else "missed", t) for s, t in zip(said, labels, strict=True)]
        agreement = (cohen_kappa(pairs) or 0.0) + (f1(confusion(pairs)) or 0.0)
        return agreement - abs(float(said.mean() - truth.mean()))

    cut = max(candidates, key=quality)
    return float(sigmoid(np.array([cut]))[0])


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float
) -> tuple[np.ndarray, float]:
    """Weights and bias by Newton's method, rows weighted by `w`, an L2 penalty on the weights
    (not the bias)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    penalty = np.diag([0.0] + [l2] * x.shape[1])
    for _ in range(50):
        p = sigmoid(design @ beta)
        gradient = design.T @ (w * (p - y)) + penalty @ beta
        hessian = design.T @ (design * (w * p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    return beta[1:], float(beta[0])


def _phrase_design(grader: Any, item: Item) -> np.ndarray:
    """The item's phrases and text as sentences of its party: positive examples of it."""
    from analyzer.grading.semantic import _plain

    role = MEANING_OF[item.speaker]
    texts = [_plain(text) for text in [*item.phrases, item.text]]
    transcript = Transcript("phrases", [Turn(role, t, role=role) for t in texts], rep=None)
    inputs = grader.sentence_inputs(transcript, roles={role: role})
    rows = inputs.rows(item)
    columns = {name: inputs.columns[item.id][name][rows] for name in FEATURES}
    return design_matrix(inputs.vectors[rows], columns)
