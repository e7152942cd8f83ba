"""Learning from confirmed calls: `analyzer learn`, grading with a learned file, and the
cross-validated evaluation. These load the real embedding model."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.errors import LearnedFileError
from analyzer.grading.examples import Example
from analyzer.grading.learned import FILE_VERSION, load_learned, save_learned
from analyzer.grading.rubric import load_rubric
from analyzer.learning.golden import cross_validation_folds, read_golden
from analyzer.learning.learn import MIN_CALLS, learn
from analyzer.review.decisions import ItemDecision, confirm_call
from analyzer.review.users import add_user, get_user
from analyzer.store import CallRecord, Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
RUBRIC = ROOT / "rubrics" / "inside-sales.yaml"
DEV_DATA = ROOT.parent / "shared" / "dev-data"

pytestmark = [pytest.mark.semantic, pytest.mark.usefixtures("real_semantic_model")]


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(RUBRIC)


@pytest.fixture(scope="module")
def learned_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("learned") / "team.json"
    result = CliRunner().invoke(main, ["learn", str(SAMPLES), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_learn_writes_a_data_file_that_records_what_it_learned(learned_file, rubric):
    data = json.loads(learned_file.read_text())
    assert data["format"] == "analyzer-learned" and data["file_version"] == FILE_VERSION
    assert (data["rubric"], data["rubric_version"]) == (rubric.rubric, str(rubric.version))
    assert data["model"].startswith("all-MiniLM-L6-v2") and data["calls"] == 14
    assert data["created"] and data["tool_version"]
    assert list(data["items"]) == [item.id for item in rubric.items]
    learned = [i for i, entry in data["items"].items() if entry["learned"]]
    zero_shot = [i for i, entry in data["items"].items() if not entry["learned"]]
    assert learned and zero_shot  # 14 calls: some items have 5 of each side, some do not
    for item_id in learned:
        entry = data["items"][item_id]
        assert entry["calls_done"] >= MIN_CALLS and entry["calls_not_done"] >= MIN_CALLS
        assert len(entry["weights"]) == 384 + 6 and 0 < entry["threshold"] < 1
    for item_id in zero_shot:
        entry = data["items"][item_id]
        assert "weights" not in entry
        assert entry["reason"].endswith(f"needs {MIN_CALLS} of each")


def test_learn_prints_each_item_and_says_which_stay_zero_shot(tmp_path):
    out = tmp_path / "team.json"
    result = CliRunner().invoke(main, ["learn", str(SAMPLES), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Learned from 14 calls of {SAMPLES} for rubric inside-sales v")
    assert lines[0].endswith(f"; wrote {out}")
    data = json.loads(out.read_text())
    for item_id, entry in data["items"].items():
        (line,) = [x for x in lines[1:] if x.split()[0] == item_id]
        assert ("learned" if entry["learned"] else "zero-shot") == line.split()[1]
        if not entry["learned"]:
            assert line.endswith(entry["reason"])


def test_score_with_a_learned_file_says_learned_in_its_evidence(learned_file):
    call = SAMPLES / "2026-11-23_alice_0001.json"
    plain = CliRunner().invoke(main, ["score", str(call), "--format", "json"])
    taught = CliRunner().invoke(
        main, ["score", str(call), "--format", "json", "--learned", str(learned_file)]
    )
    assert plain.exit_code == 0 and taught.exit_code == 0, taught.output
    grade = json.loads(taught.output)
    assert "learned:" in grade["engine"]["matcher"]
    learned = {i for i, e in json.loads(learned_file.read_text())["items"].items() if e["learned"]}
    methods = {
        (item["id"], e["method"])
        for phase in grade["phases"]
        for item in phase["items"]
        for e in item["evidence"]
    }
    assert any(method == "learned" for item_id, method in methods if item_id in learned)
    assert not any(method == "learned" for item_id, method in methods if item_id not in learned)
    zero = json.loads(plain.output)
    assert not any(
        e["method"] == "learned" for p in zero["phases"] for i in p["items"] for e in i["evidence"]
    )


def test_evaluate_with_a_learned_file_names_it(learned_file):
    result = CliRunner().invoke(main, ["evaluate", str(SAMPLES), "--learned", str(learned_file)])
    assert result.exit_code == 0, result.output
    assert f"Learned: {learned_file}" in result.output


def test_config_learned_grades_with_it(learned_file, tmp_path, monkeypatch):
    (tmp_path / "analyzer.toml").write_text(f'[grading]\nlearned = "{learned_file}"\n')
    monkeypatch.chdir(tmp_path)
    call = SAMPLES / "2026-11-23_alice_0001.json"
    result = CliRunner().invoke(main, ["score", str(call), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "learned:" in json.loads(result.output)["engine"]["matcher"]


def test_cross_validation_folds_never_put_a_call_in_train_and_test():
    ids = [f"call-{n:03d}" for n in range(23)]
    folds = cross_validation_folds(ids, 5)
    assert len(folds) == 5
    tested = [c for _, test in folds for c in test]
    assert sorted(tested) == sorted(ids)  # every call tested exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        assert sorted(train + test) == sorted(ids)
    assert cross_validation_folds(list(reversed(ids)), 5) == folds  # the same on every run
    with pytest.raises(ValueError, match="3 labelled calls cannot make 5 folds"):
        cross_validation_folds(ids[:3], 5)


def test_evaluate_cross_validate_learns_per_fold(tmp_path):
    result = CliRunner().invoke(main, ["evaluate", str(SAMPLES), "--cross-validate", "2"])
    assert result.exit_code == 0, result.output
    assert "Golden set" in result.output and "Overall (micro, 238 labels)" in result.output
    assert "Learned: 2-fold cross-validation: " in result.output
    both = CliRunner().invoke(
        main, ["evaluate", str(SAMPLES), "--cross-validate", "2", "--learned", "x.json"]
    )
    assert both.exit_code == 2
    assert "give --learned or --cross-validate, not both" in both.output


def test_too_few_calls_stay_zero_shot(rubric):
    golden = read_golden(SAMPLES, rubric)
    few = golden.examples()[:6]
    learned = learn(few, rubric)
    assert learned.calls == 6 and not learned.items
    summary = {s.id: s for s in learned.summary}
    ask = summary["cm_next_step"]
    assert not ask.learned and ask.done + ask.not_done == 6
    calls = "call" if ask.done == 1 else "calls"
    assert ask.reason == f"{ask.done} {calls} done and {ask.not_done} not: needs 5 of each"


def test_marked_sentences_are_counted_as_examples(rubric):
    golden = read_golden(SAMPLES, rubric)
    examples = golden.examples()
    met = next(e for e in examples if e.statuses["q_discovery"] == "met")
    turn = next(k for k, t in enumerate(met.transcript.turns) if t.speaker == met.transcript.rep)
    marked = [
        Example(e.call_id, e.transcript, e.statuses, {"q_discovery": (turn,)} if e is met else {})
        for e in examples
    ]
    summary = {s.id: s for s in learn(marked, rubric).summary}
    assert summary["q_discovery"].marked >= 1
    assert summary["q_budget"].marked == 0


# -- the file refused ----------------------------------------------------------------------------


def _score_with(learned: Path) -> tuple[int, str]:
    call = SAMPLES / "2026-11-23_alice_0001.json"
    result = CliRunner().invoke(main, ["score", str(call), "--learned", str(learned)])
    return result.exit_code, result.output


def test_a_corrupt_learned_file_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "analyzer-learned", "file_versi')
    code, output = _score_with(bad)
    assert code == 1
    assert output.startswith(f"Error: {bad}: not a learned file: corrupt JSON (")
    assert len(output.strip().splitlines()) == 1


def test_a_file_that_is_not_a_learned_file_is_refused(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    assert _score_with(other) == (
        1,
        f"Error: {other}: not a learned file (written by `analyzer learn`)\n",
    )
    assert _score_with(tmp_path / "missing.json") == (
        1,
        f"Error: {tmp_path / 'missing.json'}: no such file\n",
    )


def test_a_learned_file_with_broken_weights_is_refused(learned_file, tmp_path):
    data = json.loads(learned_file.read_text())
    item_id = next(i for i, e in data["items"].items() if e["learned"])
    data["items"][item_id]["weights"] = data["items"][item_id]["weights"][:10]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    assert _score_with(broken) == (
        1,
        f"Error: {broken}: corrupt learned file (item {item_id}: 10 weights, not 390)\n",
    )


def _changed(learned_file: Path, out: Path, **changes) -> Path:
    """A copy of the learned file with some top-level fields changed."""
    out.write_text(json.dumps({**json.loads(learned_file.read_text()), **changes}))
    return out


def test_a_learned_file_for_another_rubric_or_version_is_refused(learned_file, tmp_path):
    other = _changed(learned_file, tmp_path / "v99.json", rubric_version="99")
    code, output = _score_with(other)
    assert code == 1
    assert output == (
        f"Error: {other}: learned for rubric inside-sales v99, not inside-sales "
        f"v{load_rubric(RUBRIC).version}: learn again for this rubric\n"
    )


def test_a_learned_file_from_a_newer_tool_is_refused(learned_file, tmp_path):
    newer = _changed(
        learned_file, tmp_path / "newer.json", file_version=FILE_VERSION + 1, tool_version="9.0.0"
    )
    assert _score_with(newer) == (
        1,
        f"Error: {newer}: written by a newer version of analyzer (9.0.0, file version "
        f"{FILE_VERSION + 1}); this one reads up to {FILE_VERSION}: upgrade, or learn again\n",
    )


def test_batch_with_a_wrong_learned_file_stores_nothing(learned_file, tmp_path):
    other = _changed(learned_file, tmp_path / "other.json", rubric="another-form")
    db = tmp_path / "calls.db"
    result = CliRunner().invoke(
        main, ["batch", str(SAMPLES), "--db", str(db), "--learned", str(other), "--quiet"]
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {other}: learned for rubric another-form v")
    assert not db.exists()


def test_learned_file_round_trips(learned_file, rubric, tmp_path):
    first = load_learned(learned_file, rubric)
    copy = tmp_path / "copy.json"
    save_learned(first, copy)
    second = load_learned(copy, rubric)
    assert second.items.keys() == first.items.keys()
    for item_id, model in first.items.items():
        assert model.threshold == pytest.approx(second.items[item_id].threshold)
    with pytest.raises(LearnedFileError, match="learned for rubric"):
        load_learned(copy, rubric.model_copy(update={"rubric": "x"}))


def test_a_labels_file_that_does_not_fit_the_rubric_stops_learn(tmp_path):
    golden = tmp_path / "golden"
    shutil.copytree(SAMPLES, golden)
    with (golden / "labels.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["2026-11-23_alice_0001", "no_such_item", "met", ""])
    out = tmp_path / "team.json"
    result = CliRunner().invoke(main, ["learn", str(golden), "--out", str(out)])
    assert result.exit_code == 1
    assert f"{golden / 'labels.csv'} line " in result.output
    assert "unknown item 'no_such_item'" in result.output
    assert not out.exists()


# -- learning from the review page ---------------------------------------------------------------


def test_learn_from_the_calls_managers_confirmed(tmp_path, rubric):
    """Confirmed statuses (overrides included) and the sentence a manager marked are what
    `learn --db` learns from."""
    db = tmp_path / "calls.db"
    golden = read_golden(SAMPLES, rubric)
    from analyzer.grading.grade import Grader

    grader = Grader(rubric)
    with Store.open(db) as store:
        add_user(store, "maria", "manager", "correct horse battery")
        for n, example in enumerate(golden.examples()):
            transcript = example.transcript
            record = CallRecord(
                call_id=example.call_id,
                content_hash=f"hash-{n}",
                source_path=f"{example.call_id}.json",
                audio_path=None,
                rep=transcript.rep,
                call_date="2026-11-23",
            )
            store.save_call(record, transcript, grader.grade(transcript))
        maria = get_user(store, "maria")
        marked = None
        for example in golden.examples():
            decisions = [ItemDecision(i, s) for i, s in example.statuses.items()]
            if marked is None and example.statuses["q_discovery"] == "met":
                rep_turn = next(
                    k
                    for k, t in enumerate(example.transcript.turns)
                    if t.speaker == example.transcript.rep
                )
                decisions = [
                    ItemDecision(d.item_id, d.status, evidence_turn=rep_turn)
                    if d.item_id == "q_discovery"
                    else d
                    for d in decisions
                ]
                marked = example.call_id
            version = store_version(store, example.call_id)
            confirm_call(store, example.call_id, maria, decisions, version)
    out = tmp_path / "from-db.json"
    result = CliRunner().invoke(main, ["learn", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Learned from 14 calls of {db} for rubric inside-sales")
    data = json.loads(out.read_text())
    assert data["source"] == str(db)
    assert data["items"]["q_discovery"]["marked_sentences"] >= 1
    expected = {i: e for i, e in json.loads(_golden_learned(tmp_path))["items"].items()}
    for item_id, entry in data["items"].items():  # the same statuses: the same counts
        assert entry["calls_done"] == expected[item_id]["calls_done"]


def store_version(store: Store, call_id: str) -> int:
    with store.reading("version") as conn:
        return conn.execute("SELECT version FROM reviews WHERE call_id = ?", (call_id,)).fetchone()[
            0
        ]


def _golden_learned(tmp_path: Path) -> str:
    out = tmp_path / "golden.json"
    CliRunner().invoke(main, ["learn", str(SAMPLES), "--out", str(out)])
    return out.read_text()


def test_learn_needs_golden_sets_or_a_database(tmp_path):
    neither = CliRunner().invoke(main, ["learn", "--out", str(tmp_path / "x.json")])
    assert neither.exit_code == 2
    assert "give golden set folders or --db, not both and not neither" in neither.output
    missing = CliRunner().invoke(
        main, ["learn", "--db", str(tmp_path / "typo.db"), "--out", str(tmp_path / "x.json")]
    )
    assert missing.exit_code == 1
    assert missing.output == f"Error: {tmp_path / 'typo.db'}: no such database\n"
    assert not (tmp_path / "typo.db").exists()


# -- the development sets (real dialogues), when this checkout has them ---------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    not (DEV_DATA / "campsite-deal" / "labels.csv").is_file(),
    reason="the development sets are not here (../shared/dev-data): they are never copied in",
)
def test_learning_beats_zero_shot_on_a_development_set():
    folder = DEV_DATA / "charity-pitch"
    zero = CliRunner().invoke(
        main, ["evaluate", str(folder), "--rubric", str(folder / "rubric.yaml"), "--format", "json"]
    )
    taught = CliRunner().invoke(
        main,
        [
            "evaluate",
            str(folder),
            "--rubric",
            str(folder / "rubric.yaml"),
            "--format",
            "json",
            "--cross-validate",
            "5",
        ],
    )
    assert zero.exit_code == 0 and taught.exit_code == 0
    zero_data, taught_data = json.loads(zero.output), json.loads(taught.output)
    # floors a little under what was measured (README: zero-shot F1 0.64, kappa 0.35, evidence
    # 0.74; learned 0.74, 0.48, 0.77), so a worse fit fails
    assert zero_data["overall"]["f1"] >= 0.60 and zero_data["overall"]["kappa"] >= 0.30
    assert zero_data["evidence"]["precision"] >= 0.70
    assert taught_data["overall"]["kappa"] >= zero_data["overall"]["kappa"] + 0.1
    assert taught_data["overall"]["f1"] > zero_data["overall"]["f1"]
    assert taught_data["evidence"]["precision"] >= 0.70


def test_a_call_that_cannot_be_read_is_skipped_and_said(rubric):
    examples = read_golden(SAMPLES, rubric).examples()
    bad = examples[0]
    examples[0] = Example(bad.call_id, bad.transcript, bad.statuses, rep="Nobody")
    learned = learn(examples, rubric)
    assert learned.calls == 13
    assert learned.skipped == [
        f"{bad.call_id}: --rep 'Nobody' is not a speaker on this call (speakers: "
        f"{', '.join(bad.transcript.speakers)})"
    ]
