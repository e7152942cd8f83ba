"""The rubric (script adherence form): schema, loading and validation.

A rubric is refused whole, before any call is read, with every problem reported at once and
located both by path (`phases[2].items[0].points`) and by line in the YAML file. Field-level
problems come from pydantic; the cross-field rules (weights summing to 100, item points summing
to their phase's weight, unique ids) are checked on the raw data as well, so that a type error in
one place never hides a sum error in another.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import RubricError

ITEM_STATUSES = ("met", "partial", "missed", "na")  # na: the item did not apply to the call
PARTIAL_CREDIT = 0.5  # share of an item's points for a partial (a near miss, or so judged)

SUM_TOLERANCE = 0.01  # points: weights and item points are compared with this tolerance


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Strict):
    """One line of the form: a behaviour worth `points`, recognised by example phrases."""

    id: str = Field(min_length=1)  # unique in the rubric; referenced by grades and reviews
    text: str = Field(min_length=1)  # what the manager reads: "Gives name and company"
    points: float = Field(gt=0)  # the item's share of its phase's weight
    phrases: list[str] = Field(min_length=1)  # examples of the behaviour; paraphrases count
    speaker: Literal["rep", "customer", "any"] = "rep"  # whose turns are searched
    critical: bool = False  # missing it fails the call whatever the total
    forbidden: bool = False  # points are earned by NOT saying any phrase
    min_count: int = Field(default=1, ge=1)  # distinct matching sentences needed for "met"
    # auto: the words (misheard or not) and the meaning weighed together; fuzzy: the words
    # only; semantic: the meaning only; exact: the phrase's words in order (see match.py and
    # README "Matching modes"). auto falls back to fuzzy when no embedding model is installed.
    match: Literal["auto", "fuzzy", "semantic", "exact"] = "auto"

    @field_validator("phrases")
    @classmethod
    def _phrases_not_blank(cls, phrases: list[str]) -> list[str]:
        for phrase in phrases:
            if not phrase.strip():
                raise ValueError("a phrase is empty")
        return phrases


class Phase(_Strict):
    """A part of the call (gatekeeper, rapport...): whatever the rubric defines."""

    id: str = Field(min_length=1)  # unique in the rubric
    title: str = ""  # shown to managers; defaults to the id
    weight: float = Field(gt=0)  # share of the 100 points
    optional: bool = False  # may not happen on a call: then N/A, weight redistributed
    triggers: list[str] = Field(default_factory=list)  # other party's phrases showing it happened
    items: list[Item] = Field(min_length=1)

    @property
    def label(self) -> str:
        return self.title or self.id


class Rubric(_Strict):
    """A whole form. Phases are listed in the order they usually happen on a call."""

    rubric: str = Field(min_length=1)  # the form's id, stored with every grade
    title: str = ""
    version: int | str = 1  # stored with every grade; bump it when phrases or points change
    pass_mark: float = Field(default=70, ge=0, le=100)  # grades below are flagged
    phases: list[Phase] = Field(min_length=1)

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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise RubricError(path, ["no such file"]) from e
    except IsADirectoryError as e:
        raise RubricError(path, ["is a directory"]) from e
    except (OSError, UnicodeDecodeError) as e:
        raise RubricError(path, [f"cannot read: {e}"]) from e
    return parse_rubric(text, path)


def parse_rubric(text: str, path: str | Path = "<rubric>") -> Rubric:
    """Validate rubric YAML text; raise RubricError listing every problem with its location."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RubricError(path, [f"{where}not valid YAML: {problem}"]) from e
    if not isinstance(data, dict):
        raise RubricError(path, ["the file must be a YAML mapping with rubric, phases, ..."])

    problems: list[tuple[tuple[Any, ...], str]] = []
    rubric: Rubric | None = None
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as e:
        for error in e.errors():
            problems.append((tuple(error["loc"]), _describe(error)))
    problems.extend(_cross_checks(data))

    if problems:
        located = sorted(
            dict.fromkeys((_line_of(loc, node) or 0, format_loc(loc), msg) for loc, msg in problems)
        )
        raise RubricError(path, [_message(line, where, msg) for line, where, msg in located])
    assert rubric is not None
    return rubric


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def _cross_checks(data: dict[str, Any]) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Sums and uniqueness, checked on raw data so they are reported beside type errors."""
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
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


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
    bundled = Path(__file__).resolve().parent.parent / DEFAULT_RUBRIC
    if bundled.is_file():
        return bundled
    raise RubricError(
        DEFAULT_RUBRIC, ["no rubric given and the default was not found; use --rubric FILE"]
    )
