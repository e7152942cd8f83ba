"""The Transcript and Turn dataclasses and the project's own transcript JSON.

Every reader (`analyzer.transcripts.readers`) and every ASR backend produces a `Transcript`;
the grading engine reads nothing else. The JSON shape is the contract in DESIGN.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ROLES = ("rep", "customer", "unknown")
# Files that hold a recording, not a transcript: a reader refuses them ("transcribe it first"),
# the batch transcribes them (speech/audio.py decodes them).
AUDIO_SUFFIXES = (
    ".wav",
    ".mp3",
    ".m4a",
    ".aac",
    ".flac",
    ".ogg",
    ".opus",
    ".wma",
    ".amr",
    ".webm",
    ".mp4",
)


@dataclass
class Turn:
    """One speaker's uninterrupted stretch of speech."""

    speaker: str
    text: str
    start: float | None = None  # seconds from the start of the call; None when not known
    end: float | None = None
    role: str = "unknown"  # rep | customer | unknown
    channel: int | None = None  # audio channel it came from, when the call was stereo


@dataclass
class Transcript:
    """A call as text: who said what, and when."""

    call_id: str
    turns: list[Turn]
    rep: str | None = None  # the rep's speaker name, when the source says so
    started_at: str | None = None  # ISO 8601 date or date-time of the call
    audio: str | None = None  # the recording this transcript came from
    duration: float | None = None  # seconds
    language: str = "en"
    source: dict[str, Any] = field(default_factory=dict)  # where it came from: format, backend...
    metadata: dict[str, Any] = field(default_factory=dict)  # customer, outcome, call type...

    @property
    def speakers(self) -> list[str]:
        """Distinct speaker names in order of first appearance."""
        return list(dict.fromkeys(turn.speaker for turn in self.turns))

    @property
    def span_seconds(self) -> float | None:
        """Duration if known, else the end of the last timed turn."""
        if self.duration is not None:
            return self.duration
        ends = [t.end for t in self.turns if t.end is not None]
        return max(ends) if ends else None

    def to_dict(self) -> dict[str, Any]:
        """The project JSON shape (built field by field: `asdict` is ~20x slower)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in _TRANSCRIPT_FIELDS}
        data["source"] = dict(self.source)
        data["turns"] = [{name: getattr(t, name) for name in _TURN_FIELDS} for t in self.turns]
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data


_TURN_FIELDS = tuple(f.name for f in fields(Turn))
_TRANSCRIPT_FIELDS = tuple(
    f.name for f in fields(Transcript) if f.name not in ("turns", "metadata")
)


def transcript_from_dict(data: dict[str, Any], default_call_id: str) -> Transcript:
    """Build a Transcript from the project JSON shape. Raises ValueError/TypeError/KeyError,
    with a message in a user's words ("turn 3: start "abc" is not a number of seconds")."""
    turns = []
    for i, raw in enumerate(data["turns"]):
        where = f"turn {i + 1}"
        if not isinstance(raw, dict):
            raise TypeError(f"{where} is not an object")
        role = str(raw.get("role") or "unknown")
        if role not in ROLES:
            raise ValueError(f"{where}: role {_shown(role)} is not one of {', '.join(ROLES)}")
        turns.append(
            Turn(
                speaker=str(raw.get("speaker") or "Speaker"),
                text=str(raw.get("text") or ""),
                start=_opt_float(raw.get("start"), f"{where}: start"),
                end=_opt_float(raw.get("end"), f"{where}: end"),
                role=role,
                channel=_opt_channel(raw.get("channel"), f"{where}: channel"),
            )
        )
    source = data.get("source") or {}
    metadata = data.get("metadata") or {}
    if not isinstance(source, dict) or not isinstance(metadata, dict):
        raise TypeError("source and metadata must be objects")
    return Transcript(
        call_id=str(data.get("call_id") or default_call_id),
        turns=turns,
        rep=None if data.get("rep") in (None, "") else str(data["rep"]),
        started_at=None if data.get("started_at") is None else str(data["started_at"]),
        audio=None if data.get("audio") is None else str(data["audio"]),
        duration=_opt_float(data.get("duration"), "duration"),
        language=str(data.get("language") or "en"),
        source=dict(source),
        metadata=dict(metadata),
    )


def write_transcript_json(transcript: Transcript, path: str | Path) -> None:
    """Write the project JSON atomically (a crash never leaves half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(transcript.to_dict(), indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _opt_float(value: Any, what: str) -> float | None:
    """A number of seconds (a number or a numeric string) or None; ValueError naming `what`."""
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} {_shown(value)} is not a number of seconds") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} {_shown(value)} is not a finite number of seconds")
    return number


def _opt_channel(value: Any, what: str) -> int | None:
    """An audio channel (0, 1, ...: a whole number, maybe written 1.0 or "1") or None."""
    if value is None:
        return None
    number = value
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 4:
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer() and 0 <= value < 10_000:
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 10_000:
        raise ValueError(f"{what} {_shown(value)} is not a channel number (0, 1, ...)")
    return number


def _shown(value: Any) -> str:
    """A value as it was written in the JSON, cut to fit in a one-line message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def format_clock(seconds: float) -> str:
    """`mm:ss` below an hour, `h:mm:ss` from an hour up (whole seconds, rounded down)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
