"""The header above a plain text or Markdown transcript's conversation: a title, `Key: value`
lines that describe the call (call id, date, duration, participants...) and their bullet lists.

`find_header` says where the header ends and `parse_header` reads it into a Transcript's fields;
both take the line-label reader of their format (plain `Name:` or Markdown `**Name:**`). The
Markdown syntax a header and a turn may carry is read here too (`strip_markdown`,
`heading_title`, `BULLET`, `RULE`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from analyzer.transcripts.readers._common import parse_stamp

# As in speakers.py, no pattern here may backtrack without bound (possessive runs, bounded
# repeats): they run on every line of files from anywhere.
RULE = re.compile(r"^\s*+(?:(?:-\s*+){3,}+|(?:\*\s*+){3,}+|(?:_\s*+){3,}+)$")
_HEADING = re.compile(r"^\s*+#{1,6}\s+(.*)")  # the title's closing #s are cut by `heading_title`
BULLET = re.compile(r"^\s*+(?:[-*+•]|\d++[.)])\s+(.*)$")
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
_DURATION_PART = re.compile(
    r"(?<!\d)(\d++(?:\.\d++)?)\s*+(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b"
)
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%d %B %Y", "%d %b %Y", "%m/%d/%Y")


_MD_STRIP = (
    (re.compile(r"\*\*([^\n]{1,500}?)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__((?:[^_\n]|_(?!_)){1,500}?)__(?!\w)"), r"\1"),  # no __ inside
    (re.compile(r"(?<!\w)_(\S(?:[^_\n]{0,200}?\S)?)_(?!\w)"), r"\1"),
    (re.compile(r"!?\[([^\[\]\n]*)\]\([^()\n]*\)"), r"\1"),  # [text](url): no [ or ( inside
    (re.compile(r"`([^`\n]*)`"), r"\1"),
)


def strip_markdown(text: str) -> str:
    if not any(mark in text for mark in "*_[`~"):
        return text
    for pattern, replacement in _MD_STRIP:
        text = pattern.sub(replacement, text)
    return text.replace("**", "").replace("~~", "")


def heading_title(line: str) -> str | None:
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


def _meta_key(label: str) -> str | None:
    return _META_KEYS.get(re.sub(r"\s+", " ", label.lower().strip()))


LabelOf = Callable[[str], tuple[str, float | None, str] | None]


def find_header(lines: list[str], label_of: LabelOf) -> int:
    """How many leading lines are the header (title, **Key:** value, participants)."""
    rule = next((i for i, line in enumerate(lines) if RULE.match(line)), None)
    if rule is not None:
        pre = lines[:rule]
        labels = [lab for lab in map(label_of, pre) if lab]
        meta = sum(1 for lab in labels if _meta_key(lab[0]))
        title = any(heading_title(line) is not None for line in pre)
        if (meta or title) and len(labels) - meta < meta + title:
            return rule + 1
    count = 0
    in_list = False
    for i, line in enumerate(lines):
        label = label_of(line)
        if not line.strip() or (i == count and heading_title(line) is not None):
            pass
        elif label and _meta_key(label[0]):
            in_list = not label[2].strip()
        elif not (in_list and BULLET.match(line)):
            break
        count = i + 1
    return count


def parse_header(lines: list[str], fields: dict[str, Any], label_of: LabelOf) -> None:
    metadata: dict[str, Any] = fields["metadata"]
    current: str | None = None
    for line in lines:
        heading = heading_title(line)
        if heading is not None and "title" not in metadata:
            metadata["title"] = strip_markdown(heading).strip()
            continue
        label = label_of(line)
        if label:
            key = _meta_key(label[0]) or re.sub(r"\W+", "_", label[0].lower()).strip("_")
            value = strip_markdown(label[2]).strip()
            current = key if not value else None
            if key:
                _set_meta(key, value, fields)
            continue
        bullet = BULLET.match(line)
        if bullet and current:
            item = strip_markdown(bullet[1]).strip()
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
    """A header's date as ISO: the whole value ISO 8601 (a date-time keeps its time), or a
    written date ("Nov 23, 2026"). Not `dates.parse_day`, which takes the day leading any text
    and drops the time."""
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
