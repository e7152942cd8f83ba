"""Fit the zero-shot semantic score of `auto` and `semantic` matching on real, labelled calls.

    python tools/calibrate_matching.py [DEV_SET ...] [--layers 2] [--folds 5] [--write]

A development set is a golden set (`analyzer evaluate` reads it) of real dialogues nobody in
this project wrote: transcripts, `rubric.yaml`, `labels.csv` and `evidence.csv`, which lists
every turn a person labelled with the item's behaviour. The default is every such folder in
`../shared/dev-data/` (outside the repository: never copied into it).

1. Examples. Every sentence of an item's party that the model embeds, with the features the
   grader computes (`Grader.sentence_inputs`: the words' score, the cosine with the item's
   phrases and text, the margin over every other item, the cues), is a positive when its turn
   is marked for the item in evidence.csv, else a negative. The marking is exhaustive, so a
   call's other sentences are true negatives. Each set weighs the same, and within a set the
   positives weigh as much as the negatives.
2. Features, not items. The model reads only rubric-agnostic features, never an item's
   identity or its embedding, so what it learns carries to rubrics it has never seen
   (`analyzer learn` is the per-item, per-team model).
3. Threshold. Calls are split into --folds folds per set; a model fitted on the other folds of
   every set grades the held-out fold the way the grader does (a call's best sentence per item,
   met from MET_SCORE, partial from 0.6, a forbidden item breached by one said), and the
   threshold is the one whose held-out agreement (the mean over the sets of Cohen's kappa and
   micro-F1) is best. Reported too: each set graded by a model fitted on the other set alone,
   the check that the features generalise to a rubric the fit never saw.
4. The final model is fitted on every example with that threshold. `--write` stores it in
   analyzer/data/match_calibration.json, which the matcher reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.grading import semantic  # noqa: E402
from analyzer.grading.calibration import (  # noqa: E402
    AUTO_FEATURES,
    SEMANTIC_FEATURES,
    Logistic,
    to_grader_scale,
)
from analyzer.grading.grade import Grader  # noqa: E402
from analyzer.grading.match import MEANING_OF  # noqa: E402
from analyzer.grading.rubric import PARTIAL_CREDIT, Rubric, load_rubric  # noqa: E402
from analyzer.grading.thresholds import MET_SCORE, PARTIAL_SCORE  # noqa: E402
from analyzer.learning.golden import read_golden  # noqa: E402
from analyzer.learning.learn import fit_logistic  # noqa: E402
from analyzer.learning.metrics import (  # noqa: E402
    cohen_kappa,
    confusion,
    f1,
    mean_absolute_error,
    mean_bias,
)

MODEL = "all-MiniLM-L6-v2 (float32)"  # with the first --layers transformer layers
OUT = ROOT / "analyzer" / "data" / "match_calibration.json"
DEV_DATA = ROOT.parent / "shared" / "dev-data"
L2 = 1.0  # ridge penalty on the weights (not the bias)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.40, 0.951, 0.01))  # probability cuts tried
BANDS = (0.0, 0.03, 0.06, 0.1)  # partial-credit bands tried under the threshold
MODES = {"auto": AUTO_FEATURES, "semantic": SEMANTIC_FEATURES}
CUES = ("negation", "past", "not_a_question")  # may only lower a sentence's score


def with_mode(rubric: Rubric, mode: str) -> Rubric:
    """The rubric with every item matched in `mode`."""
    phases = [
        p.model_copy(update={"items": [i.model_copy(update={"match": mode}) for i in p.items]})
        for p in rubric.phases
    ]
    return rubric.model_copy(update={"phases": phases})


@dataclass
class Rows:
    """One item's sentences over one set's calls."""

    x: dict[str, np.ndarray]  # feature -> per sentence (embedded sentences of its party)
    fuzzy_short: np.ndarray  # per sentence not embedded (of its party): its words' score
    call: np.ndarray  # per embedded sentence: the call's index
    call_short: np.ndarray
    marked: np.ndarray  # per embedded sentence: its turn is marked for the item


@dataclass
class DevSet:
    name: str
    rubric: Rubric
    calls: list[str]
    status: dict[str, dict[str, str]]  # call -> item -> the person's status
    items: dict[str, Rows]


def read_set(folder: Path) -> DevSet:
    rubric = with_mode(load_rubric(folder / "rubric.yaml"), "auto")
    golden = read_golden(folder, rubric)
    grader = Grader(rubric)
    calls = sorted(golden.labels)
    per_item: dict[str, dict[str, list]] = {
        item.id: {"x": [], "fs": [], "c": [], "cs": [], "m": []} for item in rubric.items
    }
    for n, call_id in enumerate(calls):
        inputs = grader.sentence_inputs(golden.transcripts[call_id])
        for item in rubric.items:
            party = inputs.roles == MEANING_OF[item.speaker]
            rows = np.nonzero(party & inputs.embedded)[0]
            short = np.nonzero(party & ~inputs.embedded)[0]
            columns = inputs.columns[item.id]
            marked = set(golden.evidence.get(call_id, {}).get(item.id, ()))
            bucket = per_item[item.id]
            bucket["x"].append({k: v[rows] for k, v in columns.items()})
            bucket["fs"].append(columns["fuzzy"][short])
            bucket["c"].append(np.full(rows.size, n))
            bucket["cs"].append(np.full(short.size, n))
            bucket["m"].append(np.array([inputs.turns[k] in marked for k in rows], dtype=bool))
    items = {
        item_id: Rows(
            {k: np.concatenate([x[k] for x in b["x"]]) for k in AUTO_FEATURES},
            np.concatenate(b["fs"]),
            np.concatenate(b["c"]),
            np.concatenate(b["cs"]),
            np.concatenate(b["m"]),
        )
        for item_id, b in per_item.items()
    }
    status = {c: {i: lab.status for i, lab in golden.labels[c].items()} for c in calls}
    return DevSet(folder.name, rubric, calls, status, items)


def design(rows: Rows, features: tuple[str, ...], mask: np.ndarray | None = None) -> np.ndarray:
    x = np.stack([rows.x[f] for f in features], axis=1).astype(np.float64)
    return x if mask is None else x[mask]


def fit(sets: list[DevSet], features: tuple[str, ...], train: dict[str, set[int]]) -> Logistic:
    """Pooled over the sets' training calls; each set and each side weighs the same."""
    xs, ys, ws = [], [], []
    for dev in sets:
        x = np.vstack([design(r, features) for r in dev.items.values()])
        y = np.concatenate([r.marked for r in dev.items.values()]).astype(float)
        call = np.concatenate([r.call for r in dev.items.values()])
        use = np.isin(call, list(train[dev.name]))
        x, y = x[use], y[use]
        pos, neg = max(1.0, y.sum()), max(1.0, (1 - y).sum())
        total = len(y)
        ws.append(np.where(y == 1, total / (2 * pos), total / (2 * neg)) / total)
        xs.append(x)
        ys.append(y)
    w = np.concatenate(ws)
    w *= len(w) / w.sum()
    x, y = np.vstack(xs), np.concatenate(ys)
    # The cues may only count against a sentence: a denial, the past or a statement where a
    # question is wanted is never more evidence of the act. A cue the data gives the wrong
    # sign is left out (weight 0) and the rest refitted: a sign-constrained fit.
    kept = list(range(len(features)))
    while True:
        weights, bias = fit_logistic(x[:, kept], y, w, L2)
        wrong = [k for k, v in zip(kept, weights, strict=True) if features[k] in CUES and v > 0]
        if not wrong:
            break
        kept = [k for k in kept if k not in wrong]
    full = np.zeros(len(features))
    full[kept] = weights
    return Logistic(tuple(round(float(v), 4) for v in full), round(bias, 4), 0.5, features)


def grade_statuses(dev: DevSet, model: Logistic, calls: set[int]) -> dict[int, dict[str, str]]:
    """Each call's item statuses as the grader decides them with `model` (phases aside)."""
    result: dict[int, dict[str, str]] = {n: {} for n in calls}
    for item in dev.rubric.items:
        rows = dev.items[item.id]
        score = to_grader_scale(model.probability(rows.x), model.threshold, model.near_band)
        best = np.zeros(len(dev.calls))
        np.maximum.at(best, rows.call, score)
        np.maximum.at(best, rows.call_short, rows.fuzzy_short)
        for n in calls:
            if item.forbidden:
                status = "missed" if best[n] >= MET_SCORE else "met"
            elif best[n] >= MET_SCORE:
                status = "met"
            elif best[n] >= PARTIAL_SCORE:
                status = "partial"
            else:
                status = "missed"
            result[n][item.id] = status
    return result


def agreement(dev: DevSet, statuses: dict[int, dict[str, str]]) -> dict[str, float]:
    """F1, kappa and the grade's error of these statuses against the person's, with the
    metrics `analyzer evaluate` reports (the grade over every item: no phase is optional in a
    development rubric)."""
    pairs = [(statuses[n][i], dev.status[dev.calls[n]][i]) for n in statuses for i in statuses[n]]
    points = {item.id: item.points for item in dev.rubric.items}
    earn = {"met": 1.0, "partial": PARTIAL_CREDIT, "missed": 0.0, "na": 0.0}
    total = sum(points.values())
    errors = [
        100
        * sum(
            points[i] * (earn[statuses[n][i]] - earn[dev.status[dev.calls[n]][i]])
            for i in statuses[n]
        )
        / total
        for n in statuses
    ]
    return {
        "f1": round(f1(confusion(pairs)) or 0.0, 3),
        "kappa": round(cohen_kappa(pairs) or 0.0, 3),
        "mae": round(mean_absolute_error(errors) or 0.0, 1),
        "bias": round(mean_bias(errors) or 0.0, 1),
    }


def held_out(
    sets: list[DevSet], features: tuple[str, ...], folds: int
) -> dict[tuple[float, float], dict[str, dict[str, float]]]:
    """Per (threshold, partial band), per set: agreement of the held-out folds' grades."""
    split = {d.name: np.arange(len(d.calls)) % folds for d in sets}
    for d in sets:
        np.random.default_rng(0).shuffle(split[d.name])
    cuts = [(t, b) for t in THRESHOLDS for b in BANDS]
    graded: dict[tuple[float, float], dict[str, dict[int, dict[str, str]]]] = {
        c: {d.name: {} for d in sets} for c in cuts
    }
    for k in range(folds):
        train = {d.name: set(np.nonzero(split[d.name] != k)[0].tolist()) for d in sets}
        model = fit(sets, features, train)
        for t, b in cuts:
            chosen = Logistic(model.weights, model.bias, t, features, b)
            for d in sets:
                test = set(np.nonzero(split[d.name] == k)[0].tolist())
                graded[(t, b)][d.name].update(grade_statuses(d, chosen, test))
    return {c: {d.name: agreement(d, graded[c][d.name]) for d in sets} for c in cuts}


def quality(per_set: dict[str, dict[str, float]]) -> float:
    return float(np.mean([(m["kappa"] + m["f1"]) / 2 for m in per_set.values()]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, help=f"default: every set in {DEV_DATA}")
    parser.add_argument(
        "--layers",
        type=int,
        default=semantic.LAYERS,
        help=f"transformer layers of the model to run (0: all; default {semantic.LAYERS})",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"store the fit in {OUT.name}")
    args = parser.parse_args()
    semantic.configure(None, args.layers or None)
    folders = args.sets or sorted(p.parent for p in DEV_DATA.glob("*/labels.csv"))
    if not folders:
        raise SystemExit(f"no development sets (folders with labels.csv) in {DEV_DATA}")
    sets = [read_set(folder) for folder in folders]
    for d in sets:
        marked = sum(int(r.marked.sum()) for r in d.items.values())
        embedded = sum(len(r.call) for r in d.items.values())
        print(f"{d.name}: {len(d.calls)} calls, {embedded} item x sentence rows, {marked} marked")
    result: dict = {"model": MODEL, "layers": semantic.get_embedder().layers}
    report: dict = {}
    for mode, features in MODES.items():
        table = held_out(sets, features, args.folds)
        threshold, band = max(table, key=lambda c: quality(table[c]))
        everyone = {d.name: set(range(len(d.calls))) for d in sets}
        final = fit(sets, features, everyone)
        final = Logistic(final.weights, final.bias, threshold, features, band)
        print(
            f"\n{mode}: "
            + ", ".join(f"{f} {w:+.3f}" for f, w in zip(features, final.weights, strict=True))
        )
        print(f"  bias {final.bias:+.3f}; held-out agreement ({args.folds}-fold), by threshold:")
        for t in (*THRESHOLDS[::5], threshold):
            cells = "  ".join(
                f"{name}: F1 {m['f1']:.3f} kappa {m['kappa']:.3f} MAE {m['mae']:.1f}"
                for name, m in table[(t, band)].items()
            )
            print(f"  {t:<5} {cells}" + ("   <- chosen" if t == threshold else ""))
        print(f"  partial band {band} (of {', '.join(map(str, BANDS))})")
        other: dict[str, dict[str, float]] = {}
        for d in sets if len(sets) > 1 else []:
            rest = [s for s in sets if s is not d]
            model = fit(rest, features, {s.name: everyone[s.name] for s in rest})

            def on_rest(
                cut: tuple[float, float],
                rest=rest,
                model=model,
                features=features,
                everyone=everyone,
            ) -> float:
                chosen = Logistic(model.weights, model.bias, cut[0], features, cut[1])
                return quality(
                    {
                        s.name: agreement(s, grade_statuses(s, chosen, everyone[s.name]))
                        for s in rest
                    }
                )

            t, b = max(table, key=on_rest)
            chosen = Logistic(model.weights, model.bias, t, features, b)
            other[d.name] = agreement(d, grade_statuses(d, chosen, everyone[d.name]))
        if other:
            print("  fitted on the other set(s) only, graded here:")
            for name, m in other.items():
                print(f"    {name}: F1 {m['f1']:.3f} kappa {m['kappa']:.3f} MAE {m['mae']:.1f}")
        result[mode] = {
            "features": list(features),
            "weights": list(final.weights),
            "bias": final.bias,
            "threshold": threshold,
            "near_band": band,
        }
        report[mode] = {"held_out": table[(threshold, band)], "fitted_on_other_sets": other}
    result["fitted_on"] = (
        f"evidence-marked sentences of {', '.join(d.name for d in sets)} (real dialogues, human "
        f"labels); threshold and partial band by {args.folds}-fold held-out agreement over calls"
    )
    result["agreement"] = report
    if args.write:
        OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
