"""Where definitions are stored: the metadata revision and every definition, read in one place.

The metadata service (which writes them) and the runtime (which compiles them per revision) both
read through here, so neither has to import the other.
"""
from __future__ import annotations

import sqlalchemy as sa

from .. import jsonutil
from ..tables import definitions, meta_state
from .definitions import EntityState, MetaState

#: The metadata revision, read by every request. Built once: a prebuilt statement skips
#: SQLAlchemy's per-call construction and cache-key generation.
REVISION_QUERY = sa.select(meta_state.c.revision).where(meta_state.c.id == 1)


def load_state(conn: sa.Connection) -> MetaState:
    revision = conn.execute(REVISION_QUERY).scalar_one()
    state = MetaState(revision=revision)
    for row in conn.execute(sa.select(definitions).order_by(definitions.c.kind, definitions.c.key)):
        state.of_kind(row.kind)[row.key] = EntityState(jsonutil.loads(row.body), archived=row.archived_at is not None)
    return state


def current_revision(conn: sa.Connection) -> int:
    return conn.execute(REVISION_QUERY).scalar_one()
