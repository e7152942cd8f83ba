"""Silero VAD through faster-whisper: where the speech is, with real and synthetic voices.

Tests marked `espeak` need the `espeak-ng` program (Debian package espeak-ng) to make speech;
they are skipped without it. The silence, noise and synthetic-voice tests always run.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from analyzer.speech.audio import TARGET_RATE, load_audio
from analyzer.speech.vad import SpeechRegion, VadSettings, speech_regions, speech_seconds

RATE = TARGET_RATE
CORPUS_JFK = Path("/work/shared/corpus/audio/whisper-jfk/jfk.flac")
ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (apt)")

SENTENCE = "Hello, this is Alex from Acme Solutions. Is now a good time to talk about scheduling?"


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


def espeak(tmp_path: Path, text: str, name: str = "speech") -> np.ndarray:
    """Speech from espeak-ng, decoded through the real decoder, with its own quiet ends cut."""
    assert ESPEAK is not None
    wav = tmp_path / f"{name}.wav"
    subprocess.run([ESPEAK, "-s", "160", "-w", str(wav), text], check=True, timeout=60)
    audio = load_audio(wav)[0]
    loud = np.nonzero(np.abs(audio) > 0.01)[0]
    return audio[loud[0] : loud[-1] + 1]


def _resonator_ir(formants: tuple[int, ...], n: int = 800) -> np.ndarray:
    """Impulse response of a cascade of two-pole resonators (a vowel's vocal tract)."""
    y = np.zeros(n)
    y[0] = 1.0
    for freq in formants:
        r, theta = np.exp(-np.pi * 80 / RATE), 2 * np.pi * freq / RATE
        a1, a2 = -2 * r * np.cos(theta), r * r
        out = np.zeros(n)
        for i in range(n):
            out[i] = y[i] - a1 * (out[i - 1] if i else 0.0) - a2 * (out[i - 2] if i > 1 else 0.0)
        y = out
    return y


VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]
IRS = [_resonator_ir(f) for f in VOWELS]


def synthetic_voice(seconds: float, seed: int = 0) -> np.ndarray:
    """Formant-synthesised syllables (a glottal pulse train through vowel resonances) with short
    gaps: enough like speech for Silero, no text-to-speech program needed."""
    rng = np.random.default_rng(seed)
    pieces: list[np.ndarray] = []
    total = 0
    i = 0
    while total < seconds * RATE:
        n = round(RATE * (0.18 + 0.1 * rng.random()))
        t = np.arange(n) / RATE
        f0 = 110 + 30 * rng.random() - 20 * t / t[-1]
        phase = np.cumsum(f0) / RATE
        pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(float)
        syllable = np.convolve(pulses, IRS[i % len(IRS)])[:n] * np.hanning(n)
        gap = np.zeros(round(RATE * 0.05))
        pieces += [syllable, gap]
        total += n + gap.size
        i += 1
    voice = np.concatenate(pieces)[: round(seconds * RATE)]
    return (voice / np.abs(voice).max() * 0.3).astype(np.float32)


# --- always run ------------------------------------------------------------------------------


def test_empty_input() -> None:
    assert speech_regions(np.zeros(0, np.float32)) == []


def test_pure_silence() -> None:
    assert speech_regions(silence(10.0)) == []


def test_low_noise_is_not_speech() -> None:
    rng = np.random.default_rng(0)
    for level in (1e-4, 1e-3, 5e-3):
        noise = (rng.standard_normal(10 * RATE) * level).astype(np.float32)
        assert speech_regions(noise) == [], level


def test_steady_tone_is_not_speech() -> None:
    t = np.arange(5 * RATE) / RATE
    hum = (0.1 * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    assert speech_regions(hum) == []


def test_synthetic_voice_found_where_it_is() -> None:
    samples = np.concatenate([silence(2.0), synthetic_voice(3.0), silence(3.0)])
    regions = speech_regions(samples)
    assert regions
    assert regions[0].start == pytest.approx(2.0, abs=0.3)
    assert regions[-1].end == pytest.approx(5.0, abs=0.3)
    assert speech_seconds(regions) == pytest.approx(3.0, abs=0.6)


def test_offset_is_added() -> None:
    samples = np.concatenate([silence(1.0), synthetic_voice(2.0), silence(2.0)])
    plain = speech_regions(samples)
    shifted = speech_regions(samples, offset=600.0)
    assert plain
    assert len(shifted) == len(plain)
    for a, b in zip(plain, shifted, strict=True):
        assert (a.start + 600.0, a.end + 600.0) == pytest.approx((b.start, b.end))


def test_long_voice_split_at_max_region() -> None:
    samples = np.concatenate([silence(1.0), synthetic_voice(25.0), silence(1.0)])
    settings = VadSettings(max_region_s=8.0)
    regions = speech_regions(samples, settings)
    assert len(regions) >= 3
    assert all(r.end - r.start <= 8.0 + 1e-9 for r in regions)
    assert all(a.end <= b.start for a, b in itertools.pairwise(regions))
    assert speech_seconds(regions) == pytest.approx(25.0, abs=1.5)


def test_accepts_one_row_array_and_refuses_stereo() -> None:
    samples = np.concatenate([silence(1.0), synthetic_voice(2.0), silence(1.0)])
    assert speech_regions(samples[None, :]) == speech_regions(samples)
    with pytest.raises(ValueError, match="one channel"):
        speech_regions(np.stack([samples, samples]))


def test_nan_does_not_poison_the_rest() -> None:
    samples = np.concatenate([silence(1.0), synthetic_voice(2.0), silence(1.0)])
    broken = samples.copy()
    broken[100:200] = np.nan
    assert speech_regions(broken) == speech_regions(samples)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="threshold"):
        VadSettings(threshold=1.5)
    with pytest.raises(ValueError, match="min_silence_ms"):
        VadSettings(min_silence_ms=-1)
    with pytest.raises(ValueError, match="max_region_s"):
        VadSettings(max_region_s=0.3)


def test_speech_seconds() -> None:
    assert speech_seconds([]) == 0.0
    regions = [SpeechRegion(0.0, 1.5), SpeechRegion(3.0, 4.0), SpeechRegion(3.5, 5.0)]
    assert speech_seconds(regions) == pytest.approx(3.5)


def test_model_is_loaded_once() -> None:
    from faster_whisper.vad import get_vad_model

    speech_regions(synthetic_voice(1.0))
    assert get_vad_model() is get_vad_model()
    assert get_vad_model.cache_info().currsize == 1


def test_a_minute_takes_well_under_a_second() -> None:
    samples = np.tile(np.concatenate([synthetic_voice(4.0), silence(2.0)]), 10)
    speech_regions(samples[: RATE // 2])  # model load
    started = time.perf_counter()
    regions = speech_regions(samples)
    assert time.perf_counter() - started < 2.0
    assert len(regions) == 10


# --- espeak-ng speech -----------------------------------------------------------------------


@needs_espeak
def test_espeak_speech_found_where_it_is(tmp_path: Path) -> None:
    speech = espeak(tmp_path, SENTENCE)
    start, end = 2.0, 2.0 + speech.size / RATE
    samples = np.concatenate([silence(2.0), speech, silence(3.0)])
    regions = speech_regions(samples)
    assert regions
    assert regions[0].start == pytest.approx(start, abs=0.3)
    assert regions[-1].end == pytest.approx(end, abs=0.3)
    assert all(start - 0.3 <= r.start < r.end <= end + 0.3 for r in regions)


@needs_espeak
def test_espeak_two_utterances_with_a_long_pause(tmp_path: Path) -> None:
    first = espeak(tmp_path, "Good morning, who am I speaking with?", "one")
    second = espeak(tmp_path, "Thanks, I will send the proposal today.", "two")
    samples = np.concatenate([silence(1.0), first, silence(4.0), second, silence(1.0)])
    regions = speech_regions(samples)
    second_start = 1.0 + first.size / RATE + 4.0
    assert regions[0].start == pytest.approx(1.0, abs=0.3)
    assert regions[-1].end == pytest.approx(second_start + second.size / RATE, abs=0.3)
    first_end = 1.0 + first.size / RATE
    assert len(regions) >= 2
    # nothing inside the pause
    assert all(r.end <= first_end + 0.3 or r.start >= second_start - 0.3 for r in regions)


@needs_espeak
def test_espeak_offset_applied(tmp_path: Path) -> None:
    samples = np.concatenate([silence(1.0), espeak(tmp_path, SENTENCE), silence(1.0)])
    plain = speech_regions(samples)
    shifted = speech_regions(samples, offset=300.0)
    assert [r.start + 300.0 for r in plain] == pytest.approx([r.start for r in shifted])


@needs_espeak
def test_espeak_long_speech_split(tmp_path: Path) -> None:
    speech = espeak(tmp_path, " ".join([SENTENCE] * 5))
    assert speech.size / RATE > 20
    samples = np.concatenate([silence(1.0), speech, silence(1.0)])
    # long silences only would split it: without a length limit it is one region
    assert len(speech_regions(samples, VadSettings(min_silence_ms=3000, max_region_s=600))) == 1
    regions = speech_regions(samples, VadSettings(min_silence_ms=3000, max_region_s=8.0))
    assert len(regions) >= 3
    assert all(r.end - r.start <= 8.0 + 1e-9 for r in regions)


@pytest.mark.skipif(not CORPUS_JFK.is_file(), reason="no shared corpus of real recordings here")
def test_real_speech() -> None:
    audio = load_audio(CORPUS_JFK)[0]
    regions = speech_regions(audio)
    assert regions
    assert 6.0 < speech_seconds(regions) <= 11.0
