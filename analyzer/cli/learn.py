"""`analyzer learn`: learn item models from golden sets or from the calls managers confirmed,
and print what was learned per item."""

from __future__ import annotations

from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import config_from, config_option, rubric_from, rubric_option


@main.command()
@click.argument("golden", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    help="Learn from the calls managers confirmed in this database instead of golden sets.",
)
@rubric_option
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The learned file to write."
)
@config_option
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
    from analyzer.grading.learned import save_learned
    from analyzer.learning.examples import examples_from_golden, examples_from_store
    from analyzer.learning.learn import learn

    if bool(golden) == (db_path is not None):
        raise click.UsageError("give golden set folders or --db, not both and not neither")
    config_from(config_path)
    rubric = rubric_from(rubric_path)
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
