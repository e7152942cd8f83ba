"""Transcript readers: any supported transcript file in, a `Transcript` out.

`read_transcript(path)` is the one entry point: it checks the file, decodes it, detects the
format from the extension and the content, runs the reader and returns a Transcript with at
least one turn, or raises `TranscriptError` (one line, "PATH: problem") and nothing else.
"""

from __future__ import annotations

import codecs
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path

from analyzer.audio import AUDIO_SUFFIXES
from analyzer.errors import TranscriptError
from analyzer.readers.jsonfmt import READERS_JSON, json_shape
from analyzer.readers.plain import read_text
from analyzer.readers.subtitles import looks_like_subtitles, read_srt, read_vtt
from analyzer.transcript import Transcript

__all__ = [
    "AUDIO_SUFFIXES",
    "MAX_BYTES",
    "READERS",
    "decode_bytes",
    "detect_format",
    "get_reader",
    "read_transcript",
]

Reader = Callable[[str, Path], Transcript]

READERS: dict[str, Reader] = {
    **READERS_JSON,
    "srt": read_srt,
    "vtt": read_vtt,
    "text": read_text,
}
ALIASES = {
    "project": "json",
    "whisper": "whisper-json",
    "whisperx": "whisper-json",
    "azure": "azure-conversation",
    "aws": "aws-transcribe",
    "transcribe": "aws-transcribe",
    "segments": "segments-json",
    "harper-valley": "segments-json",
    "webvtt": "vtt",
    "subrip": "srt",
    "txt": "text",
    "plain": "text",
    "md": "text",
    "markdown": "text",
}
MAX_BYTES = 50 * 1024 * 1024


def get_reader(name: str) -> Reader:
    """The reader registered under name (or an alias such as "md", "webvtt", "whisper")."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in READERS:
        raise ValueError(
            f"unknown transcript format {name!r} (expected one of: {', '.join(READERS)})"
        )
    return READERS[key]


def detect_format(path: Path, text: str) -> str:
    """The registry name for a file, from its content first and its extension second."""
    suffix = Path(path).suffix.lower()
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            data = None
        # a bare list counts only if it holds objects: "[1]" or "[00:12] hi" are text
        if isinstance(data, dict) or (
            isinstance(data, list) and data and isinstance(data[0], dict | list)
        ):
            return json_shape(data) or "json"
    if suffix == ".json":
        return "json"  # broken JSON: the JSON reader says where
    if stripped.startswith("WEBVTT"):
        return "vtt"
    if suffix in (".srt", ".vtt") and looks_like_subtitles(text, strict=False):
        return suffix[1:]
    if looks_like_subtitles(text):
        return "vtt" if suffix == ".vtt" else "srt"
    return "text"


def decode_bytes(data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16/32 with a BOM; otherwise cp1252, then latin-1."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _is_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    sample = text[:100_000]
    control = sum(1 for ch in sample if ch not in "\t\n\r\f\v" and unicodedata.category(ch) == "Cc")
    return control > 0.1 * max(1, len(sample.strip()))


def read_transcript(path: str | Path, fmt: str | None = None) -> Transcript:
    """Read any supported transcript file. Raises TranscriptError (and nothing else)."""
    name = str(path)
    try:
        return _read(Path(path), fmt)
    except TranscriptError:
        raise
    except RecursionError as e:
        raise TranscriptError(name, "too deeply nested to read") from e
    except PermissionError as e:
        raise TranscriptError(name, "permission denied") from e
    except OSError as e:
        raise TranscriptError(name, f"cannot read file ({_one_line(e.strerror or e)})") from e
    except Exception as e:  # any other failure of a reader is a bad file, said in one line
        raise TranscriptError(name, f"cannot read transcript: {_one_line(e)}") from e


def _one_line(problem: object) -> str:
    text = " ".join(str(problem).split())
    return text[:300] or "unknown problem"


def _read(path: Path, fmt: str | None) -> Transcript:
    reader_name = None
    if fmt is not None:
        try:
            get_reader(fmt)
        except ValueError as e:
            raise TranscriptError(path, str(e)) from e
        reader_name = ALIASES.get(fmt.strip().lower(), fmt.strip().lower())
    if path.suffix.lower() in AUDIO_SUFFIXES:
        raise TranscriptError(path, "is an audio file; transcribe it first")
    if not path.exists():
        raise TranscriptError(path, "no such file")
    if path.is_dir():
        raise TranscriptError(path, "is a directory")
    if not path.is_file():
        raise TranscriptError(path, "is not a regular file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise TranscriptError(
            path, f"too large for a transcript ({size / 1e6:.0f} MB; limit 50 MB)"
        )
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise TranscriptError(path, "too large for a transcript (over 50 MB)")
    text = decode_bytes(data)
    if _is_binary(text):
        raise TranscriptError(path, "not a transcript (binary data)")
    if not text.strip():
        raise TranscriptError(path, "no turns found (empty transcript)")
    reader_name = reader_name or detect_format(path, text)
    transcript = READERS[reader_name](text, path)
    _check(transcript, path)
    return transcript


def _check(transcript: Transcript, path: Path) -> None:
    """The promises every reader keeps; a broken one is a bug, reported as a bad file."""
    if not transcript.turns:
        raise TranscriptError(path, "no turns found (empty transcript)")
    for i, turn in enumerate(transcript.turns):
        problem = None
        if not turn.text.strip() or not turn.speaker.strip():
            problem = "has no text or no speaker"
        elif turn.start is not None and turn.end is not None and turn.start > turn.end:
            problem = "ends before it starts"
        if problem:
            raise TranscriptError(path, f"turn {i + 1} {problem}")
