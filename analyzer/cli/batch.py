"""`analyzer batch`: grade every new call under the folders into the database, with a progress
bar on a terminal, logging to stderr (and a file), and the closing summary."""

from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import (
    config_from,
    config_option,
    db_from,
    db_option,
    learned_option,
    settings_from,
    since_option,
    transcription_options,
)
from analyzer.runs.summary import format_report


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
@config_option
@click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(path_type=Path),
    help="Rubric for calls whose type has none configured.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: cores).")
@since_option("Only calls on or after this date (YYYY-MM-DD).")
@click.option("--quiet", is_flag=True, help="No progress: only failures and the summary.")
@click.option("--log", "log_path", type=click.Path(path_type=Path), help="Also log to this file.")
@learned_option
@transcription_options
def batch(
    paths: tuple[Path, ...],
    db_path: Path | None,
    config_path: Path | None,
    rubric_path: Path | None,
    workers: int | None,
    since: str | None,
    quiet: bool,
    log_path: Path | None,
    learned_path: Path | None,
    **options,
) -> None:
    """Grade every new call under the folders and store the suggested grades (resumable)."""
    from analyzer.runs.batch import run_batch

    config = config_from(config_path)
    grading = config.grading
    if learned_path is not None:
        grading = grading.model_copy(update={"learned": learned_path})
    config = config.model_copy(
        update={
            "transcription": settings_from(options, base=config.transcription),
            "grading": grading,
        }
    )
    db = db_from(db_path, config)
    interactive = sys.stderr.isatty() and not quiet
    _setup_logging(quiet=quiet, interactive=interactive, log_path=log_path)
    bar = _ProgressBar() if interactive else None
    try:
        report = run_batch(
            list(paths),
            config,
            db,
            rubric_path=rubric_path,
            since=date.fromisoformat(since) if since else None,
            workers=workers,
            progress=bar.update if bar else None,
        )
    finally:
        if bar:
            bar.close()
    click.echo(format_report(report, db))
    if report.failed:
        sys.exit(1)


class _ProgressBar:
    """A progress bar with counts and ETA on a terminal."""

    def __init__(self) -> None:
        self._bar = None

    def update(self, done: int, total: int, what: str) -> None:
        if self._bar is None:
            self._bar = click.progressbar(
                length=total, label="Grading", show_pos=True, show_eta=True, file=sys.stderr
            )
            self._bar.__enter__()
        self._bar.update(1, what)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _setup_logging(quiet: bool, interactive: bool, log_path: Path | None) -> None:
    logger = logging.getLogger("analyzer")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    console.setLevel(logging.WARNING if quiet or interactive else logging.INFO)
    logger.addHandler(console)
    if log_path is not None:
        handler = logging.FileHandler(log_path)
        handler.setFormatter(fmt)
        logger.addHandler(handler)
