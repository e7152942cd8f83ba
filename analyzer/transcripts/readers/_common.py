"""Helpers shared by the readers: text cleaning, roles, merging, stamps, building a Transcript."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from analyzer.errors import TranscriptError
from analyzer.transcripts.transcript import Transcript, Turn

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
BRACKETED_STAMP = rf"(?:\[\s*+{STAMP_CORE}\s*+\]|\(\s*+{STAMP_CORE}\s*+\))"
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

# A lone surrogate (legal in JSON as "\ud800", and in file names Python cannot decode) is no
# character: it cannot be saved, encoded or tokenised. Text that may hold one is mended here.
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAY_HOLD_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")

_BRACKETED = re.compile(
    r"\[([^\[\]\n]{1,60})\]|\(([^()\n]{1,60})\)|<([^<>\n]{1,40})>|(?<!\*)\*([^*\n]{1,80})\*(?!\*)"
)
_SENTENCE_END = re.compile(r"(?:^|[.!?…]['\"”’)\]]*|[—–]|--)\s*$")
_WORD_CHAR = re.compile(r"\w")
_CONTROL_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000\r\n\f\v]+")


def valid_text(text: str) -> str:
    """text as valid Unicode: a surrogate pair becomes its character, a lone one U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def parse_json(text: str) -> Any:
    """A JSON document with every string in it (keys too) valid Unicode (`valid_text`).

    Raises ValueError with the problem in a user's words, on one line."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except RecursionError as e:
        raise ValueError("too deeply nested to read") from e
    except ValueError as e:  # an integer of more digits than Python converts
        raise ValueError("invalid JSON: a number has too many digits") from e
    return _valid_strings(data) if _MAY_HOLD_SURROGATE.search(text) else data


def _valid_strings(data: Any) -> Any:
    """`valid_text` on every string in parsed JSON, in place (no recursion: nesting is deep)."""
    if isinstance(data, str):
        return valid_text(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            pairs = list(enumerate(node))
        elif isinstance(node, dict):
            pairs = list(node.items())
            node.clear()
        else:
            continue
        for key, value in pairs:
            if isinstance(value, str):
                value = valid_text(value)
            elif isinstance(value, list | dict):
                stack.append(value)
            node[valid_text(key) if isinstance(key, str) else key] = value
    return data


def role_for(speaker: str) -> str:
    """rep / customer for generic labels like "Agent" or "Caller 2"; otherwise unknown."""
    label = re.sub(r"[\s_\-]+", " ", speaker.strip().lower()).strip()
    label = label.rstrip("0123456789").rstrip()  # "caller 2" -> "caller" (no regex: "1" * 10**6)
    if label in REP_LABELS:
        return "rep"
    if label in CUSTOMER_LABELS:
        return "customer"
    return "unknown"


@lru_cache(maxsize=4096)  # a call names its few speakers on every line
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
    return text if _WORD_CHAR.search(text) else ""


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
    return valid_text(path.stem or path.name) or "call"


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
    merged_source["path"] = valid_text(str(path))
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
