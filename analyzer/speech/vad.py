"""Voice activity detection with Silero VAD, the ONNX model bundled inside faster-whisper.

faster-whisper loads the model once per process (`get_vad_model` is `lru_cache`d) and runs it
on the CPU through onnxruntime with one thread; 60 s of audio takes about a tenth of a second.
faster-whisper is imported on first use only, so importing this module stays cheap.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analyzer.speech.audio import TARGET_RATE

if TYPE_CHECKING:
    from faster_whisper.vad import VadOptions

# Silero scores windows of 512 samples at 16 kHz (32 ms); faster-whisper keeps a region under
# max_speech_duration_s by subtracting one window and both paddings from it.
_WINDOW = 512


@dataclass(frozen=True)
class VadSettings:
    """How speech is told from silence. Defaults suit telephone calls fed to Whisper."""

    threshold: float = 0.5  # speech probability above which a frame is speech
    min_speech_ms: int = 100  # shorter bursts are dropped ("ok" and "hi" last 150-300 ms)
    min_silence_ms: int = 500  # silences shorter than this do not split speech
    speech_pad_ms: int = 200  # padding kept around each region
    max_region_s: float = 30.0  # longer regions are split (Whisper's window)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"VAD threshold must be between 0 and 1, got {self.threshold}")
        for name in ("min_speech_ms", "min_silence_ms", "speech_pad_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"VAD {name} must not be negative, got {getattr(self, name)}")
        shortest = (2 * self.speech_pad_ms / 1000) + 2 * _WINDOW / TARGET_RATE
        if not self.max_region_s > shortest:
            raise ValueError(
                f"VAD max_region_s must be more than {shortest:.3f} s "
                f"(twice the padding plus two windows), got {self.max_region_s}"
            )


@dataclass(frozen=True)
class SpeechRegion:
    """A stretch of speech, in seconds from the start of the recording."""

    start: float  # seconds
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def _options(settings: VadSettings) -> VadOptions:
    from faster_whisper.vad import VadOptions

    return VadOptions(
        threshold=settings.threshold,
        min_speech_duration_ms=settings.min_speech_ms,
        min_silence_duration_ms=settings.min_silence_ms,
        speech_pad_ms=settings.speech_pad_ms,
        max_speech_duration_s=settings.max_region_s,
    )


def _as_mono(samples: np.ndarray) -> np.ndarray:
    audio = np.asarray(samples)
    if audio.ndim == 2 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.ndim != 1:
        raise ValueError(f"VAD needs one channel (a 1-D array), got shape {audio.shape}")
    audio = audio.astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        # One NaN would poison the model's recurrent state for the rest of the input.
        audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
    return audio


def _split_long(start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut [start, end) into equal pieces no longer than `limit` samples.

    faster-whisper already splits at max_speech_duration_s, but padding shared with a close
    neighbour can push a region a little past it; Whisper's window is a hard limit.
    """
    pieces = max(1, math.ceil((end - start) / limit))
    bounds = [start + round(i * (end - start) / pieces) for i in range(pieces + 1)]
    return list(itertools.pairwise(bounds))


def speech_regions(
    samples: np.ndarray, settings: VadSettings = VadSettings(), offset: float = 0.0
) -> list[SpeechRegion]:
    """Where the speech is in 1-D float32 16 kHz `samples`, in seconds plus `offset`.

    `offset` is the start of `samples` in the whole recording (a chunk's start), so regions of
    consecutive chunks line up. Regions are in order, do not overlap, and none is longer than
    `settings.max_region_s`. Empty or silent input gives [].
    """
    audio = _as_mono(samples)
    if audio.size == 0 or not np.any(audio):
        return []
    from faster_whisper.vad import get_speech_timestamps

    stamps = get_speech_timestamps(audio, _options(settings), sampling_rate=TARGET_RATE)
    limit = max(1, math.floor(settings.max_region_s * TARGET_RATE))
    regions: list[SpeechRegion] = []
    for stamp in stamps:
        start, end = int(stamp["start"]), min(int(stamp["end"]), audio.size)
        if end <= start:
            continue
        for a, b in _split_long(start, end, limit):
            regions.append(
                SpeechRegion(
                    start=offset + a / TARGET_RATE,
                    end=offset + b / TARGET_RATE,
                )
            )
    return regions


def speech_seconds(regions: Sequence[SpeechRegion]) -> float:
    """Total seconds covered by `regions` (overlaps counted once)."""
    total = 0.0
    reach = -math.inf
    for region in sorted(regions, key=lambda r: r.start):
        start = max(region.start, reach)
        if region.end > start:
            total += region.end - start
            reach = region.end
    return total
