import os
from pathlib import Path

import pytest

from analyzer.errors import RubricError
from analyzer.grading.rubric import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_PHASES,
    MAX_PHRASES,
    default_rubric_path,
    format_loc,
    load_rubric,
    parse_rubric,
)

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
        (
            GOOD.replace('phrases: ["Can we book a call?"]', 'phrases: ["  "]'),
            "line 22: phases[1].items[0].phrases[0]: is blank",
        ),
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


def problems_of(text: str) -> list[str]:
    with pytest.raises(RubricError) as info:
        parse_rubric(text, "r.yaml")
    return info.value.problems


# -- strict loading: what used to crash, or to load a form that cannot work -----------------------


def test_a_thousand_nested_brackets_are_refused_not_a_crash():
    assert problems_of("rubric: " + "[" * 1000 + "]" * 1000 + "\n") == [
        f"line 1: nested more than {MAX_DEPTH} levels deep"
    ]


def test_an_alias_inside_its_own_anchor_is_refused_as_too_deep():
    assert problems_of("rubric: x\nphases: &loop [*loop]\n") == [
        "line 2: nested more than 20 levels deep"
    ]


def test_an_alias_bomb_is_refused_with_one_problem():
    bomb = "rubric: x\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for name, inner in zip("bcde", "abcd", strict=True):
        bomb += f"{name}: &{name} [{', '.join([f'*{inner}'] * 10)}]\n"
    problems = problems_of(bomb)
    assert len(problems) == 1
    assert problems[0].endswith(": more than 10,000 YAML values, aliases counted in full")


def test_a_5001_digit_pass_mark_is_out_of_range_not_a_crash():
    assert problems_of(GOOD.replace("pass_mark: 60", "pass_mark: " + "1" * 5001)) == [
        "line 4: pass_mark: Input should be less than or equal to 100"
    ]


def test_a_400_digit_weight_is_out_of_range_not_an_overflow():
    assert problems_of(GOOD.replace("weight: 40", "weight: " + "9" * 400)) == [
        "line 7: phases[0].weight: Input should be less than or equal to 100"
    ]


@pytest.mark.parametrize("phrase", ["???", "{name}", "{name} {company}!", "Um, uh... hmm?"])
def test_a_phrase_that_can_never_match_is_refused(phrase):
    assert problems_of(GOOD.replace('"Can we book a call?"', f'"{phrase}"')) == [
        "line 22: phases[1].items[0].phrases[0]: can never match: no word is left once "
        "punctuation, fillers and {placeholders} are removed"
    ]


def test_a_trigger_that_can_never_match_is_refused():
    assert problems_of(GOOD.replace('["Send me something"]', '["Send me something", "..."]')) == [
        "line 16: phases[1].triggers[1]: can never match: no word is left once "
        "punctuation, fillers and {placeholders} are removed"
    ]


def test_a_phrase_with_a_word_beside_placeholders_or_a_number_can_match():
    r = parse_rubric(GOOD.replace('"Can we book a call?"', '"{name}, 10?", "OK {company}"'))
    assert r.items[1].phrases == ["{name}, 10?", "OK {company}"]


def test_numbers_past_sane_bounds_are_refused_all_at_once():
    bad = (
        GOOD.replace("version: 2", "version: 1000000000000")
        .replace("weight: 60", "weight: 1.0e+30")
        .replace("points: 50", "points: 1.0e+30")
        .replace("        critical: true", "        min_count: 1.0e+30")
    )
    assert problems_of(bad) == [
        "line 3: version: should be from 0 to 999999999",
        "line 5: phases: phase weights sum to 1e+30, not 100",
        "line 14: phases[1].weight: Input should be less than or equal to 100",
        "line 20: phases[1].items[0].points: Input should be less than or equal to 100",
        "line 21: phases[1].items[0].min_count: is too large a number",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("min_count: 21", "Input should be less than or equal to 20"),
        (
            "min_count: 1e30",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
    ],
)
def test_min_count_has_an_upper_bound(line, expected):
    assert problems_of(GOOD.replace("        critical: true", f"        {line}")) == [
        f"line 21: phases[1].items[0].min_count: {expected}"
    ]


def test_blank_ids_version_text_and_triggers_are_refused_all_at_once():
    bad = (
        GOOD.replace("rubric: mini", "rubric: ' '")
        .replace("version: 2", "version: ''")
        .replace("  - id: opening", "  - id: '  '")
        .replace("text: Gives name and company", "text: ' '")
        .replace('["Send me something"]', '["Send me something", " "]')
        .replace("      - id: ask", "      - id: ''")
    )
    assert problems_of(bad) == [
        "line 1: rubric: is blank",
        "line 3: version: is blank",
        "line 6: phases[0].id: is blank",
        "line 10: phases[0].items[0].text: is blank",
        "line 16: phases[1].triggers[1]: is blank",
        "line 18: phases[1].items[0].id: is blank",
    ]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.1", 'should be a whole number, or a text in quotes such as "2.1"'),
        ("true", 'should be a whole number, or a text in quotes such as "2.1"'),
        ("-1", "should be from 0 to 999999999"),
        ("'" + "v" * 101 + "'", "is longer than 100 characters"),
    ],
)
def test_a_version_must_be_a_sane_number_or_a_text(version, expected):
    assert problems_of(GOOD.replace("version: 2", f"version: {version}")) == [
        f"line 3: version: {expected}"
    ]


@pytest.mark.parametrize(
    ("version", "loaded"), [("2.0", 2), ('"2.1"', "2.1"), ("20260315", 20260315)]
)
def test_versions_that_load(version, loaded):
    assert parse_rubric(GOOD.replace("version: 2", f"version: {version}")).version == loaded


def test_a_date_is_a_version_text_and_an_impossible_date_no_crash():
    assert parse_rubric(GOOD.replace("version: 2", "version: 2026-03-01")).version == "2026-03-01"
    assert parse_rubric(GOOD.replace("version: 2", "version: 2026-02-30")).version == "2026-02-30"


def test_an_item_both_critical_and_forbidden_is_refused():
    bad = GOOD.replace("        critical: true", "        critical: true\n        forbidden: yes")
    assert problems_of(bad) == [
        "line 22: phases[1].items[0].forbidden: an item cannot be both critical and forbidden"
    ]


def test_a_key_given_twice_is_refused_with_both_lines():
    bad = GOOD.replace("pass_mark: 60", "pass_mark: 70\npass_mark: 10").replace(
        "        points: 10\n", "        points: 10\n        points: 10\n"
    )
    assert problems_of(bad) == [
        "line 5: pass_mark: duplicate key (also line 4)",
        "line 27: phases[1].items[1].points: duplicate key (also line 26)",
    ]


def test_a_key_given_twice_on_one_line_is_refused():
    bad = GOOD.replace(
        '        phrases: ["This is {name} from {company}"]',
        '        phrases: ["This is {name} from {company}"]\n'
        "      - {id: x, text: X, points: 0.5, points: 1, phrases: [Hi there]}",
    )
    assert problems_of(bad) == [
        "line 8: phases[0].items: item points sum to 41, but the phase weight is 40",
        "line 13: phases[0].items[1].points: duplicate key (also line 13)",
    ]


def test_a_merge_key_is_not_a_duplicate():
    shared = GOOD.replace(
        "      - id: ask\n        text: Asks for a meeting\n",
        "      - <<: {id: ask, text: Asks for a meeting, points: 1}\n",
    )
    assert parse_rubric(shared).items[1].points == 50


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_a_utf16_or_bom_rubric_loads_as_transcripts_do(tmp_path, encoding):
    path = tmp_path / "r.yaml"
    path.write_bytes(GOOD.replace("Mini form", "Mini form – café").encode(encoding))
    assert load_rubric(path).title == "Mini form – café"


def test_a_file_over_1_mb_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(GOOD + "#" * MAX_BYTES)
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert info.value.problems == ["too large for a rubric (over 1 MB)"]
    assert problems_of(GOOD + "#" * MAX_BYTES) == ["too large for a rubric (over 1 MB)"]


def test_a_million_values_are_refused_with_one_problem():
    text = "rubric: [" + ", ".join(["1"] * 300_000) + "]\n"
    assert problems_of(text) == ["line 1: more than 10,000 YAML values, aliases counted in full"]


def test_too_many_phases_items_or_phrases_are_refused_with_their_limit():
    phrases = ", ".join(f"phrase {i}" for i in range(MAX_PHRASES + 1))
    phases = "".join(
        f"  - {{id: p{p}, weight: 1, items: [{{id: i{p}, text: t, points: 1, phrases: [hi]}}]}}\n"
        for p in range(MAX_PHASES + 1)
    )
    assert problems_of(f"rubric: x\nphases:\n{phases}") == [
        "line 2: phases: has 31 entries, more than the limit of 30",
        "line 2: phases: phase weights sum to 31, not 100",
    ]
    many = GOOD.replace('["Can we book a call?"]', f"[{phrases}]")
    assert problems_of(many) == [
        "line 22: phases[1].items[0].phrases: has 51 entries, more than the limit of 50"
    ]
    items = "".join(f"      - {{id: x{i}, text: t, points: 1, phrases: [hi]}}\n" for i in range(51))
    assert "line 8: phases[0].items: has 52 entries, more than the limit of 50" in problems_of(
        GOOD.replace("    items:\n", "    items:\n" + items, 1)
    )


def test_a_phrase_over_500_characters_is_refused():
    long = "word " * 101
    assert problems_of(GOOD.replace('"Can we book a call?"', f'"{long}"')) == [
        "line 22: phases[1].items[0].phrases[0]: String should have at most 500 characters"
    ]


def test_a_bad_explicit_tag_is_a_yaml_problem_not_a_crash():
    assert problems_of(GOOD.replace("version: 2", "version: !!int abc")) == [
        "line 3: not valid YAML: cannot read 'abc' as !!int"
    ]


def test_a_control_character_is_located_by_line():
    assert problems_of(GOOD.replace("version: 2", "version: 2\x00")) == [
        "line 3: not valid YAML: unacceptable character #x0000: special characters are not allowed"
    ]


def test_a_key_with_a_line_break_keeps_its_problem_on_one_line():
    assert problems_of(GOOD.replace("version: 2", 'version: 2\n"a\\nb": 1')) == [
        "line 4: 'a\\nb': unknown key"
    ]


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "r.yaml"
    os.mkfifo(fifo)
    with pytest.raises(RubricError) as info:
        load_rubric(fifo)
    assert info.value.problems == ["is not a regular file"]


def test_the_shipped_and_development_rubrics_still_load():
    shipped = sorted((ROOT / "rubrics").glob("*.yaml"))
    dev = sorted((ROOT.parent / "shared" / "dev-data").glob("*/rubric.yaml"))  # read in place
    assert shipped
    for path in [*shipped, *dev]:
        assert load_rubric(path).phases
