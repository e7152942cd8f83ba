"""Fuzzing the rubric loader (issue 15): damaged copies of the shipped rubrics, random YAML-ish
text, and random rubric-shaped data dumped to YAML. Whatever the bytes, `load_rubric` gives a
Rubric or a `RubricError` (one line per problem), within the time bound (tests/fuzzing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fuzzing import fuzz_settings, keeps_contract, mutated
from hypothesis import given
from hypothesis import strategies as st

from analyzer.errors import RubricError
from analyzer.grading.rubric import SUM_TOLERANCE, Rubric, load_rubric
from analyzer.grading.text import get_normalizer

from conftest import MINI_RUBRIC

pytestmark = pytest.mark.fuzz

TARGET = "rubric loader"
ROOT = Path(__file__).resolve().parents[1]
SEEDS = [path.read_bytes() for path in sorted((ROOT / "rubrics").glob("*.yaml"))]
SEEDS.append(MINI_RUBRIC.encode())
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]


@pytest.fixture(scope="module")
def rubric_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    get_normalizer()  # built once (2 s): the time bound is per input, not for loading spaCy
    return tmp_path_factory.mktemp("fuzz") / "rubric.yaml"


def _check(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    outcome = keeps_contract(TARGET, lambda: load_rubric(path))
    if isinstance(outcome, RubricError):
        assert outcome.problems and all("\n" not in p for p in outcome.problems), outcome
        return
    assert isinstance(outcome, Rubric), outcome
    assert abs(sum(p.weight for p in outcome.phases) - 100) <= SUM_TOLERANCE
    for phase in outcome.phases:
        assert abs(sum(i.points for i in phase.items) - phase.weight) <= SUM_TOLERANCE
        assert not any(i.critical and i.forbidden for i in phase.items)


@fuzz_settings
@given(data=st.sampled_from(SEEDS).flatmap(mutated))
def test_damaged_rubrics_keep_the_contract(rubric_file: Path, data: bytes) -> None:
    _check(rubric_file, data)


# Pieces of YAML syntax and of a rubric, joined at random: most inputs are broken YAML, some
# are valid YAML of any shape, a few nest deep, repeat anchors or write huge numbers.
PIECES = [
    *["\n", "\n  ", "\n    ", "  ", "- ", ": ", ", ", "[", "]", "{", "}", "? ", "#", "'", '"'],
    *["&a ", "*a", "&b ", "*b", "<<: ", "!!int ", "!!float ", "!!str ", "!!binary ", "!x ", "---"],
    *["|", ">", "...", "%YAML 1.1\n", "\t", "\\", "\x00", "\ufeff", "é", "{name}", "???", "um"],
    *["rubric", "phases", "id", "weight", "items", "text", "points", "phrases", "triggers"],
    *["critical", "forbidden", "min_count", "pass_mark", "version", "speaker", "match", "optional"],
    *["true", "yes", "null", "~", "0", "1", "50", "100", "-1", "1e30", "1.0e+30", ".nan", ".inf"],
    *["0x1F", "0o17", "0b101", "1:30", "2026-02-30", "9" * 5001, "Hello there"],
]
yamlish = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=80).map("".join),
    st.text(max_size=200),
)


@fuzz_settings
@given(text=yamlish, encoding=st.sampled_from(ENCODINGS))
def test_yaml_ish_text_keeps_the_contract(rubric_file: Path, text: str, encoding: str) -> None:
    _check(rubric_file, text.encode(encoding, errors="replace"))


numbers = st.one_of(
    st.integers(-10, 200),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 10, 20, 25, 40, 50, 60, 100, 10**400, 1e30]),
)
texts = st.one_of(
    st.sampled_from(["", " ", "???", "{name}", "{name} {company}", "um, uh", "Hi, this is {name}"]),
    st.text(max_size=30),
)
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _field(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a value of the right kind, sometimes anything."""
    return st.one_of(plausible, plausible, plausible, junk)


flags = _field(st.booleans())
items = st.fixed_dictionaries(
    {
        "id": _field(st.sampled_from(["a", "b", "c", "d", " "])),
        "text": _field(texts),
        "points": _field(numbers),
        "phrases": _field(st.lists(texts, max_size=4)),
    },
    optional={
        "speaker": _field(st.sampled_from(["rep", "customer", "any", "boss"])),
        "critical": flags,
        "forbidden": flags,
        "min_count": _field(numbers),
        "match": _field(st.sampled_from(["auto", "fuzzy", "semantic", "exact", "x"])),
        "extra": junk,
    },
)
phases = st.fixed_dictionaries(
    {
        "id": _field(st.sampled_from(["p", "q", "r", ""])),
        "weight": _field(numbers),
        "items": _field(st.lists(items, max_size=4)),
    },
    optional={"title": _field(texts), "optional": flags, "triggers": _field(st.lists(texts))},
)
rubrics = st.fixed_dictionaries(
    {"rubric": _field(texts), "phases": _field(st.lists(phases, max_size=4))},
    optional={"title": _field(texts), "version": _field(numbers), "pass_mark": _field(numbers)},
)


@fuzz_settings
@given(data=rubrics, flow=st.booleans(), encoding=st.sampled_from(ENCODINGS))
def test_rubric_shaped_data_keeps_the_contract(
    rubric_file: Path, data: dict, flow: bool, encoding: str
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    _check(rubric_file, text.encode(encoding, errors="replace"))
