"""Which records meet a rule's conditions: the condition language of rule tags, one language for both.

Plain field tests (``field``/``op``/``value``) are judged in Python on the record as the write left
it, which costs no statement per write; a rule with ``related`` conditions is judged in SQL by the
very clause rule tags use (``tag_rules.rule_condition``), one statement per batch. Both read values
through the field type's ``compared_checker``, so a rule means the same whichever way it is judged.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ...metadata.field_types import REGISTRY
from ..compiled import CompiledEntity, CompiledModel
from ..tag_rules import rule_condition

CHUNK = 900


def _holds(cond: dict, field: dict, value, now: dt.datetime) -> bool:
    op, wanted = cond["op"], cond.get("value")
    if op == "is_empty":
        return value is None or value == ""
    if op == "is_not_empty":
        return not (value is None or value == "")
    ftype = REGISTRY[field["type"]]
    if op in ("within_days", "older_than_days"):
        cutoff = ftype.moment_value(field, now - dt.timedelta(days=wanted))
        if value is None:
            return op == "older_than_days"
        return value >= cutoff if op == "within_days" else value < cutoff
    check = ftype.compared_checker(field)
    wanted = [check(v) for v in wanted] if op == "in" else check(wanted)
    if op == "ne":
        return value is None or value != wanted
    if value is None:
        return False
    try:
        return {"eq": lambda: value == wanted, "gt": lambda: value > wanted, "gte": lambda: value >= wanted,
                "lt": lambda: value < wanted, "lte": lambda: value <= wanted, "in": lambda: value in wanted}[op]()
    except TypeError:  # a stored value of another kind than the condition's (a field whose type changed)
        return False


def in_python(conditions: list[dict]) -> bool:
    return not any(c.get("related") for c in conditions)


def matching(conn: sa.Connection, model: CompiledModel, entity: CompiledEntity, conditions: list[dict],
             records: list[dict], now: dt.datetime) -> list[dict]:
    """Those of ``records`` (stored records, as hooks see them) that meet every condition."""
    if not conditions or not records:
        return list(records)
    if in_python(conditions):
        fields = entity.field_map
        return [r for r in records if all(_holds(c, fields[c["field"]], r.get(c["field"]), now) for c in conditions)]
    clause = rule_condition(model, entity, {"all": conditions}, now)
    t, ids = entity.table, [r["id"] for r in records]
    found: set = set()
    for start in range(0, len(ids), CHUNK):
        found.update(conn.execute(sa.select(t.c.id).where(t.c.id.in_(ids[start:start + CHUNK]), clause)).scalars())
    return [r for r in records if r["id"] in found]


def clause(model: CompiledModel, entity: CompiledEntity, conditions: list[dict], now: dt.datetime):
    """The conditions as one SQL clause (time triggers and the dry run select records with it)."""
    return rule_condition(model, entity, {"all": conditions}, now) if conditions else sa.true()
