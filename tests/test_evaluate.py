import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.errors import GoldenSetError, InputError
from analyzer.learning.golden import Label, read_labels
from analyzer.learning.metrics import (
    Counts,
    cohen_kappa,
    confusion,
    exact_agreement,
    f1,
    mean_absolute_error,
    mean_bias,
    precision,
    recall,
)
from analyzer.reports.evaluate import CallComparison, ItemDifference, compare, most_disagreeing

from conftest import MINI_RUBRIC
from helpers import TEXT_CALL

ROOT = Path(__file__).resolve().parents[1]

# -- the metrics, on hand-computed examples ------------------------------------------------------


def test_confusion_counts_met_and_partial_as_positive_and_na_as_negative():
    pairs = [
        ("met", "met"),
        ("partial", "met"),  # TP: both positive, though the statuses differ
        ("met", "missed"),  # FP
        ("na", "partial"),  # FN
        ("missed", "met"),  # FN
        ("na", "na"),  # TN
        ("missed", "na"),  # TN
    ]
    assert confusion(pairs) == Counts(tp=2, fp=1, fn=2, tn=2)
    assert confusion([]) == Counts()
    assert Counts(1, 2, 3, 4) + Counts(10, 20, 30, 40) == Counts(11, 22, 33, 44)


def test_precision_recall_f1_by_hand():
    c = Counts(tp=6, fp=2, fn=4, tn=100)
    assert precision(c) == pytest.approx(6 / 8)
    assert recall(c) == pytest.approx(6 / 10)
    p, r = 6 / 8, 6 / 10
    assert f1(c) == pytest.approx(2 * p * r / (p + r))  # = 12 / 18
    assert f1(c) == pytest.approx(12 / 18)


def test_precision_recall_f1_undefined_or_zero():
    nothing_done = Counts(tn=5)
    assert precision(nothing_done) is None
    assert recall(nothing_done) is None
    assert f1(nothing_done) is None
    only_missed_by_tool = Counts(fn=3, tn=1)  # the manager saw it done, the tool never did
    assert precision(only_missed_by_tool) is None
    assert recall(only_missed_by_tool) == 0.0
    assert f1(only_missed_by_tool) == 0.0
    only_false_alarms = Counts(fp=2)
    assert precision(only_false_alarms) == 0.0
    assert recall(only_false_alarms) is None
    assert f1(only_false_alarms) == 0.0


def test_exact_agreement():
    assert (
        exact_agreement([("met", "met"), ("met", "partial"), ("na", "na"), ("na", "missed")]) == 0.5
    )
    assert exact_agreement([]) is None


def test_kappa_of_perfect_agreement_is_1():
    pairs = [("met", "met"), ("partial", "partial"), ("missed", "missed"), ("na", "na")] * 3
    assert cohen_kappa(pairs) == pytest.approx(1.0)


def test_kappa_of_a_known_2x2_example():
    # 50 items: both met 20, tool met / manager missed 5, tool missed / manager met 10, both
    # missed 15. po = 35/50 = 0.7; the tool says met 25/50, the manager 30/50:
    # pe = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    pairs = (
        [("met", "met")] * 20
        + [("met", "missed")] * 5
        + [("missed", "met")] * 10
        + [("missed", "missed")] * 15
    )
    assert cohen_kappa(pairs) == pytest.approx(0.4)


def test_kappa_of_chance_agreement_is_0_and_of_systematic_disagreement_negative():
    chance = [("met", "met"), ("met", "missed"), ("missed", "met"), ("missed", "missed")]
    assert cohen_kappa(chance) == pytest.approx(0.0)
    opposite = [("met", "missed"), ("missed", "met")]
    assert cohen_kappa(opposite) == pytest.approx(-1.0)


def test_kappa_undefined_when_no_pairs_or_one_status_throughout():
    assert cohen_kappa([]) is None
    assert cohen_kappa([("na", "na")] * 4) is None  # pe = 1: nothing to beat chance with
    with pytest.raises(ValueError, match="done"):
        cohen_kappa([("done", "met")])


def test_mean_absolute_error_and_bias():
    diffs = [10.0, -4.0, 0.0, 2.0]
    assert mean_absolute_error(diffs) == pytest.approx(4.0)
    assert mean_bias(diffs) == pytest.approx(2.0)  # the tool grades 2 points higher on average
    assert mean_absolute_error([]) is None and mean_bias([]) is None


def _call(call_id, tool, manager, n_diff):
    diffs = [ItemDifference(f"i{k}", "met", "missed") for k in range(n_diff)]
    return CallComparison(call_id, tool, manager, tool >= 70, manager >= 70, diffs)


def test_most_disagreeing_by_grade_difference_then_item_disagreements():
    calls = [
        _call("a", 80.0, 80.0, 0),  # agrees entirely: never listed
        _call("b", 60.0, 70.0, 1),  # |-10|
        _call("c", 90.0, 80.0, 3),  # |+10|, more items differ than b
        _call("d", 75.0, 80.0, 4),
        _call("e", 80.0, 80.0, 2),  # same grade, items differ
    ]
    assert [c.call_id for c in most_disagreeing(calls, 10)] == ["c", "b", "d", "e"]
    assert [c.call_id for c in most_disagreeing(calls, 2)] == ["c", "b"]
    assert most_disagreeing(calls, 0) == []


def test_compare_uses_the_rubric_rules_for_the_managers_grade(mini_rubric):
    statuses = {i.id: "met" for i in mini_rubric.items} | {"screen_ask": "na", "acknowledge": "na"}
    grade = _grade_dict(mini_rubric, statuses)
    manager = dict(statuses, next_step="missed")  # critical: fails whatever the total
    labels = {"x": {k: Label(v, "", n + 2) for n, (k, v) in enumerate(manager.items())}}
    ev = compare({"x": grade}, labels, mini_rubric)
    (call,) = ev.calls
    # open 20 + discover 40 + close 5 (no_pressure) out of 80
    assert call.manager_grade == pytest.approx(81.2)
    assert call.suggested_grade == 100.0 and call.difference == pytest.approx(18.8)
    assert call.suggested_passed and not call.manager_passed
    assert call.differences == [ItemDifference("next_step", "met", "missed")]
    assert ev.pass_agreed == 0


def _grade_dict(rubric, statuses):
    """A suggested grade dict as Grade.to_dict() gives it, earned points from the statuses."""
    phases, weight, earned = [], 0.0, 0.0
    for phase in rubric.phases:
        items = [
            {
                "id": i.id,
                "status": statuses[i.id],
                "points": i.points,
                "earned": {"met": i.points, "partial": i.points / 2}.get(statuses[i.id], 0.0),
                "critical": i.critical,
            }
            for i in phase.items
        ]
        applies = any(it["status"] != "na" for it in items)
        phase_earned = sum(it["earned"] for it in items)
        phases.append(
            {
                "id": phase.id,
                "weight": phase.weight,
                "status": "scored" if applies else "na",
                "earned": phase_earned,
                "items": items,
            }
        )
        if applies:
            weight += phase.weight
            earned += phase_earned
    value = round(100 * earned / weight, 1)
    return {"grade": value, "passed": value >= 70, "pass_mark": 70, "flags": [], "phases": phases}


# -- a golden set on disk ------------------------------------------------------------------------

# TEXT_CALL without the third discovery question and the booking: questions partial (2 of 3),
# next_step missed (critical), graded 68.8 (open 20 + discover 30 + close 5, out of 80).
WEAK_CALL = "".join(
    line
    for line in TEXT_CALL.splitlines(keepends=True)
    if not any(s in line for s in ("How many reps", "Twelve", "book a demo", "Thursday works"))
)

ITEMS = ("screen_ask", "intro", "permission", "questions", "pain", "acknowledge", "next_step")
# The manager's statuses, in rubric order (ITEMS, then no_pressure).
GOOD_LABELS = ["na", "met", "partial", "met", "met", "na", "met", "missed"]
WEAK_LABELS = ["na", "met", "met", "met", "met", "met", "missed", "met"]

# What the engine suggests for the two calls; the hand-computed figures below rest on it.
GOOD_SUGGESTED = ["na", "met", "met", "met", "met", "na", "met", "met"]
WEAK_SUGGESTED = ["na", "met", "met", "partial", "met", "na", "missed", "met"]


def _labels_csv(rows):
    return "call_id,item_id,status,note\n" + "".join(f"{r}\n" for r in rows)


def _rows(call_id, statuses):
    return [
        f"{call_id},{item},{s}," for item, s in zip((*ITEMS, "no_pressure"), statuses, strict=True)
    ]


@pytest.fixture
def golden(tmp_path):
    """Two labelled calls, one unlabelled, a rubric file outside the folder."""
    (tmp_path / "mini.yaml").write_text(MINI_RUBRIC)
    folder = tmp_path / "golden"
    folder.mkdir()
    (folder / "good.txt").write_text(TEXT_CALL)
    (folder / "weak.txt").write_text(WEAK_CALL)
    (folder / "unlabelled.txt").write_text(TEXT_CALL)
    (folder / "README.md").write_text("# not a call\n")
    rows = _rows("good", GOOD_LABELS) + _rows("weak", WEAK_LABELS)
    rows[2] = 'good,permission,partial,"asked, but only ""got a sec?"""'  # a quoted note
    (folder / "labels.csv").write_text(_labels_csv(rows))
    return folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_engine_suggests_what_the_hand_figures_assume(golden, mini_rubric):
    """If the matcher changes its mind on these calls, the figures below change with it: this
    test says so first."""
    from analyzer.grading.grade import Grader
    from analyzer.transcripts.readers import read_transcript

    grader = Grader(mini_rubric)
    for name, expected, grade in (("good", GOOD_SUGGESTED, 100.0), ("weak", WEAK_SUGGESTED, 68.8)):
        g = grader.grade(read_transcript(golden / f"{name}.txt"))
        assert [i.status for p in g.phases for i in p.items] == expected, name
        assert g.grade == grade, name


# By hand, per item (tool, manager) over good then weak:
#   screen_ask  (na,na) (na,na)             TN 2         P - R - F1 -     exact 1.0
#   intro       (met,met) (met,met)         TP 2         1 1 1            1.0
#   permission  (met,partial) (met,met)     TP 2         1 1 1            0.5
#   questions   (met,met) (partial,met)     TP 2         1 1 1            0.5
#   pain        (met,met) (met,met)         TP 2         1 1 1            1.0
#   acknowledge (na,na) (na,met)            TN 1 FN 1    - 0 0            0.5
#   next_step   (met,met) (missed,missed)   TP 1 TN 1    1 1 1            1.0
#   no_pressure (met,missed) (met,met)      TP 1 FP 1    0.5 1 0.67       0.5
# micro TP 10 FP 1 FN 1 TN 4: P = R = F1 = 10/11; exact 12/16.
# kappa: tool na 4 met 10 partial 1 missed 1; manager na 3 met 10 partial 1 missed 2;
#   pe = (4*3 + 10*10 + 1*1 + 1*2) / 256 = 115/256, po = 192/256, kappa = 77/141.
# grades: good: manager open 15 (permission partial) + discover 40 + close 15 (no_pressure
#   missed) = 70/80 = 87.5, pass; tool 100 -> +12.5.
#   weak: manager open 20 + discover 40 + objections 10 (acknowledge met: the phase applies)
#   + close 5 = 75/90 = 83.3, FAIL (next_step missed); tool 68.8 -> -14.5.
#   MAE (12.5 + 14.5) / 2 = 13.5, bias (12.5 - 14.5) / 2 = -1.0, pass/fail same on 2 of 2.
KAPPA = 77 / 141


def test_evaluate_json_gives_the_hand_computed_figures(golden):
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["calls"] == 2 and data["pairs"] == 16
    assert data["ignored_calls"] == ["unlabelled"]
    assert data["rubric"] == "mini" and data["labels"] == str(golden / "labels.csv")
    overall = data["overall"]
    assert (overall["tp"], overall["fp"], overall["fn"], overall["tn"]) == (10, 1, 1, 4)
    assert overall["precision"] == overall["recall"] == overall["f1"] == round(10 / 11, 4)
    assert overall["agreement"] == 0.75
    assert overall["kappa"] == round(KAPPA, 4)
    assert data["grade"] == {"mae": 13.5, "bias": -1.0, "pass_agreed": 2, "calls": 2}
    items = {i["item_id"]: i for i in data["items"]}
    assert list(items) == [*ITEMS, "no_pressure"]  # rubric order
    assert items["screen_ask"] == {
        "item_id": "screen_ask",
        "phase": "screen",
        "tp": 0,
        "fp": 0,
        "fn": 0,
        "tn": 2,
        "precision": None,
        "recall": None,
        "f1": None,
        "agreement": 1.0,
        "labels": 2,
    }
    assert (items["acknowledge"]["precision"], items["acknowledge"]["recall"]) == (None, 0.0)
    assert items["acknowledge"]["f1"] == 0.0 and items["acknowledge"]["fn"] == 1
    assert items["no_pressure"]["precision"] == 0.5 and items["no_pressure"]["f1"] == 0.6667
    assert items["permission"]["f1"] == 1.0 and items["permission"]["agreement"] == 0.5
    per_call = {c["call_id"]: c for c in data["per_call"]}
    assert per_call["good"]["suggested_grade"] == 100.0
    assert per_call["good"]["manager_grade"] == 87.5
    assert per_call["good"]["difference"] == 12.5
    assert per_call["weak"]["suggested_grade"] == 68.8
    assert per_call["weak"]["manager_grade"] == 83.3
    assert per_call["weak"]["difference"] == -14.5
    assert not per_call["weak"]["suggested_passed"] and not per_call["weak"]["manager_passed"]
    top = data["most_disagreeing"]
    assert [c["call_id"] for c in top] == ["weak", "good"]
    assert top[0]["items_differing"] == [
        {"item_id": "questions", "suggested": "partial", "manager": "met"},
        {"item_id": "acknowledge", "suggested": "na", "manager": "met"},
    ]


def test_evaluate_table_weakest_items_first_then_summary_then_calls(golden):
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml", "--top", "1")
    assert result.exit_code == 0, result.output
    out = result.output
    lines = out.splitlines()
    assert lines[0] == (
        f"Golden set {golden}: 2 labelled calls, 16 item labels, rubric mini v1; "
        "1 call in the folder without labels ignored"
    )
    rows = [line.split()[0] for line in lines[4:12]]
    # F1 ascending (acknowledge 0, no_pressure 0.67), then by exact agreement, undefined last
    assert rows == [
        "acknowledge",
        "no_pressure",
        "permission",
        "questions",
        "intro",
        "pain",
        "next_step",
        "screen_ask",
    ]
    header = "item phase TP FP FN TN precision recall F1 exact"
    assert lines[3].split() == header.split()
    assert lines[4].split() == "acknowledge pushback 0 0 1 1 - 0.00 0.00 0.50".split()
    assert lines[11].split() == "screen_ask screen 0 0 0 2 - - - 1.00".split()
    assert (
        "Overall (micro, 16 labels): precision 0.91  recall 0.91  F1 0.91  "
        "(TP 10, FP 1, FN 1, TN 4)" in out
    )
    assert (
        "Exact status agreement: 0.75 (12 of 16);  "
        f"Cohen's kappa over met/partial/missed/na: {KAPPA:.2f}" in out
    )
    assert (
        "Grade: mean absolute error 13.5 points, bias -1.0 "
        "(suggested minus manager: the tool grades lower on average)" in out
    )
    assert "Pass/fail: the same on 2 of 2 calls" in out
    assert "Calls that disagree most (top 1):" in out
    assert (
        "  weak  suggested  68.8 FAIL  manager  83.3 FAIL  difference -14.5  2 items differ" in out
    )
    assert "      questions: partial -> met\n      acknowledge: na -> met\n" in out
    assert "  good  " not in out  # --top 1


def test_evaluate_top_0_lists_no_calls(golden):
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml", "--top", "0")
    assert result.exit_code == 0, result.output
    assert "disagree most" not in result.output


# -- bad golden sets: exit 1, every problem at once, no results ----------------------------------


def _bad(golden, rows, header="call_id,item_id,status,note"):
    (golden / "labels.csv").write_text(header + "\n" + "".join(f"{r}\n" for r in rows))
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml")
    assert result.exit_code == 1, result.output
    assert "Per item" not in result.output and "Overall" not in result.output
    return result.output


def test_every_label_problem_is_listed_at_once(golden):
    labels = golden / "labels.csv"
    rows = _rows("good", GOOD_LABELS) + _rows("weak", WEAK_LABELS)  # lines 2-9, 10-17
    rows[1] = "good,intro,done,"  # line 3: bad status
    rows[3] = "good,question,met,"  # line 5: unknown item (so questions is never labelled)
    del rows[14]  # weak's next_step: missing; the rows after it move up a line
    rows.append("weak,permission,met,again")  # line 17: weak's permission is on line 12
    rows += ["ghost,intro,met,", "ghost,pain,met,"]  # lines 18-19: no such call
    out = _bad(golden, rows)
    assert out.splitlines() == [
        f"Error: {labels}: 6 problems; nothing was evaluated",
        f"  {labels} line 2: call good has no label for 1 item: questions",
        f"  {labels} line 3: status 'done' is not one of met, partial, missed, na",
        f"  {labels} line 5: unknown item 'question' (not in rubric mini v1)",
        f"  {labels} line 10: call weak has no label for 1 item: next_step",
        f"  {labels} line 17: duplicate label for call weak item permission (first on line 12)",
        f"  {labels} line 18: call 'ghost' has no transcript in {golden} (2 rows from line 18)",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r[:-1], "line 10: call weak has no label for 1 item: no_pressure"),
        (lambda r: [*r, "good,intro,met,again"], "line 18: duplicate label for call good item "),
        (lambda r: [*r, "nobody,intro,met,"], "line 18: call 'nobody' has no transcript in "),
        (lambda r: [*r, "good,closing,met,"], "line 18: unknown item 'closing' (not in rubric"),
        (lambda r: [*r[:-1], "weak,no_pressure,N/A,"], "line 17: status 'N/A' is not one of"),
        (lambda r: [*r[:-1], "weak,no_pressure,,"], "line 17: status empty is not one of"),
        (lambda r: [*r[:-1], "weak,no_pressure,met,a, b"], "line 17: 5 fields where the header"),
        (lambda r: [*r, ",intro,met,"], "line 18: no call_id"),
    ],
)
def test_each_bad_label_fails_alone(golden, change, expected):
    rows = _rows("good", GOOD_LABELS) + _rows("weak", WEAK_LABELS)
    out = _bad(golden, change(rows))
    assert "1 problem; nothing was evaluated" in out
    assert f"{golden / 'labels.csv'} {expected}" in out


def test_line_numbers_count_quoted_multiline_notes_and_blank_lines(golden):
    rows = _rows("good", GOOD_LABELS) + _rows("weak", WEAK_LABELS)
    rows[0] = 'good,screen_ask,na,"no gatekeeper:\nhe picked up himself"'  # lines 2-3
    rows[1] += "\n"  # line 4, then a blank line 5
    rows[2] = "good,permission,maybe,"  # line 6
    out = _bad(golden, rows)
    assert f"{golden / 'labels.csv'} line 6: status 'maybe'" in out


def test_header_problems(golden):
    out = _bad(golden, _rows("good", GOOD_LABELS), header="call,item_id,status,comment")
    assert "line 1: header: missing column(s) call_id; unknown column(s) 'call', 'comment'" in out
    out = _bad(golden, _rows("good", GOOD_LABELS), header="call_id,item_id,status,status")
    assert "line 1: header: column(s) given twice: status" in out
    out = _bad(golden, [], header="call_id,item_id,status")
    assert f"{golden / 'labels.csv'}: no labels: only the header" in out
    out = _bad(golden, [], header="")
    assert "empty: expected a header call_id,item_id,status[,note]" in out


def test_columns_in_any_order_without_note_and_status_in_any_case(golden):
    rows = [
        f"{s.upper()},{r.split(',')[1]},{r.split(',')[0]}"
        for r, s in zip(
            _rows("good", GOOD_LABELS) + _rows("weak", WEAK_LABELS),
            GOOD_LABELS + WEAK_LABELS,
            strict=True,
        )
    ]
    (golden / "labels.csv").write_text("status,item_id,call_id\n" + "\n".join(rows) + "\n")
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["grade"]["mae"] == 13.5


def test_missing_labels_file_names_the_expected_path(golden):
    (golden / "labels.csv").unlink()
    result = run("evaluate", golden)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {golden / 'labels.csv'}: no labels file "
        "(expected call_id,item_id,status[,note] rows here)\n"
    )


def test_not_a_folder(tmp_path):
    result = run("evaluate", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nowhere'}: no such folder\n"


def test_read_labels_library_errors(golden, mini_rubric):
    with pytest.raises(InputError):
        read_labels(golden / "absent.csv", mini_rubric, {"good"})
    with pytest.raises(GoldenSetError) as caught:
        read_labels(golden / "labels.csv", mini_rubric, {"good"})  # weak has no transcript
    assert caught.value.problems == [
        f"{golden / 'labels.csv'} line 10: call 'weak' has no transcript in {golden} "
        "(8 rows from line 10)"
    ]
    labels = read_labels(golden / "labels.csv", mini_rubric, {"good", "weak"})
    assert labels["good"]["permission"] == Label("partial", 'asked, but only "got a sec?"', 4)


def test_a_transcript_that_cannot_be_read_fails_the_evaluation(golden):
    (golden / "weak.txt").write_bytes(b"\x00\x01\x02binary")
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml")
    assert result.exit_code == 1
    assert f"Error: {golden}: 1 problem; nothing was evaluated" in result.output
    assert str(golden / "weak.txt") in result.output
    assert "Per item" not in result.output


# -- the samples' golden set ---------------------------------------------------------------------


@pytest.mark.slow
def test_evaluate_samples(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("evaluate", "samples", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["calls"] == 14 and data["pairs"] == 14 * 17
    assert data["ignored_calls"] == []
    assert -1.0 <= data["overall"]["kappa"] <= 1.0
    assert len(data["most_disagreeing"]) == 5
    table = run("evaluate", "samples")
    assert table.exit_code == 0, table.output
    assert table.output.startswith("Golden set samples: 14 labelled calls, 238 item labels")


# -- evidence.csv and evidence precision ---------------------------------------------------------


def test_evidence_precision_counts_credited_items_whose_first_evidence_was_marked(golden):
    # good: intro (turn 0) and next_step (turn 6) are marked where the tool shows them first;
    # pain is marked on turn 4, but the tool shows turn 2 first; permission is marked but
    # labelled partial and shown at turn 0: right. weak: acknowledge is marked but not credited
    # (na), so it is not checked.
    (golden / "evidence.csv").write_text(
        "call_id,item_id,turn,text\n"
        "good,intro,0,Hi Dana\n"
        "good,next_step,6,Can we book a demo\n"
        "good,pain,4,How many reps\n"
        "good,permission,0,Is now a bad time?\n"
        "weak,acknowledge,3,It's a real headache\n"
    )
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    evidence = json.loads(result.stdout)["evidence"]
    assert evidence == {"precision": 0.75, "checked": 4, "right": 3}
    table = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml")
    assert (
        "Evidence precision: 0.75 (3 of 4 credited items show a marked turn first)" in table.output
    )


def test_without_an_evidence_file_no_evidence_precision_is_claimed(golden):
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml", "--format", "json")
    assert json.loads(result.stdout)["evidence"] == {"precision": None, "checked": None, "right": 0}
    table = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml")
    assert "Evidence precision" not in table.output


def test_an_evidence_file_that_does_not_fit_is_refused_whole(golden):
    evidence = golden / "evidence.csv"
    evidence.write_text(
        "call_id,item_id,turn\nnobody,intro,0\ngood,no_such_item,1\ngood,intro,first\n"
    )
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {evidence}: 3 problems; nothing was evaluated\n"
        f"  {evidence} line 2: call 'nobody' is not in labels.csv\n"
        f"  {evidence} line 3: unknown item 'no_such_item' (not in rubric mini v1)\n"
        f"  {evidence} line 4: turn 'first' is not a turn number\n"
    )
    evidence.write_text("call_id,item\ngood,intro\n")
    result = run("evaluate", golden, "--rubric", golden.parent / "mini.yaml")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {evidence}: 1 problem; nothing was evaluated\n"
        f"  {evidence}: header: missing column(s) item_id, turn (expected call_id,item_id,turn"
        "[,text])\n"
    )
