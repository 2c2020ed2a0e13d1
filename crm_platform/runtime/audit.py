"""The audit trail: who changed which record, when, which fields (old and new values) and why.

The after-write hook writes one ``crm_audit`` row per create, update, delete and restore, on the
write's own connection, so the change and its audit row commit or roll back together. ``changes``
is JSON text ``{field: [old, new]}`` written with :mod:`crm_platform.jsonutil` (decimals exact):

- create and restore: every field holding a value, as ``[null, value]`` (the value as stored: the
  validator gives decimals their field's scale);
- update: only the fields whose value changed (a stage move is a change of the stage field);
- delete: every field the record held when it went to the recycle bin, as ``[value, null]``.

Stages moved in bulk when a pipeline stage is archived are written with action ``stage``.

An entity whose definition says ``"require_change_reason": true`` refuses an update or a delete
without a reason (422, field ``_reason``); the before-write hook checks it before anything is
written. ``GET /api/records/<entity>/<id>/history`` lists a record's rows, newest first.

A reason the system writes itself (the steps of an approval) is a :class:`Reason`: the English
sentence in ``reason`` as before, and a message key with its arguments beside it, which the screens
render in the reader's language (docs/approvals.md).

No endpoint or code path updates or deletes audit rows: the trail is append-only through the product.
"""
from __future__ import annotations

import sqlalchemy as sa

from .. import jsonutil
from ..clock import utcnow
from ..errors import Invalid, error
from ..tables import audit_log
from .fast_insert import insert_rows
from .reasons import Reason  # noqa: F401 - written as audit.Reason by the hooks
from .records import Batch

def _reason_columns(reason) -> dict:
    """``reason``, ``reason_key`` and ``reason_args`` of an audit row written for ``reason``."""
    if isinstance(reason, Reason):
        return {"reason": str(reason), "reason_key": reason.key, "reason_args": jsonutil.dumps(reason.args)}
    return {"reason": reason, "reason_key": None, "reason_args": None}


#: Columns every generated table carries that are bookkeeping, not the record's content.
BOOKKEEPING = frozenset({"id", "created_at", "updated_at", "created_by", "updated_by", "version", "archived_at"})
MAX_ID = 2**63 - 1


def _audited_keys(entity, *records: dict | None) -> list[str]:
    """The entity's fields and owner_id, in definition order, that appear in the given dumps."""
    # Formulas are left out: nobody writes them, and their value follows from the fields logged.
    keys = entity.stored_keys + ["owner_id"]
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


def write_many(conn: sa.Connection, rows: list[dict]) -> None:
    """Rows of ``entity, record_id, action, changes (dict), actor_id, reason, at``, in one executemany
    (a :class:`Reason` fills ``reason_key`` and ``reason_args`` too)."""
    if rows:
        conn.execute(audit_log.insert(), [{**r, **_reason_columns(r.get("reason")), "changes": jsonutil.dumps(r["changes"])}
                                          for r in rows])


# ---- hooks ----------------------------------------------------------------------------------------

def before_write(conn: sa.Connection, batch: Batch) -> None:
    """Refuse an update or a delete without a reason on an entity that requires one."""
    if batch.op not in ("update", "delete") or not batch.entity.doc.get("require_change_reason"):
        return
    if batch.reason is None or not str(batch.reason).strip():
        raise Invalid([error("_reason", "required",
                             f"changes to {batch.entity.key} records need a reason: send it in the X-Change-Reason "
                             f"header or as \"_reason\" in the body")])


def after_write(conn: sa.Connection, batch: Batch) -> None:
    """One audit row per record of the batch, in one executemany (the last after-write hook)."""
    entity, dumps = batch.entity, jsonutil.dumps
    if batch.op == "create":
        # ``diff`` of a create, with the keys worked out once per batch rather than per row: bulk
        # imports write tens of thousands of rows and this runs for each.
        keys = _audited_keys(entity, dict.fromkeys(entity.stored_keys + ["owner_id"]))
        rows = [(w.id, dumps({k: [None, v] for k in keys if (v := w.after.get(k)) is not None and v != []}))
                for w in batch]
    else:
        rows = [(w.id, dumps(diff(entity, batch.op, w.before, w.after))) for w in batch]
    insert_rows(conn, audit_log, ("record_id", "changes"), rows,
                {"entity": entity.key, "action": batch.op, "actor_id": batch.actor_id, "at": utcnow(),
                 **_reason_columns(batch.reason)})


# ---- reading the trail -------------------------------------------------------------------------

def _item(row, hidden: frozenset = frozenset()) -> dict:
    """One audit row; changes to fields the reader may not read are left out."""
    changes = {k: v for k, v in jsonutil.loads(row.changes).items() if k not in hidden}
    return {"id": row.id, "entity": row.entity, "record_id": row.record_id, "action": row.action,
            "actor_id": row.actor_id, "actor": row.actor, "at": row.at, "reason": row.reason,
            "reason_key": row.reason_key,
            "reason_args": jsonutil.loads(row.reason_args) if row.reason_args is not None else None,
            "changes": changes}


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
