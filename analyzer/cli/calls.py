"""`analyzer calls`: a quick look at the calls stored and their suggested grades."""

from __future__ import annotations

from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import (
    config_from,
    config_option,
    db_from,
    db_option,
    existing_db,
    since_option,
)
from analyzer.reports.listing import format_calls
from analyzer.store import Store


@main.command()
@db_option
@config_option
@click.option("--flagged", is_flag=True, help="Only calls below the pass mark or flagged.")
@click.option("--rep", help="Only this rep's calls.")
@since_option("From this date.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="json: one object per call per line.",
)
def calls(
    db_path: Path | None,
    config_path: Path | None,
    flagged: bool,
    rep: str | None,
    since: str | None,
    fmt: str,
) -> None:
    """A quick look at the calls stored and their suggested grades."""
    db = existing_db(db_from(db_path, config_from(config_path)))
    with Store.open(db, readonly=True) as store:
        rows = store.list_calls(flagged=flagged, rep=rep, since=since)
    click.echo(format_calls(rows, fmt), nl=False)
