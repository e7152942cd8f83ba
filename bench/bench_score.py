"""Scoring throughput on 10-minute calls (~150 turns, ~1,500 words) with the default rubric.

Each call names its rep, as a night's calls do (the file name or the manifest says who it is),
so only the rep's sentences are embedded; `--roles inferred` leaves the rep to be inferred from
what was said, which embeds every speaker's sentences.

Each call is different: its turns are drawn from the sample calls and one word in ten is
misspelt at random, as an ASR would, so the matcher's per-token cache cannot make the figure
look better than a real night's calls. `--match fuzzy` (the default here) runs on one core (BLAS
threads pinned to 1) and times CPU seconds, so other work on the machine does not distort the
figure; `auto` and `semantic` run the embedding model on every core and time the wall clock.

    python bench/bench_score.py [--calls N] [--json]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from analyzer.grading.grade import Grader  # noqa: E402
from analyzer.grading.rubric import load_rubric  # noqa: E402
from analyzer.runs.discover import find_calls  # noqa: E402
from analyzer.transcripts.readers import read_transcript  # noqa: E402
from analyzer.transcripts.transcript import Transcript, Turn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TURNS = 150
WORDS = 1500
SECONDS = 600.0


def sample_lines() -> tuple[list[str], list[str]]:
    rep, customer = [], []
    for path in find_calls([ROOT / "samples"]):
        t = read_transcript(path)
        names = {turn.speaker for turn in t.turns if turn.role == "rep"} or {t.turns[0].speaker}
        for turn in t.turns:
            (rep if turn.speaker in names else customer).append(turn.text)
    return rep, customer


def misspell(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + word[i] + word[i:]


def make_call(
    n: int, rep_lines: list[str], customer_lines: list[str], rng: random.Random, named: bool = True
):
    turns: list[Turn] = []
    words = 0
    for i in range(TURNS):
        pool = rep_lines if i % 2 == 0 else customer_lines
        target = max(2, round((WORDS - words) / (TURNS - i) * rng.uniform(0.4, 1.6)))
        said = rng.choice(pool).split()
        while len(said) < target:
            said += rng.choice(pool).split()
        text = " ".join(misspell(w, rng) if rng.random() < 0.1 else w for w in said[:target])
        words += len(text.split())
        start = SECONDS * i / TURNS
        turns.append(Turn("Rep" if i % 2 == 0 else "Customer", text, start, start + 3.5))
    rep = "Rep" if named else None
    return Transcript(call_id=f"bench-{n}", turns=turns, rep=rep, duration=SECONDS), words


def add_matching_options(parser: argparse.ArgumentParser, default: str) -> None:
    """--match and --no-sentence-cache, as both benches take them."""
    parser.add_argument(
        "--match",
        choices=["fuzzy", "auto", "semantic"],
        default=default,
        help="every item of the default rubric in this mode (auto and semantic embed sentences)",
    )
    parser.add_argument(
        "--no-sentence-cache",
        action="store_true",
        help="forget sentence embeddings between calls (these calls reuse a pool of lines)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    add_matching_options(parser, default="fuzzy")
    parser.add_argument(
        "--roles",
        choices=["known", "inferred"],
        default="known",
        help="known: each call names its rep (a night's batch); inferred: the rep is inferred",
    )
    parser.add_argument(
        "--learned",
        action="store_true",
        help="grade with item models learned from the sample calls (analyzer learn samples)",
    )
    args = parser.parse_args()

    rng = random.Random(7)
    rubric = load_rubric(ROOT / "rubrics" / "inside-sales.yaml")
    phases = [
        p.model_copy(
            update={"items": [i.model_copy(update={"match": args.match}) for i in p.items]}
        )
        for p in rubric.phases
    ]
    rubric = rubric.model_copy(update={"phases": phases})
    if args.match != "fuzzy":
        import torch

        from analyzer.grading import semantic

        torch.set_num_threads(os.cpu_count() or 1)  # the model uses every core (BLAS: still 1)
        if args.no_sentence_cache:
            semantic.CACHE_SENTENCES = 0
    # Lexical matching runs on one core: CPU time is its measure. The embedding model uses
    # every core: wall-clock time is.
    clock = time.process_time if args.match == "fuzzy" else time.perf_counter
    learned = None
    if args.learned:
        from analyzer.learning.examples import examples_from_golden
        from analyzer.learning.learn import learn

        learned = learn(examples_from_golden([ROOT / "samples"], rubric), rubric)
    started = time.perf_counter()
    grader = Grader(rubric, learned)
    setup = time.perf_counter() - started
    rep_lines, customer_lines = sample_lines()
    named = args.roles == "known"
    calls = [make_call(n, rep_lines, customer_lines, rng, named) for n in range(args.calls)]
    grader.grade(calls[0][0])  # warm-up: spaCy and numpy first-call costs

    times = []
    for call, _ in calls:
        t0 = clock()
        grader.grade(call)
        times.append(clock() - t0)
    total = sum(times)
    figures = {
        "match": args.match,
        "sentence_cache": not args.no_sentence_cache,
        "roles": args.roles,
        "calls": len(calls),
        "turns_per_call": TURNS,
        "words_per_call": round(statistics.mean(w for _, w in calls)),
        "calls_per_second": round(len(calls) / total, 1),
        # 1 / median call time: steadier than the mean when the host steals CPU now and then
        "calls_per_second_median": round(1 / statistics.median(times), 1),
        "ms_per_call_median": round(1000 * statistics.median(times), 1),
        "ms_per_call_p95": round(1000 * sorted(times)[int(0.95 * len(times)) - 1], 1),
        "rubric_setup_ms": round(1000 * setup),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if args.json:
        print(json.dumps(figures))
        return
    where = "one core, CPU time" if args.match == "fuzzy" else "all cores, wall-clock"
    print(
        f"Scoring {figures['calls']} ten-minute calls "
        f"({TURNS} turns, ~{figures['words_per_call']} words each), default rubric, "
        f"match {args.match}, {where}"
        + ("" if args.match == "fuzzy" or not args.no_sentence_cache else ", no sentence cache")
        + ("" if named else ", rep inferred")
    )
    goal = 50 if args.match == "fuzzy" else 5
    print(
        f"  throughput      {figures['calls_per_second']} calls/s overall, "
        f"{figures['calls_per_second_median']} calls/s at the median call (goal: >= {goal})"
    )
    print(
        f"  per call        median {figures['ms_per_call_median']} ms, "
        f"p95 {figures['ms_per_call_p95']} ms"
    )
    print(f"  rubric set-up   {figures['rubric_setup_ms']} ms (once per run)")
    print(f"  peak memory     {figures['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
