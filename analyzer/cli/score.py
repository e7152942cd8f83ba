"""`analyzer score`: grade calls (transcripts or recordings) and print each grade with its
evidence, then a summary when there are several."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import (
    config_from,
    config_option,
    learned_from,
    learned_option,
    rubric_from,
    rubric_option,
    settings_from,
    transcription_options,
)
from analyzer.grading.writers import get_writer
from analyzer.runs.discover import find_calls
from analyzer.runs.summary import format_scored


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@rubric_option
@click.option("--rep", help="The rep's speaker name (default: from metadata, else inferred).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for a person, json: one grade per line.",
)
@learned_option
@transcription_options
@config_option
def score(
    paths: tuple[Path, ...],
    rubric_path: Path | None,
    rep: str | None,
    fmt: str,
    learned_path: Path | None,
    config_path: Path | None,
    **options,
) -> None:
    """Grade calls (transcripts or recordings, files or folders) and print each grade with its
    evidence. Recordings are transcribed first."""
    from analyzer.grading.grade import Grader
    from analyzer.runs.score import score_files

    rubric = rubric_from(rubric_path)
    config = config_from(config_path)
    learned = learned_from(learned_path, rubric, config)
    settings = settings_from(options, base=config.transcription)
    write = get_writer(fmt)
    files = find_calls(paths)
    if not files:
        raise click.ClickException(f"no calls found in {', '.join(map(str, paths))}")
    grades, failures = [], []
    for outcome in score_files(files, Grader(rubric, learned), rep, settings):
        if outcome.grade is not None:
            grades.append(outcome.grade)
            click.echo(write(outcome.grade), nl=fmt == "json")
        else:
            failures.append(outcome.error)
            click.echo(f"Error: {outcome.error}", err=True)
    if len(files) > 1:
        click.echo(format_scored(grades, failures), err=fmt == "json")
    if failures:
        sys.exit(1)
