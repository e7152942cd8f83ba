"""How far the suggested grades agree with a manager's: `analyzer evaluate GOLDEN`.

A golden set is a folder of calls (transcripts or recordings, read as `analyzer score` reads them)
and `labels.csv` beside them: `call_id,item_id,status[,note]`, one row per call and rubric item,
the status a manager gave (met, partial, missed or na). Every labelled call is graded; its
suggested item statuses are compared with the manager's:

- per item and overall (micro): precision, recall and F1 of "met or partial" (positive) against
  "missed or na" (negative; na counts as negative on both sides), and the share of exact status
  agreement;
- Cohen's kappa over the four statuses, over every (call, item) pair;
- the grade: the manager's grade is the suggested grade recomputed with the manager's statuses
  (`review.recompute_grade`, the rubric's own rules); per call, suggested minus manager gives the
  mean absolute error and the bias (positive: the tool grades higher), and pass/fail agreement;
- the calls that disagree most.

The metric functions are pure and small; `compare` builds the report from grade dicts and labels
without grading anything; `evaluate` reads the folder, grades and compares.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError, GoldenSetError, InputError, ModelError
from analyzer.grading.learn import Example, Learned
from analyzer.grading.rubric import ITEM_STATUSES, Rubric
from analyzer.runs.discover import call_stem, find_calls
from analyzer.speech.settings import TranscribeSettings
from analyzer.transcripts.transcript import Transcript

LABELS_FILE = "labels.csv"
LABEL_COLUMNS = ("call_id", "item_id", "status")  # required, in any order
OPTIONAL_COLUMNS = ("note",)
POSITIVE = frozenset({"met", "partial"})  # the item was done (at least in part)
DEFAULT_TOP = 5
FOLD_SEED = 0  # cross-validation folds: a fixed shuffle, the same on every run

Pair = tuple[str, str]  # (suggested status, manager's status)


# -- metrics -------------------------------------------------------------------------------------


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


# -- the labels file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """A manager's status for one item of one call, and where it was written."""

    status: str
    note: str
    line: int


def read_labels(path: Path, rubric: Rubric, calls: Collection[str]) -> dict[str, dict[str, Label]]:
    """call id -> item id -> Label, for `labels.csv` checked against the rubric and the call ids
    found in the folder. Every problem (a call with no transcript, an unknown item, a bad status,
    a duplicate, a call missing some items, a malformed row) is collected and raised together in
    one GoldenSetError, each naming the file and the row's line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise InputError(
            path, f"no labels file (expected {','.join(LABEL_COLUMNS)}[,note] rows here)"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read the labels file ({e})") from e

    found: list[tuple[int, str]] = []  # (line, problem); line 0: the file as a whole

    def problem(line: int | None, message: str) -> None:
        found.append((line or 0, message))

    def refuse() -> GoldenSetError:
        found.sort(key=lambda p: p[0])  # stable: a line's problems in the order found
        return GoldenSetError(
            path, [f"{path} line {n}: {m}" if n else f"{path}: {m}" for n, m in found]
        )

    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header, header_line = [c.strip().lower() for c in row], start
            else:
                rows.append((start, row))
    except csv.Error as e:
        problem(reader.line_num, f"not valid CSV ({e})")
        raise refuse() from e
    if header is None:
        problem(None, f"empty: expected a header {','.join(LABEL_COLUMNS)}[,note] and rows")
        raise refuse()
    missing = [c for c in LABEL_COLUMNS if c not in header]
    extra = [c for c in header if c not in LABEL_COLUMNS + OPTIONAL_COLUMNS]
    twice = sorted({c for c in header if header.count(c) > 1})
    if missing or extra or twice:
        what = []
        if missing:
            what.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            what.append(f"unknown column(s) {', '.join(repr(c) for c in extra)}")
        if twice:
            what.append(f"column(s) given twice: {', '.join(twice)}")
        problem(
            header_line,
            f"header: {'; '.join(what)} (expected {','.join(LABEL_COLUMNS)}[,note])",
        )
        raise refuse()
    if not rows:
        problem(None, "no labels: only the header")
        raise refuse()

    column = {name: header.index(name) for name in header}
    item_ids = [item.id for item in rubric.items]
    known_items = set(item_ids)
    labels: dict[str, dict[str, Label]] = {}
    first_line: dict[str, int] = {}  # call id -> the line of its first row
    mentioned: dict[str, set[str]] = {}  # call id -> item ids named (well formed or not)
    orphans: dict[str, list[int]] = {}  # call ids with no transcript -> their lines

    for line, row in rows:
        call_id = row[column["call_id"]].strip() if column["call_id"] < len(row) else ""
        item_id = row[column["item_id"]].strip() if column["item_id"] < len(row) else ""
        if call_id:
            first_line.setdefault(call_id, line)
            mentioned.setdefault(call_id, set()).add(item_id)
        if len(row) > len(header):
            problem(
                line,
                f"{len(row)} fields where the header has {len(header)} "
                "(quote a note that contains a comma)",
            )
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for name, i in column.items()}
        status = cells["status"].lower()
        ok = True
        if not call_id:
            problem(line, "no call_id")
            ok = False
        if not item_id:
            problem(line, "no item_id")
            ok = False
        elif item_id not in known_items:
            problem(line, f"unknown item {item_id!r} (not in rubric {_rubric_name(rubric)})")
            ok = False
        if status not in ITEM_STATUSES:
            shown = repr(cells["status"]) if cells["status"] else "empty"
            problem(line, f"status {shown} is not one of {', '.join(ITEM_STATUSES)}")
            ok = False
        if call_id and call_id not in calls:
            orphans.setdefault(call_id, []).append(line)
            continue
        if not ok:
            continue
        seen = labels.setdefault(call_id, {})
        if item_id in seen:
            problem(
                line,
                f"duplicate label for call {call_id} item {item_id} "
                f"(first on line {seen[item_id].line})",
            )
            continue
        seen[item_id] = Label(status, cells.get("note", ""), line)

    for call_id, lines in orphans.items():
        rows_word = "row" if len(lines) == 1 else "rows"
        problem(
            lines[0],
            f"call {call_id!r} has no transcript in {path.parent} "
            f"({len(lines)} {rows_word} from line {lines[0]})",
        )
    for call_id, line in first_line.items():
        if call_id in orphans:
            continue
        # an item named on a refused row is reported there, not again as missing
        absent = [i for i in item_ids if i not in mentioned[call_id]]
        if absent:
            problem(
                line,
                f"call {call_id} has no label for {len(absent)} item"
                f"{'s' if len(absent) != 1 else ''}: {', '.join(absent)}",
            )
    if found:
        raise refuse()
    return labels


EVIDENCE_FILE = "evidence.csv"
EVIDENCE_COLUMNS = ("call_id", "item_id", "turn")  # required; `text` optional


def read_evidence(
    path: Path, rubric: Rubric, labels: Mapping[str, Mapping[str, Label]]
) -> dict[str, dict[str, tuple[int, ...]]]:
    """call id -> item id -> the turns a person marked as doing the item, from `evidence.csv`
    (`call_id,item_id,turn[,text]`; turn: the index in the transcript's turns). An absent file
    gives {}. Every problem (an unlabelled call, an unknown item, a turn that is not a
    non-negative whole number) is raised together in one GoldenSetError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read the evidence file ({e})") from e
    problems: list[str] = []
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in EVIDENCE_COLUMNS if c not in header]
    if missing:
        raise GoldenSetError(
            path,
            [
                f"{path}: header: missing column(s) {', '.join(missing)} "
                f"(expected {','.join(EVIDENCE_COLUMNS)}[,text])"
            ],
        )
    reader.fieldnames = header
    known = {item.id for item in rubric.items}
    found: dict[str, dict[str, set[int]]] = {}
    try:
        for row in reader:
            line = reader.line_num
            call_id = (row.get("call_id") or "").strip()
            item_id = (row.get("item_id") or "").strip()
            turn = (row.get("turn") or "").strip()
            if call_id not in labels:
                problems.append(f"{path} line {line}: call {call_id!r} is not in labels.csv")
                continue
            if item_id not in known:
                problems.append(
                    f"{path} line {line}: unknown item {item_id!r} "
                    f"(not in rubric {_rubric_name(rubric)})"
                )
                continue
            if not turn.isdigit():
                problems.append(f"{path} line {line}: turn {turn!r} is not a turn number")
                continue
            found.setdefault(call_id, {}).setdefault(item_id, set()).add(int(turn))
    except csv.Error as e:
        problems.append(f"{path} line {reader.line_num}: not valid CSV ({e})")
    if problems:
        raise GoldenSetError(path, problems)
    return {c: {i: tuple(sorted(t)) for i, t in items.items()} for c, items in found.items()}


def _rubric_name(rubric: Rubric) -> str:
    return f"{rubric.rubric} v{rubric.version}"


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
            "agreement": _round(self.agreement),
            "labels": self.labels,
        }


@dataclass
class Evaluation:
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
                "agreement": _round(exact_agreement(self.pairs)),
                "kappa": _round(self.kappa),
            },
            "grade": {
                "mae": _round(self.mae, 2),
                "bias": _round(self.bias, 2),
                "pass_agreed": self.pass_agreed,
                "calls": len(self.calls),
            },
            "evidence": {
                "precision": _round(self.evidence_precision),
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
    from analyzer.review.calls import recompute_grade  # the rubric's rules for a person's statuses

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


def cross_validation_folds(call_ids: Sequence[str], k: int) -> list[tuple[list[str], list[str]]]:
    """(train, test) call ids for each of `k` folds: every call is in exactly one test fold
    and never in the train set beside it. The split is a fixed shuffle of the sorted ids, so
    a re-run gives the same folds."""
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    ids = sorted(call_ids)
    if len(ids) < k:
        raise ValueError(f"{len(ids)} labelled calls cannot make {k} folds")
    random.Random(FOLD_SEED).shuffle(ids)
    tests = [sorted(ids[j::k]) for j in range(k)]
    return [(sorted(set(ids) - set(test)), test) for test in tests]


@dataclass
class GoldenSet:
    """A golden set read and checked: its labelled calls' transcripts, labels and evidence."""

    golden: Path
    files: dict[str, Path]
    labels: dict[str, dict[str, Label]]
    evidence: dict[str, dict[str, tuple[int, ...]]]
    transcripts: dict[str, Transcript]
    has_evidence: bool  # the folder has evidence.csv: every turn that did an item is marked

    def examples(self, call_ids: Collection[str] | None = None) -> list[Example]:
        return [
            Example(
                call_id,
                self.transcripts[call_id],
                {item_id: label.status for item_id, label in self.labels[call_id].items()},
                dict(self.evidence.get(call_id, {})),
                exhaustive=self.has_evidence,
            )
            for call_id in sorted(self.labels)
            if call_ids is None or call_id in call_ids
        ]


def read_golden(
    golden: Path,
    rubric: Rubric,
    *,
    settings: TranscribeSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> GoldenSet:
    """Read a golden set whole: labels and evidence checked (every problem at once), then each
    labelled call read (or transcribed); calls that cannot be read are reported together."""
    from analyzer.runs.score import load_call  # reading recordings loads PyAV and Whisper

    golden = Path(golden)
    files = find_golden_calls(golden)
    labels = read_labels(golden / LABELS_FILE, rubric, files.keys())
    evidence = read_evidence(golden / EVIDENCE_FILE, rubric, labels)
    settings = settings or TranscribeSettings()
    transcripts: dict[str, Transcript] = {}
    failures: list[str] = []
    for call_id in sorted(labels):
        path = files[call_id]
        if progress:
            progress(call_id)
        try:
            transcripts[call_id] = load_call(path, settings)
        except ModelError:
            raise
        except InputError as e:
            failures.append(str(e))
        except AnalyzerError as e:
            failures.append(f"{path}: {e}")
    if failures:
        raise GoldenSetError(golden, failures)
    has_evidence = (golden / EVIDENCE_FILE).is_file()
    return GoldenSet(golden, files, labels, evidence, transcripts, has_evidence)


def find_golden_calls(golden: Path) -> dict[str, Path]:
    """call id (the file's stem) -> the file `analyzer score` would read for it. Two files
    claiming the same call id are refused."""
    if not golden.exists():
        raise InputError(golden, "no such folder")
    if not golden.is_dir():
        raise InputError(golden, "not a folder (a golden set is a folder of calls + labels.csv)")
    found: dict[str, list[Path]] = {}
    for path in find_calls([golden]):
        found.setdefault(call_stem(path), []).append(path)
    clashes = [
        f"{paths[0]}: call id {call_id!r} is also {', '.join(map(str, paths[1:]))}"
        for call_id, paths in found.items()
        if len(paths) > 1
    ]
    if clashes:
        raise GoldenSetError(golden, clashes)
    return {call_id: paths[0] for call_id, paths in sorted(found.items())}


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
    from analyzer.grading.learn import learn

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
            f"{_fmt(precision(c)):>9}  {_fmt(recall(c)):>6}  {_fmt(f1(c)):>4}  "
            f"{_fmt(item.agreement):>5}"
        )
    c = ev.counts
    agreed = sum(s == m for s, m in ev.pairs)
    lines += [
        "",
        f"Overall (micro, {len(ev.pairs)} labels): precision {_fmt(precision(c))}  "
        f"recall {_fmt(recall(c))}  F1 {_fmt(f1(c))}  "
        f"(TP {c.tp}, FP {c.fp}, FN {c.fn}, TN {c.tn})",
        f"Exact status agreement: {_fmt(exact_agreement(ev.pairs))} ({agreed} of {len(ev.pairs)});"
        f"  Cohen's kappa over met/partial/missed/na: {_fmt(ev.kappa)}",
        f"Grade: mean absolute error {_fmt(ev.mae, 1)} points, bias {_signed(ev.bias)} "
        f"(suggested minus manager: {_leaning(ev.bias)})",
        f"Pass/fail: the same on {ev.pass_agreed} of {len(ev.calls)} calls",
    ]
    if ev.evidence_checked is not None:
        lines.append(
            f"Evidence precision: {_fmt(ev.evidence_precision)} ({ev.evidence_right} of "
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
                f"{_verdict(call.manager_passed)}  difference {_signed(call.difference)}  "
                f"{count} item{'s' if count != 1 else ''} differ"
            )
            for d in call.differences:
                lines.append(f"      {d.item_id}: {d.suggested} -> {d.manager}")
    return "\n".join(lines) + "\n"


WRITERS: dict[str, Callable[[Evaluation], str]] = {
    "table": evaluation_table,
    "json": evaluation_json,
}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def _leaning(bias: float | None) -> str:
    if not bias:
        return "no lean either way" if bias is not None else "no calls"
    return f"the tool grades {'higher' if bias > 0 else 'lower'} on average"


def _verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _counts_dict(c: Counts) -> dict[str, Any]:
    return {
        "tp": c.tp,
        "fp": c.fp,
        "fn": c.fn,
        "tn": c.tn,
        "precision": _round(precision(c)),
        "recall": _round(recall(c)),
        "f1": _round(f1(c)),
    }
