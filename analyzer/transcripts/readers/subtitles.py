"""SRT and WebVTT subtitles, with speakers from `<v Name>` tags or `Name:` / `[Name]` prefixes."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from analyzer.transcripts.readers._common import (
    build,
    finish_turns,
    is_annotation,
    is_name,
    language_code,
    merge_turns,
    parse_stamp,
)
from analyzer.transcripts.transcript import Transcript, Turn

# Run on every line of files from anywhere: no pattern here may backtrack without bound (runs
# of digits and spaces are taken whole, `\d++`, `\s*+`; no repeat inside a repeat).
_TIME = r"(?:\d{1,5}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TIMING = re.compile(rf"^\s*+(?P<a>{_TIME})\s*+--?>\s*+(?P<b>{_TIME})(?:\s+.*)?$")
# Stricter, for telling subtitles from prose: both times with milliseconds, then cue settings.
_STRICT_TIMING = re.compile(
    r"^\s*+(?:\d{1,5}:)?\d{1,2}:\d{2}[.,]\d{1,3}\s*+-->\s*+(?:\d{1,5}:)?\d{1,2}:\d{2}[.,]\d{1,3}"
    r"(?:\s++[\w-]++:\S++)*+\s*+$"
)
_VOICE = re.compile(r"<v(?:\.[\w.\-]*+)?(?:\s++([^<>]*+))?>", re.I)  # <v Bob>, <v.loud Bob>
_TAG = re.compile(r"</?[a-zA-Z][^<>]*+>|<\d[\d:.]*+>|\{\\[^{}]*+\}")
_PREFIX = re.compile(
    r"^\s*+(?:-|>>)?\s*+"
    r"(?:\[(?P<bracket>[^\[\]]{1,40})\]|(?P<name>[^:\[\]<>]{1,40}?)\s*+:(?=\s|$))"
    r"\s*(?P<text>.*)$"
)
# A numeric character reference of more digits than any character has ("&#0000...65;"): Python
# will not even convert such a number (over 4,300 digits), so it is replaced before unescaping.
_HUGE_CHARREF = re.compile(r"&#(?:[xX][0-9a-fA-F]{9,}+|[0-9]{9,}+);?")


@dataclass
class _Cue:
    start: float | None
    end: float | None
    lines: list[str]


def looks_like_subtitles(text: str, strict: bool = True) -> bool:
    """Whether some line is an SRT/WebVTT timing line (00:00:01,000 --> 00:00:04,000).

    strict (for files without a subtitle extension) wants milliseconds on both times."""
    pattern = _STRICT_TIMING if strict else _TIMING
    return any(pattern.match(line) for line in text.splitlines())


def read_srt(text: str, path: Path) -> Transcript:
    """Read SubRip (.srt) subtitles."""
    return build(_turns(_cues(text)), path, "srt")


def read_vtt(text: str, path: Path) -> Transcript:
    """Read WebVTT (.vtt) subtitles."""
    language = "en"
    for line in text.lstrip().splitlines()[1:]:
        if not line.strip() or _TIMING.match(line):
            break
        if match := re.match(r"^\s*+Language\s*+:\s*+(\S+)", line, re.I):
            language = language_code(match[1])
    return build(_turns(_cues(text)), path, "vtt", language=language)


def _cues(text: str) -> list[_Cue]:
    lines = text.splitlines()
    cues: list[_Cue] = []
    i = 0
    while i < len(lines):
        match = _TIMING.match(lines[i])
        i += 1
        if not match:
            continue  # headers, indexes, NOTE / STYLE / REGION blocks, stray text
        body: list[str] = []
        while i < len(lines) and lines[i].strip() and not _TIMING.match(lines[i]):
            if lines[i].strip().isdigit() and i + 1 < len(lines) and _TIMING.match(lines[i + 1]):
                break  # the next cue's index, with no blank line before it
            body.append(lines[i])
            i += 1
        if cues and body and cues[-1].lines and body[0].strip() == cues[-1].lines[-1].strip():
            body = body[1:]  # rolling captions repeat the previous cue's last line
        cues.append(_Cue(parse_stamp(match["a"]), parse_stamp(match["b"]), body))
    return cues


def _segments(lines: list[str]) -> list[tuple[str | None, str]]:
    """A cue's text as (speaker or None, text) pieces."""
    text = "\n".join(lines)
    pieces: list[tuple[str | None, str]] = []
    voices = list(_VOICE.finditer(text))
    bounds = [(None, 0, voices[0].start() if voices else len(text))]
    for k, voice in enumerate(voices):
        stop = voices[k + 1].start() if k + 1 < len(voices) else len(text)
        bounds.append((_clean(voice[1] or "") or None, voice.end(), stop))
    for voice_name, begin, stop in bounds:
        chunk = re.sub(r"</v\s*+>", "", text[begin:stop], flags=re.I)
        speaker = voice_name
        for line in chunk.split("\n"):
            line = _clean(line)
            if not line:
                continue
            match = _PREFIX.match(line)
            label = None
            if match and match["bracket"] and not is_annotation(match["bracket"]):
                label = match["bracket"].strip()
            elif match and match["name"] and is_name(match["name"].strip()):
                label = match["name"].strip()
            if label and is_name(label):
                speaker, line = label, match["text"] if match else line
                pieces.append((speaker, line))
            elif pieces and pieces[-1][0] == speaker:
                pieces[-1] = (speaker, f"{pieces[-1][1]} {line}")
            else:
                pieces.append((speaker, line))
    return pieces


def _clean(text: str) -> str:
    text = _HUGE_CHARREF.sub("\ufffd", _TAG.sub("", text))
    return html.unescape(text).replace("\u200e", "").replace("\u200f", "").strip()


def _turns(cues: list[_Cue]) -> list[Turn]:
    turns = []
    speaker = "Speaker 1"
    for cue in cues:
        for label, text in _segments(cue.lines):
            speaker = label or speaker
            turns.append(Turn(speaker=speaker, text=text, start=cue.start, end=cue.end))
    return merge_turns(finish_turns(turns))
