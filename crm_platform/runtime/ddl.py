"""Applies a plan's operations to the live schema, inside the caller's transaction.

Alembic's Operations API issues the ALTERs; SQLite's few gaps (adding a column with a foreign key)
use the SQL that SQLite documents. Identifiers come from validated keys only.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from ..clock import utcnow
from ..metadata.field_types import REGISTRY, defaults as dynamic_defaults
from ..metadata.field_types.tags import link_table_name
from ..metadata.keys import table_name
from ..metadata.plan import Plan
from .pipelines import move_all
from .table_builder import build_metadata, field_column, field_indexes, identifier, legacy_index_name

BATCH = 2000


def apply_plan(conn: sa.Connection, plan: Plan, all_docs_after: list[dict]) -> None:
    """Run the operations of ``plan``: each is data (a name and what it needs), dispatched here by
    name. Operations with nothing to run (``relabel``, ``archive_column``, ...) have no handler."""
    ops = Operations(MigrationContext.configure(conn))
    for op in plan.operations:
        handler = _HANDLERS.get(op.op)
        if handler is not None:
            handler(conn, ops, op, all_docs_after)


def _create_table(conn, ops, op, docs):
    metadata = build_metadata(docs)
    metadata.tables[table_name(op.entity)].create(conn)
    for f in op.data["doc"].get("fields", []):
        if REGISTRY[f["type"]].link_stored:
            metadata.tables[link_table_name(op.entity, f["key"])].create(conn)


def _link_table(op_entity: str, field: dict, docs) -> sa.Table:
    return build_metadata(docs).tables[link_table_name(op_entity, field["key"])]


def _indexes(entity: str, field: dict) -> list[sa.Index]:
    t = sa.Table(table_name(entity), sa.MetaData(), sa.Column("id", sa.BigInteger), sa.Column("archived_at", sa.DateTime),
                 field_column(field))
    return field_indexes(entity, field, t.c[field["key"]], t.c.archived_at, t.c.id)


def _create_indexes(conn, entity, field):
    for index in _indexes(entity, field):
        index.create(conn)


def _drop_indexes(conn, ops, entity, field):
    """Drop the field's indexes, under their name or the name they had before ``index_name``.

    A legacy name may belong to another entity's index (the clash the new naming avoids), so it
    is dropped only when it is an index of this entity's table.
    """
    table = table_name(entity)
    on_table = None
    for index in _indexes(entity, field):
        ops.drop_index(index.name, table_name=table, if_exists=True)
        legacy = legacy_index_name("uq" if index.unique else "ix", entity, field["key"])
        if on_table is None:
            on_table = {i["name"] for i in sa.inspect(conn).get_indexes(table)}
        if legacy in on_table:
            ops.drop_index(legacy, table_name=table)
            on_table.discard(legacy)  # a field may have two indexes (a computed one's DESC index)


def _add_column(conn, ops, op, docs):
    field = REGISTRY[op.data["field"]["type"]].bind_docs(op.data["field"], {d["key"]: d for d in docs})
    if REGISTRY[field["type"]].virtual:  # a formula: computed when read, nothing to store
        return
    if REGISTRY[field["type"]].link_stored:
        _link_table(op.entity, field, docs).create(conn)
        return
    table = table_name(op.entity)
    column = field_column(field)
    fk = REGISTRY[field["type"]].foreign_key(field)
    if fk is not None and conn.dialect.name == "sqlite":
        # Alembic refuses constraints in SQLite ALTERs, but SQLite itself accepts REFERENCES on
        # ADD COLUMN (nullable, no default): the reference stays a real foreign key.
        prep = conn.dialect.identifier_preparer
        col_sql = f"{prep.quote(field['key'])} {column.type.compile(conn.dialect)}"
        target = prep.quote(fk.target_fullname.split(".")[0])
        conn.exec_driver_sql(
            f"ALTER TABLE {prep.quote(table)} ADD COLUMN {col_sql} REFERENCES {target}(id) ON DELETE {fk.ondelete}")
    else:
        if fk is not None:
            column = sa.Column(field["key"], column.type, sa.ForeignKey(fk.target_fullname, ondelete=fk.ondelete,
                                                                       name=identifier("fk", table, field["key"])))
        ops.add_column(table, column)
    if op.data.get("backfill"):
        ftype = REGISTRY[field["type"]]
        if dynamic_defaults.token_of(field) is not None:  # existing records get the moment of the change
            value = dynamic_defaults.value_of(field, utcnow(), None)
        else:
            value = ftype.compile_checker(field)(field["default"])
        t = sa.table(table, sa.column(field["key"], column.type))
        conn.execute(t.update().values({field["key"]: value}))
    _create_indexes(conn, op.entity, field)


def _recompute_column(conn, ops, op, docs):
    """A computed field's column (made again in its result's type when ``retype``), filled for every record."""
    by_key = {d["key"]: d for d in docs}
    field = REGISTRY[op.data["field"]["type"]].bind_docs(op.data["field"], by_key)
    table = table_name(op.entity)
    if op.data.get("retype"):
        old = op.data["old"]
        old = REGISTRY[old["type"]].bind_docs(old, by_key)
        _drop_indexes(conn, ops, op.entity, old)
        ops.drop_column(table, field["key"])
        ops.add_column(table, field_column(field))
        _create_indexes(conn, op.entity, field)
    from .computed import backfill
    backfill(conn, build_metadata(docs), by_key, op.entity, field)


def _convert_column(conn, ops, op, docs):
    """Rewrite a column's values into a new type: add a temporary column, fill it, swap names.

    The same steps on both databases, no table rebuild, and every value goes through the target
    type's own conversion (the plan has already proved none is lost).
    """
    old, new = op.data["old"], op.data["new"]
    table, key = table_name(op.entity), new["key"]
    old_type, new_type = REGISTRY[old["type"]], REGISTRY[new["type"]]
    # No key starts with "_", so the temporary column never meets a field's column (tmp_<key> could).
    tmp = f"_tmp_{key}"[:63]
    _drop_indexes(conn, ops, op.entity, old)
    ops.add_column(table, field_column(new, tmp))
    src = sa.table(table, sa.column("id"), sa.column(key, field_column(old).type), sa.column(tmp, field_column(new).type))
    last = 0
    while True:
        rows = conn.execute(sa.select(src.c.id, src.c[key]).where(src.c.id > last).order_by(src.c.id).limit(BATCH)).all()
        if not rows:
            break
        updates = [{"b_id": r[0], "b_val": new_type.convert(old_type, old, new, r[1])} for r in rows if r[1] is not None]
        if updates:
            conn.execute(src.update().where(src.c.id == sa.bindparam("b_id")).values({tmp: sa.bindparam("b_val")}), updates)
        last = rows[-1][0]
    ops.drop_column(table, key)
    ops.alter_column(table, tmp, new_column_name=key)
    _create_indexes(conn, op.entity, new)


def _rename_column(conn, ops, op, docs):
    old_key, new_key, field = op.data["old"], op.data["new"], op.data["field"]
    if REGISTRY[field["type"]].virtual:
        return
    if REGISTRY[field["type"]].link_stored:
        ops.rename_table(link_table_name(op.entity, old_key), link_table_name(op.entity, new_key))
        return
    _drop_indexes(conn, ops, op.entity, {**field, "key": old_key})
    ops.alter_column(table_name(op.entity), old_key, new_column_name=new_key)
    _create_indexes(conn, op.entity, field)


def _reindex(conn, ops, op, docs):
    _drop_indexes(conn, ops, op.entity, op.data["old"])
    _create_indexes(conn, op.entity, op.data["field"])


def _move_stage_records(conn, ops, op, docs):
    """Records in a stage being archived go to the stage the admin chose, with history and audit."""
    move_all(conn, op.data["pipeline"], op.entity, op.field, op.data["stage"], op.data["target"])


_HANDLERS = {
    "create_table": _create_table,
    "add_column": _add_column,
    "convert_column": _convert_column,
    "recompute_column": _recompute_column,
    "rename_column": _rename_column,
    "reindex": _reindex,
    "move_stage_records": _move_stage_records,
}
