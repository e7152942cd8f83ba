"""Who said what in plain text lines: `Name: text` labels at a line's start (with optional
[mm:ss] stamps), labels inside a line after a sentence end or a stamp, and turns made from them
(`parse_plain`, `to_turns`); with no names anywhere, one speaker a paragraph (`monologue`).
Plain text transcripts are read with these, and Markdown ones without bold labels.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from analyzer.transcripts.readers._common import (
    BRACKETED_STAMP,
    STAMP,
    finish_turns,
    is_name,
    parse_stamp,
)
from analyzer.transcripts.readers.header import RULE
from analyzer.transcripts.transcript import Turn

# The patterns below run on every line of files from anywhere, so none may backtrack without
# bound: a run of spaces (or digits) between two quantifiers is taken whole (`\s*+`, possessive)
# and every repeat of a class that can also end the match is bounded ({1,50}).
_LABEL_LINE = re.compile(
    rf"^\s*+(?:(?P<s1>{STAMP})\s*+(?:[-–—|]\s*+)?)?(?P<name>[^:\[\]()\n]{{1,50}}?)\s*+"
    rf"(?P<s2>{BRACKETED_STAMP})?\s*+:(?=\s|$)\s*(?P<text>.*)$"
)
LEADING_STAMP = re.compile(rf"^\s*+(?P<s>{BRACKETED_STAMP})\s*")
TRAILING_STAMP = re.compile(rf"\s*(?P<s>{BRACKETED_STAMP})\s*+$")
_MID_COLON = re.compile(r":(?=\s|$)")
# Where a sentence starts: after a sentence end (and closing quotes) and spaces, or the text's
# start and spaces. Only a word there (or after a stamp) can begin a label inside a line.
_SENTENCE_START = re.compile(r"(?:^|[.!?…])['\"”’)\]]*+\s++")
_CLOSER = re.compile(r"[\])]")  # where a bracketed stamp may end


@dataclass
class Draft:
    speaker: str
    start: float | None
    parts: list[str] = field(default_factory=list)


@dataclass
class _Label:
    name: str
    start: float | None
    text: str


def _line_label(line: str) -> _Label | None:
    match = _LABEL_LINE.match(line)
    if not match:
        return None
    name = match["name"].strip()
    if not is_name(name):
        return None
    start = parse_stamp(match["s1"] or match["s2"])
    rest = match["text"]
    if start is None and (lead := LEADING_STAMP.match(rest)):
        start, rest = parse_stamp(lead["s"]), rest[lead.end() :]
    return _Label(name, start, rest)


def plain_label(line: str) -> tuple[str, float | None, str] | None:
    label = _line_label(line)
    return (label.name, label.start, label.text) if label else None


@dataclass
class _Option:
    name: str
    begin: int  # where the label (with a stamp before it) starts in the text
    stamp: float | None


@dataclass
class _Mid:
    end: int  # just after the colon
    options: list[_Option]  # each way of reading the name, shortest first


def _mid_labels(text: str) -> list[_Mid]:
    """Every `Name:` inside a line's text that follows a sentence end or a stamp, with each way
    of reading the name (a label elsewhere in a sentence is no label)."""
    found: list[_Mid] = []
    if ":" not in text:
        return found
    starts = [match.end() for match in _SENTENCE_START.finditer(text)]
    after_sentence = set(starts)
    closers = [match.start() for match in _CLOSER.finditer(text)]
    for colon in _MID_COLON.finditer(text):
        end = colon.start()
        low = max(0, end - 120)  # a label is at most 4 short words (and a stamp)
        if not _any_within(starts, low, end) and not _any_within(closers, low - 40, end):
            continue  # the common case, decided without looking at the words
        after_stamp = None
        if trailing := _stamp_before(text, end, low):
            after_stamp, end = parse_stamp(trailing["s"]), trailing.start()
        options = []
        for first in _last_words(text, low, end):
            stamp, begin = after_stamp, first
            if lead := _stamp_before(text, first, max(0, first - 40)):
                begin = lead.start()
                stamp = stamp if stamp is not None else parse_stamp(lead["s"])
            if begin != first or first in after_sentence:
                options.append(_Option(text[first:end].strip(), begin, stamp))
        if options:
            found.append(_Mid(colon.end(), options))
    return found


def _any_within(positions: list[int], low: int, end: int) -> bool:
    """Whether a sorted list holds a position p with low < p < end."""
    i = bisect_right(positions, low)
    return i < len(positions) and positions[i] < end


def _last_words(text: str, low: int, end: int) -> list[int]:
    """Start offsets of up to 4 words ending at `end`, last first; none at the line's start."""
    starts: list[int] = []
    j = end
    while len(starts) < 4:
        while j > low and text[j - 1].isspace():
            j -= 1
        k = j
        while k > low and not text[k - 1].isspace():
            k -= 1
        if k in (j, low):
            break  # nothing left, the line's own first word, or a word cut by the window
        starts.append(k)
        j = k
    return starts


def _stamp_before(text: str, end: int, low: int) -> re.Match[str] | None:
    """A bracketed stamp ending just before `end` (spaces between allowed)."""
    j = end
    while j > low and text[j - 1].isspace():
        j -= 1
    if j == low or text[j - 1] not in "])":
        return None
    return TRAILING_STAMP.search(text, max(low, j - 30), end)


def _pick(mid: _Mid, known: set[str]) -> _Option | None:
    """The known speaker named at this colon (after a sentence end), if any."""
    for option in reversed(mid.options):
        if option.name in known:
            return option
    return None


def _candidate(mid: _Mid) -> _Option | None:
    """A name-like label right after a sentence end, e.g. "... there. Bob: hi"."""
    for option in reversed(mid.options):
        if is_name(option.name) and option.name[0].isupper():
            return option
    return None


def _split_line(
    text: str, known: set[str], mids: list[_Mid]
) -> list[tuple[str | None, float | None, str]]:
    """Split a line at the `Name:` labels inside it (`_mid_labels(text)`): [(name or None,
    stamp, text), ...]."""
    if not mids:
        return [(None, None, text)]
    picks = [_pick(mid, known) for mid in mids]
    pieces: list[tuple[str | None, float | None, str]] = []
    pos = 0
    speaker: str | None = None
    stamp: float | None = None
    known_later = [False] * len(picks)  # a known speaker's label comes later in the line
    for i in range(len(picks) - 2, -1, -1):
        known_later[i] = known_later[i + 1] or picks[i + 1] is not None
    for i, (mid, option) in enumerate(zip(mids, picks, strict=True)):
        if option is None and known_later[i]:
            option = _candidate(mid)  # sandwiched between known speakers: "Alice: Hi. Bob: ..."
        if option is None or option.begin < pos:
            continue
        pieces.append((speaker, stamp, text[pos : option.begin]))
        speaker, stamp, pos = option.name, option.stamp, mid.end
    pieces.append((speaker, stamp, text[pos:]))
    return pieces


def parse_plain(lines: list[str]) -> list[Draft]:
    labels = [_line_label(line) for line in lines]
    known = {label.name for label in labels if label}
    bodies = [label.text if label else line for line, label in zip(lines, labels, strict=True)]
    mids = [_mid_labels(body) for body in bodies]
    counts: dict[str, int] = {}
    for found in mids:
        for mid in found:
            if (option := _candidate(mid)) is not None:
                counts[option.name] = counts.get(option.name, 0) + 1
    known |= {name for name, count in counts.items() if count >= 2}
    if not known:
        return monologue(lines)

    drafts: list[Draft] = []
    preamble: list[str] = []
    for line, label, body, found in zip(lines, labels, bodies, mids, strict=True):
        if not line.strip() or RULE.match(line):
            continue
        if label:
            drafts.append(Draft(label.name, label.start))
        elif not drafts and (lead := LEADING_STAMP.match(body)):
            body = body[lead.end() :]
            found = _mid_labels(body)
        for speaker, stamp, piece in _split_line(body, known, found):
            if speaker is not None:
                drafts.append(Draft(speaker, stamp))
            if not piece.strip():
                continue
            if drafts:
                drafts[-1].parts.append(piece)
            else:
                preamble.append(piece)
    if preamble and " ".join(preamble).strip():
        speakers = list(dict.fromkeys(d.speaker for d in drafts))
        speaker = "Unknown"
        if len(speakers) == 2 and drafts:
            speaker = speakers[1] if drafts[0].speaker == speakers[0] else speakers[0]
        drafts.insert(0, Draft(speaker, None, preamble))
    return drafts


def monologue(lines: list[str]) -> list[Draft]:
    """No speaker names anywhere: one speaker, a turn per paragraph (or per stamped line)."""
    drafts: list[Draft] = []
    new_paragraph = True
    for line in lines:
        if not line.strip() or RULE.match(line):
            new_paragraph = True
            continue
        start = None
        if lead := LEADING_STAMP.match(line):
            start, line = parse_stamp(lead["s"]), line[lead.end() :]
        if new_paragraph or start is not None or not drafts:
            drafts.append(Draft("Speaker 1", start))
        drafts[-1].parts.append(line)
        new_paragraph = False
    return drafts


def to_turns(drafts: list[Draft]) -> list[Turn]:
    """Drafts to turns; a stamped turn ends where the next one starts."""
    turns = []
    for i, draft in enumerate(drafts):
        if not any(part.strip() for part in draft.parts):
            continue  # a label with nothing said ("Bob:"): no turn, as finish_turns would drop
        end = None
        if draft.start is not None and i + 1 < len(drafts):
            following = drafts[i + 1].start
            if following is not None and following >= draft.start:
                end = following
        text = " ".join(part.strip() for part in draft.parts)
        turns.append(Turn(speaker=draft.speaker, text=text, start=draft.start, end=end))
    return finish_turns(turns)
