"""Reading the run log: a rule's runs, newest first, each action's outcome and, for an e-mail or a
webhook, where its delivery stands now (sent, retrying with its last error, or failed)."""
from __future__ import annotations

import sqlalchemy as sa

from ... import jsonutil
from ...tables import automation_runs, outbox


def runs(conn: sa.Connection, key: str, *, limit: int = 50, before: int | None = None,
         status: str | None = None) -> list[dict]:
    r = automation_runs
    query = sa.select(r).where(r.c.automation == key)
    if before is not None:
        query = query.where(r.c.id < before)
    if status is not None:
        query = query.where(r.c.status == status)
    rows = conn.execute(query.order_by(r.c.id.desc()).limit(limit)).all()
    items = []
    for row in rows:
        item = dict(row._mapping)
        item["actions"] = jsonutil.loads(item["actions"])
        items.append(item)
    deliveries = sorted({a["delivery"] for i in items for a in i["actions"] if a.get("delivery")})
    if deliveries:
        found = {d.id: d for d in conn.execute(sa.select(
            outbox.c.id, outbox.c.status, outbox.c.attempts, outbox.c.last_error, outbox.c.sent_at)
            .where(outbox.c.id.in_(deliveries)))}
        for item in items:
            for action in item["actions"]:
                d = found.get(action.get("delivery"))
                if d is not None:
                    action["delivery_status"] = {"status": d.status, "attempts": d.attempts,
                                                 "last_error": d.last_error, "sent_at": d.sent_at}
    return items


def counts(conn: sa.Connection) -> dict[str, dict[str, int]]:
    """Per rule: how many runs of each status (the admin's list)."""
    r = automation_runs
    out: dict[str, dict[str, int]] = {}
    for key, status, n in conn.execute(sa.select(r.c.automation, r.c.status, sa.func.count())
                                       .group_by(r.c.automation, r.c.status)):
        out.setdefault(key, {})[status] = n
    return out
