"""Demo users of a template: who a newcomer signs in as to see the sample data through a role.

Users are not part of the bundle format. When a template's sample data is loaded, each role the
template defines gets demo users named after it (``sales1``, ``sales2``, ``service1``,
``manager1``), with passwords generated here and shown once in the install's answer — never a
fixed password. Roles that read only the records their users own (sales) get two users, so each
sees a book of their own: the sample records' owners are spread over them (``sample.Owners``). Everything is written in the import's transaction: a dry run or a
failed import leaves no user behind.
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa

from ..tables import users

#: How many demo users a role gets: two where each user sees only their own records.
OWN_ROLE_USERS = 2
OTHER_ROLE_USERS = 1


def works_on_own_records(role: dict) -> bool:
    """The role sees only the records its users own, for some entity (sales: their own customers)."""
    return any(isinstance(rights, dict) and rights.get("read") == "own" for rights in role.get("entities", {}).values())


def _free_names(conn: sa.Connection, role_key: str, count: int) -> list[str]:
    """``<role>1``, ``<role>2``...: the first ``count`` names no user has yet."""
    taken = set(conn.execute(sa.select(users.c.username).where(users.c.username.like(f"{role_key}%"))).scalars())
    out, n = [], 1
    while len(out) < count:
        if f"{role_key}{n}" not in taken:
            out.append(f"{role_key}{n}")
        n += 1
    return out


def create(user_service, conn: sa.Connection, roles: list[dict], *, dry_run: bool) -> list[dict]:
    """Demo users for ``roles`` (role definitions, in key order): ``{"id", "username", "role", "password",
    "owns_records"}`` each. A dry run names the users it would create, without passwords."""
    made = []
    for role in sorted(roles, key=lambda r: r["key"]):
        own = works_on_own_records(role)
        for name in _free_names(conn, role["key"], OWN_ROLE_USERS if own else OTHER_ROLE_USERS):
            password = secrets.token_urlsafe(12)
            user = user_service.create(name, password, roles=[role["key"]], conn=conn)
            made.append({"id": user.id, "username": name, "role": role["key"], "owns_records": own,
                         "password": None if dry_run else password})
    return made


def owner_pool(made: list[dict]) -> list[int]:
    """The users the sample records are spread over: those of roles that work on their own records."""
    return [u["id"] for u in made if u["owns_records"]]


def public(made: list[dict]) -> list[dict]:
    """What the install answer shows of each user."""
    return [{"username": u["username"], "role": u["role"], "password": u["password"]} for u in made]
