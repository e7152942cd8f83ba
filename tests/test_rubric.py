from pathlib import Path

import pytest

from analyzer.errors import RubricError
from analyzer.rubric import default_rubric_path, format_loc, load_rubric, parse_rubric

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
rubric: mini
title: Mini form
version: 2
pass_mark: 60
phases:
  - id: opening
    weight: 40
    items:
      - id: intro
        text: Gives name and company
        points: 40
        phrases: ["This is {name} from {company}"]
  - id: close
    weight: 60
    optional: true
    triggers: ["Send me something"]
    items:
      - id: ask
        text: Asks for a meeting
        points: 50
        critical: true
        phrases: ["Can we book a call?"]
      - id: no_pressure
        text: No pressure
        points: 10
        forbidden: true
        phrases: ["This offer expires today"]
"""


def test_valid_rubric_loads_with_defaults(tmp_path):
    r = parse_rubric(GOOD)
    assert (r.rubric, r.version, r.pass_mark) == ("mini", 2, 60)
    assert [p.id for p in r.phases] == ["opening", "close"]
    intro = r.items[0]
    assert (intro.speaker, intro.critical, intro.forbidden, intro.min_count) == (
        "rep",
        False,
        False,
        1,
    )
    assert r.phase_of("ask").id == "close"


def test_default_rubric_is_valid_and_complete():
    r = load_rubric(ROOT / "rubrics" / "inside-sales.yaml")
    assert [p.id for p in r.phases] == [
        "gatekeeper",
        "rapport",
        "qualification",
        "objections",
        "commitment",
    ]
    assert sum(p.weight for p in r.phases) == 100
    assert 12 <= len(r.items) <= 20
    optional = {p.id for p in r.phases if p.optional}
    assert optional == {"gatekeeper", "objections"}
    assert all(r.phases[i].triggers for i in (0, 3))
    assert any(i.critical for i in r.items) and any(i.forbidden for i in r.items)
    assert all(len(i.phrases) >= 3 for i in r.items)


def test_default_rubric_path_found_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_rubric_path() == ROOT / "rubrics" / "inside-sales.yaml"


def test_three_mistakes_give_three_located_messages():
    bad = (
        GOOD.replace("pass_mark: 60", "pass_mark: 160")  # 1: out of range
        .replace("      - id: ask", "      - id: intro")  # 2: duplicate item id
        .replace("        critical: true", "        critcal: true")  # 3: unknown key
    )
    with pytest.raises(RubricError) as info:
        parse_rubric(bad, "team.yaml")
    assert info.value.problems == [
        "line 4: pass_mark: Input should be less than or equal to 100",
        "line 18: phases[1].items[0].id: duplicate item id 'intro' (also phases[0].items[0])",
        "line 21: phases[1].items[0].critcal: unknown key",
    ]
    assert str(info.value).startswith("team.yaml: 3 problems\n  line 4: pass_mark")


def test_weights_must_sum_to_100():
    bad = GOOD.replace("weight: 40", "weight: 30").replace("points: 40", "points: 30")
    with pytest.raises(RubricError) as info:
        parse_rubric(bad)
    assert info.value.problems == ["line 5: phases: phase weights sum to 90, not 100"]


def test_sum_error_reported_beside_type_error():
    bad = GOOD.replace("points: 40", "points: forty").replace("points: 10", "points: 5")
    with pytest.raises(RubricError) as info:
        parse_rubric(bad)
    problems = info.value.problems
    assert any("phases[0].items[0].points: Input should be a valid number" in p for p in problems)
    assert any(
        "phases[1].items: item points sum to 55, but the phase weight is 60" in p for p in problems
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rubric: x\nphases: []\n", "phases: List should have at least 1 item"),
        ("- just\n- a list\n", "the file must be a YAML mapping"),
        ("rubric: [unclosed\n", "not valid YAML"),
        (GOOD.replace('phrases: ["Can we book a call?"]', 'phrases: ["  "]'), "a phrase is empty"),
        (
            GOOD.replace("min_count", "x").replace("points: 50", "points: -50"),
            "phases[1].items[0].points: Input should be greater than 0",
        ),
        (GOOD.replace("pass_mark: 60", "pass_mark: 160"), "pass_mark: Input should be less than"),
        (GOOD.replace("  - id: opening\n", "  - id: close\n"), "duplicate phase id 'close'"),
        (
            GOOD.replace("speaker", "x").replace("        critical: true", "        speaker: boss"),
            "speaker: Input should be 'rep', 'customer' or 'any'",
        ),
        ("title: no id\nphases: []\n", "rubric: required key is missing"),
    ],
)
def test_problems_are_named(text, expected):
    with pytest.raises(RubricError) as info:
        parse_rubric(text, "r.yaml")
    assert expected in str(info.value)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(RubricError) as info:
        load_rubric(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: 1 problem\n  no such file"


def test_format_loc():
    assert format_loc(("phases", 2, "items", 0, "points")) == "phases[2].items[0].points"
    assert format_loc(()) == "(top level)"
