"""Users: argon2 password hashes, API tokens stored as digests, look-ups for each request."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass, field as dc_field

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .. import jsonutil
from ..errors import Conflict, Invalid, NotFound, error
from ..tables import api_tokens, users

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")
USERNAME_MAX = 150


@dataclass
class User:
    id: int
    username: str
    is_admin: bool
    roles: list[str] = dc_field(default_factory=list)

    # Flask-Login's protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row) -> User:
    return User(row.id, row.username, bool(row.is_admin), jsonutil.loads(row.roles or "[]"))


#: Seconds a verified token is trusted without asking the database again. Every API request
#: presents a token; this keeps that to one dictionary look-up, at the price of a revoked token
#: or deactivated user being honoured for at most this long by a worker that saw it recently.
TOKEN_CACHE_SECONDS = 10
TOKEN_CACHE_SIZE = 10_000


class UserService:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._token_cache: dict[str, tuple[float, User]] = {}

    def create(self, username: str, password: str, *, is_admin: bool = False, roles: list[str] | None = None,
               conn: sa.Connection | None = None) -> User:
        """A new user; with ``conn``, inside the caller's transaction (a template's demo users)."""
        problems = []
        if not isinstance(username, str) or not username.strip() or len(username) > USERNAME_MAX:
            problems.append(error("username", "invalid", f"a user name is 1 to {USERNAME_MAX} characters"))
        if not isinstance(password, str) or len(password) < 8:
            problems.append(error("password", "minLength", "a password has at least 8 characters"))
        if problems:
            raise Invalid(problems)
        with (nullcontext(conn) if conn is not None else self.engine.begin()) as conn:
            if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first() is not None:
                raise Conflict([error("username", "exists", f"user '{username}' exists already")])
            new_id = conn.execute(users.insert().values(
                username=username, password_hash=_hasher.hash(password), is_admin=is_admin,
                roles=jsonutil.dumps(sorted(set(roles or []))), active=True, created_at=_now())).inserted_primary_key[0]
        return User(new_id, username, is_admin, sorted(set(roles or [])))

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
        return [self.public(r) for r in rows]

    @staticmethod
    def public(row) -> dict:
        """What the API shows of a user (never the password hash)."""
        return {"id": row.id, "username": row.username, "is_admin": bool(row.is_admin),
                "roles": jsonutil.loads(row.roles or "[]"), "active": bool(row.active), "created_at": row.created_at}

    def row(self, user_id: int):
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        if found is None:
            raise NotFound([error(None, "not_found", f"no user with id {user_id}")])
        return found

    def update(self, user_id: int, patch: dict) -> dict:
        """Change roles, the administrator flag, whether the user may sign in, or the password.

        Deactivating a user or changing the password revokes their API tokens.
        """
        allowed = {"roles", "is_admin", "active", "password"}
        problems = [error(k, "unknown", f"'{k}' cannot be changed; use one of {sorted(allowed)}") for k in patch
                    if k not in allowed]
        values = {}
        if "roles" in patch:
            roles = patch["roles"]
            if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
                problems.append(error("roles", "type", "roles is a list of role keys"))
            else:
                values["roles"] = jsonutil.dumps(sorted(set(roles)))
        for flag in ("is_admin", "active"):
            if flag in patch:
                if not isinstance(patch[flag], bool):
                    problems.append(error(flag, "type", f"{flag} is true or false"))
                else:
                    values[flag] = patch[flag]
        if "password" in patch:
            if not isinstance(patch["password"], str) or len(patch["password"]) < 8:
                problems.append(error("password", "minLength", "a password has at least 8 characters"))
            else:
                values["password_hash"] = _hasher.hash(patch["password"])
        if problems:
            raise Invalid(problems)
        self.row(user_id)
        with self.engine.begin() as conn:
            if values:
                conn.execute(users.update().where(users.c.id == user_id).values(values))
            if values.get("active") is False or "password_hash" in values:
                conn.execute(api_tokens.update().where(api_tokens.c.user_id == user_id,
                                                       api_tokens.c.revoked_at.is_(None)).values(revoked_at=_now()))
        self._token_cache.clear()  # roles and flags take effect on this worker's next request
        return self.public(self.row(user_id))

    def authenticate(self, username: str, password: str) -> User | None:
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username, users.c.active.is_(True))).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return _user(row) if row else None

    def get(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id, users.c.active.is_(True))).first()
        return _user(row) if row else None

    def get_by_name(self, username: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        return _user(row) if row else None

    def issue_token(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(api_tokens.insert().values(user_id=user.id, token_hash=_digest(token), created_at=_now()))
        return token

    def by_token(self, token: str) -> User | None:
        digest = _digest(token)
        cached = self._token_cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        user = self._by_token_digest(digest)
        if user is not None:
            if len(self._token_cache) >= TOKEN_CACHE_SIZE:
                self._token_cache.clear()
            self._token_cache[digest] = (time.monotonic() + TOKEN_CACHE_SECONDS, user)
        return user

    def _by_token_digest(self, digest: str) -> User | None:
        token = digest
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users).join(api_tokens, api_tokens.c.user_id == users.c.id)
                .where(api_tokens.c.token_hash == token, api_tokens.c.revoked_at.is_(None),
                       users.c.active.is_(True))).first()
        return _user(row) if row else None
