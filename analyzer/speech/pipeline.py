"""A recorded call -> a Transcript: decode, split channels, VAD, recognise, merge into turns.

Stereo call recordings carry one party per channel: each channel is transcribed on its own and
the segments are merged on the timeline, so the speaker of every turn comes from its channel.
Only what VAD calls speech goes to the recogniser (less work, and Whisper cannot invent text in
the silences it never hears); the speech regions are joined into one array per chunk and the
recogniser's times are mapped back to the original timeline. The file is decoded a chunk at a
time, so memory stays bounded on long recordings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzer.errors import AnalyzerError, InputError, ModelError
from analyzer.speech.asr import AsrSegment, Backend
from analyzer.speech.audio import TARGET_RATE, content_hash, is_dual_mono, iter_audio, probe_audio
from analyzer.speech.backends import get_backend
from analyzer.speech.cache import TranscriptCache, cache_key
from analyzer.speech.settings import TranscribeSettings
from analyzer.speech.vad import SpeechRegion, speech_regions
from analyzer.transcripts.transcript import Transcript, Turn, write_transcript_json

GAP_SAMPLES = int(0.1 * TARGET_RATE)  # silence put between joined speech regions


@dataclass(frozen=True)
class ChannelSegment:
    """A recognised segment on the call's timeline."""

    channel: int
    start: float
    end: float
    text: str


def transcribe_call(
    path: str | Path,
    settings: TranscribeSettings,
    backend: Backend | None = None,
) -> Transcript:
    """Transcribe one recording into turns with speakers and roles from its channels."""
    path = Path(path)
    info = probe_audio(path, max_duration=settings.max_minutes * 60)
    backend = backend or get_backend(settings.asr_options())
    segments: list[ChannelSegment] = []
    speech = 0.0
    layout: int | None = None  # channels transcribed: 1 (mono or dual mono) or 2
    spoken: list[tuple[int, float, float]] = []  # (channel, start, end) of every speech region
    for index, chunk in enumerate(iter_audio(path, settings.chunk_seconds)):
        if layout is None:
            layout = 1 if chunk.shape[0] == 1 or is_dual_mono(chunk) else 2
        offset = index * settings.chunk_seconds
        for channel in range(layout):
            samples = chunk[channel]
            regions = speech_regions(samples, settings.vad, offset=offset)
            speech += sum(r.end - r.start for r in regions)
            spoken.extend((channel, r.start, r.end) for r in regions)
            for seg in recognise_regions(backend, samples, regions, offset):
                segments.append(ChannelSegment(channel, seg.start, seg.end, seg.text))
    layout = layout or 1
    turns = merge_turns(segments, speaker_labels(layout, settings.rep_channel), spoken)
    recognised = sum(s.end - s.start for s in segments)
    return Transcript(
        call_id=path.stem,
        turns=turns,
        audio=str(path),
        duration=round(info.duration, 3),
        language=settings.language or "",
        source={
            "format": "audio",
            "backend": backend.name,
            "model": backend.model_label,
            "channels": layout,
            "dual_mono": info.channels >= 2 and layout == 1,
            "rep_channel": settings.rep_channel if layout == 2 else "none",
            "audio_seconds": round(info.duration, 3),
            "channel_seconds": round(info.duration * layout, 3),
            "speech_seconds": round(speech, 3),
            "recognised_seconds": round(recognised, 3),
            "no_speech": not turns,
            "sample_rate": info.sample_rate,
            "codec": info.codec,
            "content_hash": content_hash(path),
        },
    )


def recognise_regions(
    backend: Backend, samples: np.ndarray, regions: Sequence[SpeechRegion], offset: float
) -> list[AsrSegment]:
    """Recognise only the speech regions of a chunk, with times on the call's timeline.

    The regions are cut out, joined with short gaps and recognised in one call; each segment's
    start and end are then mapped back through the region they fall in.
    """
    if not regions:
        return []
    pieces: list[np.ndarray] = []
    spans: list[tuple[float, float, float]] = []  # (joined start, joined end, original start)
    cursor = 0
    gap = np.zeros(GAP_SAMPLES, dtype=np.float32)
    for region in regions:
        a = max(0, int((region.start - offset) * TARGET_RATE))
        b = min(len(samples), int((region.end - offset) * TARGET_RATE))
        if b <= a:
            continue
        pieces.extend([samples[a:b], gap])
        spans.append(
            (cursor / TARGET_RATE, (cursor + b - a) / TARGET_RATE, offset + a / TARGET_RATE)
        )
        cursor += b - a + GAP_SAMPLES
    if not pieces:
        return []
    joined = np.concatenate(pieces).astype(np.float32, copy=False)
    mapped: list[AsrSegment] = []
    for seg in backend.transcribe(joined):
        mapped.extend(_to_timeline(seg, spans))
    return mapped


def _to_timeline(seg: AsrSegment, spans: list[tuple[float, float, float]]) -> list[AsrSegment]:
    """A segment of the joined speech array -> the same speech on the recording's timeline.

    A segment that runs over several speech regions (the recogniser does not know where one
    region ends) is split at the regions' edges, its words shared out by time, so that no turn
    ever covers the silence, or the other party's speech, between two regions.
    """
    parts = []
    for joined_start, joined_end, original_start in spans:
        a, b = max(seg.start, joined_start), min(seg.end, joined_end)
        if b > a or (seg.start == seg.end and joined_start <= seg.start <= joined_end):
            parts.append((original_start + a - joined_start, original_start + b - joined_start))
    if not parts:  # between regions or past the end: the nearest region's edge
        nearest = min(spans, key=lambda sp: min(abs(seg.start - sp[0]), abs(seg.start - sp[1])))
        edge = nearest[2] + (nearest[1] - nearest[0] if seg.start >= nearest[1] else 0.0)
        parts = [(edge, edge)]
    words = seg.text.split()
    total = sum(b - a for a, b in parts) or 1.0
    out, used = [], 0
    for i, (a, b) in enumerate(parts):
        share = len(words) - used if i == len(parts) - 1 else round(len(words) * (b - a) / total)
        text = " ".join(words[used : used + share])
        used += share
        if text or len(parts) == 1:
            out.append(AsrSegment(a, b, text or seg.text, seg.avg_logprob, seg.no_speech_prob))
    return out


def speaker_labels(layout: int, rep_channel: str) -> list[tuple[str, str]]:
    """(speaker, role) for each transcribed channel."""
    if layout == 1:
        return [("Speaker 1", "unknown")]
    if rep_channel == "none":
        return [("Speaker 1", "unknown"), ("Speaker 2", "unknown")]
    rep = ("Rep", "rep")
    customer = ("Customer", "customer")
    return [rep, customer] if rep_channel == "left" else [customer, rep]


def merge_turns(
    segments: Sequence[ChannelSegment],
    labels: Sequence[tuple[str, str]],
    speech: Sequence[tuple[int, float, float]] = (),
) -> list[Turn]:
    """Order segments on the timeline; consecutive segments of one channel become one turn,
    unless another channel had speech between them (`speech`: (channel, start, end) regions
    from VAD): a reply the recogniser dropped still ends the turn before it, so no turn spans
    the other party's words."""
    turns: list[Turn] = []
    for seg in sorted(segments, key=lambda s: (s.start, s.channel)):
        text = seg.text.strip()
        if not text:
            continue
        if (
            turns
            and turns[-1].channel == seg.channel
            and not _spoke_between(speech, seg.channel, turns[-1].end or seg.start, seg.start)
        ):
            last = turns[-1]
            last.text = f"{last.text} {text}"
            last.end = max(last.end or seg.end, seg.end)
            continue
        speaker, role = labels[seg.channel]
        turns.append(
            Turn(
                speaker=speaker,
                text=text,
                start=round(seg.start, 3),
                end=round(seg.end, 3),
                role=role,
                channel=seg.channel,
            )
        )
    for turn in turns:
        turn.end = round(turn.end, 3) if turn.end is not None else None
    return turns


def _spoke_between(
    speech: Sequence[tuple[int, float, float]], channel: int, after: float, before: float
) -> bool:
    """Whether a channel other than `channel` had speech between two moments."""
    return any(c != channel and start < before and end > after for c, start, end in speech)


def transcribe_cached(
    path: str | Path,
    settings: TranscribeSettings,
    backend: Backend | None = None,
    rep_name: str | None = None,
) -> tuple[Transcript, bool]:
    """`transcribe_call`, reusing a stored transcript of the same audio. Returns (transcript,
    whether it came from the cache)."""
    path = Path(path)
    if settings.cache_dir is None:
        return name_rep(transcribe_call(path, settings, backend), rep_name), False
    probe_audio(path, max_duration=settings.max_minutes * 60)  # bad files fail before hashing
    cache = TranscriptCache(settings.cache_dir)
    key = cache_key(content_hash(path), settings)
    cached = cache.get(key)
    if cached is not None:
        cached.call_id, cached.audio = path.stem, str(path)
        return name_rep(cached, rep_name), True
    transcript = transcribe_call(path, settings, backend)
    cache.put(key, transcript)
    return name_rep(transcript, rep_name), False


def name_rep(transcript: Transcript, rep_name: str | None) -> Transcript:
    """Give the rep's channel the rep's name (from call metadata), and record it."""
    if rep_name:
        for turn in transcript.turns:
            if turn.role == "rep":
                turn.speaker = rep_name
        transcript.rep = rep_name
    return transcript


@dataclass(frozen=True)
class Transcribed:
    """The outcome for one recording: where its transcript was written, or why it failed."""

    path: str
    output: Path | None = None
    transcript: Transcript | None = None
    cached: bool = False
    error: str | None = None


def transcribe_files(
    paths: Sequence[Path], settings: TranscribeSettings, out_dir: Path
) -> Iterator[Transcribed]:
    """Transcribe each recording to `out_dir/CALL_ID.json`; one bad file never stops the rest.

    A missing or unloadable model is not a per-file problem: its ModelError ends the run.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        try:
            transcript, cached = transcribe_cached(path, settings)
        except ModelError:
            raise
        except AnalyzerError as e:
            message = str(e) if isinstance(e, InputError) else f"{path}: {e}"
            yield Transcribed(str(path), error=message)
            continue
        output = out_dir / f"{transcript.call_id}.json"
        write_transcript_json(transcript, output)
        yield Transcribed(str(path), output, transcript, cached)
