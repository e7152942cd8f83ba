"""The `analyzer` command. Thin: parse options, call the library, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import AnalyzerError
from .grade import Grader
from .output import get_writer
from .rubric import Rubric, default_rubric_path, load_rubric
from .score import find_transcripts, score_files


class _Group(click.Group):
    """Turns every library error into a one-line message and exit code 1, in one place."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except AnalyzerError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=_Group)
@click.version_option(package_name="analyzer")
def main() -> None:
    """Grade recorded sales calls against a script adherence form."""


def _load(rubric_path: Path | None) -> Rubric:
    return load_rubric(rubric_path if rubric_path is not None else default_rubric_path())


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(path_type=Path),
    help="Rubric YAML (default: rubrics/inside-sales.yaml).",
)
@click.option("--rep", help="The rep's speaker name (default: from metadata, else inferred).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for a person, json: one grade per line.",
)
def score(paths: tuple[Path, ...], rubric_path: Path | None, rep: str | None, fmt: str) -> None:
    """Grade transcripts (files or folders) and print each grade with its evidence."""
    rubric = _load(rubric_path)
    write = get_writer(fmt)
    files = find_transcripts(paths)
    if not files:
        raise click.ClickException(f"no transcript files found in {', '.join(map(str, paths))}")
    grades, failures = [], []
    for outcome in score_files(files, Grader(rubric), rep):
        if outcome.grade is not None:
            grades.append(outcome.grade)
            click.echo(write(outcome.grade), nl=fmt == "json")
        else:
            failures.append(outcome.error)
            click.echo(f"Error: {outcome.error}", err=True)
    if len(files) > 1:
        _summary(grades, failures, to_stderr=fmt == "json")
    if failures:
        sys.exit(1)


def _summary(grades: list, failures: list, to_stderr: bool) -> None:
    lines = [f"Scored {len(grades)} of {len(grades) + len(failures)} calls."]
    if grades:
        mean = sum(g.grade for g in grades) / len(grades)
        flagged = [g for g in grades if not g.passed]
        lines.append(
            f"Mean grade {mean:.1f}; {len(flagged)} below pass or missing a critical item."
        )
        for g in grades:
            lines.append(
                f"  {g.grade:5.1f}  {'pass' if g.passed else 'FAIL'}  {g.call_id}"
                + (f"  [{', '.join(g.flags)}]" if g.flags else "")
            )
    if failures:
        lines.append(f"{len(failures)} failed:")
        lines.extend(f"  {f}" for f in failures)
    click.echo("\n".join(lines), err=to_stderr)


@main.group()
def rubric() -> None:
    """Work with rubric files."""


@rubric.command("check")
@click.argument("path", type=click.Path(path_type=Path))
def rubric_check(path: Path) -> None:
    """Validate a rubric and report every problem with its location."""
    r = load_rubric(path)
    optional = sum(p.optional for p in r.phases)
    click.echo(
        f"{path}: ok - {r.rubric} v{r.version}, {len(r.phases)} phases ({optional} optional), "
        f"{len(r.items)} items, pass mark {r.pass_mark:g}"
    )
