from pathlib import Path

import pytest

from analyzer.config import Config, load_config
from analyzer.errors import ConfigError
from analyzer.runs.batch import run_batch

from conftest import MINI_RUBRIC
from helpers import TEXT_CALL

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == Config()
    assert config.store.database == Path("calls.db")
    assert config.transcription.backend == "faster-whisper"


def test_file_in_working_directory_with_paths_relative_to_it(tmp_path, monkeypatch):
    (tmp_path / "analyzer.toml").write_text(
        '[store]\ndatabase = "data/calls.db"\n'
        '[grading]\nrubric = "forms/default.yaml"\n'
        '[grading.rubrics]\nclosing = "forms/closing.yaml"\n'
        '[transcription]\nbackend = "openai-whisper"\nrep_channel = "right"\n'
        '[batch]\nfilename_pattern = "{rep}-{date}-{id}"\nworkers = 3\n'
    )
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.store.database == tmp_path / "data/calls.db"
    assert config.grading.rubrics == {"closing": tmp_path / "forms/closing.yaml"}
    assert config.grading.rubric == tmp_path / "forms/default.yaml"
    assert config.transcription.rep_channel == "right"
    assert config.transcription.model_dir == tmp_path / "models"
    assert (config.batch.filename_pattern, config.batch.workers) == ("{rep}-{date}-{id}", 3)
    assert config.grading.semantic_layers == 2  # the layers the shipped calibration is fitted for


def test_semantic_layers_are_read_and_checked(tmp_path):
    path = tmp_path / "analyzer.toml"
    path.write_text('[grading]\nsemantic_model = "minilm"\nsemantic_layers = 0\n')
    grading = load_config(path).grading
    assert (grading.semantic_model, grading.semantic_layers) == (tmp_path / "minilm", 0)
    path.write_text("[grading]\nsemantic_layers = -1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: grading.semantic_layers: Input should be greater than or equal to 0"
    )


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "analyzer.toml"
    path.write_text(
        '[store]\ndatabse = "x.db"\n[transcription]\nbeam_size = 0\n[batch]\nworkers = "many"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "store.databse: unknown key" in message
    assert "transcription.beam_size: Input should be greater than or equal to 1" in message
    assert "batch.workers: Input should be a valid integer" in message
    assert "\n" not in message


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[store\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        load_config(tmp_path / "nope.toml")


def test_call_type_picks_its_rubric_in_the_batch(tmp_path):
    night = tmp_path / "night"
    night.mkdir()
    (night / "2026-11-23_alex_1.txt").write_text(TEXT_CALL)
    (night / "2026-11-23_alex_2.txt").write_text(TEXT_CALL + "[00:40] Alex: Bye now.\n")
    (night / "calls.csv").write_text(
        "file,call_type\n2026-11-23_alex_1.txt,prospecting\n2026-11-23_alex_2.txt,closing\n"
    )
    (tmp_path / "mini.yaml").write_text(MINI_RUBRIC)
    (tmp_path / "closing.yaml").write_text(MINI_RUBRIC.replace("rubric: mini", "rubric: closing"))
    (tmp_path / "analyzer.toml").write_text(
        '[grading]\nrubric = "mini.yaml"\n[grading.rubrics]\nclosing = "closing.yaml"\n'
        '[transcription]\ncache_dir = "cache"\n'
    )
    config = load_config(tmp_path / "analyzer.toml")
    report = run_batch([night], config, tmp_path / "calls.db", workers=1)
    assert len(report.graded) == 2
    import sqlite3

    with sqlite3.connect(tmp_path / "calls.db") as conn:
        rows = conn.execute("select call_id, rubric from grades order by call_id").fetchall()
    assert rows == [("2026-11-23_alex_1", "mini"), ("2026-11-23_alex_2", "closing")]
