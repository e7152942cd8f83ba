"""`analyzer transcribe`: recorded calls into transcript JSON, one file per call, with a line
per recording and a summary."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import config_from, config_option, settings_from, transcription_options
from analyzer.runs.discover import find_recordings


@main.command()
@click.argument("audio", nargs=-1, required=True, type=click.Path(path_type=Path))
@transcription_options
@config_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("transcripts"),
    show_default=True,
    help="Folder for the transcript JSON files.",
)
def transcribe(audio: tuple[Path, ...], config_path: Path | None, out: Path, **options) -> None:
    """Transcribe recorded calls (files or folders) into transcript JSON, one file per call."""
    from analyzer.speech.pipeline import transcribe_files

    settings = settings_from(options, base=config_from(config_path).transcription)
    files = find_recordings(audio)
    if not files:
        raise click.ClickException(f"no recordings found in {', '.join(map(str, audio))}")
    done, failures = 0, []
    for outcome in transcribe_files(files, settings, out):
        if outcome.error is not None:
            failures.append(outcome.error)
            click.echo(f"Error: {outcome.error}", err=True)
            continue
        done += 1
        t, src = outcome.transcript, outcome.transcript.source
        note = " (cached)" if outcome.cached else ""
        click.echo(
            f"{outcome.path} -> {outcome.output}: {len(t.turns)} turns, "
            f"{src.get('speech_seconds', 0):.1f} s speech in {src.get('audio_seconds', 0):.1f} s "
            f"of audio, {src.get('channels')} channel(s){note}"
        )
    if len(files) > 1 or failures:
        click.echo(f"Transcribed {done} of {len(files)} recordings.")
        if failures:
            click.echo(f"{len(failures)} failed:")
            for failure in failures:
                click.echo(f"  {failure}")
    if failures:
        sys.exit(1)
