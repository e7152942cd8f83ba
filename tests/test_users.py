"""Users of the review page: password hashes, accounts, sign-in, sessions and API tokens."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analyzer.errors import UserError
from analyzer.grading.rubric import Rubric
from analyzer.review import users as users_module
from analyzer.review.decisions import ItemDecision, confirm_call
from analyzer.review.users import (
    User,
    add_user,
    authenticate,
    end_session,
    get_user,
    hash_password,
    list_users,
    make_token,
    name_key,
    password_problem,
    remove_user,
    session_for,
    start_session,
    user_for_token,
    verify_password,
)
from analyzer.store import Store

from reviewing import PASSWORD, seed_review_db


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "users.db") as opened:
        yield opened


def dump(store: Store) -> str:
    """Every row of every table, as SQL text."""
    with store.reading("dumping") as conn:
        return "\n".join(conn.iterdump())


def rows(store: Store, sql: str, params: tuple = ()) -> list[tuple]:
    with store.reading("test query") as conn:
        return conn.execute(sql, params).fetchall()


# -- passwords -----------------------------------------------------------------------------------


def test_hash_is_salted_scrypt_with_its_parameters_and_verifies() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # a new salt each time
    for stored in (first, second):
        scheme, n, r, p, salt, digest = stored.split("$")
        assert (scheme, n, r, p) == ("scrypt", str(users_module.SCRYPT_N), "8", "1")
        assert salt and digest
        assert PASSWORD not in stored
        assert verify_password(PASSWORD, stored) is True
        assert verify_password(PASSWORD + "!", stored) is False
        assert verify_password("", stored) is False


def test_a_hash_still_verifies_after_the_cost_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = hash_password(PASSWORD)
    monkeypatch.setattr(users_module, "SCRYPT_N", users_module.SCRYPT_N * 2)
    assert hash_password(PASSWORD).split("$")[1] == str(users_module.SCRYPT_N)
    assert verify_password(PASSWORD, stored) is True


def _malformed() -> list[str]:
    good = hash_password(PASSWORD)
    scheme, n, r, p, salt, digest = good.split("$")
    return [
        "",
        "not a hash",
        "$".join(["bcrypt", n, r, p, salt, digest]),
        "$".join([scheme, "many", r, p, salt, digest]),
        "$".join([scheme, "3", r, p, salt, digest]),  # n not a power of two
        "$".join([scheme, "9" * 30, r, p, salt, digest]),  # n absurdly large
        "$".join([scheme, n, "0", p, salt, digest]),
        "$".join([scheme, n, r, p, "%%%not base64%%%", digest]),
        "$".join([scheme, n, r, p, salt, ""]),
        "$".join([scheme, n, r, p, salt, "é"]),
        "$".join([scheme, n, r, p, salt]),  # a part missing
        good + "$extra",
    ]


def test_a_malformed_stored_hash_is_false_never_an_error() -> None:
    for stored in _malformed():
        assert verify_password(PASSWORD, stored) is False, stored


def test_password_problem() -> None:
    assert password_problem("short") == "the password must be at least 8 characters"
    assert password_problem("1234567") == "the password must be at least 8 characters"
    assert password_problem(" padded password") == "the password must not start or end with spaces"
    assert password_problem("padded password\t") == (
        "the password must not start or end with spaces"
    )
    assert password_problem("12345678") is None
    assert password_problem(PASSWORD) is None


# -- accounts ------------------------------------------------------------------------------------


def test_add_user_stores_roles_and_a_reps_name(store: Store) -> None:
    maria = add_user(store, "maria", "manager", PASSWORD)
    alex = add_user(store, "alex", "rep", PASSWORD)
    sam = add_user(store, " sam ", "rep", PASSWORD, rep_name="Sam Smith")
    ada = add_user(store, "ada", "admin", PASSWORD)
    assert (maria.name, maria.role, maria.rep_name, maria.reviews) == (
        "maria",
        "manager",
        None,
        True,
    )
    assert (ada.role, ada.rep_name, ada.reviews) == ("admin", None, True)
    assert (alex.role, alex.rep_name, alex.reviews) == ("rep", "alex", False)  # defaults to name
    assert (sam.name, sam.rep_name) == ("sam", "Sam Smith")
    assert list_users(store) == [ada, alex, maria, sam]
    assert get_user(store, "alex") == alex
    stored = rows(store, "SELECT name, password_hash FROM users ORDER BY name")
    assert [name for name, _ in stored] == ["ada", "alex", "maria", "sam"]
    assert all(h.startswith("scrypt$") and PASSWORD not in h for _, h in stored)


@pytest.mark.parametrize(
    ("name", "role", "password", "rep_name", "message"),
    [
        (
            "maria",
            "manager",
            PASSWORD,
            "Maria",
            "cannot add user 'maria': --rep-name is only for users with the role rep",
        ),
        (
            "bob",
            "boss",
            PASSWORD,
            None,
            "cannot add user 'bob': the role must be one of admin, manager, rep, not 'boss'",
        ),
        ("  ", "manager", PASSWORD, None, "cannot add user '': the user name is empty"),
        (
            "bob",
            "manager",
            "short",
            None,
            "cannot add user 'bob': the password must be at least 8 characters",
        ),
        (
            "bob",
            "manager",
            " spaced out ",
            None,
            "cannot add user 'bob': the password must not start or end with spaces",
        ),
        (
            "",
            "boss",
            "short",
            "Bob",
            "cannot add user '': the user name is empty; the role must be one of admin, "
            "manager, rep, not 'boss'; --rep-name is only for users with the role rep; "
            "the password must be at least 8 characters",
        ),
    ],
)
def test_add_user_refuses_bad_input_with_one_message(
    store: Store, name: str, role: str, password: str, rep_name: str | None, message: str
) -> None:
    with pytest.raises(UserError) as info:
        add_user(store, name, role, password, rep_name)
    assert str(info.value) == message
    assert list_users(store) == []


def test_a_taken_name_is_refused_whatever_its_case(store: Store) -> None:
    first = add_user(store, "maria", "manager", PASSWORD)
    for taken in ("maria", "Maria", " MARIA "):
        with pytest.raises(UserError) as info:
            add_user(store, taken, "admin", PASSWORD)
        assert str(info.value) == f"a user named {taken.strip()!r} already exists in {store.path}"
    assert list_users(store) == [first]


def test_users_are_listed_by_name_and_found_whatever_the_case(store: Store) -> None:
    for name in ("zoe", "Adam", "bob"):
        add_user(store, name, "manager", PASSWORD)
    assert [u.name for u in list_users(store)] == ["Adam", "bob", "zoe"]
    assert get_user(store, "ADAM").name == "Adam"
    with pytest.raises(UserError) as info:
        get_user(store, "nobody")
    assert str(info.value) == f"no user named 'nobody' in {store.path}"


def test_remove_user_deletes_sessions_and_tokens_but_keeps_the_audit_trail(
    tmp_path: Path, mini_rubric: Rubric
) -> None:
    seeded = seed_review_db(tmp_path / "review.db", mini_rubric)
    with Store.open(seeded.db) as store:
        maria = get_user(store, "maria")
        cookie, _ = start_session(store, maria)
        token = make_token(store, "maria")
        alex_cookie, _ = start_session(store, get_user(store, "alex"))
        alex_token = make_token(store, "alex")
        confirm_call(
            store, "alex-weak", maria, [ItemDecision("next_step", "met", "booked")], 1, "ok"
        )
        audit = rows(store, "SELECT * FROM audit_log ORDER BY id")
        assert [(a[3], a[4]) for a in audit] == [("maria", "override"), ("maria", "confirm")]

        removed = remove_user(store, "MARIA")

        assert removed == maria
        assert [u.name for u in list_users(store)] == ["ada", "alex", "sam"]
        assert rows(store, "SELECT count(*) FROM sessions WHERE user_id = ?", (maria.id,)) == [(0,)]
        assert rows(store, "SELECT count(*) FROM api_tokens WHERE user_id = ?", (maria.id,)) == [
            (0,)
        ]
        assert session_for(store, cookie) is None
        assert user_for_token(store, token) is None
        assert rows(store, "SELECT * FROM audit_log ORDER BY id") == audit
        assert rows(
            store, "SELECT reviewed_by, status FROM reviews WHERE call_id = 'alex-weak'"
        ) == [("maria", "confirmed")]
        # Other users keep their sessions and tokens.
        assert session_for(store, alex_cookie) is not None
        assert user_for_token(store, alex_token) == get_user(store, "alex")
        with pytest.raises(UserError) as info:
            remove_user(store, "maria")
        assert str(info.value) == f"no user named 'maria' in {store.path}"


# -- one name, however it is typed ---------------------------------------------------------------

VARIANTS = ["Admin1", " admin1", "admin1 ", "admin1\t", "ADMIN1\n", "ａｄｍｉｎ１", "Ａdmin1 "]


def test_name_key_ignores_spaces_around_case_and_compatibility_forms() -> None:
    assert {name_key(v) for v in ["admin1", *VARIANTS]} == {"admin1"}
    assert name_key("  Ada \t Lovelace ") == "ada lovelace"  # spaces inside: one
    assert name_key("Straße") == name_key("STRASSE") == "strasse"
    assert name_key("Élodie") == name_key("ÉLODIE") == name_key("e\u0301lodie") == "élodie"
    assert name_key("ada") != name_key("adam")


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_name_that_differs_in_spaces_case_or_form_is_taken(store: Store, variant: str) -> None:
    first = add_user(store, "admin1", "admin", PASSWORD)
    with pytest.raises(UserError) as info:
        add_user(store, variant, "manager", PASSWORD)
    assert str(info.value) == f"a user named {variant.strip()!r} already exists in {store.path}"
    assert list_users(store) == [first]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_way_of_typing_a_name_finds_the_one_user(store: Store, variant: str) -> None:
    admin = add_user(store, "admin1", "admin", PASSWORD)
    other = add_user(store, "admin2", "admin", PASSWORD)
    assert authenticate(store, variant, PASSWORD) == admin
    assert get_user(store, variant) == admin
    assert user_for_token(store, make_token(store, variant)) == admin
    assert remove_user(store, variant) == admin
    assert list_users(store) == [other]


def test_a_name_is_shown_as_it_was_typed(store: Store) -> None:
    user = add_user(store, "  Ada Lovelace\t", "manager", PASSWORD)
    assert user.name == "Ada Lovelace"
    assert [u.name for u in list_users(store)] == ["Ada Lovelace"]
    assert get_user(store, "ada   LOVELACE").name == "Ada Lovelace"


# -- signing in ----------------------------------------------------------------------------------


def test_authenticate(store: Store) -> None:
    maria = add_user(store, "maria", "manager", PASSWORD)
    assert authenticate(store, "maria", PASSWORD) == maria
    assert authenticate(store, " Maria ", PASSWORD) == maria
    assert authenticate(store, "maria", PASSWORD.upper()) is None
    assert authenticate(store, "maria", "") is None
    assert authenticate(store, "nobody", PASSWORD) is None


def test_a_session_is_found_until_it_ends(store: Store) -> None:
    maria = add_user(store, "maria", "manager", PASSWORD)
    cookie, session = start_session(store, maria)
    assert session.user == maria
    expires = datetime.fromisoformat(session.expires_at)
    assert abs(expires - datetime.now(UTC) - timedelta(days=7)) < timedelta(minutes=1)

    found = session_for(store, cookie)
    assert found == session
    assert found is not None and found.csrf_token == session.csrf_token
    other_cookie, other = start_session(store, maria)
    assert other_cookie != cookie and other.csrf_token != session.csrf_token

    end_session(store, cookie)
    assert session_for(store, cookie) is None
    assert session_for(store, other_cookie) == other  # signing out ends only that session
    assert session_for(store, None) is None
    assert session_for(store, "") is None
    assert session_for(store, "made-up") is None


def test_an_expired_session_is_none_and_is_cleared_by_the_next_login(store: Store) -> None:
    maria = add_user(store, "maria", "manager", PASSWORD)
    cookie, _ = start_session(store, maria)
    with store.writing("expiring a session") as conn:
        conn.execute("UPDATE sessions SET expires_at = '2020-01-01T00:00:00+00:00'")
    assert session_for(store, cookie) is None
    fresh, _ = start_session(store, maria)
    assert rows(store, "SELECT count(*) FROM sessions") == [(1,)]
    assert session_for(store, fresh) is not None


def test_session_cookie_and_api_token_are_stored_only_as_hashes(store: Store) -> None:
    maria = add_user(store, "maria", "manager", PASSWORD)
    cookie, session = start_session(store, maria)
    token = make_token(store, "maria")
    assert token.startswith("an_") and len(token) > 40
    assert rows(store, "SELECT token_hash, user_id FROM sessions") == [
        (hashlib.sha256(cookie.encode()).hexdigest(), maria.id)
    ]
    assert rows(store, "SELECT token_hash, user_id FROM api_tokens") == [
        (hashlib.sha256(token.encode()).hexdigest(), maria.id)
    ]
    everything = dump(store)
    assert cookie not in everything
    assert token not in everything
    assert token[3:] not in everything
    assert session.csrf_token in everything  # the CSRF token is no secret from the database


def test_api_tokens(store: Store) -> None:
    maria = add_user(store, "maria", "manager", PASSWORD)
    alex = add_user(store, "alex", "rep", PASSWORD)
    first = make_token(store, "Maria")
    second = make_token(store, "maria")
    alex_token = make_token(store, "alex")
    assert first != second
    assert user_for_token(store, first) == maria
    assert user_for_token(store, second) == maria
    assert user_for_token(store, alex_token) == alex
    assert user_for_token(store, "an_made-up") is None
    assert user_for_token(store, "") is None
    with pytest.raises(UserError) as info:
        make_token(store, "nobody")
    assert str(info.value) == f"no user named 'nobody' in {store.path}"
    assert rows(store, "SELECT count(*) FROM api_tokens") == [(3,)]


def test_user_to_dict_has_no_secrets() -> None:
    user = User(3, "alex", "rep", "Alex", "2026-11-25T10:00:00+00:00")
    assert user.to_dict() == {"name": "alex", "role": "rep", "rep_name": "Alex"}
