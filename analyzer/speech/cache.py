"""Transcripts reused across runs: keyed by the audio's content and what shapes the output.

Asking again for the same call (same bytes, backend, model and output-shaping settings) reads
the stored transcript instead of transcribing again. Entries are written atomically, so a run
killed mid-write never leaves a half entry; an unreadable entry is treated as absent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from analyzer.speech.settings import TranscribeSettings
from analyzer.transcripts.transcript import Transcript, transcript_from_dict, write_transcript_json

# Settings that cannot change what a transcript says; every other one is part of the key, so a
# setting added later is keyed unless it is named here.
UNKEYED_SETTINGS = frozenset({"cache_dir", "max_minutes", "model_dir"})
# Bumped when the pipeline changes what a transcript says for the same settings (2: words
# placed by their own times; 3: 20 s windows, spelt-out loops cut), so older cached
# transcripts are not reused.
PIPELINE_VERSION = 3


def cache_key(audio_hash: str, settings: TranscribeSettings) -> str:
    shaping = settings.model_dump(mode="json", exclude=set(UNKEYED_SETTINGS))
    shaping["pipeline"] = PIPELINE_VERSION
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]
    return f"{audio_hash[:32]}-{settings.backend}-{_safe(settings.model)}-{digest}"


class TranscriptCache:
    """A folder of transcript JSON files named by cache key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / "transcripts" / key[:2] / f"{key}.json"

    def get(self, key: str) -> Transcript | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return transcript_from_dict(data, default_call_id=key)
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def put(self, key: str, transcript: Transcript) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_transcript_json(transcript, path)


def _safe(name: str) -> str:
    stem = Path(name).name if ("/" in name or "\\" in name) else name
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in stem)[:40]
