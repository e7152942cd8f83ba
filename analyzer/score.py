"""Scoring many transcript files: find them, grade each, never let one bad file stop the rest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import AnalyzerError, InputError
from .grade import Grade, Grader
from .readers import read_transcript

TRANSCRIPT_SUFFIXES = (".json", ".txt", ".text", ".srt", ".vtt", ".md")
SKIPPED_NAMES = ("readme", "license", "licence", "changelog")
SIDECAR_SUFFIXES = (".meta.json", ".metadata.json")  # call metadata next to a call, not calls


@dataclass(frozen=True)
class Scored:
    """The outcome for one file: a grade, or the one-line reason it could not be graded."""

    path: str
    grade: Grade | None = None
    error: str | None = None


def find_transcripts(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expanded (recursively) to the transcript files inside them."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.append(path)
            continue
        for child in sorted(path.rglob("*")):
            if child.is_file() and _looks_like_transcript(child):
                found.append(child)
    return list(dict.fromkeys(found))


def _looks_like_transcript(path: Path) -> bool:
    name = path.name.lower()
    if name.startswith(".") or any(name.startswith(s) for s in SKIPPED_NAMES):
        return False
    if name.endswith(SIDECAR_SUFFIXES):
        return False
    return name.endswith(TRANSCRIPT_SUFFIXES)


def score_files(paths: Iterable[Path], grader: Grader, rep: str | None = None) -> Iterator[Scored]:
    """Grade each file in turn; a file that fails yields its error and the rest go on."""
    for path in paths:
        try:
            transcript = read_transcript(path)
            yield Scored(str(path), grade=grader.grade(transcript, rep))
        except InputError as e:
            yield Scored(str(path), error=str(e))
        except AnalyzerError as e:
            yield Scored(str(path), error=f"{path}: {e}")
