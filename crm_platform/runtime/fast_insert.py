"""Many rows into one table through the driver's executemany, each shared value converted once.

Core's ``conn.execute(table.insert(), rows)`` builds the parameters of every row anew: it runs
the bind processor of each of its columns (UTC datetimes, scaled decimals, JSON) and assembles
the driver's parameters, shared values included. The rows of a bulk write share several columns —
the stamps, actor and version of new records; the entity, action, actor, time and reason of their
audit rows — so here the statement is compiled once, the shared values are converted once, and
each row converts only its own values, with the processors SQLAlchemy itself would use. The record
service (``RecordService._insert_many``) and the audit trail write their bulk rows through it.
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: sa.Table, keys: Sequence[str], rows: Sequence, shared: dict) -> None:
    """One row per item of ``rows``: the columns ``keys`` taken from the item (a dict by key, or a
    tuple in the order of ``keys``), and the values of ``shared`` in every row."""
    if not rows:
        return
    dialect = conn.dialect
    names = [*keys, *shared]
    compiled = table.insert().compile(dialect=dialect, column_keys=names)
    bound = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
    if sorted(bound) != sorted(names):  # some column is not one plain parameter: Core knows best
        conn.execute(table.insert(), [{**shared, **(row if isinstance(row, dict) else dict(zip(keys, row)))}
                                      for row in rows])
        return
    process = {k: table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in names}
    fixed = {k: (process[k](v) if process[k] else v) for k, v in shared.items()}
    # (where the value goes, where it comes from in the row, its processor) for each own column
    by_key = isinstance(rows[0], dict)
    where = {name: n for n, name in enumerate(bound)} if compiled.positional else {k: k for k in names}
    plan = [(where[k], k if by_key else n, process[k]) for n, k in enumerate(keys)]
    template = [fixed.get(name) for name in bound] if compiled.positional else fixed
    params = []
    for row in rows:
        values = template.copy()
        for to, of, convert in plan:
            value = row[of]
            values[to] = convert(value) if convert is not None else value
        params.append(tuple(values) if compiled.positional else values)
    conn.exec_driver_sql(compiled.string, params)
