"""Tidying what a recogniser returned: segments Whisper marks as silence dropped, repetition
loops ("thank you thank you thank you") collapsed, empty and repeated lines dropped, times
clipped to the audio. Both backends' output goes through `clean_segments`.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import replace

from analyzer.speech.asr import AsrSegment

# Segments that start later than this past the end of the array are dropped (seconds).
END_SLACK = 1.0

_STRIP = string.punctuation + "…¿¡“”‘’«»"
MAX_LOOP_NGRAM = 8
MIN_LOOP_REPEATS = 3  # a sequence of two or more words said this many times in a row is a loop
MIN_WORD_REPEATS = 5  # a single word must be repeated more: "no, no, no" is how people talk
# Numbers are said in repeats ("three, three, three, two"): a sequence holding a digit or a
# number word is never collapsed.
NUMBER_WORDS = frozenset(
    "oh zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand million double triple".split()
)


def remove_repetition_loops(text: str) -> str:
    """Collapse a run of repeats of the same 1..8-word sequence into one occurrence: 3+ repeats
    of two or more words, 5+ of one word; never a sequence holding a digit or a number word.

    Words compare case-insensitively and without surrounding punctuation; the first occurrence is
    kept as written. "thank you thank you thank you" -> "thank you"; "no no no" stays, and so
    does "three, three, three, two".
    """
    said = text.split()
    words = [collapse_spelling(w) for w in said]
    changed = words != said
    for _ in range(10):  # collapsing can expose a shorter loop: repeat until nothing changes
        collapsed = _collapse_once(words)
        if len(collapsed) == len(words):
            break
        words, changed = collapsed, True
    return " ".join(words) if changed else text


def _collapse_once(words: list[str]) -> list[str]:
    keys = [w.lower().strip(_STRIP) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        best_n, best_reps = 0, 0
        for n in range(1, min(MAX_LOOP_NGRAM, (len(words) - i) // MIN_LOOP_REPEATS) + 1):
            gram = keys[i : i + n]
            reps = 1
            while keys[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            needed = MIN_WORD_REPEATS if n == 1 else MIN_LOOP_REPEATS
            if reps >= needed and n * reps > best_n * best_reps and not _has_number(gram):
                best_n, best_reps = n, reps
        if best_n:
            out.extend(words[i : i + best_n])
            i += best_n * best_reps
        else:
            out.append(words[i])
            i += 1
    return out


def collapse_spelling(word: str) -> str:
    """A spelt-out word's loop ("T-I-L-L-E-A-A-A-A-A-A-A-A") cut at the first of a run of
    MIN_WORD_REPEATS or more identical letters; doubled letters ("L-L") and digits stay."""
    pieces = word.split("-")
    if len(pieces) < MIN_WORD_REPEATS:
        return word
    keys = [p.lower().strip(_STRIP) for p in pieces]
    for i in range(len(keys) - MIN_WORD_REPEATS + 1):
        run = keys[i : i + MIN_WORD_REPEATS]
        if len(set(run)) == 1 and run[0] and not _has_number(run[:1]):
            return "-".join(pieces[: i + 1])
    return word


def _has_number(words: list[str]) -> bool:
    return any(w in NUMBER_WORDS or any(c.isdigit() for c in w) for w in words)


def clean_segments(
    segments: Iterable[AsrSegment],
    *,
    duration: float | None = None,
    no_speech_threshold: float = 0.6,
    logprob_threshold: float = -1.0,
) -> list[AsrSegment]:
    """The segments worth keeping, tidied.

    Drops segments Whisper marks as silence (no-speech probability above `no_speech_threshold`
    and average log-probability below `logprob_threshold`), collapses repetition loops, drops
    empty text and a segment that repeats the previous kept one exactly. With `duration`, times
    are clipped to [0, duration] and segments starting more than `END_SLACK` past it dropped.
    """
    kept: list[AsrSegment] = []
    previous: str | None = None
    for seg in segments:
        if (
            seg.no_speech_prob is not None
            and seg.avg_logprob is not None
            and seg.no_speech_prob > no_speech_threshold
            and seg.avg_logprob < logprob_threshold
        ):
            continue
        text = remove_repetition_loops(seg.text.strip()).strip()
        if not text or text == previous:
            continue
        start, end = max(0.0, float(seg.start)), max(0.0, float(seg.end))
        if duration is not None:
            if start > duration + END_SLACK:
                continue
            start, end = min(start, duration), min(end, duration)
        kept.append(replace(seg, start=start, end=max(start, end), text=text))
        previous = text
    return kept
