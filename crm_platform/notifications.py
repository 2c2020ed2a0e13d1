"""In-app notifications: written inside the transaction of what causes them, read through the bell.

``notify`` is what reminders (``jobs/reminders.py``) and, later, automation rules call. A notification
with a ``dedupe`` key is written once per user and key: a periodic job may run again and again over
the same due date without telling anyone twice.
"""
from __future__ import annotations

import threading
import time
import weakref

import sqlalchemy as sa

from . import jsonutil
from .clock import utcnow
from .i18n import text_of
from .tables import notifications


def notify(conn: sa.Connection, user_ids, kind: str, title, *, entity: str | None = None,
           record_id: int | None = None, dedupe: str | None = None) -> int:
    """Tell each of ``user_ids``; how many notifications were written (repeats of ``dedupe`` are not)."""
    users = sorted({u for u in user_ids if u is not None})
    if not users:
        return 0
    if dedupe is not None:
        told = set(conn.execute(sa.select(notifications.c.user_id).where(
            notifications.c.dedupe == dedupe, notifications.c.user_id.in_(users))).scalars())
        users = [u for u in users if u not in told]
        if not users:
            return 0
    now = utcnow()
    stored = title if isinstance(title, str) else jsonutil.dumps(title, sort_keys=True)
    conn.execute(notifications.insert(), [
        {"user_id": u, "kind": kind, "title": stored, "entity": entity, "record_id": record_id,
         "created_at": now, "read_at": None, "dedupe": dedupe} for u in users])
    _forget(conn, users)
    return len(users)


def title_text(stored: str, lang: str) -> str:
    if stored.startswith("{"):
        try:
            return text_of(jsonutil.loads(stored), lang)
        except ValueError:
            pass
    return stored


def unread_count(conn: sa.Connection, user_id: int) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(notifications).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None))).scalar_one()


#: Seconds the bell's count on a page is trusted by the process that counted it. Every page shows
#: the bell; counting costs each page a connection and a query. What this process writes or marks
#: read (``notify``, ``mark_read``) forgets the count at once; a notification written by another
#: process (a worker's reminder) reaches the bell within this many seconds. The API always counts.
BELL_SECONDS = 10
_bells: "weakref.WeakKeyDictionary[sa.Engine, dict[int, tuple[float, int]]]" = weakref.WeakKeyDictionary()
_bells_lock = threading.Lock()


def bell_count(engine: sa.Engine, user_id: int) -> int:
    """The unread count for the bell on a page: counted at most once per ``BELL_SECONDS`` per user."""
    with _bells_lock:
        known = _bells.setdefault(engine, {}).get(user_id)
    if known is not None and time.monotonic() - known[0] < BELL_SECONDS:
        return known[1]
    with engine.connect() as conn:
        count = unread_count(conn, user_id)
    with _bells_lock:
        _bells[engine][user_id] = (time.monotonic(), count)  # when counted
    return count


def _forget(conn: sa.Connection, user_ids) -> None:
    with _bells_lock:
        counts = _bells.get(conn.engine)
        if counts:
            for u in user_ids:
                counts.pop(u, None)


def page(conn: sa.Connection, user_id: int, *, unread_only: bool, page_no: int, per_page: int):
    """The user's notifications, newest first: (rows, total)."""
    where = [notifications.c.user_id == user_id]
    if unread_only:
        where.append(notifications.c.read_at.is_(None))
    total = conn.execute(sa.select(sa.func.count()).select_from(notifications).where(*where)).scalar_one()
    rows = conn.execute(sa.select(notifications).where(*where)
                        .order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
                        .limit(per_page).offset((page_no - 1) * per_page)).all()
    return rows, total


def mark_read(conn: sa.Connection, user_id: int, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read (or all of them when no id is given); how many changed."""
    where = [notifications.c.user_id == user_id, notifications.c.read_at.is_(None)]
    if notification_id is not None:
        where.append(notifications.c.id == notification_id)
    _forget(conn, [user_id])
    return conn.execute(notifications.update().where(*where).values(read_at=utcnow())).rowcount


def settle(conn: sa.Connection, dedupe: str) -> int:
    """Mark read every user's unread notification written with ``dedupe`` (what it asked for is done,
    e.g. an approval decided or withdrawn); how many changed."""
    n = notifications
    where = [n.c.dedupe == dedupe, n.c.read_at.is_(None)]
    told = conn.execute(sa.select(n.c.user_id).where(*where)).scalars().all()
    if not told:
        return 0
    _forget(conn, told)
    return conn.execute(n.update().where(*where).values(read_at=utcnow())).rowcount


def get_for(conn: sa.Connection, user_id: int, notification_id: int):
    """The user's notification ``notification_id``, or None (another user's is none of theirs)."""
    return conn.execute(sa.select(notifications).where(
        notifications.c.id == notification_id, notifications.c.user_id == user_id)).first()
