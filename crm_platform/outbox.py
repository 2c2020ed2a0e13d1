"""The outbox: what must reach the outside world once a change has committed.

A write that asks for an e-mail or a webhook adds a row here on its own connection, inside its own
transaction: if the write rolls back, so does the row, and nothing is ever sent for a change that did
not happen. `crm worker` sends the rows after commit (``jobs/delivery.py``). Delivery is at least once:
a worker killed between sending and recording it sends again after the lease, so every delivery
carries its row id (``Message-ID`` of an e-mail, ``X-CRM-Delivery`` of a webhook) for the receiver to
recognise a repeat.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from . import jsonutil
from .clock import utcnow
from .tables import outbox

KINDS = ("email", "webhook")


def add(conn: sa.Connection, kind: str, payload: dict, *, origin: str | None = None) -> int:
    """Queue one delivery inside the caller's transaction; its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown delivery kind {kind!r}")
    now = utcnow()
    result = conn.execute(outbox.insert().values(
        kind=kind, payload=jsonutil.dumps(payload, sort_keys=True), origin=origin, created_at=now,
        status="pending", attempts=0, next_attempt_at=now))
    return result.inserted_primary_key[0]


#: A claimed delivery not recorded as sent or failed within this time was lost with its worker.
LEASE = dt.timedelta(minutes=5)


def due(now: dt.datetime):
    """Deliveries to attempt now: pending ones whose time has come, and claims whose worker died."""
    return sa.or_(
        sa.and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
        sa.and_(outbox.c.status == "sending", outbox.c.claimed_at <= now - LEASE),
    )


def due_count(conn: sa.Connection, now: dt.datetime) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(outbox).where(due(now))).scalar_one()
