"""A small review database shared by the review, queue, web and browser tests.

`seed_review_db(path)` stores four graded calls by two reps (one with a recording beside the
database) and four users; PASSWORD signs any of them in.
"""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

from analyzer.grading.grade import grade_call
from analyzer.grading.rubric import Rubric
from analyzer.review.users import add_user
from analyzer.store import CallRecord, Store

from helpers import GOOD_CALL, make_call

PASSWORD = "correct horse battery"

# Alex forgets to ask for a meeting (critical) and pushes a deadline (forbidden).
WEAK_CALL = [
    ("Alex", "Hi Dana, this is Alex from Acme Solutions. Is now a bad time?"),
    ("Dana", "No, go ahead."),
    ("Alex", "How are you handling scheduling today?"),
    ("Dana", "Spreadsheets. It's a real headache for us."),
    ("Alex", "This offer expires today, so think it over."),
    ("Dana", "I'll think about it."),
]

# Sam, a second rep, with a decent call.
SAM_CALL = [
    ("Sam", "Hi Lee, this is Sam from Acme Solutions. Have you got two minutes?"),
    ("Lee", "Sure."),
    ("Sam", "How are you handling scheduling today? What is the biggest challenge with that?"),
    ("Lee", "It's a real headache for us."),
    ("Sam", "How many reps are on the team?"),
    ("Lee", "Eight."),
    ("Sam", "Can we book a demo on Thursday at ten?"),
    ("Lee", "Thursday works."),
]


@dataclass(frozen=True)
class Seeded:
    db: Path
    audio: Path  # the recording registered for call "alex-good"
    calls: tuple[str, ...] = ("alex-good", "alex-weak", "sam-good", "sam-text")


def write_tone(path: Path, seconds: float = 90.0, rate: int = 8000) -> Path:
    """A mono 16-bit WAV tone: a recording any browser can play and seek."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = bytearray()
        for n in range(int(seconds * rate)):
            frames += struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * n / rate)))
        out.writeframes(bytes(frames))
    return path


def seed_review_db(db: Path, rubric: Rubric) -> Seeded:
    """Four graded calls and four users (maria manager, ada admin, alex and sam reps)."""
    audio = write_tone(db.parent / "alex-good.wav")
    calls = [
        ("alex-good", GOOD_CALL, "Alex", "2026-11-25", "alex-good.wav"),
        ("alex-weak", WEAK_CALL, "Alex", "2026-11-24", None),
        ("sam-good", SAM_CALL, "Sam", "2026-11-25", None),
        ("sam-text", SAM_CALL[:4], "Sam", "2026-11-23", None),
    ]
    with Store.open(db) as store:
        for call_id, lines, rep, day, recording in calls:
            transcript = make_call(
                lines, call_id=call_id, rep=rep, started_at=f"{day}T10:00:00", step=5.0
            )
            grade = grade_call(transcript, rubric)
            record = CallRecord(
                call_id=call_id,
                content_hash=f"hash-{call_id}",
                source_path=f"{call_id}.json",
                audio_path=recording,
                rep=rep,
                call_date=day,
            )
            store.save_call(record, transcript, grade)
        add_user(store, "maria", "manager", PASSWORD)
        add_user(store, "ada", "admin", PASSWORD)
        add_user(store, "alex", "rep", PASSWORD, rep_name="Alex")
        add_user(store, "sam", "rep", PASSWORD, rep_name="Sam")
    return Seeded(db=db, audio=audio)
