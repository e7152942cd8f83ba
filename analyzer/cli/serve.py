"""`analyzer serve`: the review page and JSON API, with a warning off loopback and a note when
no one can sign in yet."""

from __future__ import annotations

from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import config_from, config_option, db_from, db_option, existing_db
from analyzer.store import Store

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@main.command()
@db_option
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(db_path: Path | None, config_path: Path | None, host: str, port: int) -> None:
    """The review page and JSON API for managers and reps (localhost unless --host says)."""
    import uvicorn

    from analyzer.review.users import list_users
    from analyzer.web import create_app

    db = existing_db(db_from(db_path, config_from(config_path)))
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
