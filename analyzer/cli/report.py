"""`analyzer report` (adherence per rep, phase or item over time) and `analyzer outcomes
import` (won or lost, for the report's closing figures)."""

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
from analyzer.store import Store


@main.command()
@db_option
@config_option
@click.option(
    "--period", type=click.Choice(["day", "week", "month"]), default="week", show_default=True
)
@click.option("--by", type=click.Choice(["rep", "phase", "item"]), default="rep", show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "html"]),
    default="table",
    show_default=True,
    help="html: one page with its charts inside.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@date_range_options("Calls from this date (YYYY-MM-DD).", "Calls up to this date (YYYY-MM-DD).")
def report(
    db_path: Path | None,
    config_path: Path | None,
    period: str,
    by: str,
    fmt: str,
    out: Path | None,
    since: str | None,
    until: str | None,
) -> None:
    """Adherence per rep, phase or item over time, the top 20% of reps against the rest, and
    how items relate to closing when outcomes are known."""
    from analyzer.reports.analysis import build_report
    from analyzer.reports.report import render, write_report

    db = existing_db(db_from(db_path, config_from(config_path)))
    with Store.open(db, readonly=True) as store:
        built = build_report(store, period=period, by=by, since=since, until=until)
    text = render(built, fmt)
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        write_report(text, out)
        click.echo(f"Wrote the {fmt} report to {out}", err=True)


@main.group()
def outcomes() -> None:
    """Call outcomes (won or lost), for the report's closing figures."""


@outcomes.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@db_option
@config_option
def outcomes_import(path: Path, db_path: Path | None, config_path: Path | None) -> None:
    """Set outcomes from a CSV with the columns call_id and outcome; rows naming unknown calls
    or unreadable outcomes are skipped and listed."""
    from analyzer.reports.outcomes import import_outcomes

    db = existing_db(db_from(db_path, config_from(config_path)))
    with Store.open(db) as store:
        result = import_outcomes(store, path)
    click.echo(result.summary())
