"""Fuzzing the audio probe and decoder (issue 15): WAV headers with every field random, and
damaged WAV, MP3, Ogg Opus and FLAC files. Whatever the bytes, `probe_audio` and `load_audio`
give a result or an `AudioError` on one line, within the time bound (tests/fuzzing.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from fuzzing import fuzz_settings, keeps_contract, mutated
from hypothesis import given
from hypothesis import strategies as st
from test_audio import riff_wav, tones, write_audio

from analyzer.errors import AudioError
from analyzer.speech.audio import load_audio, probe_audio

pytestmark = pytest.mark.fuzz

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFF_FFFF)
# A tenth of a second of a 440 Hz tone, 16-bit mono at 8 kHz: the payload under every header.
PCM = (tones(8000, 0.1, [440.0])[0] * 32767).astype("<i2").tobytes()
# WAV format tags a recorder writes (PCM, ADPCM, float, A-law, μ-law, GSM, MP3, extensible).
TAGS = [0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0055, 0xFFFE]


def _guid(tag: int) -> bytes:
    """The KSDATAFORMAT_SUBTYPE GUID of a format tag, as a WAVE_FORMAT_EXTENSIBLE names it."""
    return struct.pack("<IHH", tag, 0x0000, 0x0010) + bytes.fromhex("800000aa00389b71")


extensions = st.one_of(
    st.just(b""),
    st.binary(max_size=48),
    st.builds(  # a WAVE_FORMAT_EXTENSIBLE tail: size, valid bits, channel mask, subformat
        lambda size, valid, mask, sub: struct.pack("<HHI", size, valid, mask) + _guid(sub),
        st.one_of(st.just(22), U16),
        U16,
        U32,
        st.one_of(st.sampled_from(TAGS), U16),
    ),
)
# Each field is left out (the valid value) or drawn, so that both the refusals and the decoding
# of what passes get inputs.
headers = st.fixed_dictionaries(
    {},
    optional={
        "tag": st.one_of(st.sampled_from(TAGS), U16),
        "channels": st.one_of(st.integers(0, 10), U16),
        "rate": st.one_of(st.sampled_from([0, 4000, 8000, 16000, 44100, 48000, 192000]), U32),
        "bits": st.one_of(st.sampled_from([0, 4, 8, 12, 16, 24, 32, 64]), U16),
        "byte_rate": st.one_of(st.none(), U32),
        "block_align": st.one_of(st.none(), U16),
        "extension": extensions,
        "data_size": st.one_of(st.none(), st.just(0), U32),
        "fmt_size": st.one_of(st.none(), st.integers(0, 64), U32),
        "riff_size": st.one_of(st.none(), U32),
    },
)


def _probe_then_load(path: Path) -> object:
    """Probe the file, then decode it whole, as the pipeline does; a file the probe refuses is
    decoded anyway (a caller of `iter_audio` may skip the probe), so a crash in either shows."""
    try:
        info = probe_audio(path)
    except AudioError:
        load_audio(path)
        raise
    return info, load_audio(path)


def _check(target: str, path: Path, data: bytes) -> None:
    path.write_bytes(data)
    outcome = keeps_contract(target, lambda: _probe_then_load(path))
    assert not isinstance(outcome, Exception) or isinstance(outcome, AudioError), outcome


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-audio")


@pytest.fixture(scope="module")
def seeds(work: Path) -> dict[str, bytes]:
    """Small valid files (half a second of a tone), by suffix, made as a recorder makes them."""
    data = tones(16000, 0.5, [440.0])
    made = {
        ".wav": write_audio(work / "seed.wav", "pcm_s16le", 16000, data),
        ".mp3": write_audio(work / "seed.mp3", "mp3", 16000, data),
        ".ogg": write_audio(work / "seed.ogg", "libopus", 16000, data, container_format="ogg"),
        ".flac": write_audio(work / "seed.flac", "flac", 16000, data),
    }
    seeds = {suffix: path.read_bytes() for suffix, path in made.items()}
    for suffix, path in made.items():  # the premise: every seed decodes
        assert load_audio(path).shape[1] == pytest.approx(8000, abs=800), suffix
    return seeds


@fuzz_settings
@given(fields=headers)
def test_wav_header(work: Path, fields: dict[str, object]) -> None:
    _check("audio: wav header", work / "call.wav", riff_wav(payload=PCM, **fields))


@fuzz_settings
@given(data=st.data())
def test_mutated_file(work: Path, seeds: dict[str, bytes], data: st.DataObject) -> None:
    suffix = data.draw(st.sampled_from(sorted(seeds)))
    _check("audio: mutated file", work / f"call{suffix}", data.draw(mutated(seeds[suffix])))


def test_seeds_are_what_a_recorder_writes(seeds: dict[str, bytes]) -> None:
    assert seeds[".wav"][:4] == b"RIFF"
    assert seeds[".ogg"][:4] == b"OggS"
    assert seeds[".flac"][:4] == b"fLaC"
    assert np.frombuffer(seeds[".mp3"][:2], np.uint8)[0] in (0xFF, ord("I"))  # sync or ID3
