"""`analyzer export`: one row per call for coaching (CSV, JSON Lines, Excel), or coaching
packets per rep with --packet."""

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
    "--flagged/--all",
    default=True,
    show_default=True,
    help="Only the calls an [export] flag rule fires for, or every call.",
)
@date_range_options("From this date (YYYY-MM-DD).", "Up to this date, inclusive (YYYY-MM-DD).")
@click.option("--rep", help="Only this rep's calls.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "xlsx"]),
    default="csv",
    show_default=True,
    help="jsonl: one object per call per line; xlsx needs --out.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here (whole or not at all) instead of to stdout.",
)
@click.option(
    "--packet",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write coaching packets (HTML, Markdown, audio clips per rep) into this new or empty "
    "folder instead of rows.",
)
def export(
    db_path: Path | None,
    config_path: Path | None,
    flagged: bool,
    since: str | None,
    until: str | None,
    rep: str | None,
    fmt: str,
    out: Path | None,
    packet: Path | None,
) -> None:
    """One row per call for coaching: grades, pass/fail, flags, items missed with their phase,
    manager comments and the moments to listen to. Flag rules: [export] in analyzer.toml.
    With --packet DIR: one coaching page per rep for the flagged calls instead."""
    from analyzer.reports.export import BINARY_FORMATS, export_rows, render, write_atomic

    if packet is not None and out is not None:
        raise click.UsageError("--packet writes a folder: give --packet DIR or --out FILE")
    if out is None and packet is None and fmt in BINARY_FORMATS:
        raise click.UsageError(f"--format {fmt} writes a file: give --out FILE.{fmt}")
    if since is not None and until is not None and since > until:
        raise click.UsageError(f"--since {since} is after --until {until}")
    config = config_from(config_path)
    db = existing_db(db_from(db_path, config))
    with Store.open(db, readonly=True) as store:
        every = export_rows(
            store, config.export, flagged_only=False, since=since, until=until, rep=rep
        )
        if packet is not None:
            from analyzer.reports.packets import write_packets

            chosen = [r for r in every if r.flagged]
            written = write_packets(store, chosen, packet)
            reps = sum(1 for p in written if p.suffix == ".md")
            clips = sum(1 for p in written if p.suffix == ".wav")
            click.echo(
                f"Wrote coaching packets for {reps} reps ({len(chosen)} flagged calls, "
                f"{clips} clips) to {packet}: open {packet / 'index.html'}"
            )
            return
    rows = [r for r in every if r.flagged] if flagged else every
    if out is None:
        click.echo(render(rows, fmt), nl=False)
    else:
        write_atomic(out, rows, fmt)
    if flagged:
        click.echo(f"{len(rows)} of {len(every)} calls flagged", err=True)
    if out is not None:
        click.echo(f"Wrote {len(rows)} calls to {out}", err=True)
