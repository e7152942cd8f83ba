"""Scoring many calls: find them, read or transcribe each, grade it, and never let one bad file
stop the rest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .audio import AUDIO_SUFFIXES
from .errors import AnalyzerError, InputError
from .grade import Grade, Grader
from .pipeline import transcribe_cached
from .readers import read_transcript
from .settings import TranscribeSettings
from .transcript import Transcript

TRANSCRIPT_SUFFIXES = (".json", ".txt", ".text", ".srt", ".vtt", ".md")
SKIPPED_NAMES = ("readme", "license", "licence", "changelog")
SIDECAR_SUFFIXES = (".meta.json", ".metadata.json")  # call metadata next to a call, not calls


@dataclass(frozen=True)
class Scored:
    """The outcome for one file: a grade, or the one-line reason it could not be graded."""

    path: str
    grade: Grade | None = None
    error: str | None = None


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
        stems = {(c.parent, c.name.split(".")[0]) for c in transcripts}
        for child in children:
            if child in transcripts or (
                is_audio(child) and (child.parent, child.name.split(".")[0]) not in stems
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


def load_call(path: Path, settings: TranscribeSettings) -> Transcript:
    """A transcript file is read; a recording is transcribed (or its cached transcript reused)."""
    if is_audio(path):
        return transcribe_cached(path, settings)[0]
    return read_transcript(path)


def looks_like_transcript(path: Path) -> bool:
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
