"""The worker side of the nightly batch: one call from its files to a grade, in whichever
process runs it.

A worker reads or transcribes a call and grades it (`grade_job`); a failure that is the call's
becomes its one-line reason (`attempt`), while a missing model or a bad learned file stops the
run. Graders are built once per process and rubric file (`grader_for`), with the learned file
the batch was configured with (`configure_learned`). A worker process dies with the batch that
started it (`die_with_parent`).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from analyzer.errors import AnalyzerError, InputError, LearnedFileError, ModelError
from analyzer.grading.grade import Grade, Grader
from analyzer.grading.learned import load_learned
from analyzer.grading.rubric import Rubric, load_rubric
from analyzer.runs.discover import CallSource
from analyzer.runs.score import load_call
from analyzer.speech.settings import TranscribeSettings
from analyzer.transcripts.transcript import Transcript

log = logging.getLogger("analyzer.runs.batch")  # the batch's log: its workers report under it

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies (Linux)
PARENT_CHECK_SECONDS = 1.0  # off Linux, how often a worker looks for its parent


@dataclass(frozen=True)
class CallJob:
    """What a worker needs for one call."""

    source: CallSource
    content_hash: str
    call_id: str
    rubric_path: Path


@dataclass(frozen=True)
class CallDone:
    """A worker's answer: the transcript and grade, or why the call failed."""

    job: CallJob
    transcript: Transcript | None = None
    grade: Grade | None = None
    error: str | None = None


def die_with_parent(parent: int) -> None:
    """End this process when the process `parent` ends, however it ends (kill -9 included).

    Linux: the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG; strictly, when
    the thread that started this worker ends: the batch's own, which outlives its pool).
    Elsewhere, a thread looks for the parent every PARENT_CHECK_SECONDS. A parent gone before
    this ran ends it at once.
    """
    if not _kill_me_with_my_parent():
        watcher = threading.Thread(
            target=_watch_parent, args=(parent,), name="parent-watch", daemon=True
        )
        watcher.start()
    if os.getppid() != parent:  # died before prctl: the worker was handed to another parent
        os._exit(1)


def _kill_me_with_my_parent() -> bool:
    """Ask Linux for SIGKILL when the parent dies; False where that cannot be asked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


# Per process (the parent's re-grades, each worker's calls), keyed by the rubric file as it is
# now: an edited rubric gets a new Grader.
_graders: dict[tuple[Path, int, int], Grader] = {}
_learned: tuple[Path, Path] | None = None  # (learned file, the rubric file it is for)


def configure_learned(path: Path | None, rubric_path: Path) -> None:
    """Grade the rubric at `rubric_path` with the learned file at `path` (None: zero-shot)."""
    global _learned
    _learned = (Path(path), Path(rubric_path)) if path is not None else None
    _graders.clear()


def learned_settings() -> tuple[Path, Path] | None:
    """What `configure_learned` was given (learned file, rubric file), for a new worker."""
    return _learned


def grader_for(path: Path, rubric: Rubric | None = None) -> Grader:
    """The Grader for a rubric file, built once per process and file version."""
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _graders:
        rubric = rubric or load_rubric(path)
        learned = None
        if _learned is not None and _learned[1] == path:
            learned = load_learned(_learned[0], rubric)
        _graders[key] = Grader(rubric, learned)
    return _graders[key]


def grade_job(job: CallJob, settings: TranscribeSettings) -> CallDone:
    """Worker side: one call from its files to a grade. Never raises for a bad call."""

    def work() -> tuple[Transcript, Grade]:
        transcript = _load(job, settings)
        transcript.call_id = job.call_id
        return transcript, grader_for(job.rubric_path).grade(transcript)

    return attempt(job, work)


def attempt(job: CallJob, work: Callable[[], tuple[Transcript, Grade]]) -> CallDone:
    """Grade one call (`work`), its failure recorded against it, unless it is not the call's."""
    try:
        transcript, grade = work()
    except (ModelError, LearnedFileError):
        raise  # not the call's fault: the whole run stops with the model's message
    except (AnalyzerError, OSError) as e:
        return CallDone(job, error=failure_reason(e))
    except Exception as e:  # a bug must not stop the night: record it against the call
        log.exception("unexpected error on %s", job.source.path)
        return CallDone(job, error=internal_error(e))
    return CallDone(job, transcript, grade)


def _load(job: CallJob, settings: TranscribeSettings) -> Transcript:
    source = job.source
    transcript = load_call(source.path, settings, rep_name=source.metadata.get("rep"))
    if source.audio is not None:
        transcript.audio = str(source.audio)
    meta = source.metadata
    if meta.get("rep") and not transcript.rep:
        transcript.rep = meta["rep"]
    if meta.get("started_at") or (meta.get("date") and not transcript.started_at):
        transcript.started_at = meta.get("started_at") or meta["date"]
    return transcript


def failure_reason(error: BaseException) -> str:
    """A failure's one-line reason, without repeating the path (the report names it)."""
    if isinstance(error, InputError):
        return error.problem
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def internal_error(error: Exception) -> str:
    """The one-line reason recorded for a call that met a bug."""
    first = str(error).splitlines()[0] if str(error) else ""
    return f"internal error: {type(error).__name__}" + (f": {first}" if first else "")
