"""Reminders: the owner of a record is told, in the bell, that one of its dates has come.

An entity lists its reminders in its definition (``"reminders": [{"field": "due_on", "days_before": 0,
"exclude": {"field": "status", "values": ["done"]}}]``). Every few minutes the worker notifies the owner
of each record whose date falls from yesterday to ``days_before`` days ahead, once per record, field
and date (the notification's dedupe key): moving the date later reminds again. Dates are the UTC
day, as for rule tags and follow-up tasks.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from .. import notifications
from ..db import writing
from ..metadata.field_types import REGISTRY
from ..i18n import text_of

#: A date a little in the past still reminds once: a worker that was down at midnight catches up.
GRACE = dt.timedelta(days=1)


def _title(entity, field: dict, row, value) -> dict:
    title_field = entity.doc.get("title_field")
    name = getattr(row, title_field) if title_field and getattr(row, title_field, None) else f"#{row.id}"
    ftype = REGISTRY[field["type"]]
    return {lang: template.format(entity=text_of(entity.doc["label"], lang), name=name,
                                  field=text_of(field.get("label") or field["key"], lang),
                                  value=ftype.display_text(field, value, lang))
            for lang, template in (("en", "{entity} “{name}”: {field} {value}"),
                                   ("zh", "{entity}「{name}」：{field} {value}"))}


def send_reminders(platform, now: dt.datetime) -> str:
    """Notify the owners of records whose reminder date has come; a one-line summary."""
    sent = 0
    with writing(platform.engine) as conn:
        model = platform.runtime.current(conn)
        for entity in model.entities.values():
            if entity.archived or not entity.doc.get("reminders"):
                continue
            t = entity.table
            title_field = entity.doc.get("title_field")
            for reminder in entity.doc["reminders"]:
                field = entity.field_map[reminder["field"]]
                ftype = REGISTRY[field["type"]]
                column = t.c[field["key"]]
                ahead = dt.timedelta(days=reminder.get("days_before", 0))
                query = sa.select(t.c.id, t.c.owner_id, column.label("moment"),
                                  *([t.c[title_field]] if title_field else [])).where(
                    t.c.archived_at.is_(None), t.c.owner_id.is_not(None),
                    column >= ftype.moment_value(field, now - GRACE), column <= ftype.moment_value(field, now + ahead))
                exclude = reminder.get("exclude")
                if exclude:
                    other = t.c[exclude["field"]]
                    query = query.where(sa.or_(other.is_(None), other.not_in(exclude["values"])))
                for row in conn.execute(query.order_by(t.c.id)):
                    sent += notifications.notify(
                        conn, [row.owner_id], "reminder", _title(entity, field, row, row.moment),
                        entity=entity.key, record_id=row.id,
                        dedupe=f"reminder:{entity.key}:{row.id}:{field['key']}:{row.moment.isoformat()}")
    return f"{sent} reminders"
