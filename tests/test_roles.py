import pytest

from analyzer.errors import RoleError
from analyzer.grading.grade import grade_call
from analyzer.grading.roles import find_speaker, known_roles

from helpers import GOOD_CALL, make_call


def test_rep_inferred_from_rubric_phrases_among_three_speakers(mini_rubric):
    grade = grade_call(make_call(GOOD_CALL), mini_rubric)
    assert (grade.rep, grade.rep_source) == ("Alex", "inferred")
    assert grade.roles == {"Sam": "customer", "Alex": "rep", "Dana": "customer"}
    assert "roles_inferred" in grade.flags


def test_rep_option_wins_and_is_not_flagged(mini_rubric):
    grade = grade_call(make_call(GOOD_CALL), mini_rubric, rep="dana")
    assert (grade.rep, grade.rep_source) == ("Dana", "option")
    assert "roles_inferred" not in grade.flags
    assert grade.grade < 50  # graded as if Dana were selling: she did not follow the script


def test_rep_from_metadata_matches_by_first_name(mini_rubric):
    call = make_call(GOOD_CALL, rep="Alex Moreno")
    grade = grade_call(call, mini_rubric)
    assert (grade.rep, grade.rep_source) == ("Alex", "metadata")


def test_rep_from_transcript_roles(mini_rubric):
    call = make_call(GOOD_CALL)
    for turn in call.turns:
        turn.role = "rep" if turn.speaker == "Dana" else "customer"
    grade = grade_call(call, mini_rubric)
    assert (grade.rep, grade.rep_source) == ("Dana", "transcript")


def test_unknown_rep_option_is_a_clear_error(mini_rubric):
    with pytest.raises(
        RoleError, match=r"--rep 'Zed' is not a speaker on this call \(speakers: Sam, Alex, Dana\)"
    ):
        grade_call(make_call(GOOD_CALL), mini_rubric, rep="Zed")


def test_find_speaker():
    assert find_speaker("ALEX", ["Alex", "Dana"]) == "Alex"
    assert find_speaker("Dana Scully", ["Alex", "Dana"]) == "Dana"
    assert find_speaker("Alex", ["Alex Moreno", "Dana"]) == "Alex Moreno"
    assert find_speaker("Alex", ["Alex A", "Alex B"]) is None


def test_rep_from_participant_titles(mini_rubric):
    call = make_call(GOOD_CALL)
    call.metadata["participants"] = [
        {"name": "Dana Lee", "description": "VP of Sales, Northwind"},
        {"name": "Alex Moreno", "description": "Acme Account Executive"},
        {"name": "Sam", "description": "Sales Engineer"},
    ]
    grade = grade_call(call, mini_rubric)
    assert (grade.rep, grade.rep_source) == ("Alex", "metadata")


def test_roles_are_known_before_matching_unless_they_must_be_inferred():
    """Known roles come first: a semantic item then reads only its own party's sentences."""
    assert known_roles(make_call(GOOD_CALL)) is None
    named = known_roles(make_call(GOOD_CALL, rep="alex"))
    assert named is not None and (named.rep, named.source) == ("Alex", "metadata")
    assert named.roles == {"Sam": "customer", "Alex": "rep", "Dana": "customer"}
    nobody = known_roles(make_call([]))
    assert nobody is not None and (nobody.rep, nobody.source) == (None, "none")
