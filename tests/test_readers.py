"""Transcript readers: every format, the rules a user would notice, bad input, the corpus."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.errors import TranscriptError
from analyzer.grading.grade import Grader
from analyzer.grading.rubric import Rubric
from analyzer.grading.text import get_normalizer
from analyzer.transcripts.readers import (
    MAX_CALL_CHARS,
    MAX_TURNS,
    READERS,
    detect_format,
    get_reader,
    read_transcript,
)
from analyzer.transcripts.transcript import ROLES, Transcript

CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/transcripts"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def read(tmp_path: Path, name: str, content: str | bytes, fmt: str | None = None) -> Transcript:
    transcript = read_transcript(write(tmp_path, name, content), fmt)
    assert_valid(transcript)
    return transcript


def rows(transcript: Transcript) -> list[tuple[str, str]]:
    return [(t.speaker, t.text) for t in transcript.turns]


def times(transcript: Transcript) -> list[tuple[float | None, float | None]]:
    return [(t.start, t.end) for t in transcript.turns]


def assert_valid(transcript: Transcript) -> None:
    assert isinstance(transcript, Transcript)
    assert transcript.turns
    assert isinstance(transcript.call_id, str) and transcript.call_id
    for turn in transcript.turns:
        assert isinstance(turn.text, str) and turn.text and turn.text == turn.text.strip()
        assert isinstance(turn.speaker, str) and turn.speaker.strip()
        assert turn.role in ROLES
        for value in (turn.start, turn.end):
            assert value is None or (isinstance(value, float) and math.isfinite(value))
        if turn.start is not None and turn.end is not None:
            assert turn.start <= turn.end


def assert_error(path: Path, *fragments: str, fmt: str | None = None) -> TranscriptError:
    with pytest.raises(TranscriptError) as info:
        read_transcript(path, fmt)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return info.value


# --- plain text ----------------------------------------------------------------------------


def test_plain_one_turn_per_line(tmp_path: Path) -> None:
    t = read(tmp_path, "call-7.txt", "Alice: Hi there.\nBob: Hello.\nAlice: Bye now.\n")
    assert rows(t) == [("Alice", "Hi there."), ("Bob", "Hello."), ("Alice", "Bye now.")]
    assert t.call_id == "call-7"
    assert t.source == {"format": "text", "path": str(tmp_path / "call-7.txt")}
    assert {turn.role for turn in t.turns} == {"unknown"}
    assert times(t) == [(None, None)] * 3


def test_plain_lines_without_a_name_continue_the_turn(tmp_path: Path) -> None:
    t = read(tmp_path, "c.txt", "Alice: I was thinking\nabout the price.\n\nstill am.\nBob: Okay.")
    assert rows(t) == [("Alice", "I was thinking about the price. still am."), ("Bob", "Okay.")]


def test_plain_names_with_spaces_dots_digits(tmp_path: Path) -> None:
    text = "Speaker 1: a\nDr. Smith: b\nO'Neil: c\nMary-Jane Watson: d\nagent 2: e"
    t = read(tmp_path, "n", text)
    assert [turn.speaker for turn in t.turns] == [
        "Speaker 1",
        "Dr. Smith",
        "O'Neil",
        "Mary-Jane Watson",
        "agent 2",
    ]
    assert t.call_id == "n"


def test_plain_run_together_paragraph_is_split(tmp_path: Path) -> None:
    t = read(tmp_path, "r.txt", "Alice: Hi. Bob: Hello there. Alice: Great.")
    assert rows(t) == [("Alice", "Hi."), ("Bob", "Hello there."), ("Alice", "Great.")]


def test_plain_name_seen_twice_mid_line_splits(tmp_path: Path) -> None:
    t = read(tmp_path, "r.txt", "Alice: Hi. Bob: Hello.\nAlice: Yes. Bob: Fine.")
    assert rows(t) == [("Alice", "Hi."), ("Bob", "Hello."), ("Alice", "Yes."), ("Bob", "Fine.")]


def test_plain_never_splits_on_clock_times_or_one_off_words(tmp_path: Path) -> None:
    text = "Alice: We meet at 10:30 tomorrow. Note: bring coffee.\nBob: Sure, 9:15 works too."
    t = read(tmp_path, "t.txt", text)
    assert rows(t) == [
        ("Alice", "We meet at 10:30 tomorrow. Note: bring coffee."),
        ("Bob", "Sure, 9:15 works too."),
    ]


def test_plain_first_line_without_name_two_speakers(tmp_path: Path) -> None:
    t = read(tmp_path, "f.txt", "Hello, is this Bob?\nBob: Yes, who is this?\nAlice: It's Alice.")
    assert rows(t) == [
        ("Alice", "Hello, is this Bob?"),
        ("Bob", "Yes, who is this?"),
        ("Alice", "It's Alice."),
    ]


def test_plain_first_line_without_name_many_speakers(tmp_path: Path) -> None:
    t = read(tmp_path, "f.txt", "Hello all.\nBob: Hi.\nAlice: Hey.\nCarol: Morning.")
    assert t.turns[0].speaker == "Unknown"
    assert t.speakers == ["Unknown", "Bob", "Alice", "Carol"]


def test_plain_monologue_one_turn_per_paragraph(tmp_path: Path) -> None:
    t = read(tmp_path, "voicemail.txt", "Hi, it's Sam from Acme.\nCall me back.\n\nThanks!\n")
    assert rows(t) == [
        ("Speaker 1", "Hi, it's Sam from Acme. Call me back."),
        ("Speaker 1", "Thanks!"),
    ]


def test_plain_stamps_before_and_after_the_name(tmp_path: Path) -> None:
    text = "[00:12] Alice: hi\nBob [00:15]: hello\n00:20 Alice: bye\n(1:02:03.5) Bob: later"
    t = read(tmp_path, "s.txt", text)
    assert rows(t) == [("Alice", "hi"), ("Bob", "hello"), ("Alice", "bye"), ("Bob", "later")]
    assert times(t) == [(12.0, 15.0), (15.0, 20.0), (20.0, 3723.5), (3723.5, None)]


def test_plain_stamps_in_a_run_together_line(tmp_path: Path) -> None:
    t = read(tmp_path, "s.txt", "[00:01] Alice: hi. [00:05] Bob: hello. [00:09] Alice: ok")
    assert rows(t) == [("Alice", "hi."), ("Bob", "hello."), ("Alice", "ok")]
    assert times(t) == [(1.0, 5.0), (5.0, 9.0), (9.0, None)]


def test_plain_generic_labels_give_roles(tmp_path: Path) -> None:
    labels = ["Agent", "Customer", "Sales Rep", "SDR", "Prospect", "Caller", "AE", "Alice"]
    t = read(tmp_path, "roles.txt", "\n".join(f"{label}: words" for label in labels))
    assert [turn.role for turn in t.turns] == [
        "rep",
        "customer",
        "rep",
        "rep",
        "customer",
        "customer",
        "rep",
        "unknown",
    ]


def test_plain_annotations_are_dropped(tmp_path: Path) -> None:
    text = (
        "Alice: [noise]\nBob: Hello (inaudible) there <unk> friend\nAlice: *laughs* Sure [laughter]"
    )
    t = read(tmp_path, "a.txt", text)
    assert rows(t) == [("Bob", "Hello there friend"), ("Alice", "Sure")]


def test_plain_header_lines_are_metadata_not_turns(tmp_path: Path) -> None:
    text = (
        "Call ID: Q-42\nDate: 2024-05-01\nParticipants:\n- Alice (rep)\n- Bob\n---\n"
        "Alice: Hi Bob.\n---\nBob: Hello."
    )
    t = read(tmp_path, "h.txt", text)
    assert rows(t) == [("Alice", "Hi Bob."), ("Bob", "Hello.")]
    assert t.metadata["external_id"] == "Q-42"
    assert t.started_at == "2024-05-01"
    assert t.metadata["participants"] == [
        {"name": "Alice", "description": "rep"},
        {"name": "Bob", "description": ""},
    ]


def test_call_id_keeps_inner_dots(tmp_path: Path) -> None:
    assert read(tmp_path, "a.b.txt", "Alice: hi").call_id == "a.b"


# --- Markdown ------------------------------------------------------------------------------

MARKDOWN = """# Discovery call with Northwind
**Call ID:** NW-2025-007
**Date:** March 3, 2025
**Duration:** 14 minutes
**Participants:**
- Dana (Acme Account Executive)
- Lee Wong (Head of IT, Northwind)
**Outcome:** Demo booked

---

**Dana:** Hi Lee, thanks for making **the** time.

**Lee:** *sighs* Sure. I have ten minutes: let's go.

**Dana:** Great. Here is what I would cover:
- your current setup
- the budget

**Lee:** Fine by me.

---

**Call Notes - What Could Improve:**
- Shorter opener
- Ask about budget owner
"""


def test_markdown_header_turns_and_notes(tmp_path: Path) -> None:
    t = read(tmp_path, "nw.md", MARKDOWN)
    assert rows(t) == [
        ("Dana", "Hi Lee, thanks for making the time."),
        ("Lee", "Sure. I have ten minutes: let's go."),
        ("Dana", "Great. Here is what I would cover: - your current setup - the budget"),
        ("Lee", "Fine by me."),
    ]
    assert t.metadata["title"] == "Discovery call with Northwind"
    assert t.metadata["external_id"] == "NW-2025-007"
    assert t.metadata["outcome"] == "Demo booked"
    assert t.metadata["participants"] == [
        {"name": "Dana", "description": "Acme Account Executive"},
        {"name": "Lee Wong", "description": "Head of IT, Northwind"},
    ]
    assert t.metadata["notes"] == ["Shorter opener", "Ask about budget owner"]
    assert t.started_at == "2025-03-03"
    assert t.duration == 14 * 60
    assert t.call_id == "nw"
    assert t.source["format"] == "text"


def test_markdown_label_variants_and_emphasis(tmp_path: Path) -> None:
    text = (
        "**Alice**: hi *there*\n__Bob:__ hello _you_\n"
        "**Alice:** *Opens the deck* Here it is. I *really* like it."
    )
    t = read(tmp_path, "v.md", text)
    assert rows(t) == [
        ("Alice", "hi there"),
        ("Bob", "hello you"),
        ("Alice", "Here it is. I really like it."),
    ]


def test_markdown_detected_from_content(tmp_path: Path) -> None:
    t = read(tmp_path, "call.txt", "**Rep:** Hello!\n\n**Prospect:** Hi.\n\n**Rep:** *hangs up*")
    assert rows(t) == [("Rep", "Hello!"), ("Prospect", "Hi.")]
    assert [turn.role for turn in t.turns] == ["rep", "customer"]


def test_markdown_without_bold_labels_reads_as_plain(tmp_path: Path) -> None:
    t = read(tmp_path, "p.md", "# Call\n\nAlice: hello\nBob: hi")
    assert rows(t) == [("Alice", "hello"), ("Bob", "hi")]
    assert t.metadata["title"] == "Call"


# --- SRT -----------------------------------------------------------------------------------

SRT = """1
00:00:01,000 --> 00:00:04,000
Alice: Hello there,
how are you?

2
00:00:04,500 --> 00:00:06,000
I hope well.

3
00:00:06,000 --> 00:00:08,250
Bob: Fine thanks.
"""


def test_srt_prefixes_continuation_and_merge(tmp_path: Path) -> None:
    t = read(tmp_path, "ep1.srt", SRT)
    assert rows(t) == [("Alice", "Hello there, how are you? I hope well."), ("Bob", "Fine thanks.")]
    assert times(t) == [(1.0, 6.0), (6.0, 8.25)]
    assert t.source["format"] == "srt"
    assert t.call_id == "ep1"


def test_srt_tolerates_sloppy_files(tmp_path: Path) -> None:
    text = (
        "00:00:01.000 --> 00:00:02.000\r\nHello\r\n\r\n"
        "00:00:02.000 --> 00:00:03.000\r\n[Bob] Hi\r\n"
        "2\r\n00:00:03,000 --> 00:00:04,000\r\n- Carol: hey <i>you</i>\r\n\r\n"
        "garbage at the end\r\n"
    )
    t = read(tmp_path, "x.srt", text)
    assert rows(t) == [("Speaker 1", "Hello"), ("Bob", "Hi"), ("Carol", "hey you")]
    assert times(t) == [(1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]


def test_srt_voice_tags_dialogue_dashes_and_noise(tmp_path: Path) -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\n<v Alice>Hi</v>\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\n[noise]\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\n- Alice: one\n- Bob: two\n"
    )
    t = read(tmp_path, "d.srt", text)
    assert rows(t) == [("Alice", "Hi one"), ("Bob", "two")]
    assert times(t) == [(1.0, 4.0), (3.0, 4.0)]


def test_srt_content_detected_without_extension(tmp_path: Path) -> None:
    t = read(tmp_path, "capture", "1\n00:00:01,000 --> 00:00:02,000\nAgent: hi\n")
    assert t.source["format"] == "srt"
    assert t.turns[0].role == "rep"


# --- WebVTT --------------------------------------------------------------------------------

VTT = """WEBVTT - a demo
Kind: captions
Language: en-GB

NOTE a comment
over two lines

STYLE
::cue { color: yellow }

intro
00:01.000 --> 00:04.000 align:start position:10%
<v Alice>Hello <c.yellow>there</c></v>

00:04.500 --> 00:06.000
<v.loud Alice>and <i>welcome</i> <00:00:05.000>everyone</v>

2
00:00:07.000 --> 00:00:09.000
<v Bob>Thanks!</v><v Alice>You bet.</v>

00:00:09.000 --> 00:00:10.000
Bob: Great &amp; good.
"""


def test_vtt_voices_tags_blocks_and_merge(tmp_path: Path) -> None:
    t = read(tmp_path, "demo.vtt", VTT)
    assert rows(t) == [
        ("Alice", "Hello there and welcome everyone"),
        ("Bob", "Thanks!"),
        ("Alice", "You bet."),
        ("Bob", "Great & good."),
    ]
    assert times(t) == [(1.0, 6.0), (7.0, 9.0), (7.0, 9.0), (9.0, 10.0)]
    assert t.source["format"] == "vtt"
    assert t.language == "en"


def test_vtt_detected_from_header(tmp_path: Path) -> None:
    t = read(tmp_path, "sub.txt", "WEBVTT\n\n00:00.000 --> 00:01.500\nCustomer: hello\n")
    assert t.source["format"] == "vtt"
    assert rows(t) == [("Customer", "hello")]
    assert t.turns[0].role == "customer"


# --- JSON shapes ---------------------------------------------------------------------------


def test_project_json_keeps_its_own_fields(tmp_path: Path) -> None:
    data = {
        "call_id": "own-id",
        "rep": "Alice",
        "source": {"backend": "faster-whisper", "format": "old"},
        "turns": [
            {"speaker": "Alice", "role": "rep", "start": 0, "end": 2.5, "text": " Hi "},
            {"speaker": "Agent", "role": "unknown", "text": "[noise]"},
            {
                "speaker": "Bob",
                "role": "customer",
                "start": 3,
                "end": 4,
                "text": "Yo",
                "channel": 1,
            },
        ],
    }
    t = read(tmp_path, "file-name.json", json.dumps(data))
    assert t.call_id == "own-id"
    assert t.rep == "Alice"
    assert rows(t) == [("Alice", "Hi"), ("Bob", "Yo")]
    assert [turn.role for turn in t.turns] == ["rep", "customer"]
    assert t.turns[1].channel == 1
    assert t.source == {
        "backend": "faster-whisper",
        "format": "json",
        "path": str(tmp_path / "file-name.json"),
    }


def test_project_json_default_call_id(tmp_path: Path) -> None:
    t = read(tmp_path, "day.one.json", json.dumps({"turns": [{"speaker": "A", "text": "x"}]}))
    assert t.call_id == "day.one"


def test_whisper_json_merges_close_segments(tmp_path: Path) -> None:
    data = {
        "text": " Hello there. How are you? Later.",
        "language": "en",
        "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 1.5, "text": " Hello there."},
            {"id": 1, "seek": 0, "start": 2.0, "end": 3.0, "text": " How are you?"},
            {"id": 2, "seek": 0, "start": 6.0, "end": 7.0, "text": " Later."},
        ],
    }
    t = read(tmp_path, "w.json", json.dumps(data))
    assert t.source["format"] == "whisper-json"
    assert rows(t) == [("Speaker 1", "Hello there. How are you?"), ("Speaker 1", "Later.")]
    assert times(t) == [(0.0, 3.0), (6.0, 7.0)]
    assert {turn.role for turn in t.turns} == {"unknown"}


def test_whisperx_speakers_are_kept(tmp_path: Path) -> None:
    data = {
        "segments": [
            {"start": 0.0, "end": 1.0, "text": " Hi.", "speaker": "SPEAKER_00"},
            {"start": 1.2, "end": 2.0, "text": " Hello.", "speaker": "SPEAKER_01"},
            {"start": 2.1, "end": 3.0, "text": " Bye.", "speaker": "SPEAKER_01"},
        ]
    }
    t = read(tmp_path, "wx.json", json.dumps(data))
    assert rows(t) == [("SPEAKER_00", "Hi."), ("SPEAKER_01", "Hello. Bye.")]


AZURE_ITEMS = [
    {"participantId": "Agent", "id": "1", "text": "Hello, how can I help?"},
    {"participantId": "Customer", "id": "2", "text": "My kettle is broken."},
    {"participantId": "Agent", "id": "3", "text": "Sorry to hear that."},
    {"participantId": "Agent", "id": "4", "text": ""},
]


@pytest.mark.parametrize(
    "document",
    [
        {
            "analysisInput": {
                "conversations": [{"id": "c1", "language": "en", "conversationItems": AZURE_ITEMS}]
            }
        },
        {"conversationItems": AZURE_ITEMS},
        AZURE_ITEMS,
    ],
    ids=["analysisInput", "conversationItems", "bare-list"],
)
def test_azure_conversation(tmp_path: Path, document: object) -> None:
    t = read(tmp_path, "az.json", json.dumps(document))
    assert t.source["format"] == "azure-conversation"
    assert rows(t) == [
        ("Agent", "Hello, how can I help?"),
        ("Customer", "My kettle is broken."),
        ("Agent", "Sorry to hear that."),
    ]
    assert [turn.role for turn in t.turns] == ["rep", "customer", "rep"]


def test_aws_call_analytics(tmp_path: Path) -> None:
    data = {
        "ConversationAnalytics": {
            "LanguageCode": "en-US",
            "Duration": "9.5",
            "SpeakerLabels": [
                {"Speaker": "spk_0", "DisplayText": "Agent"},
                {"Speaker": "spk_1", "DisplayText": "Customer"},
            ],
        },
        "SpeechSegments": [
            {
                "SegmentStartTime": 0.1,
                "SegmentEndTime": 2.0,
                "SegmentSpeaker": "spk_0",
                "DisplayText": "Thanks for calling.",
            },
            {
                "SegmentStartTime": 2.5,
                "SegmentEndTime": 4.0,
                "SegmentSpeaker": "spk_1",
                "DisplayText": "Hi, my router is down.",
            },
        ],
    }
    t = read(tmp_path, "pca.json", json.dumps(data))
    assert rows(t) == [("Agent", "Thanks for calling."), ("Customer", "Hi, my router is down.")]
    assert times(t) == [(0.1, 2.0), (2.5, 4.0)]
    assert [turn.role for turn in t.turns] == ["rep", "customer"]
    assert t.duration == 9.5
    assert t.source["format"] == "aws-transcribe"


def _aws_item(start: float | None, end: float | None, word: str) -> dict[str, object]:
    if start is None:
        return {"type": "punctuation", "alternatives": [{"content": word, "confidence": "0.0"}]}
    return {
        "type": "pronunciation",
        "start_time": f"{start:.2f}",
        "end_time": f"{end:.2f}",
        "alternatives": [{"content": word, "confidence": "0.99"}],
    }


def test_aws_standard_output_with_speaker_labels(tmp_path: Path) -> None:
    words = [(0.0, 0.4, "Hello"), (None, None, ","), (0.5, 0.9, "Acme"), (None, None, ".")]
    words += [(1.5, 1.8, "Hi"), (None, None, "!"), (4.0, 4.3, "Bye")]
    speakers = ["spk_0", "spk_0", "spk_1", "spk_0"]
    timed = [w for w in words if w[0] is not None]
    data = {
        "jobName": "job-1",
        "results": {
            "transcripts": [{"transcript": "Hello, Acme. Hi! Bye"}],
            "speaker_labels": {
                "speakers": 2,
                "segments": [
                    {
                        "speaker_label": spk,
                        "start_time": f"{w[0]:.2f}",
                        "end_time": f"{w[1]:.2f}",
                        "items": [
                            {
                                "speaker_label": spk,
                                "start_time": f"{w[0]:.2f}",
                                "end_time": f"{w[1]:.2f}",
                            }
                        ],
                    }
                    for spk, w in zip(speakers, timed, strict=True)
                ],
            },
            "items": [_aws_item(*w) for w in words],
        },
    }
    t = read(tmp_path, "job.json", json.dumps(data))
    assert rows(t) == [("spk_0", "Hello, Acme."), ("spk_1", "Hi!"), ("spk_0", "Bye")]
    assert times(t) == [(0.0, 0.9), (1.5, 1.8), (4.0, 4.3)]
    assert t.metadata["job_name"] == "job-1"


def test_aws_standard_output_with_channels(tmp_path: Path) -> None:
    data = {
        "results": {
            "transcripts": [{"transcript": "..."}],
            "channel_labels": {
                "number_of_channels": 2,
                "channels": [
                    {
                        "channel_label": "ch_0",
                        "items": [
                            _aws_item(0.0, 0.5, "Hello"),
                            _aws_item(None, None, "."),
                            _aws_item(3.0, 3.5, "Great"),
                        ],
                    },
                    {"channel_label": "ch_1", "items": [_aws_item(1.0, 1.5, "Hi")]},
                ],
            },
            "items": [],
        }
    }
    t = read(tmp_path, "stereo.json", json.dumps(data))
    assert rows(t) == [("ch_0", "Hello."), ("ch_1", "Hi"), ("ch_0", "Great")]
    assert [turn.channel for turn in t.turns] == [0, 1, 0]


def _harper_segment(role: str, start: int, dur: int, human: str | None, asr: str) -> dict:
    return {
        "speaker_role": role,
        "channel_index": 2 if role == "agent" else 1,
        "start_ms": start,
        "duration_ms": dur,
        "human_transcript": human,
        "asr_transcript": asr,
    }


def test_segments_json_with_sibling_metadata(tmp_path: Path) -> None:
    segments = [
        _harper_segment("agent", 1000, 2000, "good morning this is the bank", "good morning"),
        _harper_segment("caller", 4000, 500, "[noise]", "uh"),
        _harper_segment("caller", 5000, 1500, None, "i lost my card"),
        _harper_segment("agent", 7000, 1000, "sorry to hear that", "sorry"),
    ]
    write(tmp_path, "abc123.json", json.dumps({"sid": "abc123", "segments": segments}))
    meta = {
        "sid": "abc123",
        "agent": {"metadata": {"agent_name": "Priya"}},
        "caller": {"metadata": {"first and last name": "Tom Hale"}},
    }
    write(tmp_path, "abc123.metadata.json", json.dumps(meta))
    t = read_transcript(tmp_path / "abc123.json")
    assert_valid(t)
    assert rows(t) == [
        ("Priya", "good morning this is the bank"),
        ("Tom Hale", "i lost my card"),
        ("Priya", "sorry to hear that"),
    ]
    assert times(t) == [(1.0, 3.0), (5.0, 6.5), (7.0, 8.0)]
    assert [turn.role for turn in t.turns] == ["rep", "customer", "rep"]
    assert t.rep == "Priya"
    assert t.source["format"] == "segments-json"
    assert_error(tmp_path / "abc123.metadata.json", "call metadata, not a transcript")


def test_segments_json_without_metadata_and_generic_keys(tmp_path: Path) -> None:
    t = read(
        tmp_path,
        "s.json",
        json.dumps(
            {
                "segments": [
                    _harper_segment("agent", 0, 1000, "hello", "hello"),
                    _harper_segment("caller", 1500, 1000, "hi", "hi"),
                ]
            }
        ),
    )
    assert rows(t) == [("Agent", "hello"), ("Caller", "hi")]
    assert [turn.role for turn in t.turns] == ["rep", "customer"]
    generic = [
        {"role": "agent", "transcript": "one", "start": 0, "end": 1},
        {"speaker": "Bob", "text": "two", "start": 5, "end_ms": 6000},
    ]
    t = read(tmp_path, "g.json", json.dumps(generic))
    assert rows(t) == [("Agent", "one"), ("Bob", "two")]
    assert t.turns[0].start == 0.0 and t.turns[0].end == 1.0


# --- format choice, decoding ---------------------------------------------------------------


def test_readers_can_be_called_directly(tmp_path: Path) -> None:
    t = get_reader("srt")(SRT, tmp_path / "direct.srt")
    assert t.call_id == "direct" and t.source["format"] == "srt"
    with pytest.raises(TranscriptError, match="no turns found"):
        get_reader("text")("[noise]", tmp_path / "n.txt")


def test_registry_and_aliases() -> None:
    assert set(READERS) == {
        "json",
        "whisper-json",
        "azure-conversation",
        "aws-transcribe",
        "segments-json",
        "srt",
        "vtt",
        "text",
    }
    assert get_reader("md") is READERS["text"]
    assert get_reader("WebVTT") is READERS["vtt"]
    with pytest.raises(ValueError, match="unknown transcript format"):
        get_reader("docx")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.json", '{"turns": []}', "json"),
        ("a.txt", '{"segments": [{"start": 0, "end": 1, "text": "x"}]}', "whisper-json"),
        ("a.json", "{broken", "json"),
        ("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nhi\n", "srt"),
        ("a.txt", "WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", "vtt"),
        ("a.vtt", "00:01.000 --> 00:02.000\nhi\n", "vtt"),
        ("a", "[00:12] Alice: hi", "text"),
        ("a.md", "**A:** hi", "text"),
        ("a.srt", "just words", "text"),
    ],
)
def test_detect_format(name: str, text: str, expected: str) -> None:
    assert detect_format(Path(name), text) == expected


def test_fmt_forces_a_reader(tmp_path: Path) -> None:
    path = write(tmp_path, "x.srt", "Alice: hi\nBob: yo\n")
    assert rows(read_transcript(path, "text")) == [("Alice", "hi"), ("Bob", "yo")]
    assert_error(path, "no turns found", fmt="vtt")
    assert_error(path, "unknown transcript format", fmt="docx")


@pytest.mark.parametrize(
    "raw",
    [
        "Alice: café — ok".encode("utf-8-sig"),
        "Alice: café — ok".encode("utf-16"),
        "Alice: café — ok".encode("utf-16-be").join([b"\xfe\xff", b""]),
        "Alice: café — ok".encode("cp1252"),
    ],
    ids=["utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "cp1252"],
)
def test_decoding(tmp_path: Path, raw: bytes) -> None:
    assert rows(read(tmp_path, "enc.txt", raw)) == [("Alice", "café — ok")]


def test_latin1_fallback(tmp_path: Path) -> None:
    t = read(tmp_path, "l1.txt", b"Alice: caf\xe9 \x81ok")  # 0x81 is not cp1252
    assert t.turns[0].text.startswith("café")


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.txt", b"", "no turns found (empty transcript)"),
        ("blank.txt", b"  \n\t\n  ", "no turns found (empty transcript)"),
        ("noise.txt", b"[noise]\n<unk>\n", "no turns found"),
        ("bin.txt", b"\x00\x01\x02binary\x00\xff", "not a transcript (binary data)"),
        ("ctl.txt", bytes(range(1, 9)) * 20, "not a transcript (binary data)"),
        ("call.wav", b"RIFF....WAVEfmt ", "is an audio file; transcribe it first"),
        ("broken.json", b'{"turns": [', "invalid JSON at line 1"),
        ("shape.json", b'{"hello": "world"}', "unrecognised JSON transcript (expected"),
        ("list.json", b"[1, 2, 3]", "unrecognised JSON transcript"),
        ("role.json", b'{"turns": [{"speaker": "A", "text": "x", "role": "boss"}]}', "boss"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "deep.json: "),
        (
            "times.json",
            b'{"turns": [{"speaker": "A", "text": "x", "start": 5, "end": 1}]}',
            "before start",
        ),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: bytes, fragment: str) -> None:
    assert_error(write(tmp_path, name, content), fragment)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert_error(tmp_path / "nope.txt", "no such file")
    assert_error(tmp_path, "is a directory")
    assert_error(tmp_path / "nope.mp3", "is an audio file")


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)
    assert_error(path, "too large")


def test_error_chains_its_cause(tmp_path: Path) -> None:
    error = assert_error(write(tmp_path, "b.json", "{oops"), "invalid JSON")
    assert isinstance(error.__cause__, json.JSONDecodeError)


# --- text that cannot be stored: lone surrogates ------------------------------------------


def assert_storable(transcript: Transcript) -> None:
    """Every string valid Unicode: what the database and the tokenizer need."""
    for turn in transcript.turns:
        turn.speaker.encode("utf-8")
        turn.text.encode("utf-8")
    json.dumps(transcript.to_dict(), ensure_ascii=False).encode("utf-8")


def test_lone_surrogates_in_json_become_replacement_characters(tmp_path: Path) -> None:
    raw = (
        '{"rep": "Rep\\ud800", "metadata": {"customer": "Acme\\udfff"}, "turns": ['
        '{"speaker": "Rep\\ud800", "text": "Hi \\udc00there"},'
        '{"speaker": "Bob", "text": "Smile \\ud83d\\ude00"}]}'
    )
    t = read(tmp_path, "s.json", raw)
    assert rows(t) == [("Rep\ufffd", "Hi \ufffdthere"), ("Bob", "Smile 😀")]
    assert t.rep == "Rep\ufffd" and t.metadata == {"customer": "Acme\ufffd"}
    assert_storable(t)


@pytest.mark.parametrize(
    "document",
    [
        {"segments": [{"speaker": "A\ud800", "text": "hi\udfff", "start": 0, "end": 1}]},
        [{"participantId": "A\ud800", "text": "hi\udfff"}],
        {"Transcript": [{"ParticipantRole": "AGENT", "Content": "hi\udfff"}]},
        [{"speaker": "A\ud800", "text": "hi\udfff"}],
    ],
    ids=["whisper", "azure", "aws", "segments"],
)
def test_lone_surrogates_in_every_json_shape(tmp_path: Path, document: object) -> None:
    t = read(tmp_path, "s.json", json.dumps(document))  # json.dumps writes "\ud800" escapes
    assert t.turns[0].text == "hi\ufffd"
    assert_storable(t)


def test_a_file_name_python_cannot_decode_is_stored_as_valid_text(tmp_path: Path) -> None:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.txt"))
    path.write_text("Alice: hi\nBob: yo\n")
    t = read_transcript(path)
    assert t.source["path"].endswith("/caf\ufffd.txt")
    assert_storable(t)


# --- limits of what is graded --------------------------------------------------------------


def project_call(turns: int, text: str = "Hello.") -> str:
    return json.dumps({"turns": [{"speaker": "AB"[i % 2], "text": text} for i in range(turns)]})


def test_too_many_turns(tmp_path: Path) -> None:
    path = write(tmp_path, "long.json", project_call(50_000))
    error = assert_error(path)
    assert str(error) == f"{path}: the call has 50,000 turns; at most 20,000 are graded"
    assert len(read(tmp_path, "most.json", project_call(MAX_TURNS)).turns) == MAX_TURNS


def test_too_much_speech(tmp_path: Path) -> None:
    path = write(tmp_path, "talk.txt", "Alice: " + "word " * 120_000 + "\nBob: ok\n")
    error = assert_error(path)
    assert str(error) == (
        f"{path}: the call has 600,001 characters of speech; at most 500,000 are graded"
    )
    text = "x" * (MAX_CALL_CHARS // 2)
    assert read(tmp_path, "most.json", project_call(2, text)).turns[1].text == text


def test_a_text_over_the_tokenizers_limit_is_split_into_its_sentences() -> None:
    text = "Hello there. " * 80_000  # 1,040,000 characters: spaCy alone refuses it
    long, short = get_normalizer().sentences_of([text, "Bye now."])
    assert len(long) == 80_000 and {s.text for s in long} == {"Hello there."}
    assert [(s.text, s.tokens) for s in short] == [("Bye now.", ("bye", "now"))]


# --- time linear in the size: no regex backtracks without bound ---------------------------

MEGABYTE = 1_000_000
RUNS = [
    "[",
    "(",
    "*",
    ":",
    "A" * 39 + ":",
    "<",
    "<v.",
    "12:34:",
    " ",
    "\n",
    "'",
    "1",
    "&#1",
    "# x ",
    "__x ",
    "[a](",
    "**A:",
    "- a (",
    "Bob: hi. ",
    "A:\n",
]


def run_of(unit: str, size: int = MEGABYTE) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def in_a_file(suffix: str, run: str) -> str:
    """run where each format reads speech: a plain file, a Markdown turn, a cue, a turn."""
    if suffix == ".md":
        return "**A:** hi\n" + run
    if suffix == ".srt":
        return "1\n00:00:01,000 --> 00:00:02,000\n" + run
    if suffix == ".vtt":
        return "WEBVTT\n\n00:01.000 --> 00:02.000\n" + run
    if suffix == ".json":
        return json.dumps({"segments": [{"speaker": run, "text": run, "start": 0}]})
    return run


def within(seconds: float, call: Callable[[], object]) -> float:
    """How long call took; AssertionError at twice `seconds` (a catastrophic regex never ends)."""

    def stop(signum: int, frame: object) -> None:
        raise AssertionError(f"stopped after {2 * seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, 2 * seconds)
    started = time.perf_counter()
    try:
        call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return time.perf_counter() - started


def read_or_refuse(path: Path) -> None:
    with contextlib.suppress(TranscriptError):
        read_transcript(path)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".txt", ".md", ".srt", ".vtt", ".json"])
@pytest.mark.parametrize("unit", RUNS)
def test_a_megabyte_of_one_run_reads_in_seconds(tmp_path: Path, suffix: str, unit: str) -> None:
    path = write(tmp_path, f"run{suffix}", in_a_file(suffix, run_of(unit)))
    took = within(5.0, lambda: read_or_refuse(path))
    assert took < 5.0, f"{unit!r} in {suffix}: {took:.1f} s"


@pytest.mark.slow
def test_a_long_run_without_spaces_grades_in_seconds(tmp_path: Path, mini_rubric: Rubric) -> None:
    path = write(tmp_path, "run.txt", ("A" * 39 + ":") * 10_000)  # took 111 s
    took = within(5.0, lambda: Grader(mini_rubric).grade(read_transcript(path)))
    assert took < 5.0


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["[", "'", "a'", "'a", "*", "<", "—", "12:"])
def test_runs_spacy_tokenizes_slowly_are_masked(unit: str) -> None:
    text = run_of(unit, 450_000)  # just under the limit of a call
    took = within(5.0, lambda: get_normalizer().sentences_of([text, f"a {text} b"]))
    assert took < 5.0, f"{unit!r}: {took:.1f} s"


def test_a_masked_run_keeps_the_words_and_the_text() -> None:
    plain, noisy = get_normalizer().sentences_of(
        ["Can we book a demo on Thursday?", "Can we book a demo " + "[" * 1000 + " on Thursday?"]
    )
    assert [s.tokens for s in noisy] == [s.tokens for s in plain]
    assert noisy[0].text == "Can we book a demo " + "[" * 1000 + " on Thursday?"


# --- messages in a user's words ------------------------------------------------------------


@pytest.mark.parametrize(
    ("turn", "problem"),
    [
        ({"start": "abc"}, 'turn 3: start "abc" is not a number of seconds'),
        ({"end": [1]}, "turn 3: end [1] is not a number of seconds"),
        ({"start": "inf"}, 'turn 3: start "inf" is not a finite number of seconds'),
        ({"channel": "left"}, 'turn 3: channel "left" is not a channel number (0, 1, ...)'),
        ({"channel": -1}, "turn 3: channel -1 is not a channel number (0, 1, ...)"),
        ({"role": "boss"}, 'turn 3: role "boss" is not one of rep, customer, unknown'),
        ({"start": 5, "end": 1}, "turn 3: end 1 is before start 5"),
    ],
)
def test_project_json_problems_name_the_turn(tmp_path: Path, turn: dict, problem: str) -> None:
    turns = [{"speaker": "A", "text": "x"}, {"speaker": "B", "text": "y"}]
    path = write(
        tmp_path, "p.json", json.dumps({"turns": [*turns, {"speaker": "A", "text": "z", **turn}]})
    )
    assert str(assert_error(path)) == f"{path}: {problem}"


def test_project_json_channels_written_as_text_or_float(tmp_path: Path) -> None:
    turns = [
        {"speaker": "A", "text": "x", "channel": "1"},
        {"speaker": "B", "text": "y", "channel": 0.0},
    ]
    t = read(tmp_path, "c.json", json.dumps({"turns": turns}))
    assert [turn.channel for turn in t.turns] == [1, 0]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "n.json",
            '{"turns": [{"speaker": "A", "text": "x", "start": 1' + "0" * 5000 + "}]}",
            "invalid JSON: a number has too many digits",
        ),
        (
            "d.json",
            '{"duration": "long", "turns": [{"speaker": "A", "text": "x"}]}',
            'duration "long" is not a number of seconds',
        ),
        (
            "aws.json",
            '{"SpeechSegments": 7, "ConversationAnalytics": [1]}',
            "no turns found (empty transcript)",
        ),
        (
            "ref.srt",
            "1\n00:00:01,000 --> 00:00:02,000\nA: &#" + "1" * 5000 + ";\n",
            "no turns found (empty transcript)",
        ),
    ],
)
def test_bad_values_are_said_in_a_users_words(
    tmp_path: Path, name: str, content: str, problem: str
) -> None:
    path = write(tmp_path, name, content)
    assert str(assert_error(path)) == f"{path}: {problem}"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom(tmp_path: Path, encoding: str) -> None:
    raw = "Alice: café — ok\nBob: fine\n".encode(encoding)
    assert rows(read(tmp_path, "u.txt", raw)) == [("Alice", "café — ok"), ("Bob", "fine")]


def test_binary_data_with_nuls_is_still_binary(tmp_path: Path) -> None:
    assert_error(write(tmp_path, "z.txt", b"\x00" * 4000), "not a transcript (binary data)")


# --- the shared corpus ---------------------------------------------------------------------

CORPUS_FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.is_file() and not p.name.startswith("LICENSE"))
    if CORPUS.is_dir()
    else []
)
NOT_NAMES = {"Call ID", "Date", "Call Notes", "Participants", "Duration", "Outcome", "Unknown"}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_corpus_file(path: Path) -> None:
    if path.name.endswith(".metadata.json"):
        assert_error(path, "call metadata, not a transcript (no turns)")
        return
    t = read_transcript(path)
    assert_valid(t)
    assert len(t.turns) >= 2
    assert len(t.speakers) >= 2
    assert not set(t.speakers) & NOT_NAMES
    assert all(not speaker.lower().startswith("call notes") for speaker in t.speakers)
    if path.suffix == ".md":
        names = {p["name"].split()[0] for p in t.metadata["participants"]}
        assert set(t.speakers) <= names
        assert t.metadata["notes"]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_facts() -> None:
    t = read_transcript(CORPUS / "tribeai-sales-calls/cold-call-success-01.md")
    assert [turn.speaker for turn in t.turns[:2]] == ["Sarah", "Michael"]
    assert t.metadata["external_id"] == "CC-2024-001" and t.started_at == "2024-01-15"
    assert not any("laughs" in turn.text for turn in t.turns)

    t = read_transcript(CORPUS / "tribeai-sales-calls/objection-pricing-01.md")
    assert t.turns[0].speaker == "Kevin"

    t = read_transcript(CORPUS / "azure-support-chat/Json_input_customer_support.json")
    assert len(t.turns) == 17
    assert t.speakers == ["Agent", "Customer"]
    assert {(turn.speaker, turn.role) for turn in t.turns} == {
        ("Agent", "rep"),
        ("Customer", "customer"),
    }

    t = read_transcript(
        CORPUS / "aws-transcribe-output/pca-ui_testfile_transcribe_call_analytics_output.json"
    )
    assert set(t.speakers) == {"Agent", "Customer"}
    assert all(turn.start is not None and turn.end is not None for turn in t.turns)

    t = read_transcript(
        CORPUS / "harper-valley-bank/0091a706bc604188.transcript_compact_DERIVED.json"
    )
    assert t.rep == "Jennifer"
    assert t.turns[0].speaker == "Jennifer" and t.turns[0].role == "rep"
    assert "Elizabeth Davis" in t.speakers


# --- properties ----------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "Alice: ",
        "Bob:",
        "Speaker 1: ",
        "[00:12] ",
        "(1:02) ",
        "**Sam:** ",
        "__Jo:__ ",
        "-->",
        "00:00:01,000 --> 00:00:02,000\n",
        "00:01.000 --> 00:02.000 align:start\n",
        "WEBVTT\n",
        "\n",
        "\n\n",
        "---\n",
        "# T\n",
        "**Call ID:** 7\n",
        "**Call Notes:**\n",
        "- item\n",
        "[noise]",
        "*laughs*",
        "<v Al>",
        "</v>",
        "<i>",
        ":",
        " ",
        ". ",
        "Note: ",
        "10:30",
        "{",
        "}",
        "[",
        "]",
        '"turns"',
        "\r\n",
        "\x00",
        "é",
        "—",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join),
)
JSON_KEYS = st.sampled_from(
    [
        "turns",
        "segments",
        "speaker",
        "text",
        "start",
        "end",
        "role",
        "channel",
        "call_id",
        "source",
        "metadata",
        "SpeechSegments",
        "SegmentSpeaker",
        "SegmentStartTime",
        "SegmentEndTime",
        "DisplayText",
        "ConversationAnalytics",
        "SpeakerLabels",
        "Speaker",
        "results",
        "items",
        "transcripts",
        "transcript",
        "alternatives",
        "content",
        "type",
        "start_time",
        "end_time",
        "speaker_label",
        "speaker_labels",
        "channel_labels",
        "channels",
        "channel_label",
        "Transcript",
        "ParticipantRole",
        "Content",
        "analysisInput",
        "conversations",
        "conversationItems",
        "participantId",
        "language",
        "speaker_role",
        "start_ms",
        "duration_ms",
        "end_ms",
        "human_transcript",
        "asr_transcript",
        "sid",
        "agent",
        "caller",
        "duration",
        "rep",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(JSON_KEYS | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=25,
)
SUFFIXES = st.sampled_from([".txt", ".md", ".srt", ".vtt", ".json", ""])


def _read_or_error(path: Path) -> None:
    try:
        transcript = read_transcript(path)
    except TranscriptError as error:
        assert str(error).startswith(str(path) + ": ")
        assert "\n" not in str(error)
    else:
        assert_valid(transcript)


PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(text=TEXTS, suffix=SUFFIXES)
def test_any_text_reads_or_fails_cleanly(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"prop{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _read_or_error(path)


@PROPERTY
@given(value=JSON_VALUES, wrap=st.booleans())
def test_any_json_reads_or_fails_cleanly(tmp_path: Path, value: object, wrap: bool) -> None:
    document = {"segments": value} if wrap else value
    path = tmp_path / "prop.json"
    path.write_text(json.dumps(document), encoding="utf-8", errors="surrogatepass")
    _read_or_error(path)


@PROPERTY
@given(data=st.binary(max_size=400), suffix=SUFFIXES)
def test_any_bytes_read_or_fail_cleanly(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"bytes{suffix}"
    path.write_bytes(data)
    _read_or_error(path)
