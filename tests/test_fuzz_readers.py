"""Fuzzing the transcript readers and the call metadata readers: damaged copies of a small valid
file of each format, and random bytes and text. Whatever the bytes, `read_transcript` gives a
Transcript whose every string the database can store, or a `TranscriptError` on one line;
`read_sidecar` and `read_manifest` give metadata and problems on one line; all within the time
bound (tests/fuzzing.py)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from fuzzing import fuzz_settings, keeps_contract, mutated
from hypothesis import given
from hypothesis import strategies as st

from analyzer.errors import TranscriptError
from analyzer.runs.discover import CALL_ID_MAX, read_manifest, read_sidecar
from analyzer.transcripts.readers import MAX_CALL_CHARS, MAX_TURNS, read_transcript
from analyzer.transcripts.transcript import ROLES, Transcript

pytestmark = pytest.mark.fuzz

TXT = """\
Call ID: 7
Date: 2026-11-23

[00:00] Alice: Hi, this is Alice from Acme. Is now a bad time?
[00:04] Bob (00:05): Not at all. [laughs] Go ahead.
Alice: Great. How are you handling scheduling today? Bob: By hand, mostly.
(1:02:03.5) Speaker 2: It's a real headache — honestly.
"""
MD = """\
# Discovery call

**Call ID:** CC-1
**Duration:** 1h 2m 30s
**Participants:**
- Sam Lee (VP Sales)
- Jo Park - Rep

---

**Jo:** Hi Sam, *opens the deck* thanks for the time. See [the page](http://x.co/a).
**[00:12] Sam:** Sure, __go ahead__. `code`
**Jo**: Can we book a demo on Thursday at ten?

## Call Notes
- booked a demo
"""
SRT = """\
1
00:00:01,000 --> 00:00:04,000
Alice: Hello there, how are you?

2
00:00:04,500 --> 00:00:06,000
<i>I hope well.</i> &amp; more &#233;

3
00:00:06,000 --> 00:00:08,250
- [Bob] Fine thanks.
- Alice: Good.
"""
VTT = """\
WEBVTT
Language: en-US

NOTE a comment

00:01.000 --> 00:04.000 align:start position:10%
<v.loud Alice>Hello <b>there</b></v>
<v Bob>Hi!

00:00:04.000 --> 00:00:06.000
>> Customer: <00:00:04.500>yes
"""
JSON_SHAPES = {
    "json": {
        "call_id": "c1",
        "rep": "Alice\ud800",
        "duration": 12.5,
        "metadata": {"customer": "Acme"},
        "turns": [
            {"speaker": "Alice", "role": "rep", "start": 0, "end": 2.5, "text": "Hi \udfff"},
            {
                "speaker": "Bob",
                "role": "customer",
                "start": "3",
                "end": 4,
                "channel": 1,
                "text": "Yo [noise]",
            },
        ],
    },
    "whisper-json": {
        "language": "en",
        "text": "Hello there.",
        "segments": [
            {"start": 0.0, "end": 1.5, "text": " Hello there.", "speaker": "SPEAKER_00"},
            {"start": 2.0, "end": 3.0, "text": " How are you?", "speaker": "SPEAKER_01"},
        ],
    },
    "azure-conversation": {
        "analysisInput": {
            "conversations": [
                {
                    "id": "1",
                    "language": "en-us",
                    "conversationItems": [
                        {"participantId": "Agent", "role": "agent", "text": "Hello"},
                        {"participantId": "Customer", "role": "customer", "itn": "Hi there"},
                    ],
                }
            ]
        }
    },
    "aws-transcribe": {
        "jobName": "j",
        "results": {
            "language_code": "en-US",
            "transcripts": [{"transcript": "Hello there."}],
            "speaker_labels": {
                "segments": [{"items": [{"start_time": "0.0", "speaker_label": "spk_0"}]}]
            },
            "items": [
                {
                    "start_time": "0.0",
                    "end_time": "0.4",
                    "type": "pronunciation",
                    "alternatives": [{"content": "Hello"}],
                },
                {"type": "punctuation", "alternatives": [{"content": "."}]},
                {
                    "start_time": "0.5",
                    "end_time": "0.9",
                    "speaker_label": "spk_1",
                    "type": "pronunciation",
                    "alternatives": [{"content": "Hi"}],
                },
            ],
        },
    },
    "aws-call-analytics": {
        "ConversationAnalytics": {
            "LanguageCode": "en-US",
            "Duration": 9.5,
            "ConversationTime": "2026-11-23T10:00:00",
            "SpeakerLabels": [{"Speaker": "spk_0", "DisplayText": "Agent"}],
        },
        "SpeechSegments": [
            {
                "SegmentSpeaker": "spk_0",
                "SegmentStartTime": 0,
                "SegmentEndTime": 2,
                "DisplayText": "Hello",
            },
            {
                "SegmentSpeaker": "spk_1",
                "SegmentStartTime": 2.5,
                "SegmentEndTime": 4,
                "OriginalText": "Hi",
            },
        ],
    },
    "aws-analytics-job": {
        "LanguageCode": "en-US",
        "Transcript": [
            {
                "ParticipantRole": "AGENT",
                "BeginOffsetMillis": 0,
                "EndOffsetMillis": 900,
                "Content": "Hello",
            },
            {
                "ParticipantRole": "CUSTOMER",
                "BeginOffsetMillis": 1000,
                "EndOffsetMillis": 2000,
                "Content": "Hi",
            },
        ],
    },
    "segments-json": {
        "sid": "0091a706",
        "segments": [
            {
                "speaker_role": "agent",
                "start_ms": 0,
                "duration_ms": 900,
                "human_transcript": "hello",
            },
            {"speaker_role": "caller", "start_ms": 1000, "end_ms": 2000, "asr_transcript": "hi"},
        ],
    },
}
SIDECAR = json.dumps(
    {
        "call_id": "night-1",
        "rep": "Alice Moreno",
        "date": "2026-11-23",
        "customer": "Acme \ud800",
        "call_type": "prospecting",
        "outcome": "won",
        "started_at": "2026-11-23T10:00:00",
    }
).encode()
MANIFEST = (
    "file,call_id,rep,date,customer,call_type,outcome\n"
    "a.txt,night-1,Zoë Moreno,2026-11-23,Acme,prospecting,won\n"
    '"b c.wav",,"Ben, Jr.",23/11/2026,"Summit ""Ridge""",,lost\n'
).encode()
CALL_ID = re.compile(rf"\w[\w.\-]{{0,{CALL_ID_MAX - 1}}}")


def inputs(seed: bytes) -> st.SearchStrategy[bytes]:
    """Damaged copies of the seed (most inputs), random bytes, random text."""
    return st.one_of(
        mutated(seed),
        mutated(seed),
        st.binary(max_size=2000),
        st.text(max_size=2000).map(str.encode),
    )


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in _keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in _keys(value)}
    return set()


KEYS = sorted({key for doc in JSON_SHAPES.values() for key in _keys(doc)})
# Values a JSON reader must take or refuse in words: wrong types, odd numbers and text.
ODD = ["", " ", "0", "-1", "1e999", "abc", "\ud800", "[noise]", "Agent", "spk_1", "ch_99"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(ODD),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


def _slots(node: object) -> list[tuple[dict | list, object]]:
    """Every (container, key or index) in a parsed document."""
    found: list[tuple[dict | list, object]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            found.extend(_slots(value))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((node, index))
            found.extend(_slots(value))
    return found


@st.composite
def reshaped(draw: st.DrawFn, document: object, max_edits: int = 4) -> bytes:
    """The document, still valid JSON, with a few values replaced, removed or repeated."""
    document = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, max_edits))):
        slots = _slots(document)
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        kind = draw(st.sampled_from(["replace", "replace", "remove", "repeat", "add"]))
        if kind == "replace":
            container[key] = draw(json_values)  # type: ignore[index]
        elif kind == "remove":
            del container[key]  # type: ignore[arg-type]
        elif kind == "repeat" and isinstance(container, list):
            container[key:key] = [container[key]] * draw(st.integers(1, 50))  # type: ignore[misc]
        elif kind == "add" and isinstance(container, dict):
            container[draw(st.sampled_from(KEYS))] = draw(json_values)
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _storable(text: object) -> None:
    assert isinstance(text, str)
    text.encode("utf-8")  # no lone surrogate: the database and spaCy take it


def _read(target: str, path: Path, data: bytes) -> None:
    path.write_bytes(data)
    outcome = keeps_contract(target, lambda: read_transcript(path))
    if isinstance(outcome, TranscriptError):
        assert str(outcome).startswith(f"{path}: "), outcome
        return
    assert isinstance(outcome, Transcript), outcome
    assert 1 <= len(outcome.turns) <= MAX_TURNS
    assert sum(len(turn.text) for turn in outcome.turns) <= MAX_CALL_CHARS
    for turn in outcome.turns:
        _storable(turn.speaker)
        _storable(turn.text)
        assert turn.text.strip() and turn.speaker.strip() and turn.role in ROLES
        for value in (turn.start, turn.end):
            assert value is None or math.isfinite(value)
        if turn.start is not None and turn.end is not None:
            assert turn.start <= turn.end
    _storable(json.dumps(outcome.to_dict(), ensure_ascii=False, default=str))


@fuzz_settings
@given(data=inputs(TXT.encode()))
def test_reader_txt(work: Path, data: bytes) -> None:
    _read("reader: txt", work / "call.txt", data)


@fuzz_settings
@given(data=inputs(MD.encode()))
def test_reader_md(work: Path, data: bytes) -> None:
    _read("reader: md", work / "call.md", data)


@fuzz_settings
@given(data=inputs(SRT.encode()))
def test_reader_srt(work: Path, data: bytes) -> None:
    _read("reader: srt", work / "call.srt", data)


@fuzz_settings
@given(data=inputs(VTT.encode()))
def test_reader_vtt(work: Path, data: bytes) -> None:
    _read("reader: vtt", work / "call.vtt", data)


@pytest.mark.parametrize("shape", JSON_SHAPES)
@fuzz_settings
@given(data=st.data())
def test_reader_json(work: Path, shape: str, data: st.DataObject) -> None:
    document = JSON_SHAPES[shape]
    seed = json.dumps(document, indent=1).encode()  # "\ud800" is written escaped
    drawn = data.draw(st.one_of(inputs(seed), reshaped(document), reshaped(document)))
    _read(f"reader: {shape}", work / "call.json", drawn)


@fuzz_settings
@given(data=inputs(SIDECAR))
def test_sidecar(work: Path, data: bytes) -> None:
    path = work / "call.meta.json"
    path.write_bytes(data)
    values, problem = keeps_contract("sidecar", lambda: read_sidecar(path))
    for value in values.values():
        _storable(value)
    if values.get("call_id"):
        assert CALL_ID.fullmatch(values["call_id"]) and ".." not in values["call_id"]
    if problem is not None:
        assert problem.path == str(path) and "\n" not in problem.reason, problem


@fuzz_settings
@given(data=inputs(MANIFEST))
def test_manifest(work: Path, data: bytes) -> None:
    path = work / "calls.csv"
    path.write_bytes(data)
    rows, problems = keeps_contract("manifest", lambda: read_manifest(path))
    for name, values in rows.items():
        _storable(name)
        for value in values.values():
            _storable(value)
        if values.get("call_id"):
            assert CALL_ID.fullmatch(values["call_id"]) and ".." not in values["call_id"]
    for problem in problems:
        assert problem.path.startswith(str(path)) and "\n" not in problem.reason, problem
