"""Finding a night's calls on disk, with their metadata.

A call is the group of files sharing a name in one folder: a recording (`x.wav`), a transcript
(`x.json`, `x.txt`...; used instead of transcribing when present) and a sidecar `x.meta.json`.
Metadata (rep, date, customer, call type, outcome) comes from, strongest first: the sidecar, the
folder's `calls.csv` manifest, and the file name read with a pattern like `{date}_{rep}_{id}`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .audio import AUDIO_SUFFIXES

TRANSCRIPT_SUFFIXES = (".json", ".txt", ".text", ".srt", ".vtt", ".md")
SKIPPED_NAMES = ("readme", "license", "licence", "changelog")
SIDECAR_SUFFIXES = (".meta.json", ".metadata.json")  # call metadata next to a call, not calls
METADATA_KEYS = ("call_id", "rep", "date", "customer", "call_type", "outcome", "started_at")
FILE_COLUMNS = ("file", "path", "audio", "transcript", "recording")


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
    """Something found that cannot become a call (reported as a failed call)."""

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
            metadata = {k: v for k, v in match_pattern(name_pattern, stem).items() if v}
            row = manifests.get(folder, {})
            names = {found[k].name for k in ("audio", "transcript") if k in found} | {stem}
            for name in names:
                metadata.update({k: v for k, v in row.get(name, {}).items() if v})
            if "sidecar" in found:
                sidecar, problem = read_sidecar(found["sidecar"])
                metadata.update(sidecar)
                if problem:
                    problems.append(problem)
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
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            column = next((c for c in FILE_COLUMNS if c in (reader.fieldnames or [])), None)
            if column is None:
                return {}, [
                    Problem(
                        str(path), f"no file column (expected one of: {', '.join(FILE_COLUMNS)})"
                    )
                ]
            for number, row in enumerate(reader, start=2):
                name = (row.get(column) or "").strip()
                if not name:
                    problems.append(Problem(f"{path}:{number}", "row has no file name"))
                    continue
                values = {k: (row.get(k) or "").strip() for k in METADATA_KEYS}
                date_problem = _normalise_date(values)
                if date_problem:
                    problems.append(Problem(f"{path}:{number}", date_problem))
                rows[Path(name).name] = values
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        problems.append(Problem(str(path), f"cannot read the manifest: {e}"))
    return rows, problems


def read_sidecar(path: Path) -> tuple[dict[str, str], Problem | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        return {}, Problem(str(path), f"unreadable call metadata: {e}")
    values = {k: str(data[k]).strip() for k in METADATA_KEYS if data.get(k) not in (None, "")}
    problem = _normalise_date(values)
    return values, Problem(str(path), problem) if problem else None


def _normalise_date(values: dict[str, str]) -> str | None:
    raw = values.get("date")
    if not raw:
        return None
    try:
        values["date"] = parse_date(raw).isoformat()
    except ValueError:
        values["date"] = ""
        return f"date {raw!r} is not a date (use YYYY-MM-DD)"
    return None


def parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return datetime.fromisoformat(text).date()
