import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main

from conftest import MINI_RUBRIC
from helpers import TEXT_CALL

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "mini.yaml").write_text(MINI_RUBRIC)
    (tmp_path / "good.txt").write_text(TEXT_CALL)
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_score_table_shows_phases_items_evidence_and_grade(files):
    result = run("score", files / "good.txt", "--rubric", files / "mini.yaml")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("=== good ")
    assert "Rep: Alex (inferred)" in out
    assert "GRADE 100.0/100  PASS (pass mark 70)   Flags: roles_inferred" in out
    assert "Getting through  n/a (did not happen: its 10 points are shared out)" in out
    assert "  [met]     10/10  intro: Gives name and company" in out
    assert '      heard [00:00] Alex: "Hi Dana, this is Alex with Acme Solution."  0.92' in out


def test_score_flags_a_forbidden_line_said_and_shows_what_was_said(files):
    (files / "pushy.txt").write_text(
        TEXT_CALL + "[00:35] Alex: And remember, this offer expires today.\n"
    )
    result = run("score", files / "pushy.txt", files / "good.txt", "--rubric", files / "mini.yaml")
    assert result.exit_code == 0, result.output
    pushy, good = result.output.split("=== good ")
    # the total still passes: the flag asks for a look, it fails nothing
    assert "GRADE 93.8/100  PASS (pass mark 70)   Flags: forbidden_said, roles_inferred" in pushy
    assert "  [BREACH]  0/5  no_pressure: No false urgency  (forbidden)" in pushy
    assert '      said [00:35] Alex: "And remember, this offer expires today."  ' in pushy
    assert "Flags: roles_inferred\n" in good  # the clean call: no flag
    as_json = run(
        "score",
        files / "pushy.txt",
        "--rubric",
        files / "mini.yaml",
        "--rep",
        "Alex",
        "--format",
        "json",
    )
    grade = json.loads(as_json.stdout)
    assert (grade["flags"], grade["passed"]) == (["forbidden_said"], True)


def test_score_json_is_one_grade_per_line_and_call_id_from_file_name(files):
    (files / "two.txt").write_text(TEXT_CALL)
    result = run(
        "score",
        files / "good.txt",
        files / "two.txt",
        "--rubric",
        files / "mini.yaml",
        "--format",
        "json",
        "--rep",
        "Alex",
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [g["call_id"] for g in lines] == ["good", "two"]
    assert lines[0]["grade"] == 100.0 and lines[0]["rep_source"] == "option"


def test_transcript_json_call_id_wins(files):
    data = {"call_id": "crm-4711", "turns": [{"speaker": "Alex", "text": "Hello there."}]}
    (files / "x.json").write_text(json.dumps(data))
    result = run("score", files / "x.json", "--rubric", files / "mini.yaml", "--format", "json")
    assert json.loads(result.stdout)["call_id"] == "crm-4711"


def test_one_bad_file_does_not_stop_the_others(files):
    (files / "empty.txt").write_text("")
    missing = files / "missing.txt"
    result = run(
        "score",
        files / "empty.txt",
        files / "good.txt",
        missing,
        "--rubric",
        files / "mini.yaml",
        "--format",
        "json",
    )
    assert result.exit_code == 1
    assert [json.loads(line)["call_id"] for line in result.stdout.splitlines()] == ["good"]
    assert f"Error: {files / 'empty.txt'}: " in result.stderr
    assert f"Error: {missing}: no such file" in result.stderr
    assert "Scored 1 of 3 calls." in result.stderr
    assert "2 failed:" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_rep_is_reported_per_file(files):
    result = run("score", files / "good.txt", "--rubric", files / "mini.yaml", "--rep", "Zed")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {files / 'good.txt'}: --rep 'Zed' is not a speaker on this call "
        "(speakers: Alex, Dana)\n"
    )


def test_folder_is_expanded_to_its_transcripts(files):
    (files / "README.md").write_text("# not a call")
    (files / "notes.meta.json").write_text("{}")
    result = run("score", files, "--rubric", files / "mini.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["call_id"] for x in result.stdout.splitlines()] == ["good"]


def test_malformed_rubric_is_refused_before_any_call_is_read(files):
    (files / "bad.yaml").write_text(
        MINI_RUBRIC.replace("weight: 10\n", "weight: 15\n", 1).replace(
            "min_count: 3", "min_count: 0"
        )
    )
    result = run("score", files / "good.txt", "--rubric", files / "bad.yaml")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {files / 'bad.yaml'}: 3 problems\n")
    assert (
        "phases[2].items[0].min_count: Input should be greater than or equal to 1" in result.stderr
    )


def test_rubric_check_ok_and_errors(files):
    ok = run("rubric", "check", ROOT / "rubrics" / "inside-sales.yaml")
    assert ok.exit_code == 0
    assert ok.output.endswith(
        "ok - inside-sales v1, 5 phases (2 optional), "
        f"{ok.output.split('), ')[1].split(' items')[0]} items, pass mark 70\n"
    )
    missing = run("rubric", "check", files / "nope.yaml")
    assert missing.exit_code == 1
    assert missing.stderr == f"Error: {files / 'nope.yaml'}: 1 problem\n  no such file\n"


def test_default_rubric_is_used_without_rubric_option(files):
    result = run("score", files / "good.txt", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rubric"] == "inside-sales"


def test_samples_all_score(tmp_path):
    result = run("score", ROOT / "samples", "--format", "json")
    assert result.exit_code == 0, result.output
    grades = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(grades) >= 12
    assert all(g["phases"] for g in grades)


def test_rubric_check_reads_utf16_and_refuses_duplicate_keys_and_deep_nesting(files):
    utf16 = files / "utf16.yaml"
    utf16.write_bytes(MINI_RUBRIC.encode("utf-16"))
    ok = run("rubric", "check", utf16)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"{utf16}: ok - mini v1, 5 phases (2 optional)")
    twice = files / "twice.yaml"
    twice.write_text(MINI_RUBRIC.replace("pass_mark: 70\n", "pass_mark: 70\npass_mark: 10\n"))
    deep = files / "deep.yaml"
    deep.write_text("rubric: " + "[" * 1000 + "]" * 1000 + "\n")
    for path, problem in [
        (twice, "line 5: pass_mark: duplicate key (also line 4)"),
        (deep, "line 1: nested more than 20 levels deep"),
    ]:
        result = run("rubric", "check", path)
        assert result.exit_code == 1
        assert result.stderr == f"Error: {path}: 1 problem\n  {problem}\n"
