"""Finding a night's calls on disk, with their metadata.

A call is the group of files sharing a name in one folder: a recording (`x.wav`), a transcript
(`x.json`, `x.txt`...; used instead of transcribing when present) and a sidecar `x.meta.json`.
Metadata (rep, date, customer, call type, outcome) comes from, strongest first: the sidecar, the
folder's `calls.csv` manifest, and the file name read with a pattern like `{date}_{rep}_{id}`.
Every call gets its call id here (`metadata["call_id"]`): the one given, else the file name's,
made safe for URLs and file names (`safe_call_id`).
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.dates import parse_day
from analyzer.transcripts.readers import decode_bytes, is_binary
from analyzer.transcripts.readers._common import parse_json, valid_text
from analyzer.transcripts.transcript import AUDIO_SUFFIXES

TRANSCRIPT_SUFFIXES = (".json", ".txt", ".text", ".srt", ".vtt", ".md")
SKIPPED_NAMES = ("readme", "license", "licence", "changelog")
SIDECAR_SUFFIXES = (".meta.json", ".metadata.json")  # call metadata next to a call, not calls
METADATA_KEYS = ("call_id", "rep", "date", "customer", "call_type", "outcome", "started_at")
FILE_COLUMNS = ("file", "path", "audio", "transcript", "recording")

# A call id goes as it is into URLs (the web queue links to /calls/ID), file names and reports:
# letters, digits, ".", "_" and "-"; not starting with "." or "-", no "..", and this long at most.
CALL_ID_MAX = 100
CALL_ID_RULE = 'letters, digits, ".", "_" and "-"'
_CALL_ID = re.compile(rf"\w[\w.\-]{{0,{CALL_ID_MAX - 1}}}")
_CALL_ID_UNSAFE = re.compile(r"[^\w.\-]+|\.{2,}")


@dataclass(frozen=True)
class CallSource:
    """One call found on disk."""

    audio: Path | None
    transcript: Path | None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """The file that will be read: the transcript when there is one."""
        chosen = self.transcript or self.audio
        assert chosen is not None
        return chosen

    @property
    def call_date(self) -> str | None:
        return self.metadata.get("date")


@dataclass(frozen=True)
class Problem:
    """Something found that cannot become a call, or call metadata that was not used as given
    (reported as a failed call; the call itself, if any, is still graded)."""

    path: str
    reason: str


def discover_calls(
    paths: Iterable[str | Path],
    manifest_name: str = "calls.csv",
    pattern: str = "{date}_{rep}_{id}",
) -> tuple[list[CallSource], list[Problem]]:
    """Every call under the given folders (and files), with its metadata; and the problems."""
    name_pattern = compile_pattern(pattern)
    calls: list[CallSource] = []
    problems: list[Problem] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            problems.append(Problem(str(root), "no such file or folder"))
            continue
        files = [root] if root.is_file() else [p for p in sorted(root.rglob("*")) if p.is_file()]
        groups: dict[tuple[Path, str], dict[str, Path]] = {}
        manifests: dict[Path, dict[str, dict[str, str]]] = {}
        for f in files:
            if f.name == manifest_name:
                rows, bad = read_manifest(f)
                manifests[f.parent] = rows
                problems.extend(bad)
                continue
            kind = _kind(f)
            if kind is not None:
                groups.setdefault((f.parent, call_stem(f)), {}).setdefault(kind, f)
        for (folder, stem), found in sorted(groups.items()):
            if "audio" not in found and "transcript" not in found:
                continue  # a sidecar alone
            named = match_pattern(name_pattern, valid_text(stem))
            metadata = {k: v for k, v in named.items() if v}
            row = manifests.get(folder, {})
            names = {found[k].name for k in ("audio", "transcript") if k in found} | {stem}
            for name in names:
                metadata.update({k: v for k, v in row.get(name, {}).items() if v})
            if "sidecar" in found:
                sidecar, problem = read_sidecar(found["sidecar"])
                metadata.update({k: v for k, v in sidecar.items() if v})
                if problem:
                    problems.append(problem)
            if "call_id" not in metadata:
                call_id, problem = _file_call_id(found.get("transcript") or found["audio"])
                if problem:
                    problems.append(problem)
                if not call_id:
                    continue
                metadata["call_id"] = call_id
            calls.append(CallSource(found.get("audio"), found.get("transcript"), metadata))
        for folder, rows in manifests.items():
            present = {n for (f, s), fs in groups.items() if f == folder for n in _names(s, fs)}
            for name in rows:
                if name not in present:
                    problems.append(
                        Problem(str(folder / name), f"listed in {manifest_name} but not found")
                    )
    return calls, problems


def find_calls(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expanded (recursively) to the transcripts and recordings inside.

    A recording with a transcript of the same name beside it is represented by the transcript.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.append(path)
            continue
        children = [c for c in sorted(path.rglob("*")) if c.is_file()]
        transcripts = [c for c in children if looks_like_transcript(c)]
        stems = {(c.parent, call_stem(c)) for c in transcripts}
        for child in children:
            if child in transcripts or (
                is_audio(child) and (child.parent, call_stem(child)) not in stems
            ):
                found.append(child)
    return list(dict.fromkeys(found))


def find_recordings(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expanded (recursively) to the recordings inside them."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(c for c in sorted(path.rglob("*")) if c.is_file() and is_audio(c))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES


def looks_like_transcript(path: Path) -> bool:
    name = path.name.lower()
    if name.startswith(".") or any(name.startswith(s) for s in SKIPPED_NAMES):
        return False
    if name.endswith(SIDECAR_SUFFIXES):
        return False
    return name.endswith(TRANSCRIPT_SUFFIXES)


def _names(stem: str, found: dict[str, Path]) -> set[str]:
    return {stem} | {p.name for p in found.values()}


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(SIDECAR_SUFFIXES):
        return "sidecar"
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return "audio"
    if looks_like_transcript(path):
        return "transcript"
    return None


def call_stem(path: Path) -> str:
    """`x.wav`, `x.json`, `x.meta.json` -> `x` (a call's files share this name)."""
    name = path.name
    for suffix in SIDECAR_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def safe_call_id(wanted: str) -> str:
    """wanted when it is a safe call id (`CALL_ID_RULE`); else its slug, every run of other
    characters one "-" ("../../x?y=1#<b>" -> "x-y-1-b"); "" when nothing is left."""
    wanted = unicodedata.normalize("NFC", wanted.strip())
    if ".." not in wanted and _CALL_ID.fullmatch(wanted):
        return wanted
    slug = re.sub(r"-{2,}", "-", _CALL_ID_UNSAFE.sub("-", wanted)).strip(".-")
    return slug[:CALL_ID_MAX].rstrip(".-")


def _call_id_problem(raw: str, safe: str) -> str | None:
    """What a user is told when the call id given was not safe (None when it was)."""
    if safe == unicodedata.normalize("NFC", raw.strip()):
        return None
    if not safe:
        return f"call id {_quoted(raw)} has no letters or digits, so it is not used"
    return f"call id {_quoted(raw)} may hold only {CALL_ID_RULE}: used as {_quoted(safe)}"


def _normalise_call_id(values: dict[str, str]) -> str | None:
    """Make a given call_id safe; the problem, if it was not."""
    raw = values.get("call_id")
    if not raw:
        return None
    values["call_id"] = safe_call_id(raw)
    return _call_id_problem(raw, values["call_id"])


def _file_call_id(path: Path) -> tuple[str, Problem | None]:
    """The call id from the file's name (up to its first dot), made safe; and the problem."""
    raw = valid_text(path.name.split(".")[0])
    call_id = safe_call_id(raw)
    problem = _call_id_problem(raw, call_id)
    if problem and not call_id:
        problem += "; give the call a call_id in a sidecar or the manifest"
    return call_id, Problem(str(path), f"the file name's {problem}") if problem else None


def _quoted(text: str) -> str:
    """text in quotes for a one-line message, cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """`{date}_{rep}_{id}` -> a regex with named groups; `{date}` takes a YYYY-MM-DD date."""
    out, pos = "", 0
    for m in re.finditer(r"\{(\w+)\}", pattern):
        out += re.escape(pattern[pos : m.start()])
        name = m.group(1)
        out += r"(?P<date>\d{4}-\d{2}-\d{2})" if name == "date" else rf"(?P<{name}>.+?)"
        pos = m.end()
    out += re.escape(pattern[pos:])
    return re.compile(out)


def match_pattern(pattern: re.Pattern[str], stem: str) -> dict[str, str]:
    m = pattern.fullmatch(stem)
    if m is None:
        return {}
    found = {k: v for k, v in m.groupdict().items() if v}
    if "id" in found:
        found["external_id"] = found.pop("id")
    if "rep" in found:
        found["rep"] = found["rep"].replace("-", " ").replace(".", " ").title()
    return found


def read_manifest(path: Path) -> tuple[dict[str, dict[str, str]], list[Problem]]:
    """calls.csv: one row per call, the file name in a `file` (or `path`, `audio`...) column."""
    rows: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    try:
        text = decode_bytes(path.read_bytes())
    except OSError as e:
        return {}, [Problem(str(path), f"cannot read the manifest ({e.strerror or e})")]
    if is_binary(text):
        return {}, [Problem(str(path), "cannot read the manifest: not a CSV file (binary data)")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        column = next((c for c in FILE_COLUMNS if c in (reader.fieldnames or [])), None)
        if column is None:
            return {}, [
                Problem(str(path), f"no file column (expected one of: {', '.join(FILE_COLUMNS)})")
            ]
        for row in reader:
            where = f"{path}:{reader.line_num}"
            name = (row.get(column) or "").strip()
            if not name:
                problems.append(Problem(where, "row has no file name"))
                continue
            values = {k: (row.get(k) or "").strip() for k in METADATA_KEYS}
            for problem in (_normalise_date(values), _normalise_call_id(values)):
                if problem:
                    problems.append(Problem(where, problem))
            rows[Path(name).name] = values
    except csv.Error as e:
        problem = str(e)
        if "field limit" in problem:
            problem = f"a field is longer than {csv.field_size_limit():,} characters"
        where = f"{path}:{reader.line_num + 1}"  # the line it stopped in, not yet counted
        problems.append(Problem(where, f"cannot read the manifest: {problem}"))
    return rows, problems


def read_sidecar(path: Path) -> tuple[dict[str, str], Problem | None]:
    """`x.meta.json`: an object with some of METADATA_KEYS; and what was wrong with it."""
    try:
        data = parse_json(decode_bytes(path.read_bytes()))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except OSError as e:
        return {}, Problem(str(path), f"unreadable call metadata ({e.strerror or e})")
    except ValueError as e:
        return {}, Problem(str(path), f"unreadable call metadata: {e}")
    values: dict[str, str] = {}
    found = []
    for key in METADATA_KEYS:
        if data.get(key) in (None, ""):
            continue
        if (value := _scalar(data[key])) is None:
            found.append(f"{key} is not a text or a number")
        else:
            values[key] = value
    found.extend(p for p in (_normalise_date(values), _normalise_call_id(values)) if p)
    return values, Problem(str(path), "; ".join(found)) if found else None


def _scalar(value: Any) -> str | None:
    """A JSON text or (finite) number as text; None for an object, a list, true or false."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value).strip()


def _normalise_date(values: dict[str, str]) -> str | None:
    raw = values.get("date")
    if not raw:
        return None
    try:
        values["date"] = parse_day(raw).isoformat()
    except ValueError:
        values["date"] = ""
        return f"date {_quoted(raw)} is not a date (use YYYY-MM-DD)"
    return None
