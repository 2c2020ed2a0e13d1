"""Entity definitions to SQLAlchemy Core tables: the one place that decides a generated table's shape."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from ..db import NAMING_CONVENTION
from ..metadata.field_types import REGISTRY
from ..metadata.field_types.tags import build_link_table
from ..metadata.keys import table_name
from ..sqltypes import UTCDateTime

MAX_IDENTIFIER = 63
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid


def identifier(*parts: str) -> str:
    """Join parts into an SQL identifier, shortened with a hash where PostgreSQL would truncate it."""
    name = "_".join(parts)
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_IDENTIFIER - 9]}_{digest}"


def index_name(prefix: str, entity: str, column: str) -> str:
    """The name of an index on one column of an entity's table, unique in the whole database.

    Keys may contain "_", so prefix_table_column alone is ambiguous: entity "colp" with field
    "b_c" and entity "colp_b" with field "c" both gave uq_ent_colp_b_c, and creating the second
    failed. A hash of (entity, column) tells them apart and keeps the name within 63 bytes.
    Indexes made before this naming keep their old names (``legacy_index_name``): they still
    work, and ``ddl`` drops either name. Foreign keys keep the naming convention: PostgreSQL
    scopes constraint names per table and SQLite does not use them.
    """
    digest = hashlib.sha1(f"{entity}\0{column}".encode()).hexdigest()[:8]
    return f"{prefix}_{table_name(entity)}_{column}"[:MAX_IDENTIFIER - 9] + f"_{digest}"


def legacy_index_name(prefix: str, entity: str, column: str) -> str:
    """The name indexes were given before ``index_name`` (it could clash between entities)."""
    return identifier(prefix, table_name(entity), column)


def unique_index_name(entity: str, column: str) -> str:
    return index_name("uq", entity, column)


def plain_index_name(entity: str, column: str) -> str:
    return index_name("ix", entity, column)


def field_column(field: dict, name: str | None = None) -> sa.Column:
    ftype = REGISTRY[field["type"]]
    fk = ftype.foreign_key(field)
    args = [fk] if fk is not None else []
    return sa.Column(name or field["key"], ftype.column_type(field), *args, nullable=True)


def field_indexes(entity: str, field: dict, column: sa.Column, archived_at: sa.Column,
                  id_column: sa.Column | None = None) -> list[sa.Index]:
    out = []
    if field.get("unique"):
        # Unique among live records only: a record in the recycle bin does not block its value.
        where = archived_at.is_(None)
        out.append(sa.Index(unique_index_name(entity, field["key"]), column, unique=True,
                            sqlite_where=where, postgresql_where=where))
    elif field.get("indexed") or REGISTRY[field["type"]].always_indexed:
        out.append(sa.Index(plain_index_name(entity, field["key"]), column))
        if field.get("indexed") and REGISTRY[field["type"]].computed and id_column is not None:
            # Lists sort computed figures highest first ("top customers": ORDER BY x DESC NULLS LAST,
            # id DESC). PostgreSQL cannot read that order from the plain index, whose DESC puts NULLs
            # first, and sorted every row instead (540 ms on 1,000,000): this index is that order.
            # SQLite reads it from the plain index (its NULLs sort first, so DESC puts them last) and
            # has no NULLS LAST in an index.
            out.append(sa.Index(index_name("ixd", entity, field["key"]), column.desc().nulls_last(),
                                id_column.desc()).ddl_if(dialect="postgresql"))
    return out


def system_columns() -> list[sa.Column]:
    return [
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.BigInteger, nullable=True),
        sa.Column("updated_by", sa.BigInteger, nullable=True),
        sa.Column("owner_id", sa.BigInteger, nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("archived_at", UTCDateTime, nullable=True),
    ]


def build_table(doc: dict, metadata: sa.MetaData) -> sa.Table:
    """The table of an entity, with active and archived field columns (archived ones keep their data)."""
    key = doc["key"]
    fields = list(doc.get("fields", [])) + list(doc.get("archived_fields", []))
    columns = system_columns()
    # Link-stored fields have tables of their own; virtual ones (formulas) are computed when read.
    in_table = [f for f in fields if not REGISTRY[f["type"]].link_stored and not REGISTRY[f["type"]].virtual]
    table = sa.Table(table_name(key), metadata, *columns, *(field_column(f) for f in in_table))
    sa.Index(index_name("ix", key, "owner_id"), table.c.owner_id)
    sa.Index(index_name("ix", key, "updated_at"), table.c.updated_at)
    for f in in_table:
        field_indexes(key, f, table.c[f["key"]], table.c.archived_at, table.c.id)
    for f in fields:
        if REGISTRY[f["type"]].link_stored:
            build_link_table(key, f["key"], metadata, ID_TYPE)
    return table


def bind_docs(doc: dict, by_key: dict[str, dict]) -> dict:
    """The entity with each field's storage known from the other documents (a roll-up's result type)."""
    return {**doc, **{part: [REGISTRY[f["type"]].bind_docs(f, by_key) for f in doc.get(part, [])]
                      for part in ("fields", "archived_fields") if part in doc}}


def build_metadata(docs: list[dict]) -> sa.MetaData:
    """A fresh MetaData for one revision; built whole and swapped in, never mutated in place."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    by_key = {doc["key"]: doc for doc in docs}
    for doc in docs:
        build_table(bind_docs(doc, by_key), metadata)
    return metadata
