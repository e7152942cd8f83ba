"""A recorded call -> a Transcript: decode, split channels, VAD, recognise, merge into turns.

Stereo call recordings carry one party per channel: each channel is transcribed on its own and
the segments are merged on the timeline, so the speaker of every turn comes from its channel.
Only what VAD calls speech goes to the recogniser (less work, and Whisper cannot invent text in
the silences it never hears); the speech regions are joined into one array per chunk and the
recogniser's times are mapped back to the original timeline. Words are placed by their own times
(the recogniser is always asked for word timestamps): a segment's times are too coarse once it
runs over several regions, and turns are cut word by word where the other party speaks. The file
is decoded a chunk at a time, so memory stays bounded on long recordings.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from analyzer.errors import AnalyzerError, InputError, ModelError
from analyzer.speech.asr import AsrSegment, AsrWord, Backend
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
    words: tuple[AsrWord, ...] = ()  # on the call's timeline, when the recogniser gave them


@dataclass
class RecognisedCall:
    """What the recogniser heard on each channel, before it becomes turns."""

    segments: list[ChannelSegment]
    spoken: list[tuple[int, float, float]]  # (channel, start, end) of every VAD speech region
    layout: int  # channels transcribed: 1 (mono or dual mono) or 2
    speech_seconds: float


# Speech regions are recognised in windows of up to this many seconds, each on its own. On the
# corpus stereo calls 20 s windows kept 4-8% more words than Whisper's own 30 s steps over the
# joined regions (replies it skipped), for about a fifth more time.
WINDOW_S = 20.0
# A mono call has no channel to tell the parties apart: a pause this long (seconds) between
# words starts a new turn, the gap people leave when the floor changes hands.
MONO_PAUSE_S = 0.8


def call_backend(settings: TranscribeSettings) -> Backend:
    """The recogniser for `settings`, always asked for word times: the pipeline places words by
    them."""
    return get_backend(settings.asr_options())


def transcribe_call(
    path: str | Path,
    settings: TranscribeSettings,
    backend: Backend | None = None,
) -> Transcript:
    """Transcribe one recording into turns with speakers and roles from its channels."""
    path = Path(path)
    info = probe_audio(path, max_duration=settings.max_minutes * 60)
    backend = backend or call_backend(settings)
    heard = recognise_call(path, settings, backend)
    layout, segments = heard.layout, heard.segments
    turns = merge_turns(segments, speaker_labels(layout, settings.rep_channel), heard.spoken)
    speech = heard.speech_seconds
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


def recognise_call(path: Path, settings: TranscribeSettings, backend: Backend) -> RecognisedCall:
    """Decode a (probed) recording chunk by chunk, find each channel's speech and recognise it:
    segments and words on the call's timeline, one party per stereo channel."""
    segments: list[ChannelSegment] = []
    speech = 0.0
    layout: int | None = None
    spoken: list[tuple[int, float, float]] = []
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
                segments.append(ChannelSegment(channel, seg.start, seg.end, seg.text, seg.words))
    return RecognisedCall(segments, spoken, layout or 1, speech)


def recognise_regions(
    backend: Backend, samples: np.ndarray, regions: Sequence[SpeechRegion], offset: float
) -> list[AsrSegment]:
    """Recognise only the speech regions of a chunk, with times on the call's timeline.

    The regions are cut out, joined with short gaps and recognised in one call; each word (or,
    without word times, each segment's start and end) is then mapped back through the region
    it falls in.
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
    for seg in backend.transcribe(joined, windows=speech_windows(spans)):
        mapped.extend(_to_timeline(seg, spans))
    return mapped


def speech_windows(
    spans: Sequence[tuple[float, float, float]], longest: float = WINDOW_S
) -> list[tuple[float, float]]:
    """Consecutive speech regions of the joined array grouped into windows of up to `longest`
    seconds, each recognised on its own: a window starts at a region's start and ends at a
    region's end, so no word is cut in two, and the recogniser starts afresh at each window
    instead of skipping on from where it judged the last one ended (which lost short replies
    such as "My last name is ..."). A region is at most `VadSettings.max_region_s` long."""
    windows: list[tuple[float, float]] = []
    for start, end, _ in spans:
        if windows and end - windows[-1][0] <= longest:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _to_timeline(seg: AsrSegment, spans: list[tuple[float, float, float]]) -> list[AsrSegment]:
    """A segment of the joined speech array -> the same speech on the recording's timeline: one
    segment per speech region it has words in, so that no turn ever covers the silence, or the
    other party's speech, between two regions.

    Each word goes to the region its own time falls in. A segment without word times is split
    at the regions' edges and its words shared out by time (the recogniser's segment times are
    coarse there, so this is only the fallback).
    """
    if seg.words:
        return _words_to_timeline(seg, spans)
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


def _words_to_timeline(
    seg: AsrSegment, spans: list[tuple[float, float, float]]
) -> list[AsrSegment]:
    """Place each word in the region its start falls in (a word starting in the gap after a
    region belongs to the next region when it runs into it, else to the one before), its times
    clipped to that region; consecutive words of one region make one segment."""
    starts = [joined_start for joined_start, _, _ in spans]
    groups: list[tuple[int, list[AsrWord]]] = []
    for word in seg.words:
        i = max(0, bisect.bisect_right(starts, word.start) - 1)
        if word.start > spans[i][1] and i + 1 < len(spans) and word.end > spans[i + 1][0]:
            i += 1
        if groups and i < groups[-1][0]:  # words stay in the order they were said
            i = groups[-1][0]
        joined_start, joined_end, original_start = spans[i]
        a = min(max(word.start, joined_start), joined_end)
        b = min(max(word.end, a), joined_end)
        placed = AsrWord(
            original_start + a - joined_start, original_start + b - joined_start, word.text
        )
        if groups and groups[-1][0] == i:
            groups[-1][1].append(placed)
        else:
            groups.append((i, [placed]))
    out = []
    for _, words in groups:
        text = "".join(w.text for w in words).strip()
        if text:
            end = max(w.end for w in words)
            out.append(
                AsrSegment(
                    words[0].start, end, text, seg.avg_logprob, seg.no_speech_prob, tuple(words)
                )
            )
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
    """Order what was said on the timeline and cut it into turns (`turns_with_words`)."""
    return [turn for turn, _ in turns_with_words(segments, labels, speech)]


def turns_with_words(
    segments: Sequence[ChannelSegment],
    labels: Sequence[tuple[str, str]],
    speech: Sequence[tuple[int, float, float]] = (),
) -> list[tuple[Turn, list[AsrWord]]]:
    """Turns, each with the timed words it holds (none for a segment without word times).

    Words (or whole segments, where there are no word times) of all channels are ordered by
    when they start; consecutive ones of one channel make one turn, so a turn ends as soon as
    another channel says a word. Two segments of one channel are also two turns when another
    channel had speech between them (`speech`: (channel, start, end) regions from VAD): a reply
    the recogniser dropped still ends the turn before it, so no turn spans the other party's
    words. One channel's words keep their order even where its segments overlap in time. With
    one channel (a mono call: both parties on one track, one speaker label) a pause of
    MONO_PAUSE_S or more starts a new turn, where the other party most often speaks.
    """
    units: list[_Said] = []
    for channel in sorted({seg.channel for seg in segments}):
        mine = sorted(
            ((n, seg) for n, seg in enumerate(segments) if seg.channel == channel),
            key=lambda pair: pair[1].start,
        )
        floor = float("-inf")
        for number, seg in mine:
            timed = [(w.start, w.end, w.text) for w in seg.words] or [
                (seg.start, seg.end, seg.text)
            ]
            for start, end, text in timed:
                floor = max(floor, start)
                units.append(
                    _Said(
                        floor, channel, len(units), max(floor, end), text, number, bool(seg.words)
                    )
                )
    turns: list[tuple[Turn, list[AsrWord]]] = []
    last_segment = -1
    mono = len(labels) == 1
    for said in sorted(units):
        if not said.text.strip():
            continue
        turn = turns[-1][0] if turns else None
        same_segment = said.segment == last_segment
        if (
            turn is not None
            and turn.channel == said.channel
            and (
                same_segment
                or not _spoke_between(speech, said.channel, turn.end or said.start, said.start)
            )
            and not (mono and said.start - (turn.end or said.start) >= MONO_PAUSE_S)
        ):
            # the next word of one segment joins as the recogniser wrote it
            turn.text += said.text if same_segment else f" {said.text.strip()}"
            turn.end = max(turn.end or said.end, said.end)
        else:
            speaker, role = labels[said.channel]
            turn = Turn(
                speaker, said.text.strip(), round(said.start, 3), said.end, role, said.channel
            )
            turns.append((turn, []))
        if said.is_word:
            turns[-1][1].append(AsrWord(said.start, said.end, said.text))
        last_segment = said.segment
    for turn, _ in turns:
        turn.end = round(turn.end, 3) if turn.end is not None else None
    return turns


class _Said(NamedTuple):
    """A word, or a whole segment without word times, of one channel; sorts by time."""

    start: float
    channel: int
    order: int  # ties keep the channel's own order
    end: float
    text: str
    segment: int  # index of its segment
    is_word: bool


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
