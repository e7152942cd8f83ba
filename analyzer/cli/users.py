"""`analyzer users add | list | remove | token`: who may sign in to the review page."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from analyzer.cli.main import main
from analyzer.cli.options import config_from, config_option, db_from, db_option
from analyzer.store import Store


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
@db_option
@config_option
def users_add(
    name: str, role: str, rep_name: str | None, db_path: Path | None, config_path: Path | None
) -> None:
    """Add a user; the password is asked for (or read from the first line of stdin)."""
    from analyzer.review.users import add_user

    db = db_from(db_path, config_from(config_path))
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
@db_option
@config_option
def users_list(db_path: Path | None, config_path: Path | None) -> None:
    """The users who may sign in, with their roles."""
    from analyzer.review.users import list_users

    with Store.open(db_from(db_path, config_from(config_path))) as store:
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
@db_option
@config_option
def users_remove(name: str, db_path: Path | None, config_path: Path | None) -> None:
    """Remove a user, their sessions and API tokens (their reviews stay in the history)."""
    from analyzer.review.users import remove_user

    with Store.open(db_from(db_path, config_from(config_path))) as store:
        user = remove_user(store, name)
    click.echo(f"removed {user.role} {user.name}")


@users.command("token")
@click.argument("name")
@db_option
@config_option
def users_token(name: str, db_path: Path | None, config_path: Path | None) -> None:
    """Make an API token for NAME, printed on the last line (shown only once)."""
    from analyzer.review.users import make_token

    with Store.open(db_from(db_path, config_from(config_path))) as store:
        token = make_token(store, name)
    click.echo(f"API token for {name}; send it as 'Authorization: Bearer TOKEN'. Shown once:")
    click.echo(token)
