"""Decode audio files with PyAV into 16 kHz float32 arrays, in bounded chunks.

Every failure a user can cause (a missing, empty, truncated or non-audio file, one that is too
long, a header declaring absurd values) is an `AudioError` with a one-line problem text; PyAV's
own exception is chained. Every field PyAV reads from a header is checked against the bounds
below before it is used, and every PyAV call is guarded where it is made (`_PYAV_ERRORS`).

Truncation policy: a decode error on the *last* packet of a file (the partial frame a cut
file ends with) is ignored and everything before it is kept; a decode or read error with more
data after it is corruption and raises `AudioError` ("truncated or corrupt audio after mm:ss"),
but only after the audio decoded before the error has been yielded, so a caller that wants the
partial audio has it. A file from which nothing decodes at all raises at once.
"""

from __future__ import annotations

import hashlib
import math
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from analyzer.errors import AudioError
from analyzer.transcripts.transcript import format_clock

TARGET_RATE = 16_000

_NOT_AUDIO = "not an audio file (could not be decoded)"
_NO_STREAM = "no audio stream in the file"
_NOTHING_DECODED = "truncated or corrupt audio (nothing could be decoded)"
_NO_AUDIO = "no audio (0 seconds)"
_UNCONVERTIBLE = "cannot be converted to 16 kHz"

# What a header may declare and still be decoded: every value a phone system or a recorder
# writes, none of the absurd ones a damaged or hostile header carries (FFmpeg accepts those and
# fails, or crashes, later when asked to convert them).
MAX_CHANNELS = 8  # 7.1 surround, the most any recorder writes; calls are mono or stereo
MIN_RATE = 4_000  # Hz: below narrowband telephony's 8 kHz (old dictation devices use 6 kHz)
MAX_RATE = 192_000  # Hz: the highest rate studio recorders write

# What PyAV raises on a damaged or absurd stream: its own FFmpegError (and subclasses), and
# ValueError, AttributeError, OverflowError or MemoryError for values it cannot represent.
_PYAV_ERRORS = (av.FFmpegError, ValueError, AttributeError, OverflowError, MemoryError)
# Packets probe_audio may read looking for a first decodable frame before giving up.
_PROBE_PACKETS = 64
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class AudioInfo:
    """Facts about an audio file, read from its header where possible."""

    path: str
    duration: float  # seconds (from the container/stream; computed by decoding if unknown)
    sample_rate: int  # the file's own rate
    channels: int  # the file's own channel count
    codec: str  # e.g. "pcm_mulaw", "mp3"


def _hms(seconds: float) -> str:
    """Always `h:mm:ss`, for the too-long message."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _stat_regular(path: Path) -> int:
    """The size of `path`; an error unless it is a regular file.

    A FIFO or a device would make a reader block or read forever, so only regular files get
    through.
    """
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise AudioError(path, "no such file") from e
    except OSError as e:
        raise AudioError(path, f"cannot read the file ({e.strerror or e})") from e
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(path, "is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(path, "not a regular file")
    return st.st_size


def _check_file(path: Path) -> None:
    """Refuse what PyAV should never be handed: missing, empty, or not a regular file."""
    if _stat_regular(path) == 0:
        raise AudioError(path, "empty file (0 bytes)")


def _unreadable(reason: str) -> str:
    return f"not a readable audio stream ({reason})"


def _shape_problem(sample_rate: int, channels: int) -> str | None:
    """What is wrong with a stream's or a frame's rate and channel count, or None."""
    if channels < 1:
        return _unreadable(f"{channels} channels")
    if channels > MAX_CHANNELS:
        return f"{channels} channels; at most {MAX_CHANNELS} are supported"
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        return f"sample rate {sample_rate:,} Hz; {MIN_RATE:,} to {MAX_RATE:,} Hz are supported"
    return None


def _no_codec_reason(path: Path) -> str:
    """Why FFmpeg found no decoder for the stream, in a user's words: for a WAV, what its
    `fmt ` chunk declares (FFmpeg itself does not say)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return "unknown codec"
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return "unknown codec"
    at = 12
    while at + 8 <= len(head):
        chunk, size = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
        if chunk == b"fmt " and at + 24 <= len(head):
            tag, bits = struct.unpack_from("<H12xH", head, at + 8)
            if bits == 0:
                return "bits per sample 0"
            if tag == 0xFFFE and size < 40:
                return f"WAV extensible format header of {size} bytes, not 40"
            return f"WAV format {tag:#06x} with {bits} bits per sample"
        at += 8 + size + (size & 1)
    return "unknown codec"


def _check_stream(path: Path, stream: av.AudioStream) -> None:
    """Refuse a stream whose header declares what cannot be decoded or converted."""
    ctx = stream.codec_context
    if ctx is None:
        raise AudioError(path, _unreadable(_no_codec_reason(path)))
    problem = _shape_problem(ctx.sample_rate, ctx.channels)
    if problem is not None:
        raise AudioError(path, problem)
    if ctx.format is None or ctx.layout is None:
        raise AudioError(path, _unreadable("no sample format"))


def _open(path: Path) -> tuple[av.container.InputContainer, av.AudioStream]:
    """Open `path` and return the container and its first audio stream (caller closes)."""
    _check_file(path)
    try:
        # An absolute path can never be read as an ffmpeg protocol ("concat:", "http:");
        # the whitelist stops playlists inside a file from reaching anything but files.
        container = av.open(
            str(path.resolve()),
            metadata_errors="replace",
            container_options={"protocol_whitelist": "file"},
        )
    except PermissionError as e:
        raise AudioError(path, "cannot read the file (permission denied)") from e
    except av.error.EOFError as e:
        raise AudioError(path, _NOTHING_DECODED) from e
    except (*_PYAV_ERRORS, OSError, UnicodeDecodeError) as e:
        raise AudioError(path, _NOT_AUDIO) from e
    try:
        streams = container.streams.audio
        if not streams:
            raise AudioError(path, _NO_STREAM)
        _check_stream(path, streams[0])
    except _PYAV_ERRORS as e:
        container.close()
        raise AudioError(path, _NOT_AUDIO) from e
    except BaseException:
        container.close()
        raise
    return container, streams[0]


def _header_duration(
    path: Path, container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    """The duration the stream or container declares, or None when neither does (or what it
    declares is no number of seconds)."""
    duration: float | None = None
    if stream.duration is not None and stream.time_base and stream.duration >= 0:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None and container.duration >= 0:
        duration = container.duration / av.time_base
    if duration is None or not math.isfinite(duration):
        return None
    ctx = stream.codec_context
    if ctx.codec.canonical_name.startswith("pcm_") and ctx.bit_rate and ctx.bit_rate > 0:
        # A cut WAV keeps the header of the whole recording; the bytes present are the truth.
        duration = min(duration, _stat_regular(path) * 8 / ctx.bit_rate)
    return duration


def _count_duration(
    path: Path,
    container: av.container.InputContainer,
    stream: av.AudioStream,
    max_duration: float | None,
) -> float:
    """Duration by decoding (no resampling); stops early once past `max_duration`."""
    rate = stream.codec_context.sample_rate
    samples = 0
    try:
        for frame in container.decode(stream):
            samples += frame.samples
            if max_duration is not None and samples / rate > max_duration:
                raise AudioError(path, f"too long (> {_hms(max_duration)} limit)")
    except _PYAV_ERRORS as e:
        if samples == 0:
            raise AudioError(path, _NOTHING_DECODED) from e
    return samples / rate


def _first_frame_decodes(container: av.container.InputContainer, stream: av.AudioStream) -> bool:
    """Whether one frame decodes from the first packets (catches garbage that opens)."""
    try:
        for count, packet in enumerate(container.demux(stream)):
            if count >= _PROBE_PACKETS:
                return False
            if packet.size and packet.decode():
                return True
        return bool(stream.codec_context.decode(None))
    except _PYAV_ERRORS:
        return False


def probe_audio(path: str | Path, max_duration: float | None = None) -> AudioInfo:
    """Open `path`, check it holds decodable audio, and return its facts.

    The duration comes from the header when the file has one (so an over-long file is refused
    in milliseconds); otherwise the file is decoded to count its samples. One frame is always
    decoded to make sure the audio stream is real.
    """
    p = Path(path)
    container, stream = _open(p)
    with container:
        ctx = stream.codec_context
        try:
            duration = _header_duration(p, container, stream)
        except _PYAV_ERRORS as e:
            raise AudioError(p, _NOT_AUDIO) from e
        if duration is not None:
            if duration <= 0:
                raise AudioError(p, _NO_AUDIO)
            if max_duration is not None and duration > max_duration:
                shown = _hms(math.ceil(duration))
                raise AudioError(p, f"too long ({shown} > {_hms(max_duration)} limit)")
            if not _first_frame_decodes(container, stream):
                raise AudioError(p, _NOTHING_DECODED)
        else:
            duration = _count_duration(p, container, stream, max_duration)
            if duration <= 0:
                raise AudioError(p, _NO_AUDIO)
        return AudioInfo(
            path=str(path),
            duration=duration,
            sample_rate=ctx.sample_rate,
            channels=ctx.channels,
            codec=ctx.codec.canonical_name,
        )


class _Decoder:
    """Frames of one audio stream resampled to 16 kHz float32, as (channels, n) arrays.

    The resampler is rebuilt when the input format changes mid-stream (it happens in broken
    files and concatenated recordings); the channel count of the first frame is kept. A frame
    out of bounds, or one FFmpeg cannot convert, is an `AudioError`.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._resampler: av.AudioResampler | None = None
        self._key: tuple[str, str, int] | None = None
        self.channels: int | None = None

    def _fit(self, frame: av.AudioFrame) -> np.ndarray:
        # Packed samples, one row of n * channels: PyAV reads past the plane pointers of a
        # planar frame of 8 channels or more (a segfault), never of a packed one.
        count = frame.layout.nb_channels
        array = frame.to_ndarray().reshape(-1, count).T
        if self.channels is None:
            self.channels = min(count, 2)
        if count >= self.channels:
            return np.ascontiguousarray(array[: self.channels])
        return np.repeat(array[:1], self.channels, axis=0)

    def _drain(self, frames: list[av.AudioFrame]) -> list[np.ndarray]:
        return [self._fit(f) for f in frames if f.samples]

    def push(self, frame: av.AudioFrame) -> list[np.ndarray]:
        try:
            problem = _shape_problem(frame.sample_rate, frame.layout.nb_channels)
            if problem is not None:
                raise AudioError(self._path, problem)
            key = (frame.format.name, frame.layout.name, frame.sample_rate)
            out: list[np.ndarray] = []
            if key != self._key:
                out = self.flush()
                # layout=None keeps the input's layout: the first two channels stay the first
                # two (asking for "stereo" would downmix 5.1 instead).
                self._resampler = av.AudioResampler(format="flt", layout=None, rate=TARGET_RATE)
                self._key = key
            assert self._resampler is not None
            return out + self._drain(self._resampler.resample(frame))
        except _PYAV_ERRORS as e:
            raise AudioError(self._path, _unreadable(_UNCONVERTIBLE)) from e

    def flush(self) -> list[np.ndarray]:
        if self._resampler is None:
            return []
        try:
            out = self._drain(self._resampler.resample(None))
        except _PYAV_ERRORS as e:
            raise AudioError(self._path, _unreadable(_UNCONVERTIBLE)) from e
        self._resampler = None
        self._key = None
        return out


def iter_audio(path: str | Path, chunk_seconds: float = 300.0) -> Iterator[np.ndarray]:
    """Yield the file's audio as consecutive float32 (channels, n) arrays at 16 kHz.

    Every chunk but the last holds exactly `chunk_seconds` of audio. Mono stays one channel,
    stereo two (row 0 = left); of more channels the first two are kept. Decoding streams:
    memory stays near one chunk whatever the file's length.
    """
    if chunk_seconds <= 0:
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
    p = Path(path)
    chunk_n = max(1, round(chunk_seconds * TARGET_RATE))
    container, stream = _open(p)
    decoder = _Decoder(p)
    parts: list[np.ndarray] = []
    buffered = 0
    emitted = 0
    # A decode error is held here until the next packet shows it was not the file's last.
    pending: tuple[Exception, int] | None = None
    corrupt: tuple[Exception, int] | None = None

    def take(arrays: list[np.ndarray]) -> None:
        nonlocal buffered
        for a in arrays:
            parts.append(a)
            buffered += a.shape[1]

    with container:
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except _PYAV_ERRORS as e:  # the container cannot be read on
                corrupt = pending or (e, emitted + buffered)
                break
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            if pending is not None:  # the failed packet was not the last one
                corrupt = pending
                break
            try:
                for frame in packet.decode():
                    take(decoder.push(frame))
            except _PYAV_ERRORS as e:
                pending = (e, emitted + buffered)
                continue
            while buffered >= chunk_n:
                chunk, parts = _split(parts, chunk_n)
                buffered -= chunk_n
                emitted += chunk_n
                yield chunk
        if corrupt is None:
            try:
                for frame in stream.codec_context.decode(None):
                    take(decoder.push(frame))
            except _PYAV_ERRORS:
                pass  # flushing a cut stream: what came out before the error is kept
        take(decoder.flush())

    while buffered >= chunk_n:
        chunk, parts = _split(parts, chunk_n)
        buffered -= chunk_n
        emitted += chunk_n
        yield chunk
    if buffered:
        emitted += buffered
        yield _split(parts, buffered)[0]
    if emitted == 0:
        cause = (corrupt or pending or (None, 0))[0]
        problem = _NOTHING_DECODED if cause is not None else _NO_AUDIO
        raise AudioError(p, problem) from cause
    if corrupt is not None:
        error, where = corrupt
        when = format_clock(where / TARGET_RATE)
        raise AudioError(p, f"truncated or corrupt audio after {when}") from error


def _split(parts: list[np.ndarray], n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The first `n` samples of `parts` as one contiguous array, and the rest."""
    joined = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    head = np.ascontiguousarray(joined[:, :n])
    rest = [joined[:, n:].copy()] if joined.shape[1] > n else []
    return head, rest


def load_audio(path: str | Path) -> np.ndarray:
    """The whole file as one float32 (channels, n) array at 16 kHz. For short files."""
    chunks = list(iter_audio(path))
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=1)


def is_dual_mono(samples: np.ndarray) -> bool:
    """Whether a (2, n) array carries the same signal on both channels.

    Phone systems often write one mix to both channels of a "stereo" file; such a call must be
    treated as mono (one channel per party would otherwise transcribe everything twice).
    All-silent stereo counts as dual mono.
    """
    if samples.ndim != 2 or samples.shape[0] != 2:
        return False
    left = samples[0].astype(np.float64)
    right = samples[1].astype(np.float64)
    peak = float(max(np.abs(left).max(initial=0.0), np.abs(right).max(initial=0.0)))
    if peak < 1e-6:
        return True
    if float(np.abs(left - right).max()) < 1e-3 * peak:
        return True
    rms_l = float(np.sqrt(np.mean(left**2)))
    rms_r = float(np.sqrt(np.mean(right**2)))
    if rms_l == 0.0 or rms_r == 0.0 or abs(rms_l - rms_r) > 0.01 * max(rms_l, rms_r):
        return False
    dl, dr = left - left.mean(), right - right.mean()
    denom = float(np.sqrt(np.sum(dl**2) * np.sum(dr**2)))
    return denom > 0.0 and float(np.sum(dl * dr)) / denom > 0.999


def content_hash(path: str | Path) -> str:
    """sha256 hex digest of the file's bytes, read in 1 MB blocks (a regular file's only)."""
    p = Path(path)
    _stat_regular(p)
    digest = hashlib.sha256()
    try:
        with p.open("rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                digest.update(block)
    except FileNotFoundError as e:
        raise AudioError(p, "no such file") from e
    except IsADirectoryError as e:
        raise AudioError(p, "is a folder, not an audio file") from e
    except OSError as e:
        raise AudioError(p, f"cannot read the file ({e.strerror or e})") from e
    return digest.hexdigest()
