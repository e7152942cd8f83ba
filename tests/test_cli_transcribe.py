"""`analyzer transcribe` and `analyzer score` on recordings, end to end on tiny random models.

With random weights the words are noise; the timeline, the roles from the channels, the files
written, the cache and the error handling are what is checked.
"""

import json

import pytest
from click.testing import CliRunner
from synth import NO_VOICE, have_voice, synthesise_call
from tiny_models import build_tiny_faster_whisper, build_tiny_whisper

from analyzer.cli import main
from analyzer.transcripts.transcript import Turn

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_voice(), reason=NO_VOICE),
]

SCRIPT = [
    Turn("Alex", "Hi, this is Alex from Acme Solutions. Is now a bad time?", role="rep"),
    Turn("Dana", "No, go ahead, I have a couple of minutes.", role="customer"),
    Turn("Alex", "How are you handling scheduling today?", role="rep"),
    Turn("Dana", "Mostly spreadsheets, and it is a real headache.", role="customer"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-asr")
    models = root / "models"
    build_tiny_whisper(models / "tiny-random.pt")
    build_tiny_faster_whisper(models / "faster-whisper-tiny-random")
    call = root / "2026-11-25_alex_0001.wav"
    truth = synthesise_call(SCRIPT, call)
    return root, models, call, truth


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.mark.parametrize("backend", ["faster-whisper", "openai-whisper"])
def test_transcribe_writes_a_transcript_with_roles_from_channels(setup, tmp_path, backend):
    _root, models, call, truth = setup
    out = tmp_path / "out"
    result = run(
        "transcribe",
        call,
        "--backend",
        backend,
        "--model",
        "tiny-random",
        "--model-dir",
        models,
        "--beam-size",
        "1",
        "--out",
        out,
        "--no-cache",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{call} -> {out / '2026-11-25_alex_0001.json'}: ")
    data = json.loads((out / "2026-11-25_alex_0001.json").read_text())
    assert data["call_id"] == "2026-11-25_alex_0001" and data["audio"] == str(call)
    src = data["source"]
    assert (src["backend"], src["model"], src["channels"]) == (backend, "tiny-random", 2)
    assert src["speech_seconds"] / src["channel_seconds"] <= 0.6
    for turn in data["turns"]:  # each turn lies inside speech of its own party
        assert turn["role"] == ("rep" if turn["channel"] == 0 else "customer")
        said = [t for t in truth if t.channel == turn["channel"]]
        assert any(t.start - 0.5 <= turn["start"] and turn["end"] <= t.end + 0.5 for t in said)
    starts = [t["start"] for t in data["turns"]]
    assert starts == sorted(starts)


def test_bad_recordings_fail_one_by_one_and_the_rest_is_written(setup, tmp_path):
    _root, models, call, _ = setup
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    out = tmp_path / "out"
    result = run(
        "transcribe",
        empty,
        call,
        text,
        tmp_path / "missing.wav",
        "--model",
        "tiny-random",
        "--model-dir",
        models,
        "--beam-size",
        "1",
        "--out",
        out,
        "--no-cache",
    )
    assert result.exit_code == 1
    assert f"Error: {empty}: empty file (0 bytes)" in result.stderr
    assert f"Error: {text}: not an audio file (could not be decoded)" in result.stderr
    assert f"Error: {tmp_path / 'missing.wav'}: no such file" in result.stderr
    assert "Transcribed 1 of 4 recordings." in result.stdout
    assert (out / "2026-11-25_alex_0001.json").exists()
    assert "Traceback" not in result.output


def test_missing_model_offline_is_one_message(setup, tmp_path):
    _, _, call, _ = setup
    env = {
        "HF_HUB_OFFLINE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HF_HOME": str(tmp_path / "hf"),
    }
    result = run(
        "transcribe",
        call,
        "--backend",
        "openai-whisper",
        "--model",
        "base.en",
        "--model-dir",
        tmp_path / "models",
        "--out",
        tmp_path / "out",
        "--no-cache",
        env=env,
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no openai-whisper model 'base.en'")
    assert "base.en.pt" in lines[0] and "models/README.md" in lines[0]


def test_score_accepts_a_recording_and_reuses_its_transcript(setup, tmp_path):
    _root, models, call, _ = setup
    args = [
        "score",
        call,
        "--model",
        "tiny-random",
        "--model-dir",
        models,
        "--beam-size",
        "1",
        "--cache-dir",
        tmp_path / "cache",
        "--format",
        "json",
    ]
    first = run(*args)
    assert first.exit_code == 0, first.output
    grade = json.loads(first.stdout)
    assert grade["call_id"] == "2026-11-25_alex_0001" and grade["rep_source"] == "transcript"
    cached = list((tmp_path / "cache").rglob("*.json"))
    assert len(cached) == 1
    second = run(*args)
    assert json.loads(second.stdout)["grade"] == grade["grade"]
    assert list((tmp_path / "cache").rglob("*.json")) == cached
