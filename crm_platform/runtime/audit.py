"""The audit trail: who changed which record, when, which fields (old and new values) and why.

The after-write hook writes one ``crm_audit`` row per create, update, delete and restore, on the
write's own connection, so the change and its audit row commit or roll back together. ``changes``
is JSON text ``{field: [old, new]}`` written with :mod:`crm_platform.jsonutil` (decimals exact):

- create and restore: every field holding a value, as ``[null, value]``;
- update: only the fields whose value changed (a stage move is a change of the stage field);
- delete: every field the record held when it went to the recycle bin, as ``[value, null]``.

Stages moved in bulk when a pipeline stage is archived are written with action ``stage``.

An entity whose definition says ``"require_change_reason": true`` refuses an update or a delete
without a reason (422, field ``_reason``); the before-write hook checks it before anything is
written. ``GET /api/records/<entity>/<id>/history`` lists a record's rows, newest first. No
endpoint or code path updates or deletes audit rows: the trail is append-only through the product.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from .. import jsonutil
from ..clock import utcnow
from ..errors import Invalid, error
from ..tables import audit_log
from .records import PendingWrite, WriteEvent

#: Columns every generated table carries that are bookkeeping, not the record's content.
BOOKKEEPING = frozenset({"id", "created_at", "updated_at", "created_by", "updated_by", "version", "archived_at"})
MAX_ID = 2**63 - 1


def _audited_keys(entity, *records: dict | None) -> list[str]:
    """The entity's fields and owner_id, in definition order, that appear in the given dumps."""
    keys = [f["key"] for f in entity.fields] + ["owner_id"]
    present = set().union(*(r.keys() for r in records if r))
    return [k for k in keys if k in present and k not in BOOKKEEPING]


def _empty(value) -> bool:
    return value is None or value == []


def diff(entity, action: str, before: dict | None, after: dict | None) -> dict:
    """``{field: [old, new]}`` for one write (see the module docstring for each action)."""
    out = {}
    if action == "update":
        for k in _audited_keys(entity, before, after):
            old, new = (before or {}).get(k), (after or {}).get(k)
            if old != new:
                out[k] = [old, new]
    elif action == "delete":
        for k in _audited_keys(entity, before):
            if not _empty(before.get(k)):
                out[k] = [before[k], None]
    else:  # create, restore
        for k in _audited_keys(entity, after):
            if not _empty(after.get(k)):
                out[k] = [None, after[k]]
    return out


def write(conn: sa.Connection, entity: str, record_id: int, action: str, changes: dict, *,
          actor_id: int | None, reason: str | None, at: dt.datetime | None = None) -> None:
    conn.execute(audit_log.insert().values(entity=entity, record_id=record_id, action=action, actor_id=actor_id,
                                           at=at or utcnow(), reason=reason, changes=jsonutil.dumps(changes)))


def write_many(conn: sa.Connection, rows: list[dict]) -> None:
    """Rows of ``entity, record_id, action, changes (dict), actor_id, reason, at``, in one executemany."""
    if rows:
        conn.execute(audit_log.insert(), [{**r, "changes": jsonutil.dumps(r["changes"])} for r in rows])


# ---- hooks ----------------------------------------------------------------------------------------

def before_write(pending: PendingWrite) -> None:
    """Refuse an update or a delete without a reason on an entity that requires one."""
    if pending.action not in ("update", "delete") or not pending.entity.doc.get("require_change_reason"):
        return
    if pending.reason is None or not str(pending.reason).strip():
        raise Invalid([error("_reason", "required",
                             f"changes to {pending.entity.key} records need a reason: send it in the X-Change-Reason "
                             f"header or as \"_reason\" in the body")])


def after_write(event: WriteEvent) -> None:
    write(event.conn, event.entity.key, event.record_id, event.action,
          diff(event.entity, event.action, event.before, event.after),
          actor_id=event.actor_id, reason=event.reason)


def after_create_many(conn: sa.Connection, model, entity, rows: list[dict], actor_id: int | None,
                      reason: str | None = None) -> None:
    """``after_write`` for a batch of bulk-created records: one create row each, in one executemany."""
    # The same changes ``diff`` gives a single create, computed once per batch rather than per row:
    # bulk imports write tens of thousands of rows and this runs for each.
    keys = _audited_keys(entity, dict.fromkeys([f["key"] for f in entity.fields] + ["owner_id"]))
    dumps = jsonutil.dumps
    _insert_sharing(conn, {"entity": entity.key, "action": "create", "actor_id": actor_id, "at": utcnow(), "reason": reason},
                    [(row["id"], dumps({k: [None, v] for k in keys if (v := row.get(k)) is not None and v != []}))
                     for row in rows])


after_write.many = after_create_many


def _insert_sharing(conn: sa.Connection, shared: dict, rows: list[tuple[int, str]]) -> None:
    """Audit rows ``(record_id, changes)`` that share every other column, in the driver's executemany.

    SQLAlchemy compiles the statement and converts the shared values once. Core's executemany
    would convert all seven values of every row again, which costs a bulk import of 100,000
    records about 0.7 s on SQLite — as much again as writing the audit rows.
    """
    if not rows:
        return
    compiled = audit_log.insert().compile(dialect=conn.dialect, column_keys=[c.key for c in audit_log.c if c.key != "id"])
    params = {}
    for key, value in shared.items():
        convert = audit_log.c[key].type.bind_processor(conn.dialect)
        params[key] = convert(value) if convert else value
    # record_id (an integer) and changes (text) need no conversion on either database.
    if compiled.positional:
        position = {name: n for n, name in enumerate(compiled.positiontup)}
        template = [params.get(name) for name in compiled.positiontup]
        i, c = position["record_id"], position["changes"]

        def one(record_id, changes):
            values = template.copy()
            values[i], values[c] = record_id, changes
            return tuple(values)
        conn.exec_driver_sql(compiled.string, [one(r, ch) for r, ch in rows])
    else:
        conn.exec_driver_sql(compiled.string, [{**params, "record_id": r, "changes": ch} for r, ch in rows])


# ---- reading the trail -------------------------------------------------------------------------

def _item(row, hidden: frozenset = frozenset()) -> dict:
    """One audit row; changes to fields the reader may not read are left out."""
    changes = {k: v for k, v in jsonutil.loads(row.changes).items() if k not in hidden}
    return {"id": row.id, "entity": row.entity, "record_id": row.record_id, "action": row.action,
            "actor_id": row.actor_id, "actor": row.actor, "at": row.at, "reason": row.reason, "changes": changes}


def trail(conn: sa.Connection, entity: str, record_id: int, *, hidden: frozenset = frozenset(), limit: int,
          offset: int = 0) -> tuple[int, list[dict]]:
    """A record's audit rows, newest first, with the actor's user name: (total, items).

    The caller has checked that the reader may see the record; ``hidden`` are the fields they may not read.
    """
    from ..tables import users
    a = audit_log
    where = sa.and_(a.c.entity == entity, a.c.record_id == record_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(a).where(where)).scalar_one()
    rows = conn.execute(sa.select(a, users.c.username.label("actor"))
                        .select_from(a.outerjoin(users, users.c.id == a.c.actor_id)).where(where)
                        .order_by(a.c.at.desc(), a.c.id.desc()).limit(limit).offset(offset)).all()
    return total, [_item(r, hidden) for r in rows]
