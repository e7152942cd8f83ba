"""Markdown transcripts: `**Name:** text` (or `__Name:__`) turns, a header of `**Key:**`
lines, headings, rules, and trailing notes sections ("## Call notes", "**Next steps:**") kept
as metadata rather than read as speech (`read_markdown`). A Markdown file without bold labels
is read as plain text lines (speakers.py) once its markup is stripped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from analyzer.transcripts.readers._common import STAMP, build, is_name, parse_stamp
from analyzer.transcripts.readers.header import (
    BULLET,
    RULE,
    find_header,
    heading_title,
    parse_header,
    strip_markdown,
)
from analyzer.transcripts.readers.speakers import (
    LEADING_STAMP,
    TRAILING_STAMP,
    Draft,
    parse_plain,
    to_turns,
)
from analyzer.transcripts.transcript import Transcript

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")

# As in speakers.py, no pattern here may backtrack without bound.
_BOLD_LABEL = re.compile(
    rf"^\s*+(?:(?P<s1>{STAMP})\s*+)?"
    r"(?:\*\*(?P<l1>[^*\n]{1,80}?)\s*+(?::\s*+\*\*|\*\*\s*+:)"
    r"|__(?P<l2>[^_\n]{1,80}?)\s*+(?::\s*+__|__\s*+:))\s*(?P<text>.*)$"
)
IS_MARKDOWN = re.compile(
    r"^[^\S\n]*+(?:\*\*[^*\n]{1,80}?(?::\s*+\*\*|\*\*\s*+:)|__[^_\n]{1,80}?:__)", re.M
)
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


def _bold_label(line: str) -> tuple[str, float | None, str] | None:
    match = _BOLD_LABEL.match(line)
    if not match:
        return None
    label = (match["l1"] or match["l2"] or "").strip()
    start = parse_stamp(match["s1"])
    if lead := LEADING_STAMP.match(label):
        start, label = parse_stamp(lead["s"]), label[lead.end() :].strip()
    if trailing := TRAILING_STAMP.search(label):
        start, label = parse_stamp(trailing["s"]), label[: trailing.start()].strip()
    text = match["text"]
    if start is None and (lead := LEADING_STAMP.match(text)):
        start, text = parse_stamp(lead["s"]), text[lead.end() :]
    return label, start, text


def _is_notes_label(label: str) -> bool:
    low = label.lower().strip()
    return any(low.startswith(prefix) for prefix in _NOTES_PREFIXES)


def read_markdown(lines: list[str], path: Path) -> Transcript:
    fields: dict[str, Any] = {"metadata": {}}
    header = find_header(lines, _bold_label)
    parse_header(lines[:header], fields, _bold_label)
    body = lines[header:]
    if not any(_bold_label(line) for line in body):
        plain = [line for line in body if not RULE.match(line) and heading_title(line) is None]
        turns = to_turns(parse_plain([strip_markdown(line) for line in plain]))
        return build(turns, path, "text", **fields)

    drafts: list[Draft] = []
    preamble: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(body):
        line = body[i]
        i += 1
        if not line.strip() or RULE.match(line):
            continue
        heading = heading_title(line)
        if heading is not None:
            if _is_notes_label(heading) and drafts:
                i = _collect_notes(body, i, notes)
                break
            continue
        label = _bold_label(line)
        if label:
            name, start, text = label
            following = next((body[j] for j in range(i, len(body)) if body[j].strip()), "")
            notes_like = not text.strip() and BULLET.match(following)
            if _is_notes_label(name) or (
                notes_like and (not is_name(name) or (drafts and name not in seen))
            ):
                if text.strip():
                    notes.append(strip_markdown(text).strip())
                i = _collect_notes(body, i, notes)
                if drafts:
                    break
                continue
            if is_name(strip_markdown(name).strip()):
                name = strip_markdown(name).strip()
                seen.add(name)
                drafts.append(Draft(name, start, [strip_markdown(text)]))
                continue
        if drafts:
            drafts[-1].parts.append(strip_markdown(line))
        else:
            preamble.append(strip_markdown(line).strip())
    if notes:
        fields["metadata"]["notes"] = notes
    if any(preamble):
        fields["metadata"]["preamble"] = " ".join(p for p in preamble if p)
    return build(to_turns(drafts), path, "text", **fields)


def _collect_notes(body: list[str], i: int, notes: list[str]) -> int:
    """Gather the bullet lines of a notes section; return where the section ends."""
    while i < len(body):
        line = body[i]
        if _bold_label(line) and not BULLET.match(line):
            break
        bullet = BULLET.match(line)
        if bullet:
            notes.append(strip_markdown(bullet[1]).strip())
        i += 1
    return i
