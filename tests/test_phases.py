from analyzer.grading.grade import grade_call
from analyzer.grading.rubric import parse_rubric

from helpers import GOOD_CALL, make_call


def spans(grade):
    return {p.id: (p.span.first_turn, p.span.last_turn) if p.span else None for p in grade.phases}


def test_phases_follow_the_call_in_rubric_order(mini_rubric):
    grade = grade_call(make_call(GOOD_CALL), mini_rubric, rep="Alex")
    assert spans(grade) == {
        "screen": (0, 5),
        "open": (6, 7),
        "discover": (8, 10),
        "pushback": (11, 13),
        "close": (14, 15),
    }
    screen = grade.phases[0]
    assert screen.trigger.speaker == "Sam" and screen.trigger.text == "Who's calling, please?"
    assert grade.phases[0].span.start == 0.0 and grade.phases[0].span.end == 30.0


def test_trigger_said_by_the_rep_does_not_make_a_phase_happen(mini_rubric):
    call = make_call(
        [
            (
                "Alex",
                "Hi, this is Alex from Acme Solutions. Who's calling, please? Ha, just kidding.",
            ),
            ("Dana", "Hi."),
            ("Alex", "Can we book a demo on Thursday at ten?"),
            ("Dana", "Sure."),
        ]
    )
    grade = grade_call(call, mini_rubric, rep="Alex")
    assert grade.phases[0].status == "na"


def test_an_interleaving_phase_can_come_and_go(mini_rubric):
    call = make_call(
        [
            ("Alex", "Hi, this is Alex from Acme Solutions. Is now a bad time?"),
            ("Dana", "It's too expensive, whatever it is."),
            ("Alex", "I completely understand."),
            ("Dana", "Okay go on."),
            ("Alex", "How are you handling scheduling today?"),
            ("Dana", "Badly."),
            ("Alex", "What is the biggest challenge with that? How many reps are on the team?"),
            ("Dana", "We're happy with our current provider."),
            ("Alex", "I completely understand."),
            ("Alex", "Can we book a demo on Thursday at ten?"),
        ]
    )
    grade = grade_call(call, mini_rubric, rep="Alex")
    pushback = next(p for p in grade.phases if p.id == "pushback")
    assert pushback.status == "scored"
    assert pushback.segments == [(1, 3), (7, 8)]
    assert spans(grade)["discover"] == (4, 6)


def test_optional_phase_without_triggers_happens_when_an_item_is_met():
    rubric = parse_rubric("""
rubric: r
phases:
  - id: a
    weight: 50
    items: [{id: a1, text: A, points: 50, phrases: ["Hello this is Alex"]}]
  - id: b
    weight: 50
    optional: true
    items: [{id: b1, text: B, points: 50, phrases: ["Let me tell you about our referral program"]}]
""")
    said = grade_call(
        make_call(
            [
                ("Alex", "Hello this is Alex."),
                ("Alex", "Let me tell you about our referral program."),
            ]
        ),
        rubric,
    )
    silent = grade_call(
        make_call([("Alex", "Hello this is Alex."), ("Dana", "Bye.")]), rubric, rep="Alex"
    )
    assert [p.status for p in said.phases] == ["scored", "scored"]
    assert [p.status for p in silent.phases] == ["scored", "na"] and silent.grade == 100.0


def test_no_phase_name_is_special():
    rubric = parse_rubric("""
rubric: support
phases:
  - id: greeting
    weight: 30
    items: [{id: g, text: Greets, points: 30, phrases: ["Thank you for calling Harper Bank"]}]
  - id: wrapup
    weight: 70
    items:
      - {id: w, text: Offers help, points: 70, phrases: ["Is there anything else I can help with?"]}
""")
    grade = grade_call(
        make_call(
            [
                ("Jen", "Thank you for calling Harper Bank."),
                ("Liz", "I need my balance."),
                ("Jen", "It's 134 dollars."),
                ("Liz", "Thanks."),
                ("Jen", "Is there anything else I can help you with?"),
            ]
        ),
        rubric,
    )
    assert grade.rep == "Jen" and grade.grade == 100.0
    assert spans(grade) == {"greeting": (0, 3), "wrapup": (4, 4)}
