"""Rule-driven tags: conditions compiled to SQL, re-evaluated on record writes and by `crm tags refresh`.

A rule ``{"entity": "customer", "all": [...]}`` applies its tag to every live record of the entity
meeting all conditions, in every tags field of that entity bound to the taxonomy. Conditions:
a field compared with a value (eq, ne, gt, gte, lt, lte, in, is_empty, is_not_empty); a date window
relative to now (``within_days``: on or after now − N days; ``older_than_days``: before it, or
empty — "no contact for 90 days" includes "never contacted"); and, with ``related``, the count of
records of another entity that refer to this one, or the latest value of one of their fields.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from ..clock import utcnow
from ..metadata.field_types import REGISTRY
from .compiled import CompiledEntity, CompiledModel
from .records import Batch


@dataclass
class RuleTag:
    taxonomy: str
    tag: str
    rule: dict
    entity: str
    fields: list[str]  # tags fields of the entity that receive the tag


def rule_tags(model: CompiledModel, taxonomy: str | None = None) -> list[RuleTag]:
    out = []
    for key, tax in model.state.taxonomies.items():
        if tax.archived or (taxonomy is not None and key != taxonomy):
            continue
        for tag in tax.doc.get("tags", []):
            rule = tag.get("rule")
            if not rule or rule["entity"] not in model.entities or model.entities[rule["entity"]].archived:
                continue
            entity = model.entities[rule["entity"]]
            fields = [f["key"] for f in entity.fields if REGISTRY[f["type"]].taxonomy_of(f) == key]
            if fields:
                out.append(RuleTag(key, tag["key"], rule, entity.key, fields))
    return out


def _compare(expr, cond: dict, field: dict | None, now: dt.datetime):
    op, value = cond["op"], cond.get("value")
    if op == "is_empty":
        return expr.is_(None)
    if op == "is_not_empty":
        return expr.is_not(None)
    if op in ("within_days", "older_than_days"):
        cutoff = now - dt.timedelta(days=value)
        cutoff = REGISTRY[field["type"]].moment_value(field, cutoff)
        return expr >= cutoff if op == "within_days" else sa.or_(expr < cutoff, expr.is_(None))
    if field is not None:
        ftype = REGISTRY[field["type"]]
        check = ftype.compared_checker(field)
        value = [check(v) for v in value] if op == "in" else check(value)
    return {
        "eq": lambda: expr == value, "ne": lambda: sa.or_(expr != value, expr.is_(None)),
        "gt": lambda: expr > value, "gte": lambda: expr >= value, "lt": lambda: expr < value,
        "lte": lambda: expr <= value, "in": lambda: expr.in_(value),
    }[op]()


def rule_condition(model: CompiledModel, entity: CompiledEntity, rule: dict, now: dt.datetime):
    t = entity.table
    parts = []
    for cond in rule["all"]:
        related = cond.get("related")
        if related is None:
            parts.append(_compare(entity.column(cond["field"]), cond, entity.field_map[cond["field"]], now))
            continue
        other = model.entities[related["entity"]]
        rt = other.table
        live = [rt.c[related["via"]] == t.c.id, rt.c.archived_at.is_(None)]
        if cond.get("aggregate", "count") == "count":
            expr = sa.select(sa.func.count()).select_from(rt).where(*live).scalar_subquery()
            parts.append(_compare(expr, cond, None, now))
        else:
            col = other.column(cond["field"])  # a formula of the related entity too
            expr = sa.select(sa.func.max(col)).where(*live).scalar_subquery()
            parts.append(_compare(expr, cond, other.field_map[cond["field"]], now))
    return sa.and_(*parts)


def apply_rules(conn: sa.Connection, model: CompiledModel, entity_key: str, record_ids: list[int] | None = None,
                taxonomy: str | None = None, now: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """Make rule tags match their rules for ``record_ids`` (all records when None).

    Returns ``{"taxonomy.tag": {"gained": n, "lost": m}}``. Running it twice changes nothing.
    """
    now = now or utcnow()
    report: dict[str, dict[str, int]] = {}
    entity = model.entities[entity_key]
    t = entity.table
    for rt in rule_tags(model, taxonomy):
        if rt.entity != entity_key:
            continue
        query = sa.select(t.c.id).where(t.c.archived_at.is_(None), rule_condition(model, entity, rt.rule, now))
        if record_ids is not None:
            query = query.where(t.c.id.in_(record_ids))
        matched = set(conn.execute(query).scalars())
        counts = report.setdefault(f"{rt.taxonomy}.{rt.tag}", {"gained": 0, "lost": 0})
        for field in rt.fields:
            link = entity.link_tables[field]
            current_q = sa.select(link.c.record_id).where(link.c.tag == rt.tag)
            if record_ids is not None:
                current_q = current_q.where(link.c.record_id.in_(record_ids))
            current = set(conn.execute(current_q).scalars())
            gained, lost = sorted(matched - current), sorted(current - matched)
            if gained:
                conn.execute(link.insert(), [{"record_id": i, "tag": rt.tag} for i in gained])
            for start in range(0, len(lost), 900):
                conn.execute(link.delete().where(link.c.tag == rt.tag, link.c.record_id.in_(lost[start:start + 900])))
            counts["gained"] += len(gained)
            counts["lost"] += len(lost)
    return report


def refresh(conn: sa.Connection, model: CompiledModel, taxonomy: str | None = None) -> dict[str, dict[str, int]]:
    report: dict[str, dict[str, int]] = {}
    for entity_key in sorted({rt.entity for rt in rule_tags(model, taxonomy)}):
        report.update(apply_rules(conn, model, entity_key, taxonomy=taxonomy))
    return report


def _parents(tags: list[RuleTag], entity_key: str, snapshots) -> dict[str, set[int]]:
    """Records whose rules count records of ``entity_key`` (``related``), named by these snapshots."""
    parents: dict[str, set[int]] = {}
    for rt in tags:
        for cond in rt.rule["all"]:
            related = cond.get("related")
            if related and related["entity"] == entity_key:
                for snapshot in snapshots:
                    if snapshot and snapshot.get(related["via"]) is not None:
                        parents.setdefault(rt.entity, set()).add(snapshot[related["via"]])
    return parents


def _apply_in_chunks(conn, model, entity_key: str, ids: list[int]) -> None:
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        apply_rules(conn, model, entity_key, ids[start:start + 900])


def after_write(conn: sa.Connection, batch: Batch) -> None:
    """Re-evaluate the rules of the written records, and of records whose rules count them (the
    records they refer to, before and after the write): a few statements per batch."""
    model = batch.model
    tags = rule_tags(model)
    if not tags:
        return
    entity_key = batch.entity.key
    if batch.op != "delete" and any(rt.entity == entity_key for rt in tags):
        _apply_in_chunks(conn, model, entity_key, [w.id for w in batch])
    snapshots = [s for w in batch for s in (w.before, w.after)]
    for parent_key, ids in _parents(tags, entity_key, snapshots).items():
        _apply_in_chunks(conn, model, parent_key, sorted(ids))


#: Conditions whose truth changes as time passes, with no write to any record.
TIME_RELATIVE_OPS = frozenset({"within_days", "older_than_days"})


def time_relative_taxonomies(model: CompiledModel) -> list[str]:
    """Taxonomies with a rule that depends on now: they must be re-evaluated as days pass. A
    condition on a formula over ``today()`` or a referenced record's field does too: its value
    moves with no write to the record."""
    return sorted({rt.taxonomy for rt in rule_tags(model)
                   if any(cond["op"] in TIME_RELATIVE_OPS or _drifts(model, rt.entity, cond) for cond in rt.rule["all"])})


def _drifts(model: CompiledModel, entity_key: str, cond: dict) -> bool:
    entity = model.entities.get(entity_key)
    if entity is None or cond.get("related") is not None or cond.get("field") not in entity.field_map:
        return False
    todo, seen = [cond["field"]], set()
    while todo:
        key = todo.pop()
        field = entity.field_map.get(key)
        if key in seen or field is None:
            continue
        seen.add(key)
        drifting, reads = REGISTRY[field["type"]].drifts(field)
        if drifting:
            return True
        todo.extend(reads)
    return False


def refresh_time_relative(conn: sa.Connection, model: CompiledModel,
                          now: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """Re-evaluate the rules that depend on now (the daily job of `crm worker`)."""
    report: dict[str, dict[str, int]] = {}
    for taxonomy in time_relative_taxonomies(model):
        for entity_key in sorted({rt.entity for rt in rule_tags(model, taxonomy)}):
            report.update(apply_rules(conn, model, entity_key, taxonomy=taxonomy, now=now))
    return report
