"""Handing records over to another user: every record of one owner, or a selection, in one transaction.

Each record changes owner through ``RecordService.update`` (rights, version, hooks, the audit row
with the reason), all inside one transaction: the hand-over happens whole or not at all.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import Invalid, error
from .access import Access


def owned_by(records, entity_key: str, owner_id: int, *, limit: int | None = None) -> list[int]:
    """Ids of the live records of ``entity_key`` that ``owner_id`` owns, oldest first."""
    entity = records.runtime.current().entity(entity_key)
    t = entity.table
    q = sa.select(t.c.id).where(t.c.owner_id == owner_id, t.c.archived_at.is_(None)).order_by(t.c.id)
    if limit is not None:
        q = q.limit(limit)
    with records.engine.connect() as conn:
        return [r.id for r in conn.execute(q)]


def hand_over(records, entity_key: str, ids: list[int], to_owner: int, *, access: Access, actor_id: int | None,
              reason: str | None) -> int:
    """Give the records ``ids`` to ``to_owner``; how many changed hands (those already theirs do not)."""
    if not ids:
        raise Invalid([error("ids", "required", "choose the records to hand over")])
    with records.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        moved = 0
        for record_id in ids:
            before = records.get(entity_key, record_id, conn=conn, access=access)
            if before.get("owner_id") == to_owner:
                continue
            records.update(entity_key, record_id, {"owner_id": to_owner}, actor_id=actor_id, reason=reason,
                           conn=conn, access=access)
            moved += 1
    return moved
