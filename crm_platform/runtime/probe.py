"""Row facts for plans, read from the live database inside the change's transaction."""
from __future__ import annotations

import sqlalchemy as sa

from ..metadata.field_types.tags import link_table_name
from ..metadata.keys import table_name
from .table_builder import field_column


class DatabaseProbe:
    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def _table(self, entity: str, *columns: sa.Column) -> sa.TableClause:
        return sa.table(table_name(entity), sa.column("id"), sa.column("archived_at"), *columns)

    def row_count(self, entity: str) -> int:
        return self.conn.execute(sa.select(sa.func.count()).select_from(self._table(entity))).scalar_one()

    def values(self, entity: str, field: dict, live_only: bool = False):
        col = field_column(field)
        t = self._table(entity, sa.column(field["key"], col.type))
        query = sa.select(t.c.id, t.c[field["key"]]).order_by(t.c.id)
        if live_only:
            query = query.where(t.c.archived_at.is_(None))
        # yield_per on the statement, not the connection: it must not outlive this read (DDL follows).
        result = self.conn.execute(query.execution_options(yield_per=5000))
        yield from result

    def duplicate_count(self, entity: str, field: dict) -> int:
        col = sa.column(field["key"])
        t = self._table(entity, col)
        groups = (sa.select(sa.func.count().label("n")).select_from(t)
                  .where(col.is_not(None), t.c.archived_at.is_(None)).group_by(col).having(sa.func.count() > 1).subquery())
        return self.conn.execute(sa.select(sa.func.coalesce(sa.func.sum(groups.c.n), 0))).scalar_one()

    def dangling_references(self, entity: str, field: dict) -> tuple[int, list[int]]:
        key = field["key"]
        t = self._table(entity, sa.column(key))
        target = self._table(field["target"]).alias("target")
        live_target = sa.select(target.c.id).where(target.c.id == t.c[key], target.c.archived_at.is_(None)).exists()
        where = [t.c.archived_at.is_(None), t.c[key].is_not(None), ~live_target]
        n = self.conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one()
        sample = self.conn.execute(sa.select(t.c.id).where(*where).order_by(t.c.id).limit(10)).scalars().all() if n else []
        return n, list(sample)

    def count_holding(self, entity: str, field_key: str, value) -> int:
        t = self._table(entity, sa.column(field_key))
        return self.conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c[field_key] == value)).scalar_one()

    def links_carrying(self, entity: str, field_key: str, values: list) -> int:
        link = sa.table(link_table_name(entity, field_key), sa.column("tag"))
        return self.conn.execute(sa.select(sa.func.count()).select_from(link).where(link.c.tag.in_(values))).scalar_one()

    def users_named(self, names: list[str]) -> set[str]:
        """Those of ``names`` that are user names here (automation rules name users)."""
        from ..tables import users
        return set(self.conn.execute(sa.select(users.c.username).where(users.c.username.in_(names))).scalars())
