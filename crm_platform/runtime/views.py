"""Saved list views and each user's last list state.

A view is a list's query string under a name — its filters, search, sort, ``columns`` and
``per_page`` exactly as the list's address carries them — so a view opens by adding its query to the
list's address, and the API and the screens read one format. A view is private to its owner, or
shared with every user holding ``role`` (only its owner or an administrator changes or deletes it).

The last state is the query string a user last opened a list with, and the entity's fields at that
moment (``known``): a field added since then joins the remembered columns when the entity's default
columns name it, so a field the admin adds is not hidden by a list remembered last week.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from ..clock import utcnow
from ..errors import BadRequest, Forbidden, Invalid, NotFound, error
from ..storable import text_problem
from ..tables import list_states, saved_views
from .access import Access
from .compiled import CompiledModel
from .query import parse_list_args

MAX_QUERY = 4000
MAX_NAME = 100
#: Parameters a view's query may carry besides the list query's own.
SCREEN_PARAMS = ("columns",)


def query_args(query: str) -> MultiDict:
    return MultiDict(parse_qsl(query, keep_blank_values=True))


def check_query(model: CompiledModel, entity_key: str, query: str, field: str = "query") -> None:
    """Refuse (422, naming ``field``) a query string the entity's list would refuse, or unknown columns."""
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise Invalid([error(field, "type", f"'{field}' must be a query string of at most {MAX_QUERY} characters")])
    entity = model.entity(entity_key)
    args = query_args(query)
    columns = [c for raw in args.poplist("columns") for c in raw.split(",") if c]
    unknown = [c for c in columns if c not in entity.field_map]
    if unknown:
        raise Invalid([error(field, "unknown_field", f"no field '{unknown[0]}' to show as a column")])
    try:
        parse_list_args(args, entity, max_per_page=200)
    except BadRequest as exc:
        raise Invalid([error(field, e.get("code", "invalid"), f"{e.get('field')}: {e['message']}")
                       for e in exc.errors]) from None


def _out(row, user_id: int | None) -> dict:
    return {"id": row.id, "entity": row.entity, "name": row.name, "query": row.query, "role": row.role,
            "owner_id": row.user_id, "mine": row.user_id == user_id,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _visible(access: Access):
    shared = saved_views.c.role.in_(list(access.roles)) if access.roles else sa.false()
    return sa.or_(saved_views.c.user_id == access.user_id, shared)


def list_views(conn, access: Access, entity_key: str) -> list[dict]:
    rows = conn.execute(sa.select(saved_views).where(saved_views.c.entity == entity_key, _visible(access))
                        .order_by(saved_views.c.name, saved_views.c.id)).all()
    return [_out(r, access.user_id) for r in rows]


def get_view(conn, access: Access, view_id: int) -> dict:
    row = conn.execute(sa.select(saved_views).where(saved_views.c.id == view_id, _visible(access))).first()
    if row is None:
        raise NotFound([error(None, "not_found", f"no saved view with id {view_id}")])
    return _out(row, access.user_id)


def _checked(model: CompiledModel, access: Access, entity_key: str, body: dict, *, partial: bool) -> dict:
    values, problems = {}, []
    if "name" in body or not partial:
        name = body.get("name")
        found = text_problem(name) if isinstance(name, str) else None
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or found:
            problems.append(error("name", "type", f"'name' must be text of 1 to {MAX_NAME} characters"))
        else:
            values["name"] = name.strip()
    if "query" in body or not partial:
        query = body.get("query", "")
        check_query(model, entity_key, query)
        values["query"] = query.lstrip("?")
    if "role" in body:
        role = body["role"]
        if role is not None:
            known = model.state.roles.get(role) if isinstance(role, str) else None
            if known is None or known.archived:
                problems.append(error("role", "unknown_role", f"no role '{role}' to share the view with"))
            elif role not in access.roles and not access.is_admin(model):
                problems.append(error("role", "forbidden", "you may share a view only with a role you hold"))
        values["role"] = role
    unknown = sorted(set(body) - {"name", "query", "role", "entity"})
    if unknown:
        problems.append(error(unknown[0], "unknown_property", f"unknown property '{unknown[0]}'"))
    if problems:
        raise Invalid(problems)
    return values


def create_view(conn, model: CompiledModel, access: Access, entity_key: str, body: dict) -> dict:
    if not access.can("read", entity_key, model):
        raise Forbidden([error(None, "forbidden", f"you may not read {entity_key} records")])
    values = _checked(model, access, entity_key, body, partial=False)
    now = utcnow()
    new_id = conn.execute(saved_views.insert().values(user_id=access.user_id, entity=entity_key, created_at=now,
                                                      updated_at=now, **{"role": None, **values})
                          .returning(saved_views.c.id)).scalar_one()
    return get_view(conn, access, new_id)


def _own(conn, model: CompiledModel, access: Access, view_id: int) -> dict:
    view = get_view(conn, access, view_id)
    if not view["mine"] and not access.is_admin(model):
        raise Forbidden([error(None, "forbidden", "only the view's owner may change or delete it")])
    return view


def update_view(conn, model: CompiledModel, access: Access, view_id: int, body: dict) -> dict:
    view = _own(conn, model, access, view_id)
    values = _checked(model, access, view["entity"], body, partial=True)
    if values:
        conn.execute(saved_views.update().where(saved_views.c.id == view_id).values(updated_at=utcnow(), **values))
    return get_view(conn, access, view_id)


def delete_view(conn, model: CompiledModel, access: Access, view_id: int) -> None:
    _own(conn, model, access, view_id)
    conn.execute(saved_views.delete().where(saved_views.c.id == view_id))


# ---- the last state of each list ------------------------------------------------------------------
def last_state(conn, user_id: int, entity_key: str) -> tuple[str, list[str]] | None:
    row = conn.execute(sa.select(list_states.c.query, list_states.c.known).where(
        list_states.c.user_id == user_id, list_states.c.entity == entity_key)).first()
    return (row.query, json.loads(row.known)) if row is not None else None


def remember(conn, user_id: int, entity_key: str, query: str, known: list[str]) -> None:
    """Keep how ``user_id`` left the list (one row per user and entity, replaced)."""
    values = {"query": query[:MAX_QUERY], "known": json.dumps(known), "updated_at": utcnow()}
    done = conn.execute(list_states.update().where(list_states.c.user_id == user_id,
                                                   list_states.c.entity == entity_key).values(**values)).rowcount
    if not done:
        try:
            with conn.begin_nested():
                conn.execute(list_states.insert().values(user_id=user_id, entity=entity_key, **values))
        except sa.exc.IntegrityError:  # the same list opened twice at once: the other tab's state stands
            pass
