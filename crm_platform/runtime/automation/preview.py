"""The dry run of a rule: how many records it would act on now, with a sample — nothing is written.

For a time trigger it is what the worker would do on its next run (records due and not yet acted
on for the occurrence); for an event trigger, the records that meet the conditions now (for
``stage_entered``, those in the stage; for ``updated`` with ``to``, those holding the value) — what
the rule would have acted on had they been written now.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ...metadata.field_types import REGISTRY
from ..compiled import CompiledModel
from ..pipelines import pipelines_of
from .conditions import clause
from .timed import TIME_TRIGGERS, pending

SAMPLE = 10


def _title(entity, row) -> str:
    key = entity.doc.get("title_field")
    value = row._mapping.get(key) if key else None
    return str(value) if value not in (None, "") else f"#{row.id}"


def would_act(conn: sa.Connection, model: CompiledModel, rule: dict, now: dt.datetime) -> dict:
    """``{"count": n, "sample": [{"id", "title"}...]}`` (the sample: the first records by id)."""
    entity = model.entity(rule["entity"])
    t, trigger = entity.table, rule["trigger"]
    title_key = entity.doc.get("title_field")
    title = [t.c[title_key]] if isinstance(title_key, str) and title_key in t.c else []
    if trigger["on"] in TIME_TRIGGERS:
        todo = [i for i, _ in pending(conn, model, rule, now, limit=10**9)]
        rows = conn.execute(sa.select(t.c.id, *title).where(t.c.id.in_(todo[:SAMPLE])).order_by(t.c.id)).all() \
            if todo else []
        return {"count": len(todo), "sample": [{"id": r.id, "title": _title(entity, r)} for r in rows]}
    where = [t.c.archived_at.is_(None), clause(model, entity, rule.get("conditions") or [], now)]
    if trigger["on"] == "stage_entered":
        fields = [p["field"] for p in pipelines_of(model, entity.key) if trigger.get("pipeline") in (None, p["key"])]
        where.append(sa.or_(*[t.c[f] == trigger["stage"] for f in fields]) if fields else sa.false())
    if trigger["on"] == "updated" and "to" in trigger and trigger.get("fields"):
        field = entity.field_map.get(trigger["fields"][0])
        if field is not None:
            where.append(t.c[field["key"]] == REGISTRY[field["type"]].compared_checker(field)(trigger["to"]))
    count = conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one()
    rows = conn.execute(sa.select(t.c.id, *title).where(*where).order_by(t.c.id).limit(SAMPLE)).all()
    return {"count": count, "sample": [{"id": r.id, "title": _title(entity, r)} for r in rows]}
