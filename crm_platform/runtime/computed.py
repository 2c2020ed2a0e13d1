"""Computed columns kept right: roll-ups recomputed in the transaction of every write that can change them.

A roll-up on a parent entity is computed from the records of a child entity that refer to it
(``FieldType.rolls_up``). The after-write hook here runs on every batch of the child: it collects the
parents named by ``w.before[via]`` and ``w.after[via]`` (a child moving from A to B changes both) of
the records whose roll-up inputs changed, and recomputes every roll-up of those parents with one
set-based UPDATE per chunk of ids — the type's ``computed_sql``, a correlated subquery — never a
statement per record. Creates, updates, deletes (``on_delete`` set_null and cascade are batches of
their own), restores, bulk creates, imports and merges all arrive here as batches.

A recomputed value is not an edit of the parent: its version, ``updated_at`` and audit trail stay as
they are (a user editing the parent gets no 409 because an order came in). What follows from the new
value does follow: roll-ups of the grandparents over it, and the parent's rule tags.

``backfill`` fills a computed column for a whole table (the plan's ``recompute_column``).
"""
from __future__ import annotations

import sqlalchemy as sa

from ..metadata.field_types import REGISTRY
from ..metadata.keys import table_name
from .compiled import CompiledModel
from .records import Batch

CHUNK = 900


def _rollups_of(model: CompiledModel) -> dict[str, list[tuple[str, dict]]]:
    """child entity → [(parent entity, roll-up field)], computed once per revision."""
    found = getattr(model, "_rollups_by_child", None)
    if found is None:
        found = {}
        for parent in model.active():
            for f in parent.fields:
                source = REGISTRY[f["type"]].rolls_up(f)
                if source is not None and source[0] in model.entities:
                    found.setdefault(source[0], []).append((parent.key, f))
        model._rollups_by_child = found
    return found


def _inputs(field: dict) -> set[str]:
    """The child's fields a roll-up reads: its reference, its field and its filter's fields."""
    return {k for _, k in REGISTRY[field["type"]].depends_on(field, "") if k}


def after_write(conn: sa.Connection, batch: Batch) -> None:
    """Recompute the roll-ups over the batch's records, for the parents they named before and after."""
    fed = _rollups_of(batch.model).get(batch.entity.key)
    if not fed:
        return
    by_parent: dict[str, list[dict]] = {}
    for parent, field in fed:
        by_parent.setdefault(parent, []).append(field)
    for parent, fields in by_parent.items():
        ids: set[int] = set()
        for field in fields:
            via = REGISTRY[field["type"]].rolls_up(field)[1]
            inputs = _inputs(field)
            for w in batch:
                if batch.op == "update" and w.before is not None and w.after is not None and all(
                        w.before.get(k) == w.after.get(k) for k in inputs):
                    continue  # nothing the roll-up reads changed
                for snapshot in (w.before, w.after):
                    if snapshot and snapshot.get(via) is not None:
                        ids.add(snapshot[via])
        if ids:
            recompute(conn, batch.model, parent, fields, sorted(ids))


def recompute(conn: sa.Connection, model: CompiledModel, entity_key: str, fields: list[dict], ids: list[int],
              depth: int = 0) -> None:
    """Recompute ``fields`` of the records ``ids`` of ``entity_key`` (one UPDATE per chunk), then what
    depends on them: roll-ups over these fields on the grandparents, and the records' rule tags."""
    entity = model.entities[entity_key]
    t = entity.table
    grouped: dict[tuple[str, str], list[dict]] = {}
    correlated = {}
    for f in fields:
        source = REGISTRY[f["type"]].rolls_up(f)
        if source is not None:
            grouped.setdefault(source, []).append(f)
        else:
            value = REGISTRY[f["type"]].computed_sql(f, t, lambda key: _source(model, key), conn.dialect.name)
            if value is not None:
                correlated[f["key"]] = value
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for (child_key, via), group in grouped.items():
            child = model.entities[child_key]
            update_grouped(conn, t, child.table, child.field_map, via, group, chunk)
        if correlated:
            conn.execute(t.update().where(t.c.id.in_(chunk)).values(correlated))
    changed = {f["key"] for group in grouped.values() for f in group} | set(correlated)
    if not changed:
        return
    _rule_tags(conn, model, entity_key, ids)
    if depth >= 10:  # definitions refuse cycles; this only bounds a deep chain
        return
    for grand, gfields in _grouped(_rollups_of(model).get(entity_key, [])).items():
        wanted = [f for f in gfields if _inputs(f) & changed]
        if not wanted:
            continue
        via = REGISTRY[wanted[0]["type"]].rolls_up(wanted[0])[1]
        parents: set[int] = set()
        for f in wanted:
            via = REGISTRY[f["type"]].rolls_up(f)[1]
            for start in range(0, len(ids), CHUNK):
                parents.update(conn.execute(sa.select(t.c[via]).where(
                    t.c.id.in_(ids[start:start + CHUNK]), t.c[via].is_not(None)).distinct()).scalars())
        if parents:
            recompute(conn, model, grand, wanted, sorted(parents), depth + 1)


def update_grouped(conn, parent: sa.Table, child: sa.Table, child_fields: dict, via: str, fields: list[dict],
                   ids: list[int] | None) -> None:
    """Recompute roll-ups over one (child, via) for the parents ``ids`` (every parent when None) in two
    statements: each back to its value with no children, then ``UPDATE ... FROM`` one GROUP BY pass over
    their live children. (A correlated subquery per parent is one index probe each when the planner
    knows the child table, but a sequential scan each when its statistics say it is empty — as right
    after a bulk load on PostgreSQL.)"""
    dialect = conn.dialect.name
    child = child.alias("rollup_child")  # a roll-up over the same entity still tells parent from child
    empty = {f["key"]: REGISTRY[f["type"]].initial_value(f) for f in fields}
    where = [child.c[via].is_not(None), child.c.archived_at.is_(None)]
    reset = parent.update()
    if ids is not None:
        where.append(child.c[via].in_(ids))
        reset = reset.where(parent.c.id.in_(ids))
    conn.execute(reset.values(empty))
    values = [REGISTRY[f["type"]].grouped_sql(f, child, child_fields, dialect).label(f"v{n}") for n, f in enumerate(fields)]
    agg = sa.select(child.c[via].label("pid"), *values).where(*where).group_by(child.c[via]).subquery("rollup_values")
    conn.execute(parent.update().where(parent.c.id == agg.c.pid)
                 .values({f["key"]: agg.c[f"v{n}"] for n, f in enumerate(fields)}))


def _grouped(pairs: list[tuple[str, dict]]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for entity_key, field in pairs:
        out.setdefault(entity_key, []).append(field)
    return out


def _source(model: CompiledModel, key: str):
    entity = model.entities[key]
    return entity.table, entity.field_map


def _rule_tags(conn, model: CompiledModel, entity_key: str, ids: list[int]) -> None:
    """Rule tags of the recomputed records follow their new figures ("average order over 5,000")."""
    from .tag_rules import apply_rules, rule_tags
    if any(rt.entity == entity_key for rt in rule_tags(model)):
        for start in range(0, len(ids), CHUNK):
            apply_rules(conn, model, entity_key, ids[start:start + CHUNK])


def backfill(conn: sa.Connection, metadata: sa.MetaData, docs: dict[str, dict], entity_key: str, field: dict) -> int:
    """Fill the computed ``field`` of every record of ``entity_key`` with one UPDATE (the plan's
    ``recompute_column``); ``metadata`` and ``docs`` are the definitions after the change."""
    t = metadata.tables[table_name(entity_key)]

    def source(key):
        doc = docs[key]
        fields = {f["key"]: REGISTRY[f["type"]].bind_docs(f, docs) for f in doc.get("fields", [])}
        return metadata.tables[table_name(key)], fields

    rolled = REGISTRY[field["type"]].rolls_up(field)
    if rolled is not None:
        child, child_fields = source(rolled[0])
        update_grouped(conn, t, child, child_fields, rolled[1], [field], None)
        return 0
    value = REGISTRY[field["type"]].computed_sql(field, t, source, conn.dialect.name)
    if value is None:
        return 0
    return conn.execute(t.update().values({field["key"]: value})).rowcount
