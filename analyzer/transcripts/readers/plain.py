"""Plain text ("Name: text" a line, optional [mm:ss] stamps) and Markdown transcripts: the
"text" format (`read_text`).

A file is read as Markdown (markdown.py) when its name or its `**Name:**` labels say so;
otherwise the header on top (header.py) describes the call and the lines below it are the
conversation (speakers.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analyzer.transcripts.readers._common import build
from analyzer.transcripts.readers.header import find_header, parse_header
from analyzer.transcripts.readers.markdown import IS_MARKDOWN, MARKDOWN_SUFFIXES, read_markdown
from analyzer.transcripts.readers.speakers import parse_plain, plain_label, to_turns
from analyzer.transcripts.transcript import Transcript


def read_text(text: str, path: Path) -> Transcript:
    """Read a plain text or Markdown transcript."""
    lines = text.splitlines()
    if path.suffix.lower() in MARKDOWN_SUFFIXES or IS_MARKDOWN.search(text):
        return read_markdown(lines, path)
    fields: dict[str, Any] = {"metadata": {}}
    header = find_header(lines, plain_label)  # "Call ID: 7", "Date: ..." lines on top
    parse_header(lines[:header], fields, plain_label)
    return build(to_turns(parse_plain(lines[header:])), path, "text", **fields)
