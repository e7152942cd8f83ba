"""JSON transcripts: the project's own shape, Whisper / WhisperX, Azure conversation items,
Amazon Transcribe (standard and Call Analytics) and "segments" lists (Harper Valley style)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyzer.errors import TranscriptError
from analyzer.registry import Registry
from analyzer.transcripts.readers._common import (
    build,
    default_call_id,
    finish_turns,
    language_code,
    merge_turns,
    number,
    parse_json,
    role_for,
    valid_text,
)
from analyzer.transcripts.transcript import Transcript, Turn, transcript_from_dict

MERGE_GAP = 2.0  # seconds of silence under which one speaker's segments join into one turn

EXPECTED_SHAPES = (
    'expected project JSON with "turns", Whisper JSON with "segments", Azure '
    '"conversationItems", AWS Transcribe "results" or "SpeechSegments", '
    "or a list of segments with speaker and text"
)
_SEGMENT_KEYS = frozenset(
    {
        "speaker_role",
        "role",
        "human_transcript",
        "asr_transcript",
        "transcript",
        "start_ms",
        "duration_ms",
        "end_ms",
    }
)


def load_json(text: str, path: Path) -> Any:
    try:
        return parse_json(text)
    except ValueError as e:  # the parser's own error is the cause
        raise TranscriptError(path, str(e)) from (e.__cause__ or e)


def _obj(value: Any) -> dict[str, Any]:
    """value when it is a JSON object, else an empty one (a document of the wrong shape)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """value when it is a JSON list, else an empty one."""
    return value if isinstance(value, list) else []


def json_shape(data: Any) -> str | None:
    """Which reader a parsed JSON document belongs to, or None when it is none of them."""
    if isinstance(data, list):
        items = [item for item in data if isinstance(item, dict)]
        if not items:
            return None
        if any("participantId" in item for item in items):
            return "azure-conversation"
        if any("speaker" in item or _SEGMENT_KEYS & item.keys() for item in items):
            return "segments-json"
        return "whisper-json" if any("start" in i and "text" in i for i in items) else None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("turns"), list):
        return "json"
    if "SpeechSegments" in data or isinstance(data.get("Transcript"), list):
        return "aws-transcribe"
    results = data.get("results")
    if isinstance(results, dict) and ("items" in results or "transcripts" in results):
        return "aws-transcribe"
    if "analysisInput" in data or "conversationItems" in data:
        return "azure-conversation"
    segments = data.get("segments")
    if isinstance(segments, list):
        items = [s for s in segments if isinstance(s, dict)]
        if any(_SEGMENT_KEYS & s.keys() for s in items):
            return "segments-json"
        return "whisper-json"
    if _is_call_metadata(data):
        return "segments-json"
    return None


def _is_call_metadata(data: Any) -> bool:
    return isinstance(data, dict) and bool({"agent", "caller"} & data.keys() or "sid" in data)


def _unrecognised(data: Any, path: Path) -> TranscriptError:
    if _is_call_metadata(data):
        return TranscriptError(path, "call metadata, not a transcript (no turns)")
    return TranscriptError(path, f"unrecognised JSON transcript ({EXPECTED_SHAPES})")


def _dict(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _unrecognised(data, path)
    return data


# --- project JSON --------------------------------------------------------------------------


def read_project_json(text: str, path: Path) -> Transcript:
    data = load_json(text, path)
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise _unrecognised(data, path)
    try:
        transcript = transcript_from_dict(data, default_call_id(path))
    except (ValueError, TypeError) as e:
        raise TranscriptError(path, str(e)) from e
    for i, turn in enumerate(transcript.turns):
        if turn.start is not None and turn.end is not None and turn.end < turn.start:
            raise TranscriptError(
                path, f"turn {i + 1}: end {turn.end:g} is before start {turn.start:g}"
            )
    transcript.turns = finish_turns(transcript.turns, infer_roles=False)
    if not transcript.turns:
        raise TranscriptError(path, "no turns found (empty transcript)")
    transcript.source = {**transcript.source, "format": "json", "path": valid_text(str(path))}
    return transcript


# --- Whisper / WhisperX --------------------------------------------------------------------


def _segment_list(data: Any, path: Path) -> list[Any]:
    """A bare list of segments, or the `segments` list of an object."""
    segments = data if isinstance(data, list) else _dict(data, path).get("segments")
    if not isinstance(segments, list):
        raise _unrecognised(data, path)
    return segments


def read_whisper_json(text: str, path: Path) -> Transcript:
    data = load_json(text, path)
    segments = _segment_list(data, path)
    turns = []
    for seg in segments:
        if not isinstance(seg, dict):
            continue
        turns.append(
            Turn(
                speaker=_first(seg, ("speaker",)) or "Speaker 1",
                text=str(seg.get("text") or ""),
                start=number(seg.get("start")),
                end=number(seg.get("end")),
            )
        )
    if not turns and isinstance(data, dict) and isinstance(data.get("text"), str):
        turns.append(Turn(speaker="Speaker 1", text=data["text"]))
    language = language_code(data.get("language")) if isinstance(data, dict) else "en"
    turns = merge_turns(finish_turns(turns), max_gap=MERGE_GAP)
    return build(turns, path, "whisper-json", language=language)


# --- Azure AI Language conversation items -------------------------------------------------


def read_azure(text: str, path: Path) -> Transcript:
    data = load_json(text, path)
    items: Any = data
    language = "en"
    metadata: dict[str, Any] = {}
    if isinstance(data, dict):
        items = data.get("conversationItems")
        conversations = _obj(data.get("analysisInput")).get("conversations")
        if items is None and isinstance(conversations, list):
            found = [c for c in conversations if isinstance(c, dict) and c.get("conversationItems")]
            if found:
                items = found[0]["conversationItems"]
                language = language_code(found[0].get("language"))
                if found[0].get("id"):
                    metadata["conversation_id"] = str(found[0]["id"])
                if len(found) > 1:
                    metadata["conversations_in_file"] = len(found)
        language = language_code(data.get("language"), language)
    if not isinstance(items, list):
        raise _unrecognised(data, path)
    turns = []
    for item in items:
        if not isinstance(item, dict):
            continue
        speaker = str(item.get("participantId") or item.get("role") or "Unknown")
        said = next((item[k] for k in ("text", "itn", "lexical") if item.get(k)), "")
        role = role_for(str(item.get("role") or "")) if item.get("role") else "unknown"
        turns.append(Turn(speaker=speaker, text=str(said), role=role))
    return build(
        finish_turns(turns), path, "azure-conversation", language=language, metadata=metadata
    )


# --- Amazon Transcribe ---------------------------------------------------------------------


def read_aws(text: str, path: Path) -> Transcript:
    data = _dict(load_json(text, path), path)
    if "SpeechSegments" in data:
        return _aws_call_analytics(data, path)
    if isinstance(data.get("Transcript"), list):
        return _aws_analytics_job(data, path)
    results = data.get("results")
    if not isinstance(results, dict):
        raise _unrecognised(data, path)
    turns = _aws_items(results)
    if not turns:
        for entry in _list(results.get("transcripts")):
            if isinstance(entry, dict) and entry.get("transcript"):
                turns.append(Turn(speaker="Speaker 1", text=str(entry["transcript"])))
    metadata = {"job_name": str(data["jobName"])} if data.get("jobName") else {}
    language = language_code(results.get("language_code") or data.get("language_code"))
    return build(finish_turns(turns), path, "aws-transcribe", language=language, metadata=metadata)


def _aws_call_analytics(data: dict[str, Any], path: Path) -> Transcript:
    """Post Call Analytics output: SpeechSegments with SegmentSpeaker spk_N."""
    analytics = _obj(data.get("ConversationAnalytics"))
    names = {
        str(label.get("Speaker")): str(label.get("DisplayText"))
        for label in _list(analytics.get("SpeakerLabels"))
        if isinstance(label, dict) and label.get("DisplayText")
    }
    turns = []
    for seg in _list(data.get("SpeechSegments")):
        if not isinstance(seg, dict):
            continue
        label = str(seg.get("SegmentSpeaker") or "Unknown")
        turns.append(
            Turn(
                speaker=names.get(label, label),
                text=str(seg.get("DisplayText") or seg.get("OriginalText") or ""),
                start=number(seg.get("SegmentStartTime")),
                end=number(seg.get("SegmentEndTime")),
            )
        )
    started = analytics.get("ConversationTime")
    started_at = None
    if isinstance(started, str):
        try:
            started_at = datetime.fromisoformat(started).isoformat()
        except ValueError:
            started_at = None
    agent = analytics.get("Agent")
    return build(
        merge_turns(finish_turns(turns), max_gap=MERGE_GAP),
        path,
        "aws-transcribe",
        language=language_code(analytics.get("LanguageCode")),
        duration=number(analytics.get("Duration")),
        started_at=started_at,
        metadata={"agent": agent} if agent and agent != "None" else {},
    )


def _aws_analytics_job(data: dict[str, Any], path: Path) -> Transcript:
    """Transcribe Call Analytics job output: Transcript[] with ParticipantRole AGENT/CUSTOMER."""
    turns = []
    for seg in data["Transcript"]:
        if not isinstance(seg, dict):
            continue
        role = str(seg.get("ParticipantRole") or "Unknown").title()
        start, end = number(seg.get("BeginOffsetMillis")), number(seg.get("EndOffsetMillis"))
        turns.append(
            Turn(
                speaker=role,
                text=str(seg.get("Content") or ""),
                start=None if start is None else start / 1000,
                end=None if end is None else end / 1000,
            )
        )
    language = language_code(data.get("LanguageCode"))
    turns = merge_turns(finish_turns(turns), max_gap=MERGE_GAP)
    return build(turns, path, "aws-transcribe", language=language)


@dataclass
class _Word:
    start: float | None
    end: float | None
    speaker: str
    content: str
    punctuation: bool
    channel: int | None


def _aws_items(results: dict[str, Any]) -> list[Turn]:
    """Standard job output: words in results.items, grouped into turns by speaker or channel."""
    words: list[_Word] = []
    channels = _obj(results.get("channel_labels")).get("channels")
    if isinstance(channels, list) and channels:
        groups: list[list[_Word]] = []  # a word with the punctuation that follows it
        for channel in channels:
            if not isinstance(channel, dict):
                continue
            label = str(channel.get("channel_label") or "ch_0")
            digits = "".join(ch for ch in label if ch in "0123456789")
            index = int(digits) if 0 < len(digits) <= 4 else None  # "ch_1"; not 5,000 digits
            for item in _list(channel.get("items")):
                word = _word(item, label, index)
                if word.punctuation and groups:
                    groups[-1].append(word)
                else:
                    groups.append([word])
        groups.sort(key=lambda group: group[0].start if group[0].start is not None else 0.0)
        words = [word for group in groups for word in group]
    else:
        speakers = _speaker_map(results)
        last = "Speaker 1"
        for item in _list(results.get("items")):
            if isinstance(item, dict):
                label = item.get("speaker_label") or speakers.get(str(item.get("start_time")))
                last = str(label or last)
                words.append(_word(item, last, None))
    turns: list[Turn] = []
    for word in words:
        if not word.content:
            continue
        if turns and (word.punctuation or turns[-1].speaker == word.speaker):
            turn = turns[-1]
            turn.text += word.content if word.punctuation else f" {word.content}"
            turn.end = word.end if word.end is not None else turn.end
        elif not word.punctuation:
            turns.append(
                Turn(word.speaker, word.content, word.start, word.end, channel=word.channel)
            )
    return turns


def _word(item: Any, speaker: str, channel: int | None) -> _Word:
    if not isinstance(item, dict):
        return _Word(None, None, speaker, "", False, channel)
    alternatives = item.get("alternatives") or [{}]
    first = alternatives[0] if isinstance(alternatives, list) and alternatives else {}
    content = str(first.get("content") or "") if isinstance(first, dict) else ""
    return _Word(
        number(item.get("start_time")),
        number(item.get("end_time")),
        speaker,
        content,
        item.get("type") == "punctuation",
        channel,
    )


def _speaker_map(results: dict[str, Any]) -> dict[str, str]:
    """start_time -> speaker_label from results.speaker_labels.segments[].items[]."""
    mapping: dict[str, str] = {}
    for segment in _list(_obj(results.get("speaker_labels")).get("segments")):
        if not isinstance(segment, dict):
            continue
        for item in _list(segment.get("items")):
            if isinstance(item, dict) and item.get("speaker_label"):
                mapping[str(item.get("start_time"))] = str(item["speaker_label"])
    return mapping


# --- segments lists (Harper Valley and similar) --------------------------------------------


def read_segments_json(text: str, path: Path) -> Transcript:
    data = load_json(text, path)
    segments = _segment_list(data, path)
    sid = str(data.get("sid") or "") if isinstance(data, dict) else ""
    names, fields = _sibling_metadata(path, sid or path.name.split(".")[0])
    turns = []
    for seg in segments:
        if not isinstance(seg, dict):
            continue
        label = _first(seg, ("speaker", "speaker_role", "role")) or "Speaker 1"
        generic = label.strip().lower()
        speaker = label.title() if generic in {"agent", "caller", "customer", "rep"} else label
        role = role_for(speaker)
        speaker = names.get(role, speaker) if role != "unknown" else speaker
        said = _first(seg, ("human_transcript", "asr_transcript", "text", "transcript")) or ""
        start, end = _segment_times(seg)
        turns.append(Turn(speaker=speaker, text=str(said), start=start, end=end, role=role))
    turns = merge_turns(finish_turns(turns), max_gap=MERGE_GAP)
    if sid:
        fields["metadata"]["external_id"] = sid
    return build(turns, path, "segments-json", **fields)


def _first(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of keys with a non-blank value, as text (0 counts: speaker 0)."""
    for key in keys:
        value = item.get(key)
        if value is not None and not isinstance(value, dict | list) and str(value).strip():
            return str(value)
    return None


def _segment_times(seg: dict[str, Any]) -> tuple[float | None, float | None]:
    start_ms, end_ms = number(seg.get("start_ms")), number(seg.get("end_ms"))
    duration_ms = number(seg.get("duration_ms"))
    if start_ms is not None:
        start = start_ms / 1000
        if end_ms is not None:
            return start, end_ms / 1000
        return start, None if duration_ms is None else (start_ms + duration_ms) / 1000
    start, end = number(seg.get("start")), number(seg.get("end"))
    duration = number(seg.get("duration"))
    if end is None and start is not None and duration is not None:
        end = start + duration
    return start, end


def _sibling_metadata(path: Path, sid: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Names from a Harper Valley `<sid>.metadata.json` beside the transcript, if any."""
    names: dict[str, str] = {}
    fields: dict[str, Any] = {"metadata": {}}
    sibling = path.parent / f"{sid}.metadata.json"
    if not sid or Path(sid).name != sid or sibling == path:  # "../x" names no sibling
        return names, fields
    try:
        meta = parse_json(sibling.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return names, fields
    if not isinstance(meta, dict):
        return names, fields
    agent = _obj(_obj(meta.get("agent")).get("metadata")).get("agent_name")
    caller = _obj(_obj(meta.get("caller")).get("metadata")).get("first and last name")
    if isinstance(agent, str) and agent.strip():
        names["rep"] = agent.strip()
        fields["rep"] = agent.strip()
    if isinstance(caller, str) and caller.strip():
        names["customer"] = caller.strip()
        fields["metadata"]["customer"] = caller.strip()
    start_ms = number(meta.get("start_time_ms"))
    if start_ms is not None:
        with contextlib.suppress(OverflowError, OSError, ValueError):
            fields["started_at"] = datetime.fromtimestamp(start_ms / 1000, UTC).isoformat()
    return names, fields


READERS_JSON: Registry[Callable[[str, Path], Transcript]] = Registry(
    "JSON transcript format",
    {
        "json": read_project_json,
        "whisper-json": read_whisper_json,
        "azure-conversation": read_azure,
        "aws-transcribe": read_aws,
        "segments-json": read_segments_json,
    },
)
