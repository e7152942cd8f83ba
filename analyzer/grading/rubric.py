"""The rubric (script adherence form): schema, loading and validation.

A rubric is refused whole, before any call is read, with every problem reported at once and
located both by path (`phases[2].items[0].points`) and by line in the YAML file. Field-level
problems come from pydantic; the cross-field rules (weights summing to 100, item points summing
to their phase's weight, unique ids) are checked on the raw data as well, so that a type error in
one place never hides a sum error in another.

The loader is strict: a key given twice, a phrase that can never match, a number out of any sane
range, a blank id are refused like any other problem. A file past the limits below (size,
nesting, number of values) is refused with one problem before it is validated. Rubric files are
decoded as transcripts are (UTF-8, UTF-16/32 with a BOM, ...: `readers.decode_bytes`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from analyzer.errors import RubricError
from analyzer.transcripts.readers import decode_bytes

ITEM_STATUSES = ("met", "partial", "missed", "na")  # na: the item did not apply to the call
PARTIAL_CREDIT = 0.5  # share of an item's points for a partial (a near miss, or so judged)

SUM_TOLERANCE = 0.01  # points: weights and item points are compared with this tolerance

# Limits. A rubric is a form a manager reads: far inside all of them (the default one is 14 KB,
# nests 7 deep, holds about 400 YAML values, 5 phases of at most 4 items of at most 9 phrases).
MAX_BYTES = 1_000_000  # size of a rubric file (or text): a bigger one is surely the wrong file
MAX_DEPTH = 20  # YAML nesting; a rubric nests 7 deep (phases, items, phrases, a phrase)
MAX_VALUES = 10_000  # YAML values (keys, scalars, lists, mappings), aliases counted in full
MAX_PHASES = 30  # phases in a rubric
MAX_ITEMS = 50  # items in one phase
MAX_PHRASES = 50  # phrases of one item; triggers of one phase
MAX_ID_CHARS = 100  # an id (rubric, phase, item) or a version written as text
MAX_TEXT_CHARS = 500  # a title, an item's text, a phrase, a trigger
MAX_POINTS = 100  # a phase's weight or an item's points (the weights sum to 100)
MAX_MIN_COUNT = 20  # min_count: distinct matching sentences for "met" (a call has ~100)
MAX_VERSION = 999_999_999  # a version number (room for a date such as 20260315)
MAX_NUMBER_CHARS = 100  # an integer written longer is read as infinite: out of every range

TOO_LARGE = f"too large for a rubric (over {MAX_BYTES // 1_000_000} MB)"


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("is blank")
    return text


def _can_match(phrase: str) -> str:
    if not _has_words(phrase):
        raise ValueError(
            "can never match: no word is left once punctuation, fillers and {placeholders} "
            "are removed"
        )
    return phrase


@lru_cache(maxsize=4096)  # a phrase repeated through YAML aliases is normalised once
def _has_words(phrase: str) -> bool:
    """Whether the matcher sees any word in `phrase`: the tokens it matches on (text.py)."""
    from analyzer.grading.text import get_normalizer  # spaCy loads here, not when the CLI starts

    return bool(get_normalizer().tokens(phrase))


Id = Annotated[str, Field(max_length=MAX_ID_CHARS), AfterValidator(_not_blank)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_not_blank)]
Title = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Points = Annotated[float, Field(gt=0, le=MAX_POINTS)]
PhraseText = Annotated[Text, AfterValidator(_can_match)]  # an item's phrase or a trigger
Phrases = Annotated[list[PhraseText], Field(max_length=MAX_PHRASES)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Strict):
    """One line of the form: a behaviour worth `points`, recognised by example phrases."""

    id: Id  # unique in the rubric; referenced by grades and reviews
    text: Text  # what the manager reads: "Gives name and company"
    points: Points  # the item's share of its phase's weight
    phrases: Annotated[Phrases, Field(min_length=1)]  # examples of the behaviour; paraphrases count
    speaker: Literal["rep", "customer", "any"] = "rep"  # whose turns are searched
    critical: bool = False  # missing it fails the call whatever the total
    forbidden: bool = False  # points are earned by NOT saying any phrase (never critical too)
    min_count: int = Field(default=1, ge=1, le=MAX_MIN_COUNT)  # matching sentences for "met"
    # auto: the words (misheard or not) and the meaning weighed together; fuzzy: the words
    # only; semantic: the meaning only; exact: the phrase's words in order (see match.py and
    # README "Matching modes"). auto falls back to fuzzy when no embedding model is installed.
    match: Literal["auto", "fuzzy", "semantic", "exact"] = "auto"


class Phase(_Strict):
    """A part of the call (gatekeeper, rapport...): whatever the rubric defines."""

    id: Id  # unique in the rubric
    title: Title = ""  # shown to managers; defaults to the id
    weight: Points  # share of the 100 points
    optional: bool = False  # may not happen on a call: then N/A, weight redistributed
    triggers: Phrases = Field(default_factory=list)  # other party's phrases showing it happened
    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS)

    @property
    def label(self) -> str:
        return self.title or self.id


class Rubric(_Strict):
    """A whole form. Phases are listed in the order they usually happen on a call."""

    rubric: Id  # the form's id, stored with every grade
    title: Title = ""
    version: int | str = 1  # stored with every grade; bump it when phrases or points change
    pass_mark: float = Field(default=70, ge=0, le=100)  # grades below are flagged
    phases: list[Phase] = Field(min_length=1, max_length=MAX_PHASES)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        """A whole number from 0 to MAX_VERSION, or a text (not blank): one message each."""
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # `version: 2.0`
        if isinstance(value, str):
            if len(value) > MAX_ID_CHARS:
                raise ValueError(f"is longer than {MAX_ID_CHARS} characters")
            return _not_blank(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError('should be a whole number, or a text in quotes such as "2.1"')
        if not 0 <= value <= MAX_VERSION:
            raise ValueError(f"should be from 0 to {MAX_VERSION}")
        return value

    @property
    def items(self) -> list[Item]:
        return [item for phase in self.phases for item in phase.items]

    def phase_of(self, item_id: str) -> Phase:
        for phase in self.phases:
            if any(item.id == item_id for item in phase.items):
                return phase
        raise KeyError(item_id)


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric file; raise RubricError listing every problem."""
    path = Path(path)
    if path.is_dir():
        raise RubricError(path, ["is a directory"])
    if not path.exists():
        raise RubricError(path, ["no such file"])
    if not path.is_file():
        raise RubricError(path, ["is not a regular file"])  # a FIFO would never end
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as e:
        raise RubricError(path, [f"cannot read: {e.strerror or e}"]) from e
    if len(data) > MAX_BYTES:
        raise RubricError(path, [TOO_LARGE])
    return parse_rubric(decode_bytes(data), path)


def parse_rubric(text: str, path: str | Path = "<rubric>") -> Rubric:
    """Validate rubric YAML text; raise RubricError listing every problem with its location."""
    if len(text) > MAX_BYTES:
        raise RubricError(path, [TOO_LARGE])
    try:
        node, data, duplicates = _read_yaml(text)
    except _Refused as e:
        raise RubricError(path, [f"line {e.line}: {e.problem}"]) from None
    except yaml.YAMLError as e:
        raise RubricError(path, [_yaml_problem(e, text)]) from e
    if not isinstance(data, dict):
        raise RubricError(path, ["the file must be a YAML mapping with rubric, phases, ..."])

    problems: list[tuple[int | None, tuple[Any, ...], str]] = list(duplicates)
    rubric: Rubric | None = None
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as e:
        for error in e.errors():
            problems.append((None, tuple(error["loc"]), _describe(error)))
    problems.extend((None, loc, msg) for loc, msg in _cross_checks(data))

    if problems:
        located = sorted(
            dict.fromkeys(
                (line or _line_of(loc, node) or 0, format_loc(loc), msg)
                for line, loc, msg in problems
            )
        )
        raise RubricError(path, [_message(line, where, msg) for line, where, msg in located])
    assert rubric is not None
    return rubric


# -- the YAML, bounded ----------------------------------------------------------------------------


_YAML_TAG = "tag:yaml.org,2002:"  # the prefix of the standard tags (!!int, !!str...)


class _Refused(Exception):
    """A file past a limit: refused whole with one problem."""

    def __init__(self, mark: yaml.Mark, problem: str) -> None:
        self.line = mark.line + 1
        self.problem = problem
        super().__init__(problem)


def _too_deep(mark: yaml.Mark) -> _Refused:
    return _Refused(mark, f"nested more than {MAX_DEPTH} levels deep")


def _too_many(mark: yaml.Mark) -> _Refused:
    return _Refused(mark, f"more than {MAX_VALUES:,} YAML values, aliases counted in full")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded while it reads: nesting past MAX_DEPTH and values past
    MAX_VALUES are refused before Python's recursion limit (or a minute of parsing) is reached.
    Integers too long for Python are infinite, dates stay text, a bad `!!int` is a YAML error."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.values = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        mark = self.peek_event().start_mark
        self.depth += 1
        self.values += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _too_deep(mark)
            if self.values > MAX_VALUES:
                raise _too_many(mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, LookupError, OverflowError) as e:  # `!!int abc`, `!!int ''`, `!!bool x`
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {str(node.value)[:40]!r} as {node.tag.replace(_YAML_TAG, '!!')}",
                node.start_mark,
            ) from e

    def construct_long_int(self, node: yaml.Node) -> Any:
        text = self.construct_scalar(node)
        if isinstance(text, str) and len(text) > MAX_NUMBER_CHARS:
            return -math.inf if text.lstrip().startswith("-") else math.inf
        return self.construct_yaml_int(node)


_Loader.add_constructor(_YAML_TAG + "int", _Loader.construct_long_int)
_Loader.add_constructor(_YAML_TAG + "timestamp", _Loader.construct_yaml_str)


def _read_yaml(text: str) -> tuple[yaml.Node | None, Any, list[tuple[int, tuple[Any, ...], str]]]:
    """The YAML node tree, the data it stands for, and its duplicate keys (line, path, problem)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, []
        duplicates = _survey(node)
        return node, loader.construct_document(node), duplicates
    finally:
        loader.dispose()


def _survey(root: yaml.Node) -> list[tuple[int, tuple[Any, ...], str]]:
    """Walk the tree with aliases followed (as the data will be): raise _Refused past MAX_DEPTH
    or MAX_VALUES; return every key given twice in one mapping."""
    duplicates: list[tuple[int, tuple[Any, ...], str]] = []
    checked: set[int] = set()  # mappings already searched for duplicates (an alias repeats one)
    stack: list[tuple[yaml.Node, tuple[Any, ...], int]] = [(root, (), 1)]
    values = 0
    while stack:
        node, loc, depth = stack.pop()
        values += 1
        if depth > MAX_DEPTH:
            raise _too_deep(node.start_mark)
        if values > MAX_VALUES:
            raise _too_many(node.start_mark)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, (*loc, i), depth + 1) for i, child in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, Any], int] = {}
            for key, value in node.value:
                stack.append((key, loc, depth + 1))
                stack.append((value, (*loc, key.value), depth + 1))
                if id(node) in checked or not isinstance(key, yaml.ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if (key.tag, key.value) in seen:
                    first = seen[key.tag, key.value]
                    duplicates.append(
                        (line, (*loc, key.value), f"duplicate key (also line {first})")
                    )
                else:
                    seen[key.tag, key.value] = line
            checked.add(id(node))
    return duplicates


def _yaml_problem(error: yaml.YAMLError, text: str) -> str:
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, yaml.reader.ReaderError):  # a character YAML refuses: no mark, a position
        line = text.count("\n", 0, error.position) + 1
    where = f"line {line}: " if line is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{where}not valid YAML: {problem}"


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "int_parsing_size":  # `min_count: 1.0e+30`: no string was parsed
        return "is too large a number"
    if kind == "too_long" and error["ctx"]["field_type"] == "List":
        ctx = error["ctx"]
        return f"has {ctx['actual_length']} entries, more than the limit of {ctx['max_length']}"
    message = error["msg"]
    return message.removeprefix("Value error, ")


_FLAG = TypeAdapter(bool)  # how pydantic reads `critical: true` (or yes, 1, "on"...)


def _is_set(value: Any) -> bool:
    try:
        return _FLAG.validate_python(value)
    except ValidationError:
        return False


def _cross_checks(data: dict[str, Any]) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Sums, uniqueness and flags that exclude each other, checked on raw data so that they are
    reported beside type errors."""
    phases = data.get("phases")
    if not isinstance(phases, list):
        return
    weights: list[float] = []
    seen_phases: dict[str, int] = {}
    seen_items: dict[str, str] = {}
    for p, phase in enumerate(phases):
        if not isinstance(phase, dict):
            continue
        weight = _number(phase.get("weight"))
        if weight is not None:
            weights.append(weight)
        phase_id = phase.get("id")
        if isinstance(phase_id, str):
            if phase_id in seen_phases:
                yield (
                    ("phases", p, "id"),
                    f"duplicate phase id {phase_id!r} (also phases[{seen_phases[phase_id]}])",
                )
            else:
                seen_phases[phase_id] = p
        items = phase.get("items")
        if not isinstance(items, list):
            continue
        points: list[float] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            value = _number(item.get("points"))
            if value is not None:
                points.append(value)
            item_id = item.get("id")
            if isinstance(item_id, str):
                if item_id in seen_items:
                    yield (
                        ("phases", p, "items", i, "id"),
                        f"duplicate item id {item_id!r} (also {seen_items[item_id]})",
                    )
                else:
                    seen_items[item_id] = f"phases[{p}].items[{i}]"
            if _is_set(item.get("critical")) and _is_set(item.get("forbidden")):
                yield (
                    ("phases", p, "items", i, "forbidden"),
                    "an item cannot be both critical and forbidden",
                )
        all_points_valid = len(points) == len(items)
        if weight is not None and all_points_valid and abs(sum(points) - weight) > SUM_TOLERANCE:
            yield (
                ("phases", p, "items"),
                f"item points sum to {_fmt(sum(points))}, but the phase weight is {_fmt(weight)}",
            )
    if len(weights) == len(phases) and abs(sum(weights) - 100) > SUM_TOLERANCE:
        yield (("phases",), f"phase weights sum to {_fmt(sum(weights))}, not 100")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return f"{value:g}"


def format_loc(loc: tuple[Any, ...]) -> str:
    """('phases', 2, 'items', 0, 'points') -> 'phases[2].items[0].points'."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _short(part)
    return out or "(top level)"


def _short(value: Any) -> str:
    """A key or value as a problem line shows it: on one line, at most 40 characters."""
    text = str(value)
    if text.isprintable() and len(text) <= 40:
        return text
    return repr(text[:40]) + ("..." if len(text) > 40 else "")


def _message(line: int, where: str, message: str) -> str:
    return f"line {line}: {where}: {message}" if line else f"{where}: {message}"


def _line_of(loc: tuple[Any, ...], node: yaml.Node | None) -> int | None:
    """The 1-based line of the deepest YAML node on the path `loc` (the key for a mapping)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


DEFAULT_RUBRIC = Path("rubrics") / "inside-sales.yaml"


def default_rubric_path() -> Path:
    """The default rubric: `rubrics/inside-sales.yaml` in the working directory, else the
    project's own copy beside the package."""
    local = Path.cwd() / DEFAULT_RUBRIC
    if local.is_file():
        return local
    bundled = Path(__file__).resolve().parents[2] / DEFAULT_RUBRIC
    if bundled.is_file():
        return bundled
    raise RubricError(
        DEFAULT_RUBRIC, ["no rubric given and the default was not found; use --rubric FILE"]
    )
