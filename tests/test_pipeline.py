"""The call -> transcript pipeline: channels, VAD, timeline mapping, turns, cache.

A scripted backend stands in for Whisper here so that the timing and role logic can be checked
exactly; tests/test_transcribe.py runs the real backends on tiny random models.
"""

import json
import time

import numpy as np
import pytest
from synth import NO_VOICE, have_voice, synthesise_call

from analyzer.errors import AudioError
from analyzer.speech.asr import AsrSegment
from analyzer.speech.pipeline import (
    ChannelSegment,
    merge_turns,
    recognise_regions,
    speaker_labels,
    transcribe_cached,
    transcribe_call,
)
from analyzer.speech.settings import TranscribeSettings
from analyzer.speech.vad import SpeechRegion
from analyzer.transcripts.transcript import Turn

needs_voice = pytest.mark.skipif(not have_voice(), reason=NO_VOICE)


class ScriptedBackend:
    """Says "speech" for each stretch of non-silent audio it is given, with its times."""

    name = "scripted"
    model_label = "scripted"

    def __init__(self):
        self.seconds_heard = 0.0

    def transcribe(self, samples, windows=None):
        self.seconds_heard += len(samples) / 16000
        loud = np.abs(samples) > 0.01
        segments, start = [], None
        for i in range(0, len(samples), 800):  # 50 ms steps
            active = loud[i : i + 800].any()
            if active and start is None:
                start = i
            if not active and start is not None:
                segments.append(AsrSegment(start / 16000, i / 16000, "speech"))
                start = None
        if start is not None:
            segments.append(AsrSegment(start / 16000, len(samples) / 16000, "speech"))
        return segments


def test_regions_are_recognised_and_mapped_back_to_the_timeline():
    samples = np.zeros(16000 * 20, dtype=np.float32)
    samples[16000 * 3 : 16000 * 5] = 0.5  # speech at 3-5 s
    samples[16000 * 12 : 16000 * 13] = 0.5  # and at 12-13 s
    regions = [SpeechRegion(2.8, 5.2), SpeechRegion(11.8, 13.2)]
    backend = ScriptedBackend()
    segments = recognise_regions(backend, samples, regions, offset=0.0)
    assert [(round(s.start, 2), round(s.end, 2)) for s in segments] == [(3.0, 5.0), (12.0, 13.0)]
    assert backend.seconds_heard == pytest.approx(2.4 + 1.4 + 0.2, abs=0.01)  # regions + gaps


def test_offset_of_a_later_chunk_is_kept():
    samples = np.zeros(16000 * 10, dtype=np.float32)
    samples[16000 * 2 : 16000 * 4] = 0.5
    segments = recognise_regions(ScriptedBackend(), samples, [SpeechRegion(301.9, 304.1)], 300.0)
    assert segments[0].start == pytest.approx(302.0, abs=0.06)  # the fake hears in 50 ms steps
    assert segments[0].end == pytest.approx(304.0, abs=0.06)


def test_turns_merge_consecutive_segments_of_one_channel():
    segments = [
        ChannelSegment(0, 0.5, 2.0, "Hi, this is Alex."),
        ChannelSegment(0, 2.2, 3.0, "Is now a bad time?"),
        ChannelSegment(1, 3.4, 4.0, "No, go ahead."),
        ChannelSegment(0, 4.5, 6.0, "Great."),
    ]
    turns = merge_turns(segments, speaker_labels(2, "left"))
    assert turns == [
        Turn("Rep", "Hi, this is Alex. Is now a bad time?", 0.5, 3.0, "rep", 0),
        Turn("Customer", "No, go ahead.", 3.4, 4.0, "customer", 1),
        Turn("Rep", "Great.", 4.5, 6.0, "rep", 0),
    ]


def test_a_reply_the_recogniser_dropped_still_ends_the_turn_before_it():
    """The customer spoke (VAD heard it) but nothing was recognised: the rep's two lines are two
    turns, so neither spans the customer's words."""
    segments = [
        ChannelSegment(0, 0.5, 4.7, "Hi, this is Alex."),
        ChannelSegment(0, 8.9, 11.1, "How are you handling scheduling today?"),
    ]
    speech = [(0, 0.4, 4.8), (1, 5.4, 8.4), (0, 8.8, 11.2)]
    turns = merge_turns(segments, speaker_labels(2, "left"), speech)
    assert [(t.start, t.end) for t in turns] == [(0.5, 4.7), (8.9, 11.1)]
    merged = merge_turns(segments, speaker_labels(2, "left"), [(0, 0.4, 4.8), (0, 8.8, 11.2)])
    assert [(t.start, t.end) for t in merged] == [(0.5, 11.1)]  # a pause alone does not split


def test_speaker_labels_follow_the_rep_channel():
    assert speaker_labels(2, "right") == [("Customer", "customer"), ("Rep", "rep")]
    assert speaker_labels(2, "none") == [("Speaker 1", "unknown"), ("Speaker 2", "unknown")]
    assert speaker_labels(1, "left") == [("Speaker 1", "unknown")]


SCRIPT = [
    Turn("Alex", "Hi, this is Alex from Acme Solutions. Is now a bad time?", role="rep"),
    Turn("Dana", "No, go ahead, I have a couple of minutes.", role="customer"),
    Turn("Alex", "How are you handling scheduling today?", role="rep"),
    Turn("Dana", "Mostly spreadsheets, and it is a real headache.", role="customer"),
]


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory):
    if not have_voice():
        pytest.skip(NO_VOICE)
    path = tmp_path_factory.mktemp("calls") / "call-0001.wav"
    return path, synthesise_call(SCRIPT, path)


@needs_voice
def test_stereo_call_alternates_rep_and_customer_on_the_right_timeline(stereo_call, tmp_path):
    path, truth = stereo_call
    settings = TranscribeSettings(cache_dir=None)
    transcript = transcribe_call(path, settings, backend=ScriptedBackend())
    assert [t.role for t in transcript.turns] == ["rep", "customer", "rep", "customer"]
    assert [t.channel for t in transcript.turns] == [0, 1, 0, 1]
    for turn, said in zip(transcript.turns, truth, strict=True):
        assert turn.start == pytest.approx(said.start, abs=0.35)
        assert turn.end == pytest.approx(said.end, abs=0.35)
    src = transcript.source
    assert src["channels"] == 2 and src["rep_channel"] == "left" and not src["dual_mono"]
    assert src["audio_seconds"] == pytest.approx(truth[-1].end + 0.6 + 1.0, abs=0.05)
    assert src["speech_seconds"] / src["channel_seconds"] < 0.6  # VAD keeps the silences out
    assert src["recognised_seconds"] > 0 and transcript.call_id == "call-0001"


@needs_voice
def test_rep_on_the_right_channel(stereo_call):
    path, _ = stereo_call
    settings = TranscribeSettings(cache_dir=None, rep_channel="right")
    transcript = transcribe_call(path, settings, backend=ScriptedBackend())
    assert [t.role for t in transcript.turns] == ["customer", "rep", "customer", "rep"]


@needs_voice
def test_dual_mono_is_treated_as_mono(stereo_call, tmp_path):
    import av

    path, _ = stereo_call
    mono = tmp_path / "mono.wav"
    with av.open(str(path)) as src, av.open(str(mono), "w") as dst:
        out = dst.add_stream("pcm_s16le", rate=8000, layout="stereo")
        for frame in src.decode(audio=0):
            data = frame.to_ndarray().reshape(-1, 2).T.astype(np.int32).sum(axis=0) // 2
            both = np.stack([data, data]).T.reshape(1, -1).astype(np.int16)
            new = av.AudioFrame.from_ndarray(both, format="s16", layout="stereo")
            new.sample_rate = 8000
            for packet in out.encode(new):
                dst.mux(packet)
        for packet in out.encode(None):
            dst.mux(packet)
    transcript = transcribe_call(mono, TranscribeSettings(cache_dir=None), ScriptedBackend())
    assert transcript.source["channels"] == 1 and transcript.source["dual_mono"]
    assert {t.role for t in transcript.turns} == {"unknown"}


def test_pure_silence_gives_a_transcript_with_no_turns(tmp_path):
    import wave

    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0\0\0" * 8000 * 5)
    transcript = transcribe_call(path, TranscribeSettings(cache_dir=None), ScriptedBackend())
    assert transcript.turns == [] and transcript.source["no_speech"] is True


def test_bad_audio_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: empty file \(0 bytes\)"):
        transcribe_call(empty, TranscribeSettings(cache_dir=None), ScriptedBackend())


@needs_voice
def test_cache_reuses_a_transcript_of_the_same_audio(stereo_call, tmp_path):
    path, _ = stereo_call
    settings = TranscribeSettings(cache_dir=tmp_path / "cache")
    _first, cached = transcribe_cached(path, settings, ScriptedBackend())
    assert not cached
    copy = tmp_path / "same-call.wav"
    copy.write_bytes(path.read_bytes())
    backend = ScriptedBackend()
    started = time.perf_counter()
    second, cached = transcribe_cached(copy, settings, backend, rep_name="Alex")
    assert cached and backend.seconds_heard == 0 and time.perf_counter() - started < 1
    assert second.call_id == "same-call" and second.audio == str(copy)
    assert [t.speaker for t in second.turns] == ["Alex", "Customer", "Alex", "Customer"]
    assert second.rep == "Alex"
    other = TranscribeSettings(cache_dir=tmp_path / "cache", rep_channel="right")
    assert transcribe_cached(path, other, ScriptedBackend())[1] is False  # shapes the output
    stored = list((tmp_path / "cache").rglob("*.json"))
    assert len(stored) == 2 and json.loads(stored[0].read_text())["turns"]


class OneLongSegment:
    """A recogniser that returns one segment over everything it hears (as a random model can)."""

    name = model_label = "long"

    def transcribe(self, samples, windows=None):
        return [AsrSegment(0.0, len(samples) / 16000, "one two three four five six")]


def test_a_segment_over_several_regions_is_split_at_their_edges():
    samples = np.zeros(16000 * 20, dtype=np.float32)
    regions = [SpeechRegion(1.0, 3.0), SpeechRegion(10.0, 14.0)]
    segments = recognise_regions(OneLongSegment(), samples, regions, offset=0.0)
    assert [(round(s.start, 2), round(s.end, 2), s.text) for s in segments] == [
        (1.0, 3.0, "one two"),
        (10.0, 14.0, "three four five six"),
    ]
