"""`analyzer users add|list|remove|token` and the checks `analyzer serve` makes before serving."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.grading.rubric import Rubric
from analyzer.review.users import authenticate, list_users, user_for_token
from analyzer.store import Store

from reviewing import PASSWORD, seed_review_db


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no analyzer.toml of the project's around
    return tmp_path / "calls.db"


def run(*args, input: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def add(db: Path, name: str, role: str, *more: str, password: str = PASSWORD):
    return run("users", "add", name, "--role", role, *more, "--db", db, input=password + "\n")


def test_users_add_reads_the_password_from_stdin(db: Path) -> None:
    manager = add(db, "maria", "manager")
    assert manager.exit_code == 0, manager.output
    assert (manager.stdout, manager.stderr) == ("added manager maria\n", "")
    rep = add(db, "alex", "rep", "--rep-name", "Alex")
    assert (rep.exit_code, rep.stdout, rep.stderr) == (0, "added rep alex (rep Alex)\n", "")
    plain_rep = add(db, "sam", "rep")
    assert (plain_rep.exit_code, plain_rep.stdout) == (0, "added rep sam (rep sam)\n")
    with Store.open(db) as store:
        maria = authenticate(store, "maria", PASSWORD)
        assert maria is not None and maria.role == "manager"
        alex = authenticate(store, "alex", PASSWORD)
        assert alex is not None and (alex.role, alex.rep_name) == ("rep", "Alex")
        assert authenticate(store, "maria", PASSWORD + "\n") is None


def test_only_the_first_line_of_stdin_is_the_password(db: Path) -> None:
    result = run(
        "users", "add", "ada", "--role", "admin", "--db", db, input="first line pw\r\nsecond\n"
    )
    assert (result.exit_code, result.stdout) == (0, "added admin ada\n")
    with Store.open(db) as store:
        assert authenticate(store, "ada", "first line pw") is not None
        assert authenticate(store, "ada", "second") is None


def test_a_rep_name_with_no_calls_gets_a_note(db: Path, mini_rubric: Rubric) -> None:
    seed_review_db(db, mini_rubric)
    known = add(db, "alex2", "rep", "--rep-name", "ALEX")
    assert (known.exit_code, known.stdout, known.stderr) == (0, "added rep alex2 (rep ALEX)\n", "")
    unknown = add(db, "zed", "rep")
    assert unknown.exit_code == 0
    assert unknown.stdout == "added rep zed (rep zed)\n"
    assert unknown.stderr == f"note: no calls in {db} are stored under rep 'zed' yet\n"


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (
            ("bob", "--role", "manager"),
            "short",
            "cannot add user 'bob': the password must be at least 8 characters",
        ),
        (
            ("bob", "--role", "manager"),
            "",  # nothing on stdin
            "cannot add user 'bob': the password must be at least 8 characters",
        ),
        (
            ("maria", "--role", "manager", "--rep-name", "Maria"),
            PASSWORD,
            "cannot add user 'maria': --rep-name is only for users with the role rep",
        ),
    ],
)
def test_users_add_refuses_with_one_line(
    db: Path, args: tuple[str, ...], password: str, message: str
) -> None:
    result = run("users", "add", *args, "--db", db, input=password + "\n" if password else "")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"
    with Store.open(db) as store:
        assert list_users(store) == []


def test_users_add_refuses_a_taken_name_and_an_unknown_role(db: Path) -> None:
    assert add(db, "maria", "manager").exit_code == 0
    taken = add(db, "MARIA", "admin")
    assert taken.exit_code == 1
    assert taken.stderr == f"Error: a user named 'MARIA' already exists in {db}\n"
    role = add(db, "bob", "boss")
    assert role.exit_code == 2
    assert "Invalid value for '--role': 'boss' is not one of 'admin', 'manager', 'rep'." in (
        role.stderr
    )
    with Store.open(db) as store:
        assert [(u.name, u.role) for u in list_users(store)] == [("maria", "manager")]


def test_users_are_one_name_however_it_is_typed(db: Path) -> None:
    """`Admin1` is taken when `admin1` exists; spaces, tabs, case and full-width letters find
    the same user to make a token for and to remove."""
    assert add(db, "admin1", "admin").exit_code == 0
    for variant in ("Admin1", "admin1\t", "ａｄｍｉｎ１"):
        taken = add(db, variant, "manager")
        assert (taken.exit_code, taken.stdout) == (1, "")
        assert taken.stderr == f"Error: a user named {variant.strip()!r} already exists in {db}\n"
    token = run("users", "token", " ADMIN1 ", "--db", db)
    assert token.exit_code == 0
    with Store.open(db) as store:
        assert user_for_token(store, token.stdout.splitlines()[-1]).name == "admin1"
        assert authenticate(store, "Ａｄｍｉｎ１\t", PASSWORD).name == "admin1"
    removed = run("users", "remove", "ADMIN1\t", "--db", db)
    assert (removed.exit_code, removed.stdout) == (0, "removed admin admin1\n")
    with Store.open(db) as store:
        assert list_users(store) == []


def test_users_list(db: Path) -> None:
    empty = run("users", "list", "--db", db)
    assert empty.exit_code == 0
    assert empty.stdout == "no users yet: add one with `analyzer users add NAME --role manager`\n"
    for name, role, *more in [
        ("maria", "manager"),
        ("alex", "rep", "--rep-name", "Alex"),
        ("ada", "admin"),
    ]:
        assert add(db, name, role, *more).exit_code == 0
    with Store.open(db) as store:
        day = {u.name: (u.created_at or "")[:10] for u in list_users(store)}
    assert all(len(d) == 10 for d in day.values())
    result = run("users", "list", "--db", db)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"ada    admin    since {day['ada']}",
        f"alex   rep      since {day['alex']}  rep: Alex",
        f"maria  manager  since {day['maria']}",
    ]


def test_users_remove(db: Path) -> None:
    assert add(db, "maria", "manager").exit_code == 0
    assert add(db, "ada", "admin").exit_code == 0
    removed = run("users", "remove", "Maria", "--db", db)
    assert (removed.exit_code, removed.stdout) == (0, "removed manager maria\n")
    with Store.open(db) as store:
        assert [u.name for u in list_users(store)] == ["ada"]
    unknown = run("users", "remove", "maria", "--db", db)
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    assert unknown.stderr == f"Error: no user named 'maria' in {db}\n"


def test_users_token_prints_a_working_token_on_the_last_line(db: Path) -> None:
    assert add(db, "maria", "manager").exit_code == 0
    result = run("users", "token", "maria", "--db", db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:-1] == [
        "API token for maria; send it as 'Authorization: Bearer TOKEN'. Shown once:"
    ]
    token = lines[-1]
    assert token.startswith("an_") and " " not in token
    again = run("users", "token", "maria", "--db", db).stdout.splitlines()[-1]
    assert again != token
    with Store.open(db) as store:
        for shown in (token, again):
            found = user_for_token(store, shown)
            assert found is not None and found.name == "maria"
    unknown = run("users", "token", "nobody", "--db", db)
    assert unknown.exit_code == 1
    assert unknown.stderr == f"Error: no user named 'nobody' in {db}\n"


def test_serve_refuses_a_missing_database(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_server(*args, **kwargs) -> None:
        raise AssertionError("a server was started")

    monkeypatch.setattr("uvicorn.run", no_server)
    result = run("serve", "--db", "missing.db")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: missing.db: no such database (run `analyzer batch` first)\n"
    assert not Path("missing.db").exists()


def test_serve_notes_a_database_without_users(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: served.append(kwargs))
    Store.open(db).close()
    result = run("serve", "--db", db, "--port", "8123")
    assert result.exit_code == 0, result.output
    assert served == [{"host": "127.0.0.1", "port": 8123, "log_level": "info"}]
    assert result.stderr.splitlines() == [
        f"note: {db} has no users yet; add one with "
        f"`analyzer users add NAME --role manager --db {db}`",
        f"Serving {db} on http://127.0.0.1:8123/ (Ctrl+C to stop)",
    ]


def test_serve_warns_when_listening_beyond_this_machine(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: None)
    assert add(db, "maria", "manager").exit_code == 0
    result = run("serve", "--db", db, "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: listening on 0.0.0.0: anyone who can reach this machine can try to sign in; "
        "put it behind HTTPS",
        f"Serving {db} on http://0.0.0.0:8000/ (Ctrl+C to stop)",
    ]
