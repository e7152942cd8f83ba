"""Finding calls on disk: sidecars, manifests and call ids that a URL, a file name and the
database can hold as they are."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.config import Config, GradingConfig
from analyzer.runs.batch import run_batch
from analyzer.runs.discover import (
    CALL_ID_MAX,
    Problem,
    discover_calls,
    read_manifest,
    read_sidecar,
    safe_call_id,
)
from analyzer.speech.settings import TranscribeSettings

ROOT = Path(__file__).resolve().parents[1]
CALL = "Alice: Hi, this is Alice from Acme.\nBob: Hello Alice.\n"
SAFE = r"[\w][\w.\-]*"  # what a call id may be (with no "..", at most CALL_ID_MAX long)


def folder_with(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return tmp_path


def found(folder: Path) -> tuple[dict[str, dict[str, str]], list[tuple[str, str]]]:
    """Each call's metadata by file name, and every problem as (path, reason)."""
    calls, problems = discover_calls([folder])
    by_name = {call.path.name: call.metadata for call in calls}
    return by_name, [(p.path, p.reason) for p in problems]


# --- call ids ------------------------------------------------------------------------------


def test_an_unsafe_call_id_from_a_sidecar_is_slugged_and_reported(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path, {"a.txt": CALL, "a.meta.json": json.dumps({"call_id": "../../x?y=1#<b>"})}
    )
    calls, problems = found(folder)
    assert calls["a.txt"]["call_id"] == "x-y-1-b"
    assert problems == [
        (
            str(folder / "a.meta.json"),
            'call id \'../../x?y=1#<b>\' may hold only letters, digits, ".", "_" and "-": '
            "used as 'x-y-1-b'",
        )
    ]


def test_a_call_id_with_nothing_left_is_not_used(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"a.txt": CALL, "a.meta.json": '{"call_id": "../??"}'})
    calls, problems = found(folder)
    assert calls["a.txt"]["call_id"] == "a"  # the file name's
    assert problems == [
        (str(folder / "a.meta.json"), "call id '../??' has no letters or digits, so it is not used")
    ]


def test_an_unsafe_file_name_gives_a_slugged_call_id(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"d?x#1.txt": CALL, "é.txt": CALL})
    calls, problems = found(folder)
    assert calls["d?x#1.txt"]["call_id"] == "d-x-1"
    assert calls["é.txt"]["call_id"] == "é"  # letters of any script are letters
    assert problems == [
        (
            str(folder / "d?x#1.txt"),
            'the file name\'s call id \'d?x#1\' may hold only letters, digits, ".", "_" and '
            "\"-\": used as 'd-x-1'",
        )
    ]


def test_a_file_name_that_gives_no_call_id_is_refused(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"#!.txt": CALL, "ok.txt": CALL})
    calls, problems = found(folder)
    assert list(calls) == ["ok.txt"]
    assert problems == [
        (
            str(folder / "#!.txt"),
            "the file name's call id '#!' has no letters or digits, so it is not used; "
            "give the call a call_id in a sidecar or the manifest",
        )
    ]


def test_a_call_id_from_the_manifest_is_slugged_with_its_line(tmp_path: Path) -> None:
    manifest = "file,call_id\na.txt,night-1\nb.txt,night 2/b\n"
    folder = folder_with(tmp_path, {"a.txt": CALL, "b.txt": CALL, "calls.csv": manifest})
    calls, problems = found(folder)
    assert (calls["a.txt"]["call_id"], calls["b.txt"]["call_id"]) == ("night-1", "night-2-b")
    assert problems == [
        (
            f"{folder / 'calls.csv'}:3",
            'call id \'night 2/b\' may hold only letters, digits, ".", "_" and "-": '
            "used as 'night-2-b'",
        )
    ]


def test_the_samples_keep_their_call_ids() -> None:
    calls, problems = discover_calls([ROOT / "samples"])
    assert problems == []
    assert sorted(c.metadata["call_id"] for c in calls) == sorted(
        c.path.name.split(".")[0] for c in calls
    )


@pytest.mark.slow
def test_the_night_stores_the_slugged_call_id(tmp_path: Path) -> None:
    (tmp_path / "night").mkdir()
    night = {"a.txt": CALL, "a.meta.json": '{"call_id": "../../x?y=1#<b>"}'}
    folder = folder_with(tmp_path / "night", night)
    config = Config(
        grading=GradingConfig(rubric=ROOT / "rubrics" / "inside-sales.yaml"),
        transcription=TranscribeSettings(cache_dir=None),
    )
    report = run_batch([folder], config, tmp_path / "calls.db", workers=1)
    with sqlite3.connect(tmp_path / "calls.db") as conn:
        assert conn.execute("select call_id from calls").fetchall() == [("x-y-1-b",)]
    assert [path for path, _ in report.failed] == [str(folder / "a.meta.json")]


@given(st.text(max_size=300))
def test_every_call_id_is_safe(wanted: str) -> None:
    safe = safe_call_id(wanted)
    assert safe == "" or (
        re.fullmatch(SAFE, safe) and ".." not in safe and len(safe) <= CALL_ID_MAX
    )
    assert safe_call_id(safe) == safe


@pytest.mark.parametrize("wanted", ["2026-11-23_alice_0001", "CALL.7", "a_b-c", "Zoë-1"])
def test_safe_call_ids_are_kept(wanted: str) -> None:
    assert safe_call_id(wanted) == wanted


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (".hidden", "hidden"),
        ("-x", "x"),
        ("a..b", "a-b"),
        ("x" * 150, "x" * CALL_ID_MAX),
        ("caf\udce9", "caf"),  # a file name Python could not decode
        ("e\u0301", "é"),  # the decomposed form macOS gives file names
    ],
)
def test_call_ids_slugged(wanted: str, expected: str) -> None:
    assert safe_call_id(wanted) == expected


# --- sidecars ------------------------------------------------------------------------------


def test_lone_surrogates_in_a_sidecar_become_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "a.meta.json"
    path.write_text('{"rep": "Rep\\ud800", "customer": "Acme \\udfff Ltd", "outcome": "won"}')
    values, problem = read_sidecar(path)
    assert values == {"rep": "Rep\ufffd", "customer": "Acme \ufffd Ltd", "outcome": "won"}
    assert problem is None
    for value in values.values():
        value.encode("utf-8")


def test_a_sidecar_in_cp1252_or_utf16_is_read(tmp_path: Path) -> None:
    for encoding in ("cp1252", "utf-16"):
        path = tmp_path / f"{encoding}.meta.json"
        path.write_bytes('{"rep": "Zoë"}'.encode(encoding))
        assert read_sidecar(path) == ({"rep": "Zoë"}, None)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[" * 100_000, "unreadable call metadata: too deeply nested to read"),
        (
            b'{"rep": ',
            "unreadable call metadata: invalid JSON at line 1, column 9: Expecting value",
        ),
        (b"[1, 2]", "unreadable call metadata: not a JSON object"),
        (
            b'{"rep": 1' + b"0" * 5000 + b"}",
            "unreadable call metadata: invalid JSON: a number has too many digits",
        ),
        (
            b'{"rep": {"name": "Al"}, "date": "soon"}',
            "rep is not a text or a number; date 'soon' is not a date (use YYYY-MM-DD)",
        ),
        (b'{"customer": 1e999}', "customer is not a text or a number"),
    ],
)
def test_sidecar_problems_in_a_users_words(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "a.meta.json"
    path.write_bytes(content)
    assert read_sidecar(path)[1] == Problem(str(path), reason)


def test_an_unreadable_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "a.meta.json"
    path.write_text("{}")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who reads any file")
    assert read_sidecar(path) == (
        {},
        Problem(str(path), "unreadable call metadata (Permission denied)"),
    )


# --- manifests -----------------------------------------------------------------------------


def test_a_manifest_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes("file,rep\na.txt,Zoë Brontë\n".encode("cp1252"))
    rows, problems = read_manifest(path)
    assert rows["a.txt"]["rep"] == "Zoë Brontë" and problems == []


@pytest.mark.parametrize(
    ("content", "where", "reason"),
    [
        (b"\x00\x01\x02\x03" * 50, "", "cannot read the manifest: not a CSV file (binary data)"),
        (
            b"file,rep\na.txt,Al\nb.txt," + b"x" * 200_000 + b"\n",
            ":3",
            "cannot read the manifest: a field is longer than 131,072 characters",
        ),
        (
            b"name,rep\na.txt,Al\n",
            "",
            "no file column (expected one of: file, path, audio, transcript, recording)",
        ),
    ],
)
def test_manifest_problems_in_a_users_words(
    tmp_path: Path, content: bytes, where: str, reason: str
) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(content)
    assert read_manifest(path)[1][-1] == Problem(f"{path}{where}", reason)
