"""The nightly batch: a night's recordings -> stored suggested grades. Resumable, idempotent.

A call is identified by the hash of its content (the recording, or the transcript when there is
no recording). A call already graded against the same rubric version is skipped; a call whose
transcript is stored but whose rubric changed is re-graded without transcribing again. Workers
(`worker.py`) read, transcribe and grade; the parent process alone writes, one transaction per
call, so a run killed at any moment leaves whole calls only and the next run finishes the rest;
a call that cannot be stored fails alone. One run at a time holds the database (an OS file lock
beside its real file, released by the OS however the process ends). Workers never hold that
lock, and die with the parent: a parent killed outright leaves no workers behind, and the next
run can start.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

from analyzer.config import Config
from analyzer.dates import parse_day
from analyzer.errors import AnalyzerError, BatchBusyError, StoreError
from analyzer.grading import semantic
from analyzer.grading.grade import Grade, Grader
from analyzer.grading.learned import load_learned
from analyzer.grading.rubric import Rubric, default_rubric_path, load_rubric
from analyzer.runs.discover import CallSource, discover_calls, is_audio
from analyzer.runs.worker import (
    CallDone,
    CallJob,
    attempt,
    configure_learned,
    die_with_parent,
    failure_reason,
    grade_job,
    grader_for,
    internal_error,
    learned_settings,
)
from analyzer.speech.audio import content_hash
from analyzer.speech.settings import TranscribeSettings
from analyzer.store import CallRecord, Store
from analyzer.transcripts.transcript import Transcript

log = logging.getLogger("analyzer.runs.batch")

FLAGS_TO_REVIEW = ("below_pass_mark", "critical_missed", "forbidden_said", "low_confidence")
MEMORY_PER_TRANSCRIBER = 1.5 * 1024**3  # bytes a transcribing worker may use (model + audio)


@dataclass
class BatchReport:
    run_id: int
    found: int = 0
    graded: list[tuple[str, float, list[str]]] = field(default_factory=list)  # call, grade, flags
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # path, reason
    seconds: float = 0.0

    @property
    def mean_grade(self) -> float | None:
        return sum(g for _, g, _ in self.graded) / len(self.graded) if self.graded else None

    @property
    def flagged(self) -> list[tuple[str, float, list[str]]]:
        return [g for g in self.graded if set(g[2]) & set(FLAGS_TO_REVIEW)]


Progress = Callable[[int, int, str], None]  # (done, total, what just finished)


def run_batch(
    paths: list[Path],
    config: Config,
    db_path: Path,
    *,
    rubric_path: Path | None = None,
    since: date | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> BatchReport:
    """Grade every call under `paths` not yet graded, storing each as it completes."""
    started = time.perf_counter()
    learned = config.grading.learned
    if learned is not None:  # checked before anything is stored: it must fit the default rubric
        load_learned(
            learned, load_rubric(rubric_path or config.grading.rubric or default_rubric_path())
        )
    with Store.open(db_path) as store, hold_lock(db_path):
        stale = store.mark_stale_runs(every=True)  # holding the lock: none of them is running
        if stale:
            log.info("%d earlier run(s) had been interrupted; finishing their work", stale)
        options = {"paths": [str(p) for p in paths], "since": since and since.isoformat()}
        report = BatchReport(store.start_run(options))
        try:
            _run(store, report, paths, config, rubric_path, since, workers, progress)
        except BaseException:
            _finish(store, report, started, "interrupted")
            raise
        _finish(store, report, started, "finished")
    return report


def _run(
    store: Store,
    report: BatchReport,
    paths: list[Path],
    config: Config,
    rubric_path: Path | None,
    since: date | None,
    workers: int | None,
    progress: Progress | None,
) -> None:
    rubrics = _Rubrics(rubric_path or config.grading.rubric or default_rubric_path(), config)
    configure_learned(config.grading.learned, rubrics.default)
    sources, problems = discover_calls(paths, config.batch.manifest, config.batch.filename_pattern)
    for problem in problems:
        _fail(store, report, problem.path, problem.reason)
    sources = [s for s in sources if since is None or _call_day(s) >= since]
    report.found = len(sources)

    todo: list[CallJob] = []
    regrade: list[CallJob] = []
    graded_cache: dict[tuple[str, str], set[str]] = {}
    for source in sources:
        try:
            rubric, path = rubrics.get(source.metadata.get("call_type"))
            digest = content_hash(source.audio or source.transcript)  # type: ignore[arg-type]
        except (AnalyzerError, OSError) as e:
            _fail(store, report, str(source.path), failure_reason(e))
            continue
        key = (rubric.rubric, str(rubric.version))
        if key not in graded_cache:
            graded_cache[key] = store.graded_hashes(*key)
        if digest in graded_cache[key]:
            report.skipped += 1
            continue
        wanted = source.metadata.get("call_id") or source.path.name.split(".")[0]
        try:  # an id the database cannot take (not valid Unicode) fails this call alone
            job = CallJob(source, digest, store.call_id_for(digest, wanted), path)
        except StoreError as e:
            _fail(store, report, str(source.path), str(e))
            continue
        (regrade if store.stored_transcript(digest) is not None else todo).append(job)

    total = len(todo) + len(regrade)
    done = 0
    log.info("%d calls found: %d to grade, %d already graded", report.found, total, report.skipped)
    for outcome in _regrade(store, regrade, rubrics):
        done += 1
        _store(store, report, outcome)
        if progress:
            progress(done, total, outcome.job.call_id)
    for outcome in _process(todo, config.transcription, _worker_count(todo, workers)):
        done += 1
        _store(store, report, outcome)
        if progress:
            progress(done, total, outcome.job.call_id)


def _regrade(store: Store, jobs: list[CallJob], rubrics: _Rubrics) -> Iterator[CallDone]:
    """Calls whose transcript is stored: a new rubric version grades them without transcribing."""
    for job in jobs:
        transcript = store.stored_transcript(job.content_hash)
        assert transcript is not None
        transcript.call_id = job.call_id
        yield attempt(job, partial(_grade_stored, rubrics, job, transcript))


def _grade_stored(
    rubrics: _Rubrics, job: CallJob, transcript: Transcript
) -> tuple[Transcript, Grade]:
    return transcript, rubrics.grader(job.rubric_path).grade(transcript)


def _process(jobs: list[CallJob], settings: TranscribeSettings, workers: int) -> Iterator[CallDone]:
    """Read or transcribe, then grade, each job: in this process or in a pool of workers."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield grade_job(job, settings)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)  # the embedding model's, per worker
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_pool_context(),
        initializer=_start_worker,
        initargs=(threads, semantic.settings(), learned_settings(), os.getpid()),
    ) as pool:
        pending: set[Future[CallDone]] = set()
        queue = iter(jobs)
        for job in queue:  # keep a bounded number in flight: memory stays flat
            pending.add(pool.submit(grade_job, job, settings))
            if len(pending) >= workers * 4:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                next_job = next(queue, None)
                if next_job is not None:
                    pending.add(pool.submit(grade_job, next_job, settings))


def _pool_context() -> multiprocessing.context.BaseContext | None:
    """How workers start: forked by the batch itself on Linux (whatever Python's default), so
    that their parent is the batch, to die with; elsewhere Python's default (spawn), which is."""
    return multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None


def _start_worker(
    threads: int,
    model: tuple[Path | None, int | None],
    learned: tuple[Path, Path] | None = None,
    parent: int | None = None,
) -> None:
    """Each worker: without the parent's batch lock, bound to die with the parent (pid
    `parent`), with the parent's embedding model settings and learned file (whatever the start
    method), and its share of the cores for the model, so that workers x threads = cores."""
    release_inherited_locks()
    if parent is not None:
        die_with_parent(parent)
    semantic.configure(*model)
    semantic.set_threads(threads)
    if learned is not None:
        configure_learned(*learned)


def _store(store: Store, report: BatchReport, outcome: CallDone) -> None:
    job = outcome.job
    if outcome.error is not None or outcome.grade is None or outcome.transcript is None:
        _fail(store, report, str(job.source.path), outcome.error or "no grade")
        return
    transcript, grade = outcome.transcript, outcome.grade
    meta = job.source.metadata
    record = CallRecord(
        call_id=job.call_id,
        content_hash=job.content_hash,
        source_path=str(job.source.path),
        audio_path=str(job.source.audio) if job.source.audio else None,
        transcript_path=str(job.source.transcript) if job.source.transcript else None,
        rep=meta.get("rep") or grade.rep,
        call_date=meta.get("date") or (transcript.started_at or "")[:10] or None,
        started_at=transcript.started_at,
        customer=meta.get("customer") or transcript.metadata.get("customer"),
        call_type=meta.get("call_type"),
        outcome=meta.get("outcome") or transcript.metadata.get("outcome"),
        duration=transcript.span_seconds,
        metadata={k: v for k, v in meta.items() if k not in ("rep", "date", "call_id")},
    )
    try:  # one transaction: a call that cannot be stored leaves nothing of itself behind
        store.save_call(record, transcript, grade, report.run_id)
    except StoreError as e:
        _fail(store, report, str(job.source.path), str(e))
        return
    except Exception as e:  # a bug must not stop the night (nor every night after it)
        log.exception("unexpected error storing %s", job.source.path)
        _fail(store, report, str(job.source.path), internal_error(e))
        return
    report.graded.append((job.call_id, grade.grade, grade.flags))
    log.info(
        "graded %s: %.1f%s",
        job.call_id,
        grade.grade,
        f" [{', '.join(grade.flags)}]" if grade.flags else "",
    )


def _fail(store: Store, report: BatchReport, path: str, reason: str) -> None:
    report.failed.append((path, reason))
    log.warning("failed %s: %s", path, reason)
    try:
        store.record_failure(report.run_id, path, reason)
    except StoreError as e:
        log.error("could not record the failure of %s: %s", path, e)


def _finish(store: Store, report: BatchReport, started: float, status: str) -> None:
    report.seconds = time.perf_counter() - started
    store.finish_run(
        report.run_id,
        status=status,
        found=report.found,
        graded=len(report.graded),
        skipped=report.skipped,
        failed=len(report.failed),
        seconds=round(report.seconds, 3),
        mean_grade=report.mean_grade,
    )


def _call_day(source: CallSource) -> date:
    if source.call_date:
        return parse_day(source.call_date)
    return date.fromtimestamp(source.path.stat().st_mtime)


def _worker_count(jobs: list[CallJob], wanted: int | None) -> int:
    """One worker per core; transcription is also bounded by memory."""
    cores = os.cpu_count() or 1
    count = wanted or cores
    if any(
        job.source.transcript is None and is_audio(job.source.audio)
        for job in jobs
        if job.source.audio
    ):
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            count = max(1, min(count, int(free // MEMORY_PER_TRANSCRIBER)))
        except (ValueError, OSError):
            pass
    return max(1, min(count, len(jobs)))


class _Rubrics:
    """Rubrics by path, loaded once; the default must load, per-type ones fail their calls."""

    def __init__(self, default: Path, config: Config) -> None:
        self.config = config
        self.default = Path(default)
        self._loaded: dict[Path, Rubric] = {self.default: load_rubric(self.default)}

    def get(self, call_type: str | None) -> tuple[Rubric, Path]:
        mapped = self.config.grading.rubrics.get(call_type) if call_type else None
        path = Path(mapped) if mapped else self.default  # --rubric, else the configured default
        if path not in self._loaded:
            self._loaded[path] = load_rubric(path)
        return self._loaded[path], path

    def grader(self, path: Path) -> Grader:
        return grader_for(path, self._loaded[path])


# The descriptors of the batch locks this process holds: a forked worker closes its copies.
_lock_fds: set[int] = set()


def lock_path_for(db_path: Path) -> Path:
    """The batch lock of a database: beside its real file, so that every path to the same
    database (a symlink, `./x.db` or `/abs/x.db`) takes the same lock."""
    return Path(os.path.realpath(db_path) + ".lock")


@contextmanager
def hold_lock(db_path: Path) -> Iterator[None]:
    """One batch run per database at a time; a second one is refused with a clear message.

    The lock is a flock on the lock file's open file description. Its descriptor is close-on-exec
    and closed in forked workers (`release_inherited_locks`), so only this process holds it:
    the lock ends with this process, whatever becomes of its workers.
    """
    fd = os.open(lock_path_for(db_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise BatchBusyError(
                f"{db_path}: another batch run is using this database ({holder}); "
                "wait for it to finish"
            ) from None
        holder = f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        _lock_fds.add(fd)
        yield
    finally:
        _lock_fds.discard(fd)
        os.close(fd)


def release_inherited_locks() -> None:
    """In a forked worker: close the copies of the parent's lock descriptors. The parent keeps
    its lock (a flock belongs to the open file description, which the parent's own descriptor
    keeps open), and the worker can no longer keep it past the parent's end."""
    for fd in _lock_fds:
        with suppress(OSError):
            os.close(fd)
    _lock_fds.clear()
