"""How far the suggested grades agree with a manager's: `analyzer evaluate GOLDEN`.

Every labelled call of a golden set (`learning.golden`: a folder of calls and `labels.csv`) is
graded; its suggested item statuses are compared with the manager's, with the metrics of
`learning.metrics`:

- per item and overall (micro): precision, recall and F1 of "met or partial" (positive) against
  "missed or na" (negative; na counts as negative on both sides), and the share of exact status
  agreement;
- Cohen's kappa over the four statuses, over every (call, item) pair;
- the grade: the manager's grade is the suggested grade recomputed with the manager's statuses
  (`review.recompute_grade`, the rubric's own rules); per call, suggested minus manager gives the
  mean absolute error and the bias (positive: the tool grades higher), and pass/fail agreement;
- the calls that disagree most.

`compare` builds the `Evaluation` from grade dicts and labels without grading anything;
`evaluate` reads the folder, grades and compares; `get_writer("table" | "json")` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import GoldenSetError
from analyzer.grading.learned import Learned
from analyzer.grading.rubric import Rubric
from analyzer.learning.golden import LABELS_FILE, Label, cross_validation_folds, read_golden
from analyzer.learning.metrics import (
    Agreement,
    Counts,
    Pair,
    confusion,
    evidence_hits,
    exact_agreement,
    f1,
    precision,
    recall,
)
from analyzer.registry import Registry
from analyzer.reports.formatting import fixed, leaning, rounded, signed
from analyzer.speech.settings import TranscribeSettings

DEFAULT_TOP = 5


# -- the comparison ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemDifference:
    item_id: str
    suggested: str
    manager: str


@dataclass(frozen=True)
class CallComparison:
    """One labelled call: the suggested grade against the manager's, and the items that differ."""

    call_id: str
    suggested_grade: float
    manager_grade: float
    suggested_passed: bool
    manager_passed: bool
    differences: list[ItemDifference]

    @property
    def difference(self) -> float:
        """Suggested minus manager: positive when the tool grades higher."""
        return round(self.suggested_grade - self.manager_grade, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "suggested_grade": self.suggested_grade,
            "manager_grade": self.manager_grade,
            "difference": self.difference,
            "suggested_passed": self.suggested_passed,
            "manager_passed": self.manager_passed,
            "items_differing": [
                {"item_id": d.item_id, "suggested": d.suggested, "manager": d.manager}
                for d in self.differences
            ],
        }


@dataclass(frozen=True)
class ItemScore:
    """How one rubric item fares over every labelled call."""

    item_id: str
    phase: str
    counts: Counts
    agreed: int  # calls with the same exact status
    labels: int  # calls labelled

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.labels if self.labels else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "phase": self.phase,
            **_counts_dict(self.counts),
            "agreement": rounded(self.agreement),
            "labels": self.labels,
        }


@dataclass
class Evaluation(Agreement):
    """Everything `analyzer evaluate` reports."""

    golden: str
    labels_path: str
    rubric: str
    rubric_version: int | str
    calls: list[CallComparison]  # in call id order
    items: list[ItemScore]  # in rubric order
    pairs: list[Pair]  # every (suggested, manager) status pair
    ignored: list[str] = field(default_factory=list)  # calls in the folder with no labels
    top: int = DEFAULT_TOP
    # Evidence precision, when the golden set marks turns (evidence.csv): of the items the tool
    # credited (a forbidden item: found said) that a person marked turns for, how many show
    # one of those turns as their first evidence.
    evidence_checked: int | None = None
    evidence_right: int = 0
    folds: int = 0  # cross-validated: each call graded by a model learned on the other folds
    learned: str = ""  # what graded: the learned file, or how the folds were learned

    @property
    def evidence_precision(self) -> float | None:
        return self.evidence_right / self.evidence_checked if self.evidence_checked else None

    @property
    def counts(self) -> Counts:
        return sum((i.counts for i in self.items), Counts())

    @property
    def pass_agreed(self) -> int:
        return sum(c.suggested_passed == c.manager_passed for c in self.calls)

    def weakest_items(self) -> list[ItemScore]:
        """Items by F1, lowest first, then by exact agreement; items where F1 is undefined (no
        one ever called them done) last."""
        order = {item.item_id: k for k, item in enumerate(self.items)}
        return sorted(
            self.items,
            key=lambda i: (
                f1(i.counts) is None,
                f1(i.counts) or 0.0,
                i.agreement if i.agreement is not None else 1.0,
                order[i.item_id],
            ),
        )

    def most_disagreeing(self) -> list[CallComparison]:
        return most_disagreeing(self.calls, self.top)

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts
        return {
            "golden": self.golden,
            "labels": self.labels_path,
            "rubric": self.rubric,
            "rubric_version": self.rubric_version,
            "calls": len(self.calls),
            "ignored_calls": self.ignored,
            "pairs": len(self.pairs),
            "overall": {
                **_counts_dict(counts),
                "agreement": rounded(exact_agreement(self.pairs)),
                "kappa": rounded(self.kappa),
            },
            "grade": {
                "mae": rounded(self.mae, 2),
                "bias": rounded(self.bias, 2),
                "pass_agreed": self.pass_agreed,
                "calls": len(self.calls),
            },
            "evidence": {
                "precision": rounded(self.evidence_precision),
                "checked": self.evidence_checked,
                "right": self.evidence_right,
            },
            "cross_validation_folds": self.folds,
            "learned": self.learned,
            "items": [i.to_dict() for i in self.items],
            "most_disagreeing": [c.to_dict() for c in self.most_disagreeing()],
            "per_call": [c.to_dict() for c in self.calls],
        }


def most_disagreeing(calls: Iterable[CallComparison], n: int) -> list[CallComparison]:
    """The `n` calls that disagree most: by |grade difference|, then by the number of items
    whose status differs, then by call id. Calls that agree entirely are left out."""
    differing = [c for c in calls if c.difference or c.differences]
    differing.sort(key=lambda c: (-abs(c.difference), -len(c.differences), c.call_id))
    return differing[: max(n, 0)]


def compare(
    suggested: Mapping[str, dict[str, Any]],
    labels: Mapping[str, Mapping[str, Label]],
    rubric: Rubric,
    *,
    golden: str = "",
    labels_path: str = "",
    ignored: Sequence[str] = (),
    top: int = DEFAULT_TOP,
    evidence: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
) -> Evaluation:
    """Compare suggested grades (call id -> grade dict, the grade contract) with the manager's
    labels (call id -> item id -> Label, every rubric item present) and, when given, the turns
    a person marked (call id -> item id -> turns: `read_evidence`)."""
    from analyzer.review.rules import recompute_grade  # the rubric's rules for a person's statuses

    checked, right = evidence_hits(suggested, labels, rubric, evidence) if evidence else (0, 0)

    pairs_by_item: dict[str, list[Pair]] = {item.id: [] for item in rubric.items}
    calls: list[CallComparison] = []
    for call_id in sorted(labels):
        grade = suggested[call_id]
        manager = labels[call_id]
        tool_status = {i["id"]: i["status"] for p in grade["phases"] for i in p["items"]}
        confirmed = recompute_grade(
            grade, {item_id: (lab.status, lab.note) for item_id, lab in manager.items()}
        )
        differences = []
        for item in rubric.items:
            pair = (tool_status[item.id], manager[item.id].status)
            pairs_by_item[item.id].append(pair)
            if pair[0] != pair[1]:
                differences.append(ItemDifference(item.id, *pair))
        calls.append(
            CallComparison(
                call_id=call_id,
                suggested_grade=float(grade["grade"]),
                manager_grade=float(confirmed["grade"]),
                suggested_passed=bool(grade["passed"]),
                manager_passed=bool(confirmed["passed"]),
                differences=differences,
            )
        )
    items = [
        ItemScore(
            item_id=item.id,
            phase=rubric.phase_of(item.id).id,
            counts=confusion(pairs_by_item[item.id]),
            agreed=sum(s == m for s, m in pairs_by_item[item.id]),
            labels=len(pairs_by_item[item.id]),
        )
        for item in rubric.items
    ]
    return Evaluation(
        golden=golden,
        labels_path=labels_path,
        rubric=rubric.rubric,
        rubric_version=rubric.version,
        calls=calls,
        items=items,
        pairs=[pair for item in rubric.items for pair in pairs_by_item[item.id]],
        ignored=list(ignored),
        top=top,
        evidence_checked=checked if evidence else None,
        evidence_right=right,
    )


def evaluate(
    golden: Path,
    rubric: Rubric,
    *,
    top: int = DEFAULT_TOP,
    settings: TranscribeSettings | None = None,
    progress: Callable[[str], None] | None = None,
    learned: Learned | None = None,
    cross_validate: int = 0,
) -> Evaluation:
    """Read the golden set, check its labels (every problem at once), grade each labelled call
    and compare. Calls in the folder without labels are ignored (listed in the result).

    `learned`: grade with these item models. `cross_validate` K (>= 2): learn on K-1 folds of
    the labelled calls and grade the held-out fold, for each fold; every call is graded once,
    by models that never saw it, and the report covers them all."""
    from analyzer.grading.grade import (
        Grader,  # the engine loads spaCy: only when there is something to grade
    )
    from analyzer.learning.learn import learn

    golden = Path(golden)
    golden_set = read_golden(golden, rubric, settings=settings, progress=progress)
    suggested: dict[str, dict[str, Any]] = {}
    how = learned.path if learned is not None else ""
    if cross_validate:
        try:
            folds = cross_validation_folds(list(golden_set.labels), cross_validate)
        except ValueError as e:
            problem = f"{golden}: --cross-validate {cross_validate}: {e}"
            raise GoldenSetError(golden, [problem]) from e
        counts = []
        for train, test in folds:
            fold_model = learn(golden_set.examples(train), rubric, source=str(golden))
            counts.append(len(fold_model.items))
            grader = Grader(rubric, fold_model)
            for call_id in test:
                suggested[call_id] = grader.grade(golden_set.transcripts[call_id]).to_dict()
        how = (
            f"{cross_validate}-fold cross-validation: {min(counts)}-{max(counts)} of "
            f"{len(rubric.items)} items learned per fold"
        )
    else:
        grader = Grader(rubric, learned)
        for call_id in sorted(golden_set.labels):
            suggested[call_id] = grader.grade(golden_set.transcripts[call_id]).to_dict()
    evaluation = compare(
        suggested,
        golden_set.labels,
        rubric,
        golden=str(golden),
        labels_path=str(golden / LABELS_FILE),
        ignored=[c for c in golden_set.files if c not in golden_set.labels],
        top=top,
        evidence=golden_set.evidence if golden_set.has_evidence else None,
    )
    evaluation.folds = cross_validate
    evaluation.learned = how
    return evaluation


# -- output --------------------------------------------------------------------------------------


def evaluation_json(ev: Evaluation) -> str:
    """The evaluation as one JSON object."""
    return json.dumps(ev.to_dict(), ensure_ascii=False, indent=2)


def evaluation_table(ev: Evaluation) -> str:
    """The evaluation as a person reads it: items weakest first, the summary, the calls that
    disagree most."""
    ignored = (
        f"; {len(ev.ignored)} call{'s' if len(ev.ignored) != 1 else ''} in the folder without "
        "labels ignored"
        if ev.ignored
        else ""
    )
    lines = [
        f"Golden set {ev.golden}: {len(ev.calls)} labelled calls, {len(ev.pairs)} item labels, "
        f"rubric {ev.rubric} v{ev.rubric_version}{ignored}",
        "",
        'Per item, "met or partial" vs the manager (weakest first):',
    ]
    width = max([len("item"), *(len(i.item_id) for i in ev.items)])
    phase_width = max([len("phase"), *(len(i.phase) for i in ev.items)])
    lines.append(
        f"  {'item':<{width}}  {'phase':<{phase_width}}  TP  FP  FN  TN  "
        "precision  recall    F1  exact"
    )
    for item in ev.weakest_items():
        c = item.counts
        lines.append(
            f"  {item.item_id:<{width}}  {item.phase:<{phase_width}}  "
            f"{c.tp:>2}  {c.fp:>2}  {c.fn:>2}  {c.tn:>2}  "
            f"{fixed(precision(c)):>9}  {fixed(recall(c)):>6}  {fixed(f1(c)):>4}  "
            f"{fixed(item.agreement):>5}"
        )
    c = ev.counts
    agreed = sum(s == m for s, m in ev.pairs)
    lines += [
        "",
        f"Overall (micro, {len(ev.pairs)} labels): precision {fixed(precision(c))}  "
        f"recall {fixed(recall(c))}  F1 {fixed(f1(c))}  "
        f"(TP {c.tp}, FP {c.fp}, FN {c.fn}, TN {c.tn})",
        f"Exact status agreement: {fixed(exact_agreement(ev.pairs))} ({agreed} of {len(ev.pairs)});"
        f"  Cohen's kappa over met/partial/missed/na: {fixed(ev.kappa)}",
        f"Grade: mean absolute error {fixed(ev.mae, 1)} points, bias {signed(ev.bias)} "
        f"(suggested minus manager: {leaning(ev.bias)})",
        f"Pass/fail: the same on {ev.pass_agreed} of {len(ev.calls)} calls",
    ]
    if ev.evidence_checked is not None:
        lines.append(
            f"Evidence precision: {fixed(ev.evidence_precision)} ({ev.evidence_right} of "
            f"{ev.evidence_checked} credited items show a marked turn first)"
        )
    if ev.learned:
        lines.append(f"Learned: {ev.learned}")
    top = ev.most_disagreeing()
    if top:
        lines += ["", f"Calls that disagree most (top {len(top)}):"]
        call_width = max(len(call.call_id) for call in top)
        for call in top:
            count = len(call.differences)
            lines.append(
                f"  {call.call_id:<{call_width}}  suggested {call.suggested_grade:5.1f} "
                f"{_verdict(call.suggested_passed)}  manager {call.manager_grade:5.1f} "
                f"{_verdict(call.manager_passed)}  difference {signed(call.difference)}  "
                f"{count} item{'s' if count != 1 else ''} differ"
            )
            for d in call.differences:
                lines.append(f"      {d.item_id}: {d.suggested} -> {d.manager}")
    return "\n".join(lines) + "\n"


WRITERS: Registry[Callable[[Evaluation], str]] = Registry(
    "format", {"table": evaluation_table, "json": evaluation_json}
)


def get_writer(name: str) -> Callable[[Evaluation], str]:
    """The writer for `--format NAME`; ValueError naming the choices for an unknown one."""
    return WRITERS.get(name)


def _verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def _counts_dict(c: Counts) -> dict[str, Any]:
    return {
        "tp": c.tp,
        "fp": c.fp,
        "fn": c.fn,
        "tn": c.tn,
        "precision": rounded(precision(c)),
        "recall": rounded(recall(c)),
        "f1": rounded(f1(c)),
    }
