"""`analyzer rubric check`: validate a rubric file and say what it holds."""

from __future__ import annotations

from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.grading.rubric import load_rubric


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
