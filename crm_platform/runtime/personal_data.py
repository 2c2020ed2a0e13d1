"""Personal data of one person: everything the product holds about a record, exported or erased.

The person is a record (a contact, a customer, a student). What is *about* them:

- the record itself, live or in the recycle bin;
- its related records: records of any entity whose reference fields point at it (one level: the
  activities, deals and requests of a contact), live or in the recycle bin;
- the audit rows of all of those, and the notifications that name them.

Which fields are personal: a field whose definition says ``"personal": true``, and every field whose
type is personal by nature (``FieldType.personal``: e-mail and phone). docs/operations.md, *Personal
data*, is the user's account of this.

``export`` gathers it as one JSON document. ``erase`` blanks the personal fields of the record and
its related records through the record service (each an ordinary update with the erase's reason,
so hooks and rule tags see it), then removes their personal values from the audit rows and the
notifications, and writes an ``erase`` audit row. A required field cannot be blank: it takes its
type's placeholder (``FieldType.erased_value``), or the erase is refused (422) naming the field.
Both are admin actions and each writes an audit row (``personal_export``, ``erase``), in the same
transaction as what it did. The audit trail is otherwise append-only; the erase is the one path that
rewrites rows, and it changes only the personal values, never who, when, what or why.
"""
from __future__ import annotations

import sqlalchemy as sa

from .. import jsonutil
from ..clock import utcnow
from ..errors import Invalid, error
from ..metadata.field_types import REGISTRY
from ..tables import audit_log, notifications
from .audit import write_many
from .reasons import Reason

#: What an erased value becomes in the audit trail and in notifications.
ERASED = "[erased]"
FORMAT = "crm-personal-data/1"
#: Related records gathered per reference field; a person with more is refused rather than cut short.
MAX_RELATED = 10_000


def is_personal(field: dict) -> bool:
    return bool(field.get("personal")) or REGISTRY[field["type"]].personal


def personal_keys(entity) -> list[str]:
    return [f["key"] for f in entity.fields if is_personal(f)]


def _records(svc, conn, entity, where) -> list[dict]:
    """Records of ``entity`` matching ``where``, live and in the recycle bin, as the API shows them
    (plus ``archived_at``)."""
    t = entity.table
    rows = conn.execute(sa.select(*entity.columns, t.c.archived_at).where(where).order_by(t.c.id)
                        .limit(MAX_RELATED + 1)).all()
    if len(rows) > MAX_RELATED:
        raise Invalid([error(None, "too_many", f"more than {MAX_RELATED} related {entity.key} records")])
    return [{**record, "archived_at": row.archived_at}
            for record, row in zip(svc.dump_rows(conn, entity, rows), rows)]


def gather(svc, conn, entity_key: str, record_id: int) -> tuple[object, list[tuple[object, str, dict]]]:
    """(model, [(entity, relation, record)]): the subject first (relation ``subject``), then the
    records referring to it (relation ``<entity>.<field>``). 404 if the subject does not exist."""
    model = svc.runtime.current(conn)
    entity = model.entity(entity_key)
    found = _records(svc, conn, entity, entity.table.c.id == record_id) if record_id <= 2**63 - 1 else []
    if not found:
        from ..errors import NotFound
        raise NotFound([error(None, "not_found", f"no {entity_key} record with id {record_id}")])
    out = [(entity, "subject", found[0])]
    for other, field in model.referencing(entity_key):
        if other.archived or field["key"] not in other.table.c:
            continue
        for record in _records(svc, conn, other, other.table.c[field["key"]] == record_id):
            out.append((other, f"{other.key}.{field['key']}", record))
    return model, out


def _audit_where(records) -> sa.ColumnElement:
    pairs: dict[str, list[int]] = {}
    for entity, _, record in records:
        pairs.setdefault(entity.key, []).append(record["id"])
    return sa.or_(*(sa.and_(audit_log.c.entity == k, audit_log.c.record_id.in_(ids)) for k, ids in pairs.items()))


def _notification_where(records) -> sa.ColumnElement:
    pairs: dict[str, list[int]] = {}
    for entity, _, record in records:
        pairs.setdefault(entity.key, []).append(record["id"])
    n = notifications
    return sa.or_(*(sa.and_(n.c.entity == k, n.c.record_id.in_(ids)) for k, ids in pairs.items()))


def export(svc, entity_key: str, record_id: int, *, actor_id: int | None) -> dict:
    """The one document of everything about the record (see the module docstring); writes a
    ``personal_export`` audit row on the subject."""
    with svc.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        model, records = gather(svc, conn, entity_key, record_id)
        audit = conn.execute(sa.select(audit_log).where(_audit_where(records))
                             .order_by(audit_log.c.at, audit_log.c.id)).all()
        bell = conn.execute(sa.select(notifications).where(_notification_where(records))
                            .order_by(notifications.c.id)).all()
        now = utcnow()
        write_many(conn, [{"entity": entity_key, "record_id": record_id, "action": "personal_export", "actor_id": actor_id,
                           "reason": Reason("personal data exported", "personal_data_exported"), "changes": {},
                           "at": now}])
    return {
        "format": FORMAT, "exported_at": now, "subject": {"entity": entity_key, "id": record_id},
        "personal_fields": {e.key: personal_keys(e) for e in {e.key: e for e, _, _ in records}.values()},
        "records": [{"entity": e.key, "id": r["id"], "relation": rel, "record": r} for e, rel, r in records],
        "audit": [{"id": a.id, "entity": a.entity, "record_id": a.record_id, "action": a.action,
                   "actor_id": a.actor_id, "at": a.at, "reason": a.reason, "changes": jsonutil.loads(a.changes)}
                  for a in audit],
        "notifications": [{"id": n.id, "user_id": n.user_id, "kind": n.kind, "title": n.title, "entity": n.entity,
                           "record_id": n.record_id, "created_at": n.created_at, "read_at": n.read_at} for n in bell],
    }


def _blank(entity, record: dict, keys: list[str]) -> tuple[dict, list[dict]]:
    """The update that blanks ``keys`` of ``record`` (only those holding a value), and refusals."""
    patch, problems = {}, []
    for key in keys:
        if record.get(key) in (None, "", []):
            continue
        field = entity.field_map[key]
        if not field.get("required"):
            patch[key] = [] if REGISTRY[field["type"]].multi_valued else None
            continue
        placeholder = REGISTRY[field["type"]].erased_value(field, record["id"])
        if placeholder is None:
            problems.append(error(f"{entity.key}.{key}", "required",
                                  f"{entity.key}.{key} is required and its type has no erased placeholder; make it "
                                  f"optional first"))
        else:
            patch[key] = placeholder
    return patch, problems


def erase(svc, entity_key: str, record_id: int, *, reason: str, actor_id: int | None) -> dict:
    """Blank every personal value of the record and its related records (see the module docstring).
    ``{"erased": [{"entity", "id", "fields"}], "audit_rows": n, "notifications": n}``."""
    from .access import Access
    system = Access.system()
    with svc.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        model, records = gather(svc, conn, entity_key, record_id)
        plans, problems = [], []
        for entity, _, record in records:
            patch, wrong = _blank(entity, record, personal_keys(entity))
            problems += wrong
            plans.append((entity, record, patch))
        if problems:
            raise Invalid(problems)
        erased = []
        for entity, record, patch in plans:
            if patch:
                binned = record["archived_at"] is not None
                if binned:  # the recycle bin holds values too: out, blank, back in
                    svc.restore(entity.key, record["id"], conn=conn, access=system, actor_id=actor_id, reason=reason)
                svc.update(entity.key, record["id"], patch, conn=conn, access=system, actor_id=actor_id, reason=reason)
                if binned:
                    svc.delete(entity.key, record["id"], conn=conn, access=system, actor_id=actor_id, reason=reason)
            erased.append({"entity": entity.key, "id": record["id"], "fields": sorted(patch)})
        personal = {e.key: set(personal_keys(e)) for e, _, _ in records}
        scrubbed = 0
        for row in conn.execute(sa.select(audit_log.c.id, audit_log.c.entity, audit_log.c.changes)
                                .where(_audit_where(records))).all():
            changes = jsonutil.loads(row.changes)
            clean = {k: ([None if v is None else ERASED for v in pair] if k in personal[row.entity] else pair)
                     for k, pair in changes.items()}
            if clean != changes:
                conn.execute(audit_log.update().where(audit_log.c.id == row.id).values(changes=jsonutil.dumps(clean)))
                scrubbed += 1
        bell = conn.execute(notifications.update().where(_notification_where(records)).values(title=ERASED)).rowcount
        write_many(conn, [{"entity": entity_key, "record_id": record_id, "action": "erase", "actor_id": actor_id,
                           "reason": reason, "at": utcnow(),
                           "changes": {k: [ERASED, None] for k in erased[0]["fields"]}}])
    return {"erased": erased, "audit_rows": scrubbed, "notifications": bell}
