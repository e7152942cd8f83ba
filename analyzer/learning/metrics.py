"""The agreement metrics, pure and small: how far the tool's item statuses and grades agree with
a person's (as spaCy's scorer.py holds its own).

Statuses are compared in pairs (the tool's, the person's). "Met or partial" is positive (the
item was done, at least in part), "missed or na" negative: `confusion` counts pairs into a 2x2
table, from which `precision`, `recall` and `f1`; `exact_agreement` and `cohen_kappa` compare
the four statuses themselves. Grades are compared by their differences (the tool's minus the
person's): `mean_absolute_error` and `mean_bias`. `evidence_hits` checks the evidence the tool
shows against the turns a person marked. `evaluate` (golden sets), `calibrate` (confirmed
grades), `learning.learn` and tools/calibrate_matching.py all count with these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analyzer.grading.rubric import ITEM_STATUSES, Rubric

if TYPE_CHECKING:
    from analyzer.learning.golden import Label

POSITIVE = frozenset({"met", "partial"})  # the item was done (at least in part)

Pair = tuple[str, str]  # (the tool's status, the person's status)


@dataclass(frozen=True)
class Counts:
    """A 2x2 confusion table of "met or partial" (positive) vs "missed or na" (negative)."""

    tp: int = 0  # both positive
    fp: int = 0  # the tool positive, the manager negative
    fn: int = 0  # the tool negative, the manager positive
    tn: int = 0  # both negative

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )


def confusion(pairs: Iterable[Pair]) -> Counts:
    """Count (suggested, manager) status pairs into a 2x2 table; met and partial are positive,
    missed and na negative.

    >>> confusion([("met", "met"), ("partial", "missed"), ("na", "met"), ("na", "missed")])
    Counts(tp=1, fp=1, fn=1, tn=1)
    """
    tp = fp = fn = tn = 0
    for suggested, manager in pairs:
        s, m = suggested in POSITIVE, manager in POSITIVE
        tp += s and m
        fp += s and not m
        fn += m and not s
        tn += not s and not m
    return Counts(tp, fp, fn, tn)


def precision(c: Counts) -> float | None:
    """Of the items the tool called done, the share the manager agreed were done:
    TP / (TP + FP); None when the tool called nothing done.

    >>> precision(Counts(tp=3, fp=1))
    0.75
    """
    return c.tp / (c.tp + c.fp) if c.tp + c.fp else None


def recall(c: Counts) -> float | None:
    """Of the items the manager called done, the share the tool found: TP / (TP + FN); None when
    the manager called nothing done.

    >>> recall(Counts(tp=3, fn=3))
    0.5
    """
    return c.tp / (c.tp + c.fn) if c.tp + c.fn else None


def f1(c: Counts) -> float | None:
    """The harmonic mean of precision and recall, 2TP / (2TP + FP + FN): 0 when either side
    called something done and they never agree; None when neither called anything done.

    >>> f1(Counts(tp=3, fp=1, fn=3))
    0.6
    """
    denominator = 2 * c.tp + c.fp + c.fn
    return 2 * c.tp / denominator if denominator else None


def exact_agreement(pairs: Sequence[Pair]) -> float | None:
    """The share of pairs where the two statuses are the same; None for no pairs.

    >>> exact_agreement([("met", "met"), ("partial", "met")])
    0.5
    """
    return sum(s == m for s, m in pairs) / len(pairs) if pairs else None


def cohen_kappa(pairs: Sequence[Pair], categories: Sequence[str] = ITEM_STATUSES) -> float | None:
    """Cohen's kappa: agreement beyond what chance would give, (po - pe) / (1 - pe), where po is
    the observed share of agreement and pe the agreement expected if each rater kept their own
    share of each status but chose independently. 1 is perfect agreement, 0 chance, below 0
    worse than chance. None when undefined: no pairs, or both raters always gave one and the same
    status (pe = 1).

    >>> cohen_kappa([("met", "met"), ("missed", "missed"), ("met", "missed"), ("met", "met")])
    0.5
    """
    n = len(pairs)
    if not n:
        return None
    unknown = {s for pair in pairs for s in pair} - set(categories)
    if unknown:
        raise ValueError(f"statuses not in {list(categories)}: {sorted(unknown)}")
    observed = sum(s == m for s, m in pairs) / n
    tool = Counter(s for s, _ in pairs)
    manager = Counter(m for _, m in pairs)
    expected = sum(tool[c] * manager[c] for c in categories) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def mean_absolute_error(differences: Sequence[float]) -> float | None:
    """The mean of |difference|; None for no differences.

    >>> mean_absolute_error([4.0, -2.0])
    3.0
    """
    return sum(abs(d) for d in differences) / len(differences) if differences else None


def mean_bias(differences: Sequence[float]) -> float | None:
    """The mean signed difference (suggested minus manager: positive means the tool grades
    higher); None for no differences.

    >>> mean_bias([4.0, -2.0])
    1.0
    """
    return sum(differences) / len(differences) if differences else None


def evidence_hits(
    suggested: Mapping[str, dict[str, Any]],
    labels: Mapping[str, Mapping[str, Label]],
    rubric: Rubric,
    evidence: Mapping[str, Mapping[str, Sequence[int]]],
) -> tuple[int, int]:
    """(items checked, items right) for evidence precision: every item the tool credited (for
    a forbidden item: found said) where a person marked turns, right when the first evidence
    the tool shows is one of those turns."""
    forbidden = {item.id for item in rubric.items if item.forbidden}
    checked = right = 0
    for call_id in labels:
        marked = evidence.get(call_id, {})
        for phase in suggested[call_id]["phases"]:
            for item in phase["items"]:
                turns = marked.get(item["id"])
                if not turns:
                    continue
                if item["id"] in forbidden:
                    credited = item["status"] == "missed" and bool(item["evidence"])
                else:
                    credited = item["status"] in POSITIVE
                if not credited or not item["evidence"]:
                    continue
                checked += 1
                right += item["evidence"][0]["turn"] in turns
    return checked, right


class Agreement:
    """Agreement over a set of graded calls, for a report that has `pairs` (the tool's and the
    person's status per item) and `calls` (each with the grade's `difference`)."""

    pairs: Sequence[Pair]
    calls: Sequence[Any]

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.pairs)

    @property
    def differences(self) -> list[float]:
        return [c.difference for c in self.calls]

    @property
    def mae(self) -> float | None:
        return mean_absolute_error(self.differences)

    @property
    def bias(self) -> float | None:
        return mean_bias(self.differences)
