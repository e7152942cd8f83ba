"""`analyzer calibrate`: how the suggested grades agree with the managers' confirmed ones, and
what to change in the rubric."""

from __future__ import annotations

from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import (
    config_from,
    config_option,
    date_range_options,
    db_from,
    db_option,
    existing_db,
)
from analyzer.grading.rubric import load_rubric
from analyzer.store import Store


@main.command()
@db_option
@config_option
@date_range_options("Calls from this date (YYYY-MM-DD).", "Calls up to this date (YYYY-MM-DD).")
@click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(path_type=Path),
    help="Only this rubric's calls (its file; default: every rubric stored).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def calibrate(
    db_path: Path | None,
    config_path: Path | None,
    since: str | None,
    until: str | None,
    rubric_path: Path | None,
    fmt: str,
) -> None:
    """How the suggested grades agree with the managers' confirmed ones, the items managers
    override most, and what to change in the rubric."""
    from analyzer.reports.calibrate import calibration_report
    from analyzer.reports.calibration import calibration_json, format_calibration

    db = existing_db(db_from(db_path, config_from(config_path)))
    rubric = load_rubric(rubric_path) if rubric_path is not None else None
    with Store.open(db, readonly=True) as store:
        report = calibration_report(store, since=since, until=until, rubric=rubric)
    click.echo(calibration_json(report) if fmt == "json" else format_calibration(report))
