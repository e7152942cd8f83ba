"""Helpers shared by the readers: text cleaning, roles, merging, stamps, building a Transcript."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from analyzer.errors import TranscriptError
from analyzer.transcript import Transcript, Turn

# Generic speaker labels that say which side of the call someone is on.
REP_LABELS = frozenset(
    {"agent", "rep", "sales rep", "salesperson", "sales person", "sdr", "bdr", "ae"}
)
CUSTOMER_LABELS = frozenset({"customer", "caller", "client", "prospect", "lead"})

# Words that mark a bracketed or starred span as a non-speech annotation, not speech.
NON_SPEECH_WORDS = frozenset(
    """
    noise noises laughter laugh laughs laughing chuckle chuckles chuckling giggle giggles
    inaudible unintelligible indistinct incomprehensible crosstalk cross-talk overlapping
    overtalk silence silent pause pauses paused music applause cough coughs coughing sigh sighs
    sighing breath breathes breathing inhales exhales sniff sniffs sneeze sneezes background
    static beep beeps ring rings ringing typing clicking hangs hold vocalized-noise
    vocalized_noise unk sil blank nospeech no-speech mumbles mumbling murmurs murmuring clears
    throat hums humming groans yawns whistles claps clapping dial dialing dialling
    """.split()
)

STAMP_CORE = r"(?:\d{1,2}:)?\d{1,3}:\d{2}(?:[.,]\d{1,3})?"
# A time stamp in brackets, [01:02] or (1:02:03.5); and one that may also be bare, 00:12.
BRACKETED_STAMP = rf"(?:\[\s*{STAMP_CORE}\s*\]|\(\s*{STAMP_CORE}\s*\))"
STAMP = rf"(?:{BRACKETED_STAMP}|{STAMP_CORE})"

_NAME_WORD = re.compile(r"\w[\w'’.\-]*")
_NAME_PARTICLES = frozenset({"de", "da", "del", "della", "van", "von", "der", "la", "le", "bin"})
_TITLES = frozenset(
    [
        "dr",
        "mr",
        "mrs",
        "ms",
        "mx",
        "prof",
        "sr",
        "jr",
        "st",
        "rev",
        "hon",
        "capt",
        "gen",
        "sgt",
        "lt",
        "col",
        "mt",
        "ft",
    ]
)
_NOT_NAMES = frozenset({"http", "https", "ftp", "mailto", "www"})

_BRACKETED = re.compile(
    r"\[([^\[\]\n]{1,60})\]|\(([^()\n]{1,60})\)|<([^<>\n]{1,40})>|(?<!\*)\*([^*\n]{1,80})\*(?!\*)"
)
_SENTENCE_END = re.compile(r"(?:^|[.!?…]['\"”’)\]]*|[—–]|--)\s*$")
_CONTROL_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000\r\n\f\v]+")


def role_for(speaker: str) -> str:
    """rep / customer for generic labels like "Agent" or "Caller 2"; otherwise unknown."""
    label = re.sub(r"[\s_\-]+", " ", speaker.strip().lower())
    label = re.sub(r"\s*\d+$", "", label).strip()
    if label in REP_LABELS:
        return "rep"
    if label in CUSTOMER_LABELS:
        return "customer"
    return "unknown"


def is_name(text: str) -> bool:
    """Whether text looks like a speaker label: 1-4 words, e.g. "Speaker 1", "Dr. Smith"."""
    words = text.split()
    if not 1 <= len(words) <= 4 or len(text) > 40:
        return False
    if not all(_NAME_WORD.fullmatch(w) for w in words) or not words[0][0].isalpha():
        return False
    if text.lower() in _NOT_NAMES:
        return False
    for word in words:
        # "Dr." and "J." may end with a dot; "Hi." may not (it ends a sentence).
        if word.endswith(".") and len(word) > 2 and word[:-1].lower() not in _TITLES:
            return False
    if len(words) > 1 and not all(w.isdigit() for w in words[1:]):  # "agent 2" is fine
        for word in words:
            if not (word[0].isupper() or word[0].isdigit() or word.lower() in _NAME_PARTICLES):
                return False
    return True


def is_annotation(content: str) -> bool:
    """Whether the inside of [..], (..), <..> or *..* names a non-speech sound."""
    words = re.findall(r"[\w\-]+", content.lower())
    return 0 < len(words) <= 5 and any(w in NON_SPEECH_WORDS for w in words)


def clean_text(text: str) -> str:
    """Remove non-speech annotations and stage directions, then normalise whitespace."""
    removed = False

    def drop(match: re.Match[str]) -> str:
        nonlocal removed
        square, paren, angle, star = match.groups()
        content = square or paren or angle or star or ""
        if is_annotation(content) or (angle is not None and content.strip().lower() == "s"):
            removed = True
            return " "
        if star is not None:
            # *Opens the deck* at the start of a sentence is a stage direction; mid-sentence
            # it is emphasis, so keep the words.
            if _SENTENCE_END.search(match.string, max(0, match.start() - 40), match.start()):
                removed = True
                return " "
            return star
        return match.group(0)

    text = _BRACKETED.sub(drop, text)
    text = _CONTROL_SPACE.sub(" ", text).strip()
    if removed:
        text = re.sub(r"([—–])\s*[—–]", r"\1", text)
        text = re.sub(r"\s+([,.!?;:])", r"\1", text)
        text = re.sub(r"^[\s,.;:—–\-]+(?=\w)", "", text).strip()
    return text if re.search(r"\w", text) else ""


def clean_speaker(speaker: str, default: str = "Unknown") -> str:
    speaker = _CONTROL_SPACE.sub(" ", str(speaker)).strip()
    return speaker or default


def parse_stamp(stamp: str | None) -> float | None:
    """Seconds from a stamp like "[01:02:03.5]", "(12:30)", "00:12,250"; None if none."""
    if not stamp:
        return None
    core = stamp.strip().strip("[]()").strip().replace(",", ".")
    parts = core.split(":")
    try:
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError:
        return None
    return seconds


def number(value: Any) -> float | None:
    """A finite float from a JSON value, or None (missing, not a number, inf, nan)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def fix_times(start: float | None, end: float | None) -> tuple[float | None, float | None]:
    start = number(start)
    end = number(end)
    if start is not None and end is not None and end < start:
        end = start
    return start, end


def finish_turns(turns: Iterable[Turn], *, infer_roles: bool = True) -> list[Turn]:
    """Clean every turn's text and speaker, drop empty ones, make times consistent."""
    result = []
    for turn in turns:
        text = clean_text(turn.text)
        if not text:
            continue
        speaker = clean_speaker(turn.speaker)
        start, end = fix_times(turn.start, turn.end)
        role = turn.role
        if infer_roles and role == "unknown":
            role = role_for(speaker)
        result.append(replace(turn, speaker=speaker, text=text, start=start, end=end, role=role))
    return result


def merge_turns(turns: list[Turn], max_gap: float | None = None) -> list[Turn]:
    """Join consecutive turns of one speaker (only when the silence between is < max_gap)."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker and merged[-1].role == turn.role:
            last = merged[-1]
            gap_ok = max_gap is None or (
                last.end is not None and turn.start is not None and turn.start - last.end < max_gap
            )
            if gap_ok:
                ends = [t for t in (last.end, turn.end) if t is not None]
                end = max(ends) if ends else None
                start = last.start if last.start is not None else turn.start
                start, end = fix_times(start, end)
                merged[-1] = replace(last, text=f"{last.text} {turn.text}", start=start, end=end)
                continue
        merged.append(turn)
    return merged


def default_call_id(path: Path) -> str:
    """The file name without its (last) extension: a.b.json -> a.b."""
    return path.stem or path.name or "call"


def build(
    turns: list[Turn],
    path: Path,
    fmt: str,
    *,
    call_id: str | None = None,
    source: dict[str, Any] | None = None,
    **fields: Any,
) -> Transcript:
    """A Transcript with at least one turn, or TranscriptError."""
    if not turns:
        raise TranscriptError(path, "no turns found (empty transcript)")
    merged_source = dict(source or {})
    merged_source["format"] = fmt
    merged_source["path"] = str(path)
    return Transcript(
        call_id=call_id or default_call_id(path),
        turns=turns,
        source=merged_source,
        **fields,
    )


def language_code(value: Any, default: str = "en") -> str:
    """ "en-US" -> "en"; anything unusable -> default."""
    if not isinstance(value, str) or not value.strip():
        return default
    return re.split(r"[-_]", value.strip())[0].lower() or default
