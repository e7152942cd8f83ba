"""Options and helpers the commands share: `--rubric`, `--db`, `--config`, `--learned`, the
transcription options, `--since` / `--until` (one rule for dates: `analyzer.dates`), and
loading what they name (rubric, settings, database, learned file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from analyzer.config import Config, load_config
from analyzer.dates import day_problem, is_day
from analyzer.grading.rubric import Rubric, default_rubric_path, load_rubric
from analyzer.speech.settings import TranscribeSettings, settings_from_dict

if TYPE_CHECKING:
    from analyzer.grading.learned import Learned

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Settings file (default: ./analyzer.toml if present).",
)
db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    help="The calls database (default: from analyzer.toml, else calls.db).",
)
rubric_option = click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(path_type=Path),
    help="Rubric YAML (default: rubrics/inside-sales.yaml).",
)
learned_option = click.option(
    "--learned",
    "learned_path",
    type=click.Path(path_type=Path),
    help="Grade with item models from `analyzer learn` (default: [grading] learned, else "
    "zero-shot).",
)

_TRANSCRIPTION_OPTIONS = [
    click.option(
        "--backend",
        type=click.Choice(["openai-whisper", "faster-whisper"]),
        help="ASR library (default: faster-whisper).",
    ),
    click.option(
        "--model",
        help="Model name, looked up in --model-dir first, or a path (default: tiny.en, which "
        "ships with the install).",
    ),
    click.option(
        "--model-dir",
        type=click.Path(path_type=Path),
        help="Folder of placed model files (default: models).",
    ),
    click.option("--language", help="Spoken language (default: en)."),
    click.option("--beam-size", type=int, help="Beam search width (default: 5)."),
    click.option("--device", type=click.Choice(["cpu", "cuda"]), help="Default: cpu."),
    click.option(
        "--compute-type",
        help="faster-whisper's number type, e.g. int8, float16, float32 (default: int8 on cpu, "
        "float16 on cuda).",
    ),
    click.option(
        "--batch-size",
        type=click.IntRange(min=0),
        help="faster-whisper: recognise this many speech windows at once (default: 0, one at a "
        "time; more is faster on a GPU).",
    ),
    click.option(
        "--rep-channel",
        type=click.Choice(["left", "right", "none"]),
        help="Stereo calls: the rep's channel (default: left).",
    ),
    click.option(
        "--max-minutes", type=float, help="Refuse recordings longer than this (default: 120)."
    ),
    click.option(
        "--cache-dir",
        type=click.Path(path_type=Path),
        help="Where transcripts are kept for reuse (default: .analyzer-cache).",
    ),
    click.option("--no-cache", is_flag=True, help="Always transcribe again."),
]


def transcription_options(command):  # type: ignore[no-untyped-def]
    """The options that shape transcription, shared by every command that transcribes."""
    for option in reversed(_TRANSCRIPTION_OPTIONS):
        command = option(command)
    return command


# -- dates ---------------------------------------------------------------------------------------


def check_day_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of every date option: the day as given (YYYY-MM-DD), else click's usage error
    ("Invalid value for '--since': must be a date as YYYY-MM-DD, not 'VALUE'")."""
    if value is None or is_day(value):
        return value
    name = param.name or "date"
    # click names the option itself; the message is the rest of analyzer.dates' one
    raise click.BadParameter(day_problem(name, value).removeprefix(f"{name} "), ctx, param)


def since_option(text: str):  # type: ignore[no-untyped-def]
    """`--since DAY` with the help `text`: a YYYY-MM-DD string (None when not given)."""
    return click.option("--since", callback=check_day_option, help=text)


def until_option(text: str):  # type: ignore[no-untyped-def]
    """`--until DAY` with the help `text`: a YYYY-MM-DD string (None when not given)."""
    return click.option("--until", callback=check_day_option, help=text)


def date_range_options(since_help: str, until_help: str):  # type: ignore[no-untyped-def]
    """`--since` and `--until`, in that order."""

    def decorate(command):  # type: ignore[no-untyped-def]
        return since_option(since_help)(until_option(until_help)(command))

    return decorate


# -- what the options name -----------------------------------------------------------------------


def rubric_from(path: Path | None) -> Rubric:
    """The rubric at `path`, else the default one."""
    return load_rubric(path if path is not None else default_rubric_path())


def config_from(path: Path | None) -> Config:
    """analyzer.toml (or the file given), with the embedding model it names configured."""
    config = load_config(path)
    from analyzer.grading import semantic  # cheap: the model loads when a rubric needs it

    grading = config.grading
    semantic.configure(grading.semantic_model, grading.semantic_layers or None)
    return config


def db_from(option: Path | None, config: Config) -> Path:
    """The database given by --db, else the configured one."""
    return option if option is not None else config.store.database


def existing_db(db: Path) -> Path:
    """`db` when the file exists; else the one-line error of the commands that read it."""
    if not db.exists():
        raise click.ClickException(f"{db}: no such database (run `analyzer batch` first)")
    return db


def learned_from(path: Path | None, rubric: Rubric, config: Config | None = None) -> Learned | None:
    """The learned file given, else the configured one, loaded for `rubric`; else None."""
    from analyzer.grading.learned import load_learned

    path = path if path is not None else (config.grading.learned if config else None)
    return load_learned(path, rubric) if path is not None else None


def settings_from(
    options: dict[str, Any], base: TranscribeSettings | None = None
) -> TranscribeSettings:
    """The options given, over `base` (analyzer.toml) or the defaults in TranscribeSettings."""
    data = base.model_dump() if base is not None else {}
    data.update({k: v for k, v in options.items() if v is not None and k != "no_cache"})
    if options.get("no_cache"):
        data["cache_dir"] = None
    return settings_from_dict(data, "options")
