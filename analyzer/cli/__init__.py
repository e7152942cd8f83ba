"""The `analyzer` command. Thin: parse options, call the library, print."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from analyzer.cli.output import format_calls, format_report, get_writer
from analyzer.config import Config, load_config
from analyzer.errors import AnalyzerError
from analyzer.grading.rubric import Rubric, default_rubric_path, load_rubric
from analyzer.runs.discover import find_calls, find_recordings
from analyzer.speech.settings import TranscribeSettings, settings_from_dict
from analyzer.store import Store

# The grading engine (spaCy) and the recognisers (torch) load in the commands that use them,
# so that `analyzer calls`, `rubric check` and `--help` start at once.


class _Group(click.Group):
    """Turns every library error into a one-line message and exit code 1, in one place."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except AnalyzerError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=_Group)
@click.version_option(package_name="analyzer")
def main() -> None:
    """Grade recorded sales calls against a script adherence form."""


def _load(rubric_path: Path | None) -> Rubric:
    return load_rubric(rubric_path if rubric_path is not None else default_rubric_path())


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Settings file (default: ./analyzer.toml if present).",
)
_db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    help="The calls database (default: from analyzer.toml, else calls.db).",
)


_rubric_option = click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(path_type=Path),
    help="Rubric YAML (default: rubrics/inside-sales.yaml).",
)
_learned_option = click.option(
    "--learned",
    "learned_path",
    type=click.Path(path_type=Path),
    help="Grade with item models from `analyzer learn` (default: [grading] learned, else "
    "zero-shot).",
)


def _learned(path: Path | None, rubric: Rubric, config: Config | None = None):  # type: ignore[no-untyped-def]
    """The learned file given, else the configured one, loaded for `rubric`; else None."""
    from analyzer.grading.learn import load_learned

    path = path if path is not None else (config.grading.learned if config else None)
    return load_learned(path, rubric) if path is not None else None


_TRANSCRIPTION_OPTIONS = [
    click.option(
        "--backend",
        type=click.Choice(["openai-whisper", "faster-whisper"]),
        help="ASR library (default: faster-whisper).",
    ),
    click.option(
        "--model", help="Model name, looked up in --model-dir first, or a path (default: base.en)."
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
        "--word-timestamps/--no-word-timestamps",
        default=None,
        help="Ask the recogniser for word times.",
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


def _settings(options: dict, base: TranscribeSettings | None = None) -> TranscribeSettings:
    """The options given, over `base` (analyzer.toml) or the defaults in TranscribeSettings."""
    data = base.model_dump() if base is not None else {}
    data.update({k: v for k, v in options.items() if v is not None and k != "no_cache"})
    if options.get("no_cache"):
        data["cache_dir"] = None
    return settings_from_dict(data, "options")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_rubric_option
@click.option("--rep", help="The rep's speaker name (default: from metadata, else inferred).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for a person, json: one grade per line.",
)
@_learned_option
@transcription_options
def score(
    paths: tuple[Path, ...],
    rubric_path: Path | None,
    rep: str | None,
    fmt: str,
    learned_path: Path | None,
    **options,
) -> None:
    """Grade calls (transcripts or recordings, files or folders) and print each grade with its
    evidence. Recordings are transcribed first."""
    from analyzer.grading.grade import Grader
    from analyzer.runs.score import score_files

    rubric = _load(rubric_path)
    learned = _learned(learned_path, rubric, _config(None))
    settings = _settings(options)
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
        _summary(grades, failures, to_stderr=fmt == "json")
    if failures:
        sys.exit(1)


@main.command()
@click.argument("golden", type=click.Path(path_type=Path))
@_rubric_option
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
@_learned_option
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
    rubric = _load(rubric_path)
    learned = None if folds else _learned(learned_path, rubric, _config(None))
    result = run_evaluation(golden, rubric, top=top, learned=learned, cross_validate=folds or 0)
    click.echo(WRITERS[fmt](result), nl=fmt == "json")


@main.command()
@click.argument("golden", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    help="Learn from the calls managers confirmed in this database instead of golden sets.",
)
@_rubric_option
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The learned file to write."
)
@_config_option
def learn(
    golden: tuple[Path, ...],
    db_path: Path | None,
    rubric_path: Path | None,
    out: Path,
    config_path: Path | None,
) -> None:
    """Learn item models from labelled calls: golden sets (folders of calls, labels.csv and
    evidence.csv if any), or with --db the calls managers confirmed on the review page. Grade
    with them by --learned FILE (score, batch, evaluate) or [grading] learned in analyzer.toml."""
    from analyzer.grading.learn import (
        examples_from_golden,
        examples_from_store,
        learn,
        save_learned,
    )

    if bool(golden) == (db_path is not None):
        raise click.UsageError("give golden set folders or --db, not both and not neither")
    _config(config_path)
    rubric = _load(rubric_path)
    if db_path is not None:
        if not db_path.exists():
            raise click.ClickException(f"{db_path}: no such database")
        examples, source = examples_from_store(db_path, rubric), str(db_path)
    else:
        examples, source = examples_from_golden(golden, rubric), ", ".join(map(str, golden))
    learned = learn(examples, rubric, source=source)
    save_learned(learned, out)
    click.echo(
        f"Learned from {learned.calls} calls of {source} for rubric {rubric.rubric} "
        f"v{rubric.version}: {learned.description}; wrote {out}"
    )
    for skipped in learned.skipped:
        click.echo(f"  skipped {skipped}", err=True)
    width = max(len(s.id) for s in learned.summary)
    for s in learned.summary:
        what = "learned  " if s.learned else "zero-shot"
        detail = (
            f"{s.done} done, {s.not_done} not, {s.marked} marked sentences"
            if s.learned
            else s.reason
        )
        click.echo(f"  {s.id:<{width}}  {what}  {detail}")


def _summary(grades: list, failures: list, to_stderr: bool) -> None:
    lines = [f"Scored {len(grades)} of {len(grades) + len(failures)} calls."]
    if grades:
        mean = sum(g.grade for g in grades) / len(grades)
        flagged = [g for g in grades if not g.passed]
        lines.append(
            f"Mean grade {mean:.1f}; {len(flagged)} below pass or missing a critical item."
        )
        for g in grades:
            lines.append(
                f"  {g.grade:5.1f}  {'pass' if g.passed else 'FAIL'}  {g.call_id}"
                + (f"  [{', '.join(g.flags)}]" if g.flags else "")
            )
    if failures:
        lines.append(f"{len(failures)} failed:")
        lines.extend(f"  {f}" for f in failures)
    click.echo("\n".join(lines), err=to_stderr)


@main.command()
@click.argument("audio", nargs=-1, required=True, type=click.Path(path_type=Path))
@transcription_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("transcripts"),
    show_default=True,
    help="Folder for the transcript JSON files.",
)
def transcribe(audio: tuple[Path, ...], out: Path, **options) -> None:
    """Transcribe recorded calls (files or folders) into transcript JSON, one file per call."""
    from analyzer.speech.pipeline import transcribe_files

    settings = _settings(options)
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


def _config(path: Path | None) -> Config:
    config = load_config(path)
    from analyzer.grading import semantic  # cheap: the model loads when a rubric needs it

    grading = config.grading
    semantic.configure(grading.semantic_model, grading.semantic_layers or None)
    return config


def _db(option: Path | None, config: Config) -> Path:
    return option if option is not None else config.store.database


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_db_option
@_config_option
@click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(path_type=Path),
    help="Rubric for calls whose type has none configured.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: cores).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only calls on or after this date (YYYY-MM-DD).",
)
@click.option("--quiet", is_flag=True, help="No progress: only failures and the summary.")
@click.option("--log", "log_path", type=click.Path(path_type=Path), help="Also log to this file.")
@_learned_option
@transcription_options
def batch(
    paths: tuple[Path, ...],
    db_path: Path | None,
    config_path: Path | None,
    rubric_path: Path | None,
    workers: int | None,
    since,
    quiet: bool,
    log_path: Path | None,
    learned_path: Path | None,
    **options,
) -> None:
    """Grade every new call under the folders and store the suggested grades (resumable)."""
    from analyzer.runs.batch import run_batch

    config = _config(config_path)
    grading = config.grading
    if learned_path is not None:
        grading = grading.model_copy(update={"learned": learned_path})
    config = config.model_copy(
        update={
            "transcription": _settings(options, base=config.transcription),
            "grading": grading,
        }
    )
    db = _db(db_path, config)
    interactive = sys.stderr.isatty() and not quiet
    _setup_logging(quiet=quiet, interactive=interactive, log_path=log_path)
    bar = _ProgressBar() if interactive else None
    try:
        report = run_batch(
            list(paths),
            config,
            db,
            rubric_path=rubric_path,
            since=since.date() if since else None,
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


@main.command()
@_db_option
@_config_option
@click.option("--flagged", is_flag=True, help="Only calls below the pass mark or flagged.")
@click.option("--rep", help="Only this rep's calls.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="From this date.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="json: one object per call per line.",
)
def calls(
    db_path: Path | None, config_path: Path | None, flagged: bool, rep: str | None, since, fmt: str
) -> None:
    """A quick look at the calls stored and their suggested grades."""
    config = _config(config_path)
    db = _db(db_path, config)
    if not db.exists():
        raise click.ClickException(f"{db}: no such database (run `analyzer batch` first)")
    with Store.open(db, readonly=True) as store:
        rows = store.list_calls(
            flagged=flagged, rep=rep, since=since.date().isoformat() if since else None
        )
    click.echo(format_calls(rows, fmt), nl=False)


def _date_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from analyzer.errors import ExportError
    from analyzer.reports.export import check_date

    if value is None:
        return None
    try:
        return check_date(param.name or "date", value)
    except ExportError as e:
        raise click.BadParameter(f"must be a date as YYYY-MM-DD, not {value!r}") from e


@main.command()
@_db_option
@_config_option
@click.option(
    "--flagged/--all",
    default=True,
    show_default=True,
    help="Only the calls an [export] flag rule fires for, or every call.",
)
@click.option("--since", callback=_date_option, help="From this date (YYYY-MM-DD).")
@click.option("--until", callback=_date_option, help="Up to this date, inclusive (YYYY-MM-DD).")
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
    config = _config(config_path)
    db = _db(db_path, config)
    if not db.exists():
        raise click.ClickException(f"{db}: no such database (run `analyzer batch` first)")
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


@main.command()
@_db_option
@_config_option
@click.option("--since", callback=_date_option, help="Calls from this date (YYYY-MM-DD).")
@click.option("--until", callback=_date_option, help="Calls up to this date (YYYY-MM-DD).")
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
    from analyzer.reports.calibrate import calibration_json, calibration_report, format_calibration

    db = _db(db_path, _config(config_path))
    if not db.exists():
        raise click.ClickException(f"{db}: no such database (run `analyzer batch` first)")
    rubric = load_rubric(rubric_path) if rubric_path is not None else None
    with Store.open(db, readonly=True) as store:
        report = calibration_report(store, since=since, until=until, rubric=rubric)
    click.echo(calibration_json(report) if fmt == "json" else format_calibration(report))


@main.command()
@_db_option
@_config_option
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
@click.option("--since", callback=_date_option, help="Calls from this date (YYYY-MM-DD).")
@click.option("--until", callback=_date_option, help="Calls up to this date (YYYY-MM-DD).")
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
    from analyzer.reports.report import build_report, render, write_report

    db = _db(db_path, _config(config_path))
    if not db.exists():
        raise click.ClickException(f"{db}: no such database (run `analyzer batch` first)")
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
@_db_option
@_config_option
def outcomes_import(path: Path, db_path: Path | None, config_path: Path | None) -> None:
    """Set outcomes from a CSV with the columns call_id and outcome; rows naming unknown calls
    or unreadable outcomes are skipped and listed."""
    from analyzer.reports.report import import_outcomes

    db = _db(db_path, _config(config_path))
    if not db.exists():
        raise click.ClickException(f"{db}: no such database (run `analyzer batch` first)")
    with Store.open(db) as store:
        result = import_outcomes(store, path)
    click.echo(result.summary())


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


# -- the review page and its users ---------------------------------------------------------------

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@main.command()
@_db_option
@_config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(db_path: Path | None, config_path: Path | None, host: str, port: int) -> None:
    """The review page and JSON API for managers and reps (localhost unless --host says)."""
    import uvicorn

    from analyzer.review.users import list_users
    from analyzer.web import create_app

    db = _db(db_path, _config(config_path))
    if not db.exists():
        raise click.ClickException(f"{db}: no such database (run `analyzer batch` first)")
    with Store.open(db) as store:  # upgrades an older schema before the workers start
        has_users = bool(list_users(store))
    if host not in LOOPBACK:
        click.echo(
            f"warning: listening on {host}: anyone who can reach this machine can try to sign "
            "in; put it behind HTTPS",
            err=True,
        )
    if not has_users:
        click.echo(
            f"note: {db} has no users yet; add one with "
            f"`analyzer users add NAME --role manager --db {db}`",
            err=True,
        )
    click.echo(f"Serving {db} on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    uvicorn.run(create_app(db), host=host, port=port, log_level="info")


@main.group()
def users() -> None:
    """Who may sign in to the review page: managers, admins and reps."""


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@users.command("add")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["admin", "manager", "rep"]), required=True, help="What they do."
)
@click.option("--rep-name", help="For a rep: the name their calls are stored under.")
@_db_option
@_config_option
def users_add(
    name: str, role: str, rep_name: str | None, db_path: Path | None, config_path: Path | None
) -> None:
    """Add a user; the password is asked for (or read from the first line of stdin)."""
    from analyzer.review.users import add_user

    db = _db(db_path, _config(config_path))
    password = _read_password()
    with Store.open(db) as store:
        user = add_user(store, name, role, password, rep_name)
        known = {c.rep.casefold() for c in store.list_calls() if c.rep}
    click.echo(
        f"added {user.role} {user.name}" + (f" (rep {user.rep_name})" if user.rep_name else "")
    )
    if user.rep_name and known and user.rep_name.casefold() not in known:
        click.echo(f"note: no calls in {db} are stored under rep {user.rep_name!r} yet", err=True)


@users.command("list")
@_db_option
@_config_option
def users_list(db_path: Path | None, config_path: Path | None) -> None:
    """The users who may sign in, with their roles."""
    from analyzer.review.users import list_users

    with Store.open(_db(db_path, _config(config_path))) as store:
        found = list_users(store)
    if not found:
        click.echo("no users yet: add one with `analyzer users add NAME --role manager`")
        return
    width = max(len(u.name) for u in found)
    for u in found:
        rep = f"  rep: {u.rep_name}" if u.rep_name else ""
        click.echo(f"{u.name:<{width}}  {u.role:<7}  since {(u.created_at or '')[:10]}{rep}")


@users.command("remove")
@click.argument("name")
@_db_option
@_config_option
def users_remove(name: str, db_path: Path | None, config_path: Path | None) -> None:
    """Remove a user, their sessions and API tokens (their reviews stay in the history)."""
    from analyzer.review.users import remove_user

    with Store.open(_db(db_path, _config(config_path))) as store:
        user = remove_user(store, name)
    click.echo(f"removed {user.role} {user.name}")


@users.command("token")
@click.argument("name")
@_db_option
@_config_option
def users_token(name: str, db_path: Path | None, config_path: Path | None) -> None:
    """Make an API token for NAME, printed on the last line (shown only once)."""
    from analyzer.review.users import make_token

    with Store.open(_db(db_path, _config(config_path))) as store:
        token = make_token(store, name)
    click.echo(f"API token for {name}; send it as 'Authorization: Bearer TOKEN'. Shown once:")
    click.echo(token)


if __name__ == "__main__":
    main()
