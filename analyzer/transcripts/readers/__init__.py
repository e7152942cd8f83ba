"""Transcript readers: any supported transcript file in, a `Transcript` out.

`read_transcript(path)` is the one entry point: it checks the file, decodes it, detects the
format from the extension and the content, runs the reader and returns a Transcript with at
least one turn and at most `MAX_TURNS` turns and `MAX_CALL_CHARS` characters of speech, or
raises `TranscriptError` (one line, "PATH: problem") and nothing else. Its text is valid Unicode:
decoding never yields a lone surrogate, and JSON's "\ud800" escapes are mended where JSON is
parsed (`_common.parse_json`).
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Callable
from pathlib import Path

from analyzer.errors import TranscriptError
from analyzer.registry import Registry
from analyzer.transcripts.readers._common import parse_json
from analyzer.transcripts.readers.jsonfmt import READERS_JSON, json_shape
from analyzer.transcripts.readers.plain import read_text
from analyzer.transcripts.readers.subtitles import looks_like_subtitles, read_srt, read_vtt
from analyzer.transcripts.transcript import AUDIO_SUFFIXES, Transcript

__all__ = [
    "AUDIO_SUFFIXES",
    "MAX_BYTES",
    "MAX_CALL_CHARS",
    "MAX_TURNS",
    "READERS",
    "decode_bytes",
    "detect_format",
    "get_reader",
    "is_binary",
    "read_transcript",
]

Reader = Callable[[str, Path], Transcript]

# Every reader by format name (`--format`); names are looked up lower-cased and stripped.
READERS: Registry[Reader] = Registry(
    "transcript format",
    {**dict(READERS_JSON.items()), "srt": read_srt, "vtt": read_vtt, "text": read_text},
    aliases={
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
    },
)
MAX_BYTES = 50 * 1024 * 1024
# What one call may hold to be graded. A two-hour call is ~2,000 turns and ~120,000 characters
# (fast speech, 170 words a minute); these allow ten times the turns and four times the speech,
# and keep a call far below what the grading engine's tokenizer takes in one piece (spaCy's
# max_length, 1,000,000 characters; text.py also feeds it in pieces).
MAX_TURNS = 20_000  # turns in one call
MAX_CALL_CHARS = 500_000  # characters of speech (turn text) in one call


def get_reader(name: str) -> Reader:
    """The reader registered under name (or an alias such as "md", "webvtt", "whisper")."""
    key = name.strip().lower()
    if key not in READERS:  # the message names the format as given, and says "expected"
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
            data = parse_json(stripped)
        except ValueError:
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
    """UTF-8 (BOM or not), UTF-16/32 with a BOM, UTF-16 without one; else cp1252, then latin-1.

    Never yields a lone surrogate: every decoding here is strict or has none to yield."""
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
    if (utf16 := _utf16_without_bom(data)) is not None:
        return utf16
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text that has no BOM (mostly ASCII: every other byte a NUL), or None."""
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even = sample[0::2].count(0)  # NULs in the high byte of UTF-16-BE ASCII
    odd = sample[1::2].count(0)  # ... of UTF-16-LE ASCII
    for nuls, others, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nuls >= 0.6 * pairs and others <= 0.05 * pairs:
            try:
                return data[: len(data) // 2 * 2].decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def is_binary(text: str) -> bool:
    """Whether decoded text is binary data: a NUL, or control characters over a tenth of it."""
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
        reader_name = READERS.key(fmt.strip().lower())
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
    if is_binary(text):
        raise TranscriptError(path, "not a transcript (binary data)")
    if not text.strip():
        raise TranscriptError(path, "no turns found (empty transcript)")
    reader_name = reader_name or detect_format(path, text)
    transcript = READERS[reader_name](text, path)
    _check(transcript, path)
    return transcript


def _check(transcript: Transcript, path: Path) -> None:
    """The promises every reader keeps (a broken one is a bug, reported as a bad file), and the
    limits of what is graded."""
    if not transcript.turns:
        raise TranscriptError(path, "no turns found (empty transcript)")
    turns = len(transcript.turns)
    if turns > MAX_TURNS:
        raise TranscriptError(
            path, f"the call has {turns:,} turns; at most {MAX_TURNS:,} are graded"
        )
    chars = sum(len(turn.text) for turn in transcript.turns)
    if chars > MAX_CALL_CHARS:
        raise TranscriptError(
            path,
            f"the call has {chars:,} characters of speech; at most {MAX_CALL_CHARS:,} are graded",
        )
    for i, turn in enumerate(transcript.turns):
        problem = None
        if not turn.text.strip() or not turn.speaker.strip():
            problem = "has no text or no speaker"
        elif turn.start is not None and turn.end is not None and turn.start > turn.end:
            problem = "ends before it starts"
        if problem:
            raise TranscriptError(path, f"turn {i + 1} {problem}")
