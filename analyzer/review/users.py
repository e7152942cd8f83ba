"""Users of the review page, their passwords, login sessions and API tokens.

Passwords are stored as salted scrypt hashes (`scrypt$n$r$p$salt$hash`, base64 parts): slow on
purpose, and checked in constant time. Session cookies and API tokens are random 256-bit strings
given to the user once; the database keeps only their SHA-256, so a copy of the database opens
no accounts. Each session carries its own CSRF token, which every form must send back.

A user name is shown as it was typed (spaces around it removed), and known by its key,
`name_key`: the one rule for telling names apart (signing in, the login throttle, adding, finding
and removing users). `Maria`, ` maria`, `maria` with a tab after it and `ｍａｒｉａ` are one user.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analyzer.errors import UserError
from analyzer.store import Store
from analyzer.store.connection import now_seconds, query
from analyzer.store.keys import name_key

ROLES = ("admin", "manager", "rep")
MIN_PASSWORD_LENGTH = 8
SESSION_DAYS = 7  # a login lasts this long, then the user signs in again
# scrypt cost: 2**15 x 8 x 1 takes about 50 ms and 32 MB here; raise it as machines get faster.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str  # admin | manager | rep
    rep_name: str | None = None  # for a rep: the name their calls are stored under
    created_at: str | None = None

    @property
    def reviews(self) -> bool:
        """Managers and admins see every call and may confirm grades; reps may not."""
        return self.role in ("admin", "manager")

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "rep_name": self.rep_name}


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: str


# -- passwords -----------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, with its parameters, for `verify_password`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM
    )
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash from `hash_password` (False for a malformed hash)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must be at least {MIN_PASSWORD_LENGTH} characters"
    if password.strip() != password:
        return "the password must not start or end with spaces"
    return None


# -- accounts ------------------------------------------------------------------------------------


def add_user(
    store: Store, name: str, role: str, password: str, rep_name: str | None = None
) -> User:
    """Create a user. A rep's `rep_name` defaults to `name` (it must match the calls' rep)."""
    name, key = name.strip(), name_key(name)
    problems = []
    if not key:
        problems.append("the user name is empty")
    if role not in ROLES:
        problems.append(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    if rep_name is not None and role != "rep":
        problems.append("--rep-name is only for users with the role rep")
    problem = password_problem(password)
    if problem:
        problems.append(problem)
    if problems:
        raise UserError(f"cannot add user {name!r}: " + "; ".join(problems))
    if role == "rep":
        rep_name = (rep_name or "").strip() or name
    password_hash = hash_password(password)
    now = now_seconds()
    with store.writing(f"adding user {name}") as conn:
        if conn.execute("SELECT 1 FROM users WHERE name_key = ?", (key,)).fetchone():
            raise UserError(f"a user named {name!r} already exists in {store.path}")
        cursor = conn.execute(
            "INSERT INTO users (name, name_key, role, rep_name, password_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, key, role, rep_name, password_hash, now),
        )
    return User(int(cursor.lastrowid or 0), name, role, rep_name, now)


def list_users(store: Store) -> list[User]:
    with store.reading("listing users") as conn:
        rows = query(
            conn, "SELECT id, name, role, rep_name, created_at FROM users ORDER BY name"
        ).fetchall()
    return [_user(row) for row in rows]


def get_user(store: Store, name: str) -> User:
    """The user called `name` (as `name_key` tells names apart); UserError when there is none."""
    with store.reading(f"reading user {name}") as conn:
        row = query(
            conn,
            "SELECT id, name, role, rep_name, created_at FROM users WHERE name_key = ?",
            (name_key(name),),
        ).fetchone()
    if row is None:
        raise UserError(f"no user named {name!r} in {store.path}")
    return _user(row)


def remove_user(store: Store, name: str) -> User:
    """Delete a user with their sessions and tokens. Their reviews and audit entries stay."""
    user = get_user(store, name)
    with store.writing(f"removing user {name}") as conn:
        conn.execute("DELETE FROM users WHERE id = ?", (user.id,))
    return user


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The user when name and password match, else None (the same work either way)."""
    with store.reading("signing in") as conn:
        row = query(
            conn,
            "SELECT id, name, role, rep_name, created_at, password_hash FROM users "
            "WHERE name_key = ?",
            (name_key(name),),
        ).fetchone()
    if row is None:
        verify_password(password, _dummy_hash())  # no timing hint that the name is unknown
        return None
    return _user(row) if verify_password(password, row["password_hash"]) else None


# -- sessions ------------------------------------------------------------------------------------


def start_session(store: Store, user: User) -> tuple[str, Session]:
    """A new login session: (cookie value, session). Only the value's hash is stored."""
    value = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = (now + timedelta(days=SESSION_DAYS)).isoformat(timespec="seconds")
    with store.writing("starting a session") as conn:
        conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (_sha256(value), user.id, csrf, now.isoformat(timespec="seconds"), expires),
        )
    return value, Session(user, csrf, expires)


def session_for(store: Store, value: str | None) -> Session | None:
    """The live session whose cookie value this is, or None (unknown, expired, user removed)."""
    if not value:
        return None
    with store.reading("reading a session") as conn:
        row = query(
            conn,
            "SELECT u.id, u.name, u.role, u.rep_name, u.created_at, s.csrf_token, s.expires_at "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (_sha256(value),),
        ).fetchone()
    if row is None or row["expires_at"] < now_seconds():
        return None
    return Session(_user(row), row["csrf_token"], row["expires_at"])


def end_session(store: Store, value: str | None) -> None:
    if value:
        with store.writing("signing out") as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_sha256(value),))


# -- API tokens ----------------------------------------------------------------------------------


def make_token(store: Store, name: str) -> str:
    """A new API token for the user `name`. It is shown once; only its hash is kept."""
    user = get_user(store, name)
    token = "an_" + secrets.token_urlsafe(32)
    with store.writing(f"making a token for {name}") as conn:
        conn.execute(
            "INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES (?, ?, ?)",
            (_sha256(token), user.id, now_seconds()),
        )
    return token


def user_for_token(store: Store, token: str) -> User | None:
    with store.reading("checking an API token") as conn:
        row = query(
            conn,
            "SELECT u.id, u.name, u.role, u.rep_name, u.created_at FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (_sha256(token),),
        ).fetchone()
    return None if row is None else _user(row)


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        rep_name=row["rep_name"],
        created_at=row["created_at"],
    )


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@functools.cache
def _dummy_hash() -> str:
    """A real hash of a random password, checked for unknown names so both paths cost the same."""
    return hash_password(secrets.token_urlsafe(16))
