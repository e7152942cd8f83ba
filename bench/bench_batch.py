"""The nightly batch end to end: 1,000 generated ten-minute transcripts into a fresh database.

Measures calls per second (parse, grade, store) with one worker per core, peak memory of the
parent and of the largest worker, and the time of a second run over the same calls (nothing to
do). Goals: >= 20 calls/s on 2 cores with `--match fuzzy`, >= 5 with the default `auto`; peak
memory under 1 GB, re-run under 5 s. Each call names its rep in its file name, as a night's do.

    python bench/bench_batch.py [--calls N] [--match auto|fuzzy] [--no-sentence-cache] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from bench_score import add_matching_options, make_call, sample_lines

from analyzer.config import Config, GradingConfig
from analyzer.runs.batch import run_batch
from analyzer.speech.settings import TranscribeSettings
from analyzer.transcripts.transcript import write_transcript_json

DEFAULT_RUBRIC = Path(__file__).resolve().parents[1] / "rubrics" / "inside-sales.yaml"


def with_mode(rubric_yaml: str, mode: str) -> str:
    """The rubric with every item matched in `mode` (a `match:` line after each item's id)."""
    lines = []
    for line in rubric_yaml.splitlines():
        lines.append(line)
        stripped = line.lstrip()
        if stripped.startswith("- id: ") and line.startswith("      - id: "):  # an item
            lines.append(" " * (len(line) - len(stripped) + 2) + f"match: {mode}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    add_matching_options(parser, default="auto")
    args = parser.parse_args()
    if args.no_sentence_cache:
        from analyzer.grading import semantic

        semantic.CACHE_SENTENCES = 0  # the workers are forked from this process: they inherit it
    workers = os.cpu_count() or 1
    rng = random.Random(11)
    rep_lines, customer_lines = sample_lines()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "night"
        folder.mkdir()
        for n in range(args.calls):
            call, _ = make_call(n, rep_lines, customer_lines, rng)
            call.call_id = f"2026-11-{23 + n % 3}_rep{n % 7}_{n:05d}"
            write_transcript_json(call, folder / f"{call.call_id}.json")
        rubric = Path(tmp) / "inside-sales.yaml"
        rubric.write_text(with_mode(DEFAULT_RUBRIC.read_text(encoding="utf-8"), args.match))
        config = Config(
            grading=GradingConfig(rubric=rubric),
            transcription=TranscribeSettings(cache_dir=None),
        )
        db = Path(tmp) / "calls.db"
        started = time.perf_counter()
        first = run_batch([folder], config, db, workers=workers)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        second = run_batch([folder], config, db, workers=workers)
        rerun = time.perf_counter() - started
        db_mb = db.stat().st_size / 1024**2
    figures = {
        "match": args.match,
        "sentence_cache": not args.no_sentence_cache,
        "calls": args.calls,
        "workers": workers,
        "graded": len(first.graded),
        "failed": len(first.failed),
        "calls_per_second": round(len(first.graded) / elapsed, 1),
        "seconds": round(elapsed, 1),
        "rerun_seconds": round(rerun, 2),
        "rerun_graded": len(second.graded),
        "peak_rss_parent_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "database_mb": round(db_mb, 1),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"Batch over {args.calls} generated ten-minute transcripts, {workers} workers, "
        f"match {args.match}" + (", no sentence cache" if args.no_sentence_cache else "")
    )
    print(
        f"  throughput   {figures['calls_per_second']} calls/s end to end "
        f"({figures['seconds']} s; goal >= {20 if args.match == 'fuzzy' else 5})"
    )
    print(
        f"  re-run       {figures['rerun_seconds']} s, {figures['rerun_graded']} graded "
        "(goal < 5 s)"
    )
    print(
        f"  peak memory  parent {figures['peak_rss_parent_mb']} MB, "
        f"largest worker {figures['peak_rss_worker_mb']} MB (goal < 1 GB)"
    )
    print(f"  database     {figures['database_mb']} MB")


if __name__ == "__main__":
    main()
