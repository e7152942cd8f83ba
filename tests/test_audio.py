"""Decoding: every format a phone system or a recorder writes, bad files, long files, chunks."""

from __future__ import annotations

import os
import struct
import time
import tracemalloc
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from analyzer.errors import AudioError, InputError
from analyzer.speech.audio import (
    TARGET_RATE,
    AudioInfo,
    content_hash,
    is_dual_mono,
    iter_audio,
    load_audio,
    probe_audio,
)
from analyzer.transcripts.transcript import AUDIO_SUFFIXES

CORPUS = Path("/work/shared/corpus/audio")


def tones(rate: int, seconds: float, freqs: list[float], amp: float = 0.5) -> np.ndarray:
    """One sine per channel: a (channels, n) float32 array."""
    t = np.arange(round(rate * seconds)) / rate
    return np.stack([amp * np.sin(2 * np.pi * f * t) for f in freqs]).astype(np.float32)


def write_audio(
    path: Path,
    codec: str,
    rate: int,
    data: np.ndarray,
    *,
    container_format: str | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode a (channels, n) float array with PyAV, the way a recorder would write it."""
    layout = {1: "mono", 2: "stereo", 4: "quad", 6: "5.1"}[data.shape[0]]
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout, options=options or {})
        ctx = stream.codec_context
        step = ctx.frame_size or 1024
        resampler = av.AudioResampler(
            format=ctx.format.name, layout=layout, rate=rate, frame_size=ctx.frame_size or None
        )

        def encode(frames: list[av.AudioFrame]) -> None:
            for frame in frames:
                for packet in stream.encode(frame):
                    out.mux(packet)

        for i in range(0, data.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data[:, i : i + step]), format="fltp", layout=layout
            )
            frame.sample_rate = rate
            encode(resampler.resample(frame))
        encode(resampler.resample(None))
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_wav_bytes(path: Path, rate: int, data: np.ndarray) -> Path:
    """16-bit PCM WAV with the standard library: fast, for long fixtures."""
    pcm = (np.clip(data.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def riff_wav(
    *,
    tag: int = 1,
    channels: int = 1,
    rate: int = 8000,
    bits: int = 16,
    byte_rate: int | None = None,
    block_align: int | None = None,
    extension: bytes = b"",
    payload: bytes = bytes(1600),
    data_size: int | None = None,
    fmt_size: int | None = None,
    riff_size: int | None = None,
) -> bytes:
    """A WAV file byte by byte: RIFF header, a `fmt ` chunk (its 16 bytes, then `extension`),
    a `data` chunk declaring `data_size` bytes (those of `payload` unless told) and `payload`.
    Fields and sizes left out are those of a valid file."""
    # What is left out is derived, wrapped as the header's 16- and 32-bit fields hold it.
    align = (channels * max(bits, 8) // 8) & 0xFFFF if block_align is None else block_align
    rate_bytes = (rate * align) & 0xFFFF_FFFF if byte_rate is None else byte_rate
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate_bytes, align, bits) + extension
    fmt_size = len(fmt) if fmt_size is None else fmt_size
    data_size = len(payload) if data_size is None else data_size
    body = b"WAVEfmt " + struct.pack("<I", fmt_size) + fmt
    body += b"data" + struct.pack("<I", data_size) + payload
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def peak_hz(channel: np.ndarray, rate: int = TARGET_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(channel * np.hanning(channel.size)))
    return float(np.fft.rfftfreq(channel.size, 1 / rate)[np.argmax(spectrum)])


def problem(excinfo: pytest.ExceptionInfo[AudioError]) -> str:
    return excinfo.value.problem


# (id, codec, suffix, file rate, channels, container format, encoder options)
FORMATS = [
    ("wav-s16-8k", "pcm_s16le", ".wav", 8000, 1, None, None),
    ("wav-u8-8k", "pcm_u8", ".wav", 8000, 1, None, None),
    ("wav-mulaw-8k", "pcm_mulaw", ".wav", 8000, 1, None, None),
    ("wav-alaw-8k", "pcm_alaw", ".wav", 8000, 1, None, None),
    ("wav-s16-44k-stereo", "pcm_s16le", ".wav", 44100, 2, None, None),
    ("wav-s16-48k", "pcm_s16le", ".wav", 48000, 1, None, None),
    ("mp3", "mp3", ".mp3", 44100, 1, None, None),
    ("aac-m4a", "aac", ".m4a", 48000, 1, None, None),
    ("aac-adts", "aac", ".aac", 44100, 1, "adts", None),
    ("flac", "flac", ".flac", 44100, 1, None, None),
    # ffmpeg's own Vorbis encoder is stereo-only and experimental (no libvorbis in PyAV's build).
    ("vorbis-ogg", "vorbis", ".ogg", 44100, 2, None, {"strict": "experimental"}),
    ("opus-ogg", "libopus", ".opus", 48000, 1, "ogg", None),
    ("opus-webm", "libopus", ".webm", 48000, 1, None, None),
]
CANONICAL = {"libopus": "opus"}


@pytest.mark.parametrize(
    ("codec", "suffix", "rate", "channels", "container_format", "options"),
    [pytest.param(*f[1:], id=f[0]) for f in FORMATS],
)
def test_format_decodes_to_16k(
    tmp_path: Path,
    codec: str,
    suffix: str,
    rate: int,
    channels: int,
    container_format: str | None,
    options: dict[str, str] | None,
) -> None:
    seconds = 1.5
    freqs = [440.0, 1000.0][:channels]
    path = write_audio(
        tmp_path / f"tone{suffix}",
        codec,
        rate,
        tones(rate, seconds, freqs),
        container_format=container_format,
        options=options,
    )
    audio = load_audio(path)
    assert audio.dtype == np.float32
    assert audio.ndim == 2 and audio.shape[0] == channels
    assert audio.shape[1] / TARGET_RATE == pytest.approx(seconds, abs=0.05)
    for row, freq in enumerate(freqs):
        assert peak_hz(audio[row]) == pytest.approx(freq, rel=0.02)  # lossy codecs smear it
        assert 0.2 < np.abs(audio[row]).max() < 1.0

    info = probe_audio(path)
    assert info == AudioInfo(
        path=str(path),
        duration=info.duration,
        sample_rate=rate,
        channels=channels,
        codec=CANONICAL.get(codec, codec),
    )
    if codec != "vorbis":  # ffmpeg's experimental Vorbis encoder writes wrong granule positions
        assert info.duration == pytest.approx(seconds, abs=0.05)


def test_suffixes_are_lowercase_with_dot() -> None:
    assert all(s.startswith(".") and s == s.lower() for s in AUDIO_SUFFIXES)
    assert {".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus"} <= set(AUDIO_SUFFIXES)


def test_stereo_channels_stay_apart_and_in_order(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "call.wav", "pcm_mulaw", 8000, tones(8000, 2.0, [300.0, 1200.0]))
    audio = load_audio(path)
    assert audio.shape == (2, 32000)
    assert peak_hz(audio[0]) == pytest.approx(300, abs=5)  # left
    assert peak_hz(audio[1]) == pytest.approx(1200, abs=5)  # right
    assert not is_dual_mono(audio)


def test_left_only_stays_left(tmp_path: Path) -> None:
    data = tones(8000, 1.0, [500.0, 500.0])
    data[1] = 0.0
    audio = load_audio(write_audio(tmp_path / "left.wav", "pcm_s16le", 8000, data))
    assert np.abs(audio[0]).max() > 0.3
    assert np.abs(audio[1]).max() == 0.0


def test_more_than_two_channels_keeps_the_first_two(tmp_path: Path) -> None:
    data = tones(16000, 1.0, [300.0, 700.0, 1500.0, 2500.0, 3500.0, 4500.0])
    path = write_audio(tmp_path / "surround.wav", "pcm_s16le", 16000, data)
    assert probe_audio(path).channels == 6
    audio = load_audio(path)
    assert audio.shape == (2, 16000)
    assert peak_hz(audio[0]) == pytest.approx(300, abs=5)
    assert peak_hz(audio[1]) == pytest.approx(700, abs=5)


def test_mono_file_stays_mono(tmp_path: Path) -> None:
    audio = load_audio(write_wav_bytes(tmp_path / "m.wav", 16000, tones(16000, 1.0, [440.0])))
    assert audio.shape == (1, 16000)


# --- dual mono ------------------------------------------------------------------------------


def test_dual_mono_detected_from_a_file(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "dual.wav", "pcm_mulaw", 8000, tones(8000, 1.0, [440.0, 440.0]))
    assert is_dual_mono(load_audio(path))


def test_dual_mono_variants() -> None:
    rng = np.random.default_rng(1)
    voice = rng.standard_normal(16000).astype(np.float32) * 0.1
    same = np.stack([voice, voice])
    near = np.stack([voice, voice + rng.standard_normal(16000).astype(np.float32) * 1e-5])
    lossy = np.stack([voice, voice * 1.002 + rng.standard_normal(16000).astype(np.float32) * 1e-3])
    other = np.stack([voice, rng.standard_normal(16000).astype(np.float32) * 0.1])
    quieter = np.stack([voice, voice * 0.5])
    one_side = np.stack([voice, np.zeros_like(voice)])
    assert is_dual_mono(same)
    assert is_dual_mono(near)
    assert is_dual_mono(lossy)
    assert is_dual_mono(np.zeros((2, 1000), np.float32))
    assert not is_dual_mono(other)
    assert not is_dual_mono(quieter)
    assert not is_dual_mono(one_side)
    assert not is_dual_mono(voice[None, :])
    assert not is_dual_mono(voice)


# --- bad input ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    for call in (probe_audio, load_audio, content_hash):
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert problem(excinfo) == "no such file"
        assert str(excinfo.value) == f"{path}: no such file"
        assert isinstance(excinfo.value, InputError)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    for call in (probe_audio, load_audio):
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert problem(excinfo) == "empty file (0 bytes)"


def test_random_bytes_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    for call in (probe_audio, load_audio):
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert problem(excinfo) == "not an audio file (could not be decoded)"
        assert isinstance(excinfo.value.__cause__, av.FFmpegError)


def test_text_file_named_mp3(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("Call notes: customer wants a demo on Tuesday.\n" * 40)
    for call in (probe_audio, load_audio):
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert problem(excinfo) == "not an audio file (could not be decoded)"


def test_file_with_no_audio_stream(tmp_path: Path) -> None:
    path = tmp_path / "picture.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    for call in (probe_audio, load_audio):
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert problem(excinfo) == "no audio stream in the file"


def test_wav_header_with_no_data(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"")
    for call in (probe_audio, load_audio):
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert problem(excinfo) == "no audio (0 seconds)"


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="folder"):
        probe_audio(tmp_path)


def test_truncated_wav_keeps_what_is_there(tmp_path: Path) -> None:
    """A WAV cut mid-sample (a recorder that died) gives the audio it has, no error."""
    full = write_audio(tmp_path / "full.wav", "pcm_s16le", 8000, tones(8000, 2.0, [440.0]))
    cut = tmp_path / "cut.wav"
    data = full.read_bytes()
    cut.write_bytes(data[: 44 + 8000 + 1])  # header + 0.5 s + half a sample
    audio = load_audio(cut)
    assert audio.shape[1] / TARGET_RATE == pytest.approx(0.5, abs=0.01)
    assert peak_hz(audio[0]) == pytest.approx(440, abs=5)
    # The header still says 2 s; the probe believes the bytes present.
    assert probe_audio(cut).duration == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(("codec", "suffix"), [("mp3", ".mp3"), ("flac", ".flac")])
def test_truncated_compressed_file_keeps_what_is_there(
    tmp_path: Path, codec: str, suffix: str
) -> None:
    """Cut mid-frame: the partial last frame is dropped (FLAC reports it as an error), the rest
    decodes."""
    full = write_audio(tmp_path / f"full{suffix}", codec, 44100, tones(44100, 6.0, [440.0]))
    cut = tmp_path / f"cut{suffix}"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 7])
    audio = load_audio(cut)
    assert 2.0 < audio.shape[1] / TARGET_RATE < 4.0
    assert peak_hz(audio[0]) == pytest.approx(440, abs=5)


def test_truncated_before_any_audio(tmp_path: Path) -> None:
    full = write_audio(tmp_path / "full.ogg", "libopus", 48000, tones(48000, 1.0, [440.0]))
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(full.read_bytes()[:200])
    for call in (probe_audio, load_audio):
        with pytest.raises(AudioError) as excinfo:
            call(cut)
        assert problem(excinfo) == "truncated or corrupt audio (nothing could be decoded)"


def test_corruption_mid_stream_raises_after_yielding_the_audio_before_it(tmp_path: Path) -> None:
    full = write_audio(tmp_path / "full.mp3", "mp3", 44100, tones(44100, 10.0, [440.0]))
    data = bytearray(full.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 300] = np.random.default_rng(3).bytes(300)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(bytes(data))
    chunks: list[np.ndarray] = []
    with pytest.raises(AudioError) as excinfo:
        for chunk in iter_audio(bad, chunk_seconds=1.0):
            chunks.append(chunk)
    assert problem(excinfo).startswith("truncated or corrupt audio after 00:0")
    assert isinstance(excinfo.value.__cause__, av.FFmpegError)
    got = sum(c.shape[1] for c in chunks) / TARGET_RATE
    assert 3.5 < got < 5.5  # everything up to the damage was handed over
    assert "\n" not in str(excinfo.value)


# --- duration -------------------------------------------------------------------------------


def test_long_file_refused_from_its_header_fast(tmp_path: Path) -> None:
    """A real 3-hour 8 kHz μ-law WAV, written sparse: 86 MB long, no disk used, never read."""
    rate, seconds = 8000, 3 * 3600
    size = rate * seconds
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 7, 1, rate, rate, 1, 8)  # format 7 = μ-law
        + b"data"
        + struct.pack("<I", size)
    )
    path = tmp_path / "three-hours.wav"
    with path.open("wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + size)
    started = time.perf_counter()
    with pytest.raises(AudioError) as excinfo:
        probe_audio(path, max_duration=2 * 3600)
    assert time.perf_counter() - started < 1.0
    assert problem(excinfo) == "too long (3:00:00 > 2:00:00 limit)"
    info = probe_audio(path)
    assert (info.duration, info.codec, info.sample_rate) == (10800.0, "pcm_mulaw", 8000)


def test_short_file_within_limit(tmp_path: Path) -> None:
    path = write_wav_bytes(tmp_path / "a.wav", 8000, tones(8000, 2.0, [440.0]))
    assert probe_audio(path, max_duration=2.5).duration == pytest.approx(2.0)
    with pytest.raises(AudioError) as excinfo:
        probe_audio(path, max_duration=1.0)
    assert problem(excinfo) == "too long (0:00:02 > 0:00:01 limit)"


class _WriteOnly:
    """A file object that cannot seek, so the muxer cannot go back to write the duration."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, data: bytes) -> int:
        return self._fh.write(data)


def _write_unknown_duration_webm(path: Path, seconds: float) -> Path:
    rate = 48000
    data = tones(rate, seconds, [440.0])
    with path.open("wb") as fh, av.open(_WriteOnly(fh), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate, frame_size=960)
        for i in range(0, data.shape[1], 960):
            frame = av.AudioFrame.from_ndarray(data[:, i : i + 960], format="fltp", layout="mono")
            frame.sample_rate = rate
            for f in resampler.resample(frame):
                for packet in stream.encode(f):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_duration_counted_when_the_header_has_none(tmp_path: Path) -> None:
    """Browser recordings (MediaRecorder webm) carry no duration: it is found by decoding."""
    path = _write_unknown_duration_webm(tmp_path / "browser.webm", 3.0)
    with av.open(str(path)) as c:  # the premise: no duration anywhere in the file
        assert c.duration is None and c.streams.audio[0].duration is None
    assert probe_audio(path).duration == pytest.approx(3.0, abs=0.05)
    with pytest.raises(AudioError) as excinfo:
        probe_audio(path, max_duration=1.0)
    assert problem(excinfo) == "too long (> 0:00:01 limit)"


# --- chunks and memory ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def twenty_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rate, seconds = 8000, 20 * 60
    t = np.arange(rate * seconds, dtype=np.float32) / rate
    data = (0.3 * np.sin(2 * np.pi * 440 * t))[None, :]
    return write_wav_bytes(tmp_path_factory.mktemp("long") / "twenty.wav", rate, data)


def test_long_file_iterated_in_chunks(twenty_minutes: Path) -> None:
    shapes = [c.shape for c in iter_audio(twenty_minutes, chunk_seconds=60.0)]
    assert shapes == [(1, 60 * TARGET_RATE)] * 20


def test_last_chunk_is_shorter(tmp_path: Path) -> None:
    path = write_wav_bytes(tmp_path / "a.wav", 8000, tones(8000, 2.5, [440.0, 880.0]))
    chunks = list(iter_audio(path, chunk_seconds=1.0))
    assert [c.shape for c in chunks] == [(2, 16000), (2, 16000), (2, 8000)]
    assert all(c.dtype == np.float32 and c.flags.c_contiguous for c in chunks)
    assert np.array_equal(np.concatenate(chunks, axis=1), load_audio(path))


def test_iteration_memory_stays_near_one_chunk(twenty_minutes: Path) -> None:
    whole = 20 * 60 * TARGET_RATE * 4  # 77 MB as float32
    tracemalloc.start()
    try:
        for _ in iter_audio(twenty_minutes, chunk_seconds=60.0):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < whole / 5


def test_iteration_is_lazy(tmp_path: Path, twenty_minutes: Path) -> None:
    """The first chunk comes before the file is read to the end: cut the file after it, and
    only what was still on disk comes out."""
    path = tmp_path / "shrinking.wav"
    path.write_bytes(twenty_minutes.read_bytes())
    chunks = iter_audio(path, chunk_seconds=60.0)
    first = next(chunks)
    assert first.shape == (1, 60 * TARGET_RATE)
    with path.open("r+b") as fh:
        fh.truncate(44 + 3 * 60 * 8000 * 2)  # keep the first three minutes
    rest = list(chunks)
    assert len(rest) == 2


def test_chunk_seconds_must_be_positive(tmp_path: Path) -> None:
    path = write_wav_bytes(tmp_path / "a.wav", 8000, tones(8000, 0.5, [440.0]))
    with pytest.raises(ValueError):
        next(iter_audio(path, chunk_seconds=0))


# --- hostile headers (issue 15: a fuzzing probe of 14,000 audio headers) --------------------

_UNREADABLE = "not a readable audio stream"
# (id, the header's fields, the problem the user is told)
BAD_HEADERS = [
    ("bits-0", {"bits": 0, "block_align": 2}, f"{_UNREADABLE} (bits per sample 0)"),
    ("format-0", {"tag": 0}, f"{_UNREADABLE} (WAV format 0x0000 with 16 bits per sample)"),
    ("float-16-bit", {"tag": 3}, f"{_UNREADABLE} (WAV format 0x0003 with 16 bits per sample)"),
    (
        "extensible-short",
        {"tag": 0xFFFE, "extension": struct.pack("<HH", 2, 0)},
        f"{_UNREADABLE} (WAV extensible format header of 20 bytes, not 40)",
    ),
    (
        "163-channels",
        {"channels": 163, "payload": bytes(163 * 2 * 100)},
        "163 channels; at most 8 are supported",
    ),
    ("0-channels", {"channels": 0, "block_align": 2}, f"{_UNREADABLE} (0 channels)"),
    (
        "486-mhz",
        {"rate": 486_000_000},
        "sample rate 486,000,000 Hz; 4,000 to 192,000 Hz are supported",
    ),
    ("3999-hz", {"rate": 3999}, "sample rate 3,999 Hz; 4,000 to 192,000 Hz are supported"),
    ("192001-hz", {"rate": 192_001}, "sample rate 192,001 Hz; 4,000 to 192,000 Hz are supported"),
    ("zero-length-data", {"payload": b""}, "no audio (0 seconds)"),
    ("zero-length-data-declared-big", {"payload": b"", "data_size": 10**9}, "no audio (0 seconds)"),
]


@pytest.mark.parametrize(
    ("fields", "message"), [pytest.param(*h[1:], id=h[0]) for h in BAD_HEADERS]
)
def test_bad_wav_header_is_an_audio_error_in_time(
    tmp_path: Path, fields: dict[str, object], message: str
) -> None:
    """Each header field the probe found crashing (AttributeError, FFmpeg errors at the end of
    decoding: "internal error" in a batch) is now refused, fast, with what is wrong."""
    path = tmp_path / "call.wav"
    path.write_bytes(riff_wav(**fields))
    for call in (probe_audio, load_audio):
        started = time.perf_counter()
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert time.perf_counter() - started < 5.0
        assert str(excinfo.value) == f"{path}: {message}"


def test_truncated_header_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(riff_wav()[:30])  # cut inside the `fmt ` chunk
    for call in (probe_audio, load_audio):
        with pytest.raises(AudioError) as excinfo:
            call(path)
        assert str(excinfo.value) == f"{path}: not an audio file (could not be decoded)"


def test_data_size_past_the_end_of_the_file_gives_the_audio_there(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(riff_wav(payload=bytes(1600), data_size=10**9))  # 0.1 s at 8 kHz
    assert probe_audio(path).duration == pytest.approx(0.1)
    assert load_audio(path).shape == (1, 1600)


@pytest.mark.parametrize("rate", [4000, 192_000])
@pytest.mark.parametrize("channels", [7, 8])
def test_up_to_eight_channels_at_the_edge_rates_decode(
    tmp_path: Path, channels: int, rate: int
) -> None:
    """8 channels used to crash the process (PyAV reads past the plane pointers of a planar
    frame of 8 channels or more); the first two channels come out as for 6."""
    data = tones(rate, 0.5, [300.0 * (c + 1) for c in range(channels)])
    pcm = (data.T * 32767).astype("<i2").tobytes()
    path = tmp_path / "call.wav"
    path.write_bytes(riff_wav(channels=channels, rate=rate, payload=pcm))
    info = probe_audio(path)
    assert (info.channels, info.sample_rate) == (channels, rate)
    audio = load_audio(path)
    assert audio.shape == (2, TARGET_RATE // 2)
    assert peak_hz(audio[0]) == pytest.approx(300, abs=5)
    assert peak_hz(audio[1]) == pytest.approx(600, abs=5)


# --- hash -----------------------------------------------------------------------------------


def test_content_hash(tmp_path: Path) -> None:
    import hashlib

    data = np.random.default_rng(2).bytes(3 * 1024 * 1024 + 17)
    path = tmp_path / "x.wav"
    path.write_bytes(data)
    assert content_hash(path) == hashlib.sha256(data).hexdigest()
    other = tmp_path / "y.wav"
    other.write_bytes(data[:-1])
    assert content_hash(other) != content_hash(path)


def test_content_hash_refuses_a_fifo_instead_of_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "call.wav"
    os.mkfifo(fifo)
    for call in (content_hash, probe_audio):
        with pytest.raises(AudioError) as excinfo:
            call(fifo)
        assert str(excinfo.value) == f"{fifo}: not a regular file"


# --- real recordings ------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no shared corpus of real recordings here")
def test_real_recordings() -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    assert files
    for path in files:
        info = probe_audio(path)
        total = 0
        for chunk in iter_audio(path, chunk_seconds=60.0):
            assert chunk.dtype == np.float32
            assert chunk.shape[0] == min(info.channels, 2)
            # resampling a clipped recording may overshoot full scale a little
            assert np.isfinite(chunk).all() and np.abs(chunk).max() < 1.5
            total += chunk.shape[1]
        assert total / TARGET_RATE == pytest.approx(info.duration, abs=0.05), path.name
    eight_bit = [p for p in files if probe_audio(p).codec == "pcm_u8"]
    assert eight_bit, "the corpus has an 8-bit 8 kHz call"
