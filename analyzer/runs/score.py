"""Scoring many calls: read or transcribe each, grade it, and never let one bad file stop the
rest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from analyzer.errors import AnalyzerError, InputError, ModelError
from analyzer.grading.grade import Grade, Grader
from analyzer.runs.discover import is_audio
from analyzer.speech.settings import TranscribeSettings
from analyzer.transcripts.readers import read_transcript
from analyzer.transcripts.transcript import Transcript


@dataclass(frozen=True)
class Scored:
    """The outcome for one file: a grade, or the one-line reason it could not be graded."""

    path: str
    grade: Grade | None = None
    error: str | None = None


def load_call(path: Path, settings: TranscribeSettings, rep_name: str | None = None) -> Transcript:
    """A transcript file is read; a recording is transcribed (or its cached transcript reused),
    its rep channel named `rep_name` when the call's metadata gives one."""
    if is_audio(path):
        from analyzer.speech.pipeline import (
            transcribe_cached,  # loads PyAV and Whisper only for recordings
        )

        return transcribe_cached(path, settings, rep_name=rep_name)[0]
    return read_transcript(path)


def score_files(
    paths: Iterable[Path],
    grader: Grader,
    rep: str | None = None,
    settings: TranscribeSettings | None = None,
) -> Iterator[Scored]:
    """Grade each file in turn; a file that fails yields its error and the rest go on.

    A missing speech model is not a per-file problem: its ModelError ends the run.
    """
    settings = settings or TranscribeSettings()
    for path in paths:
        try:
            yield Scored(str(path), grade=grader.grade(load_call(path, settings), rep))
        except ModelError:
            raise
        except InputError as e:
            yield Scored(str(path), error=str(e))
        except AnalyzerError as e:
            yield Scored(str(path), error=f"{path}: {e}")
