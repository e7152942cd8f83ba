"""Golden sets: a folder of calls and the statuses a manager gave each of their items.

A golden set is a folder of calls (transcripts or recordings, read as `analyzer score` reads them)
and `labels.csv` beside them: `call_id,item_id,status[,note]`, one row per call and rubric item,
the status a manager gave (met, partial, missed or na). `evidence.csv`, when there is one, marks
the turns that did each item (`call_id,item_id,turn[,text]`).

`read_labels` and `read_evidence` check their file against the rubric and the calls found,
raising every problem at once (GoldenSetError, each naming the file and line);
`find_golden_calls` finds the calls; `read_golden` reads a set whole into a `GoldenSet`, whose
`examples` feed `learning.learn`; `cross_validation_folds` splits its calls into folds.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzer.errors import AnalyzerError, GoldenSetError, InputError, ModelError
from analyzer.grading.examples import Example
from analyzer.grading.rubric import ITEM_STATUSES, Rubric
from analyzer.runs.discover import call_stem, find_calls
from analyzer.speech.settings import TranscribeSettings
from analyzer.transcripts.transcript import Transcript

LABELS_FILE = "labels.csv"
LABEL_COLUMNS = ("call_id", "item_id", "status")  # required, in any order
OPTIONAL_COLUMNS = ("note",)
FOLD_SEED = 0  # cross-validation folds: a fixed shuffle, the same on every run


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


# -- the golden set ----------------------------------------------------------------------------


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
