"""Plain text ("Name: text" a line, optional [mm:ss] stamps) and Markdown transcripts."""

from __future__ import annotations

import contextlib
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer.transcripts.readers._common import (
    BRACKETED_STAMP,
    STAMP,
    build,
    finish_turns,
    is_name,
    parse_stamp,
)
from analyzer.transcripts.transcript import Transcript, Turn

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")

# The patterns below run on every line of files from anywhere, so none may backtrack without
# bound: a run of spaces (or digits) between two quantifiers is taken whole (`\s*+`, possessive)
# and every repeat of a class that can also end the match is bounded ({1,50}).
_LABEL_LINE = re.compile(
    rf"^\s*+(?:(?P<s1>{STAMP})\s*+(?:[-–—|]\s*+)?)?(?P<name>[^:\[\]()\n]{{1,50}}?)\s*+"
    rf"(?P<s2>{BRACKETED_STAMP})?\s*+:(?=\s|$)\s*(?P<text>.*)$"
)
_LEADING_STAMP = re.compile(rf"^\s*+(?P<s>{BRACKETED_STAMP})\s*")
_TRAILING_STAMP = re.compile(rf"\s*(?P<s>{BRACKETED_STAMP})\s*+$")
_MID_COLON = re.compile(r":(?=\s|$)")
# Where a sentence starts: after a sentence end (and closing quotes) and spaces, or the text's
# start and spaces. Only a word there (or after a stamp) can begin a label inside a line.
_SENTENCE_START = re.compile(r"(?:^|[.!?…])['\"”’)\]]*+\s++")
_CLOSER = re.compile(r"[\])]")  # where a bracketed stamp may end

_BOLD_LABEL = re.compile(
    rf"^\s*+(?:(?P<s1>{STAMP})\s*+)?"
    r"(?:\*\*(?P<l1>[^*\n]{1,80}?)\s*+(?::\s*+\*\*|\*\*\s*+:)"
    r"|__(?P<l2>[^_\n]{1,80}?)\s*+(?::\s*+__|__\s*+:))\s*(?P<text>.*)$"
)
_RULE = re.compile(r"^\s*+(?:(?:-\s*+){3,}+|(?:\*\s*+){3,}+|(?:_\s*+){3,}+)$")
_HEADING = re.compile(r"^\s*+#{1,6}\s+(.*)")  # the title's closing #s are cut by `_heading`
_BULLET = re.compile(r"^\s*+(?:[-*+•]|\d++[.)])\s+(.*)$")
_IS_MARKDOWN = re.compile(
    r"^[^\S\n]*+(?:\*\*[^*\n]{1,80}?(?::\s*+\*\*|\*\*\s*+:)|__[^_\n]{1,80}?:__)", re.M
)
_DASHED = re.compile(r"(?<!\s)\s++[-–—,]\s")  # "Sam Lee - VP Sales"

# Header keys (lower case) that describe the call rather than start a turn.
_META_KEYS = {
    "call id": "external_id",
    "id": "external_id",
    "call": "external_id",
    "date": "date",
    "time": "time",
    "duration": "duration",
    "length": "duration",
    "outcome": "outcome",
    "result": "outcome",
    "participants": "participants",
    "attendees": "participants",
    "title": "title",
    "company": "company",
    "account": "company",
    "call type": "call_type",
    "type": "call_type",
    "stage": "stage",
    "product": "product",
    "location": "location",
    "recording": "recording",
    "language": "language",
    "status": "status",
}
# Labels that start a trailing notes section: the conversation is over.
_NOTES_PREFIXES = (
    "call notes",
    "notes",
    "summary",
    "call summary",
    "key takeaways",
    "takeaways",
    "action items",
    "next steps",
    "analysis",
    "coaching",
    "feedback",
    "lessons",
    "what went",
)
_DURATION_PART = re.compile(
    r"(?<!\d)(\d++(?:\.\d++)?)\s*+(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b"
)
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%d %B %Y", "%d %b %Y", "%m/%d/%Y")


@dataclass
class _Draft:
    speaker: str
    start: float | None
    parts: list[str] = field(default_factory=list)


def read_text(text: str, path: Path) -> Transcript:
    """Read a plain text or Markdown transcript."""
    lines = text.splitlines()
    if path.suffix.lower() in MARKDOWN_SUFFIXES or _IS_MARKDOWN.search(text):
        return _read_markdown(lines, path)
    fields: dict[str, Any] = {"metadata": {}}
    header = _find_header(lines, _plain_label)  # "Call ID: 7", "Date: ..." lines on top
    _parse_header(lines[:header], fields, _plain_label)
    return build(_to_turns(_parse_plain(lines[header:])), path, "text", **fields)


# --- plain text ----------------------------------------------------------------------------


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
    if start is None and (lead := _LEADING_STAMP.match(rest)):
        start, rest = parse_stamp(lead["s"]), rest[lead.end() :]
    return _Label(name, start, rest)


def _plain_label(line: str) -> tuple[str, float | None, str] | None:
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
    return _TRAILING_STAMP.search(text, max(low, j - 30), end)


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


def _parse_plain(lines: list[str]) -> list[_Draft]:
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
        return _monologue(lines)

    drafts: list[_Draft] = []
    preamble: list[str] = []
    for line, label, body, found in zip(lines, labels, bodies, mids, strict=True):
        if not line.strip() or _RULE.match(line):
            continue
        if label:
            drafts.append(_Draft(label.name, label.start))
        elif not drafts and (lead := _LEADING_STAMP.match(body)):
            body = body[lead.end() :]
            found = _mid_labels(body)
        for speaker, stamp, piece in _split_line(body, known, found):
            if speaker is not None:
                drafts.append(_Draft(speaker, stamp))
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
        drafts.insert(0, _Draft(speaker, None, preamble))
    return drafts


def _monologue(lines: list[str]) -> list[_Draft]:
    """No speaker names anywhere: one speaker, a turn per paragraph (or per stamped line)."""
    drafts: list[_Draft] = []
    new_paragraph = True
    for line in lines:
        if not line.strip() or _RULE.match(line):
            new_paragraph = True
            continue
        start = None
        if lead := _LEADING_STAMP.match(line):
            start, line = parse_stamp(lead["s"]), line[lead.end() :]
        if new_paragraph or start is not None or not drafts:
            drafts.append(_Draft("Speaker 1", start))
        drafts[-1].parts.append(line)
        new_paragraph = False
    return drafts


def _to_turns(drafts: list[_Draft]) -> list[Turn]:
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


# --- Markdown ------------------------------------------------------------------------------


_MD_STRIP = (
    (re.compile(r"\*\*([^\n]{1,500}?)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__((?:[^_\n]|_(?!_)){1,500}?)__(?!\w)"), r"\1"),  # no __ inside
    (re.compile(r"(?<!\w)_(\S(?:[^_\n]{0,200}?\S)?)_(?!\w)"), r"\1"),
    (re.compile(r"!?\[([^\[\]\n]*)\]\([^()\n]*\)"), r"\1"),  # [text](url): no [ or ( inside
    (re.compile(r"`([^`\n]*)`"), r"\1"),
)


def _strip_markdown(text: str) -> str:
    if not any(mark in text for mark in "*_[`~"):
        return text
    for pattern, replacement in _MD_STRIP:
        text = pattern.sub(replacement, text)
    return text.replace("**", "").replace("~~", "")


def _bold_label(line: str) -> tuple[str, float | None, str] | None:
    match = _BOLD_LABEL.match(line)
    if not match:
        return None
    label = (match["l1"] or match["l2"] or "").strip()
    start = parse_stamp(match["s1"])
    if lead := _LEADING_STAMP.match(label):
        start, label = parse_stamp(lead["s"]), label[lead.end() :].strip()
    if trailing := _TRAILING_STAMP.search(label):
        start, label = parse_stamp(trailing["s"]), label[: trailing.start()].strip()
    text = match["text"]
    if start is None and (lead := _LEADING_STAMP.match(text)):
        start, text = parse_stamp(lead["s"]), text[lead.end() :]
    return label, start, text


def _heading(line: str) -> str | None:
    """The title of a Markdown heading line ("## Notes ##" -> "Notes"), or None."""
    match = _HEADING.match(line)
    return match[1].rstrip().rstrip("#").rstrip() if match else None


def _participant(item: str) -> dict[str, str]:
    """ "Sam Lee (VP Sales)" or "Sam Lee - VP Sales" -> the name and the description."""
    text = item.rstrip()
    opening = text.find("(")
    if text.endswith(")") and 0 <= opening < len(text) - 1:
        name, desc = text[:opening], text[opening + 1 : -1]
    elif dashed := _DASHED.search(text):
        name, desc = text[: dashed.start()], text[dashed.end() :]
    else:
        name, desc = text, ""
    return {"name": name.strip(), "description": desc.strip()}


def _is_notes_label(label: str) -> bool:
    low = label.lower().strip()
    return any(low.startswith(prefix) for prefix in _NOTES_PREFIXES)


def _meta_key(label: str) -> str | None:
    return _META_KEYS.get(re.sub(r"\s+", " ", label.lower().strip()))


_LabelOf = Callable[[str], tuple[str, float | None, str] | None]


def _find_header(lines: list[str], label_of: _LabelOf) -> int:
    """How many leading lines are the header (title, **Key:** value, participants)."""
    rule = next((i for i, line in enumerate(lines) if _RULE.match(line)), None)
    if rule is not None:
        pre = lines[:rule]
        labels = [lab for lab in map(label_of, pre) if lab]
        meta = sum(1 for lab in labels if _meta_key(lab[0]))
        title = any(_heading(line) is not None for line in pre)
        if (meta or title) and len(labels) - meta < meta + title:
            return rule + 1
    count = 0
    in_list = False
    for i, line in enumerate(lines):
        label = label_of(line)
        if not line.strip() or (i == count and _heading(line) is not None):
            pass
        elif label and _meta_key(label[0]):
            in_list = not label[2].strip()
        elif not (in_list and _BULLET.match(line)):
            break
        count = i + 1
    return count


def _parse_header(lines: list[str], fields: dict[str, Any], label_of: _LabelOf) -> None:
    metadata: dict[str, Any] = fields["metadata"]
    current: str | None = None
    for line in lines:
        heading = _heading(line)
        if heading is not None and "title" not in metadata:
            metadata["title"] = _strip_markdown(heading).strip()
            continue
        label = label_of(line)
        if label:
            key = _meta_key(label[0]) or re.sub(r"\W+", "_", label[0].lower()).strip("_")
            value = _strip_markdown(label[2]).strip()
            current = key if not value else None
            if key:
                _set_meta(key, value, fields)
            continue
        bullet = _BULLET.match(line)
        if bullet and current:
            item = _strip_markdown(bullet[1]).strip()
            if current == "participants":
                metadata.setdefault("participants", []).append(_participant(item))
            else:
                existing = metadata.get(current)
                metadata[current] = [*(existing if isinstance(existing, list) else []), item]


def _set_meta(key: str, value: str, fields: dict[str, Any]) -> None:
    metadata: dict[str, Any] = fields["metadata"]
    if not value:
        return
    if key == "date":
        parsed = _parse_date(value)
        if parsed:
            fields["started_at"] = parsed
        else:
            metadata["date"] = value
    elif key == "duration":
        seconds = _parse_duration(value)
        if seconds is not None:
            fields["duration"] = seconds
        metadata["duration"] = value
    else:
        metadata[key] = value


def _parse_date(value: str) -> str | None:
    value = value.strip()
    with contextlib.suppress(ValueError):
        parsed = datetime.fromisoformat(value)
        return parsed.isoformat() if "T" in value else parsed.date().isoformat()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _parse_duration(value: str) -> float | None:
    value = value.strip().lower()
    if re.fullmatch(r"\d{1,3}(?::\d{2}){1,2}", value):
        return parse_stamp(value)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    total = 0.0
    found = False
    for amount, unit in _DURATION_PART.findall(value):
        total += float(amount) * units[unit[0]]
        found = True
    return total if found else None


def _read_markdown(lines: list[str], path: Path) -> Transcript:
    fields: dict[str, Any] = {"metadata": {}}
    header = _find_header(lines, _bold_label)
    _parse_header(lines[:header], fields, _bold_label)
    body = lines[header:]
    if not any(_bold_label(line) for line in body):
        plain = [line for line in body if not _RULE.match(line) and _heading(line) is None]
        turns = _to_turns(_parse_plain([_strip_markdown(line) for line in plain]))
        return build(turns, path, "text", **fields)

    drafts: list[_Draft] = []
    preamble: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(body):
        line = body[i]
        i += 1
        if not line.strip() or _RULE.match(line):
            continue
        heading = _heading(line)
        if heading is not None:
            if _is_notes_label(heading) and drafts:
                i = _collect_notes(body, i, notes)
                break
            continue
        label = _bold_label(line)
        if label:
            name, start, text = label
            following = next((body[j] for j in range(i, len(body)) if body[j].strip()), "")
            notes_like = not text.strip() and _BULLET.match(following)
            if _is_notes_label(name) or (
                notes_like and (not is_name(name) or (drafts and name not in seen))
            ):
                if text.strip():
                    notes.append(_strip_markdown(text).strip())
                i = _collect_notes(body, i, notes)
                if drafts:
                    break
                continue
            if is_name(_strip_markdown(name).strip()):
                name = _strip_markdown(name).strip()
                seen.add(name)
                drafts.append(_Draft(name, start, [_strip_markdown(text)]))
                continue
        if drafts:
            drafts[-1].parts.append(_strip_markdown(line))
        else:
            preamble.append(_strip_markdown(line).strip())
    if notes:
        fields["metadata"]["notes"] = notes
    if any(preamble):
        fields["metadata"]["preamble"] = " ".join(p for p in preamble if p)
    return build(_to_turns(drafts), path, "text", **fields)


def _collect_notes(body: list[str], i: int, notes: list[str]) -> int:
    """Gather the bullet lines of a notes section; return where the section ends."""
    while i < len(body):
        line = body[i]
        if _bold_label(line) and not _BULLET.match(line):
            break
        bullet = _BULLET.match(line)
        if bullet:
            notes.append(_strip_markdown(bullet[1]).strip())
        i += 1
    return i
