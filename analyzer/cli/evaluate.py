"""`analyzer evaluate`: compare the suggested grades with a manager's on a golden set."""

from __future__ import annotations

from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import (
    config_from,
    learned_from,
    learned_option,
    rubric_from,
    rubric_option,
)


@main.command()
@click.argument("golden", type=click.Path(path_type=Path))
@rubric_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for a person, json: one object for scripts.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How many of the calls that disagree most to show.",
)
@learned_option
@click.option(
    "--cross-validate",
    "folds",
    type=click.IntRange(min=2),
    help="Learn on K-1 folds of the calls, grade the held-out fold, for each of K folds.",
)
def evaluate(
    golden: Path,
    rubric_path: Path | None,
    fmt: str,
    top: int,
    learned_path: Path | None,
    folds: int | None,
) -> None:
    """Compare the suggested grades with a manager's on a golden set: a folder of calls and
    labels.csv (call_id,item_id,status[,note]), and evidence.csv (call_id,item_id,turn) if
    there is one. Prints per-item precision, recall and F1, Cohen's kappa, the grade's error
    and bias, evidence precision, and the calls that disagree most."""
    from analyzer.reports.evaluate import WRITERS
    from analyzer.reports.evaluate import evaluate as run_evaluation

    if folds and learned_path is not None:
        raise click.UsageError("give --learned or --cross-validate, not both")
    rubric = rubric_from(rubric_path)
    learned = None if folds else learned_from(learned_path, rubric, config_from(None))
    result = run_evaluation(golden, rubric, top=top, learned=learned, cross_validate=folds or 0)
    click.echo(WRITERS[fmt](result), nl=fmt == "json")
