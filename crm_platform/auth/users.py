"""Users: argon2 password hashes, API tokens stored as digests, look-ups for each request."""
from __future__ import annotations

import hashlib
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass, field as dc_field

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from .. import jsonutil
from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound, error
from ..tables import api_tokens, audit_log, users
from . import totp
from .names import BadName, lookup_key, normalise_username, username_key

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")
#: One rule for passwords wherever they are set (API, CLI) or typed (/login, /api/auth/token).
#: The upper bound keeps hashing cheap to ask for; a longer password can never have been set.
PASSWORD_MIN = 8
PASSWORD_MAX = 1000


def password_problems(password) -> list[dict]:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        return [error("password", "minLength", f"a password has at least {PASSWORD_MIN} characters")]
    if len(password) > PASSWORD_MAX:
        return [error("password", "maxLength", f"a password has at most {PASSWORD_MAX} characters")]
    return []


@dataclass
class User:
    id: int
    username: str
    is_admin: bool
    roles: list[str] = dc_field(default_factory=list)
    #: the generation a browser session must carry to stay signed in (see ``end_sessions``)
    session_generation: int = 0
    #: enrolled in the TOTP second factor (``auth/totp.py``)
    totp: bool = False

    # Flask-Login's protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: The audit trail's ``entity`` for changes to users (no entity key starts with "_"): who created a
#: user, changed their roles or flags, reset their password or deactivated them, and when.
USER_AUDIT = "_user"


def _audit(conn, user_id: int, action: str, changes: dict, actor_id: int | None, reason: str | None = None) -> None:
    conn.execute(audit_log.insert().values(entity=USER_AUDIT, record_id=user_id, action=action, actor_id=actor_id,
                                           at=utcnow(), reason=reason, changes=jsonutil.dumps(changes)))


def _user(row) -> User:
    return User(row.id, row.username, bool(row.is_admin), jsonutil.loads(row.roles or "[]"), row.session_generation,
                row.totp_secret is not None)


#: Seconds a verified token, or the user of a signed-in browser session, is trusted without asking
#: the database again. Every API request presents a token and every page carries a session; this
#: keeps each to one dictionary look-up, at the price of a revoked token, a deactivated user or an
#: ended session being honoured for at most this long by another worker that saw it recently (the
#: worker that made the change forgets at once).
TOKEN_CACHE_SECONDS = 10
TOKEN_CACHE_SIZE = 10_000


#: The signed-in user, read on every page request: the statement is built once, not per request.
ACTIVE_USER_BY_ID = sa.select(users).where(users.c.id == sa.bindparam("user_id"), users.c.active.is_(True))


class UserService:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._token_cache: dict[str, tuple[float, User]] = {}
        self._user_cache: dict[int, tuple[float, User | None]] = {}

    def create(self, username: str, password: str, *, is_admin: bool = False, roles: list[str] | None = None,
               conn: sa.Connection | None = None, actor_id: int | None = None) -> User:
        """A new user; the name is stored normalised (``names.py``) and must differ from every
        other user's by more than case, width or spaces (409). With ``conn``, inside the caller's
        transaction (a template's demo users). The creation is audited (``USER_AUDIT``), by ``actor_id``."""
        problems = []
        try:
            username = normalise_username(username)
        except BadName as exc:
            problems.append(error("username", "invalid", str(exc)))
        problems += password_problems(password)
        if problems:
            raise Invalid(problems)
        key = username_key(username)
        try:
            with (nullcontext(conn) if conn is not None else self.engine.begin()) as conn:
                clash = conn.execute(sa.select(users.c.username).where(
                    sa.or_(users.c.username_key == key, users.c.username == username))).first()
                if clash is not None:
                    raise self._name_taken(username, clash.username)
                new_id = conn.execute(users.insert().values(
                    username=username, username_key=key, password_hash=_hasher.hash(password), is_admin=is_admin,
                    roles=jsonutil.dumps(sorted(set(roles or []))), active=True, created_at=utcnow())).inserted_primary_key[0]
                _audit(conn, new_id, "create", {"username": [None, username], "is_admin": [None, bool(is_admin)],
                                                "roles": [None, sorted(set(roles or []))]}, actor_id)
        except IntegrityError:  # the same name, created at the same moment by another request
            raise self._name_taken(username, username) from None
        return User(new_id, username, is_admin, sorted(set(roles or [])))

    @staticmethod
    def _name_taken(username: str, existing: str) -> Conflict:
        same = "" if existing == username else f" as '{existing}' (names that differ only in case, width or " \
                                                   f"spaces are the same name)"
        return Conflict([error("username", "exists", f"user '{username}' exists already{same}")])

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
        return [self.public(r) for r in rows]

    @staticmethod
    def public(row) -> dict:
        """What the API shows of a user (never the password hash)."""
        return {"id": row.id, "username": row.username, "is_admin": bool(row.is_admin),
                "roles": jsonutil.loads(row.roles or "[]"), "active": bool(row.active), "created_at": row.created_at,
                "totp": row.totp_secret is not None}

    def row(self, user_id: int):
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        if found is None:
            raise NotFound([error(None, "not_found", f"no user with id {user_id}")])
        return found

    def update(self, user_id: int, patch: dict, *, admin_roles: frozenset = frozenset(),
               actor_id: int | None = None, reason: str | None = None) -> dict:
        """Change roles, the administrator flag, whether the user may sign in, or the password.

        Deactivating a user or changing the password revokes their API tokens and ends their
        browser sessions. ``admin_roles`` are the keys of active roles that make their holders
        administrators: the change may not leave the instance without an active administrator.
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
            wrong = password_problems(patch["password"])
            problems += wrong
            if not wrong:
                values["password_hash"] = _hasher.hash(patch["password"])
        if problems:
            raise Invalid(problems)
        before = self.public(self.row(user_id))
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            if values.keys() & {"is_admin", "roles", "active"}:
                self._keep_an_administrator(conn, user_id, values, admin_roles)
            if values:
                conn.execute(users.update().where(users.c.id == user_id).values(values))
                after = {**patch, "roles": sorted(set(patch["roles"]))} if "roles" in patch else patch
                changes = {k: [before[k], after[k]] for k in ("roles", "is_admin", "active")
                           if k in values and before[k] != after[k]}
                if "password_hash" in values:
                    changes["password"] = [None, "changed"]  # never the password itself
                if changes:
                    _audit(conn, user_id, "update", changes, actor_id, reason)
            if values.get("active") is False or "password_hash" in values:
                self._end_sessions(conn, user_id)
                conn.execute(api_tokens.update().where(api_tokens.c.user_id == user_id,
                                                       api_tokens.c.revoked_at.is_(None)).values(revoked_at=utcnow()))
        self._forget()  # roles and flags take effect on this worker's next request
        return self.public(self.row(user_id))

    @staticmethod
    def _keep_an_administrator(conn, user_id: int, values: dict, admin_roles: frozenset) -> None:
        """409 if the change takes the last active administrator's rights or access away: nobody
        could then manage users or definitions, and only the command line could mend it.

        Every active user is locked first (PostgreSQL; SQLite's write lock is already held), so two
        administrators demoting each other at the same moment cannot both succeed.
        """
        def admin(row, changes=None) -> bool:
            changes = changes or {}
            roles = set(jsonutil.loads(changes.get("roles", row.roles) or "[]"))
            return changes.get("active", True) and (changes.get("is_admin", bool(row.is_admin)) or bool(roles & admin_roles))

        rows = conn.execute(sa.select(users.c.id, users.c.username, users.c.is_admin, users.c.roles)
                            .where(users.c.active.is_(True)).order_by(users.c.id).with_for_update()).all()
        target = next((r for r in rows if r.id == user_id), None)
        if target is None or not admin(target) or admin(target, values):
            return
        if any(admin(r) for r in rows if r.id != user_id):
            return
        field = next(k for k in ("active", "is_admin", "roles") if k in values)
        raise Conflict([error(field, "last_administrator",
                              f"'{target.username}' is the last active administrator; make another user an "
                              f"administrator first, or the instance would have nobody to manage it")])

    def trail(self, user_id: int, limit: int = 50) -> list[dict]:
        """The user's audited changes, newest first, with the acting user's name."""
        actor = users.alias("actor")
        q = (sa.select(audit_log, actor.c.username.label("actor"))
             .outerjoin(actor, actor.c.id == audit_log.c.actor_id)
             .where(audit_log.c.entity == USER_AUDIT, audit_log.c.record_id == user_id)
             .order_by(audit_log.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [{"at": r.at, "action": r.action, "actor": r.actor, "reason": r.reason,
                     "changes": jsonutil.loads(r.changes)} for r in conn.execute(q)]

    def end_sessions(self, user_id: int) -> None:
        """Sign the user out of every browser: sessions carrying an older generation stop working."""
        with self.engine.begin() as conn:
            self._end_sessions(conn, user_id)
        self._forget()

    @staticmethod
    def _end_sessions(conn, user_id: int) -> None:
        conn.execute(users.update().where(users.c.id == user_id)
                     .values(session_generation=users.c.session_generation + 1))

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with this name (compared by key: ``Admin`` signs in as ``admin``) and
        password, or None. A name nobody can have or a password longer than any that can be set
        never reaches the database."""
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        row = None
        if len(password) <= PASSWORD_MAX:
            row = self._by_name(username, active_only=True)
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return _user(row) if row else None

    def _forget(self) -> None:
        self._token_cache.clear()
        self._user_cache.clear()

    def get(self, user_id: int) -> User | None:
        """The active user with this id (the signed-in user of every page: see ``TOKEN_CACHE_SECONDS``)."""
        cached = self._user_cache.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(ACTIVE_USER_BY_ID, {"user_id": user_id}).first()
        user = _user(row) if row else None
        if len(self._user_cache) >= TOKEN_CACHE_SIZE:
            self._user_cache.clear()
        self._user_cache[user_id] = (time.monotonic() + TOKEN_CACHE_SECONDS, user)
        return user

    def get_by_name(self, username: str) -> User | None:
        row = self._by_name(username)
        return _user(row) if row else None

    def _by_name(self, username: str, *, active_only: bool = False):
        """The user by the name's key; a user stored before keys existed whose name shares a key
        with an older user's has none, and is found by the exact name."""
        key = lookup_key(username)
        if key is None:
            return None
        q = sa.select(users).where(sa.or_(users.c.username_key == key, users.c.username == username))
        if active_only:
            q = q.where(users.c.active.is_(True))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return next((r for r in rows if r.username == username), rows[0] if rows else None)

    # ---- the TOTP second factor (auth/totp.py) ------------------------------------------------------
    def check_totp(self, user_id: int, code) -> bool:
        """Whether ``code`` is the user's current code, not used before; a good code is used up."""
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            row = conn.execute(sa.select(users.c.totp_secret, users.c.totp_last_step)
                               .where(users.c.id == user_id).with_for_update()).first()
            if row is None or row.totp_secret is None:
                return False
            step = totp.matching_step(row.totp_secret, code, after=row.totp_last_step)
            if step is None:
                return False
            conn.execute(users.update().where(users.c.id == user_id).values(totp_last_step=step))
        return True

    def enrol_totp(self, user_id: int, secret: str, code) -> bool:
        """Keep ``secret`` as the user's second factor if ``code`` proves their app has it. Audited
        (``USER_AUDIT``: ``totp`` false → true, by the user; never the secret)."""
        step = totp.matching_step(secret, code)
        if step is None:
            return False
        with self.engine.begin() as conn:
            done = conn.execute(users.update().where(users.c.id == user_id, users.c.totp_secret.is_(None))
                                .values(totp_secret=secret, totp_last_step=step)).rowcount
            if done:  # (a second enrolment racing the first changes nothing)
                _audit(conn, user_id, "update", {"totp": [False, True]}, user_id)
        self._forget()  # the user (totp) as signed-in pages read it
        return bool(done)

    def reset_totp(self, user_id: int, *, actor_id: int | None = None) -> dict:
        """Forget the user's second factor (a lost phone): they sign in with the password alone, or
        enrol again at the next sign-in if a role of theirs requires it. Audited (``totp`` true →
        false, by ``actor_id``: None from the command line) when the user had one."""
        self.row(user_id)
        with self.engine.begin() as conn:
            done = conn.execute(users.update().where(users.c.id == user_id, users.c.totp_secret.is_not(None))
                                .values(totp_secret=None, totp_last_step=None)).rowcount
            if done:
                _audit(conn, user_id, "update", {"totp": [True, False]}, actor_id)
        self._forget()
        return self.public(self.row(user_id))

    def issue_token(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(api_tokens.insert().values(user_id=user.id, token_hash=_digest(token), created_at=utcnow()))
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
