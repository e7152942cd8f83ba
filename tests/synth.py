"""Synthetic call recordings for tests and benchmarks: espeak-ng speaks each turn, the rep on
one channel and the customer on the other, at telephone quality.

    synthesise_call(turns, out_path) -> the turns with the times they really have in the audio
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np

from analyzer.transcripts.transcript import Turn

VOICES = {"rep": "en-us", "customer": "en-gb"}  # two voices that sound clearly different
GAP = 0.6  # seconds of silence between turns


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


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


def synthesise_call(
    turns: list[Turn],
    out_path: Path,
    rate: int = 8000,
    rep_channel: int = 0,
    lead_in: float = 0.5,
    tail: float = 1.0,
) -> list[Turn]:
    """Write a 2-channel 16-bit WAV of the turns (role rep on `rep_channel`) and return the turns
    with the start and end each really has in the file."""
    placed: list[tuple[int, np.ndarray]] = []
    timed: list[Turn] = []
    t = lead_in
    for turn in turns:
        channel = rep_channel if turn.role == "rep" else 1 - rep_channel
        voice = VOICES["rep" if turn.role == "rep" else "customer"]
        audio = speak(turn.text, voice, rate)
        placed.append((channel, audio))
        timed.append(
            replace(turn, start=round(t, 3), end=round(t + len(audio) / rate, 3), channel=channel)
        )
        t += len(audio) / rate + GAP
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
