""""My work" on the home page: what the signed-in user must do today, and what changed lately.

What counts as work is declared, never guessed: the dates an entity reminds owners of (its
``reminders``, which also ring the bell through ``crm worker``; the templates declare them on
tasks and communication records)::

    "reminders": [{"field": "due_on", "exclude": {"field": "status", "values": ["done", "cancelled"]}}]

Each section is an ordinary list query — the user's own records (``owner_id``), whose date is
before today (overdue) or today, in the user's time zone, not excluded — run through the record
service with the user's rights, and links to the list screen with the very same parameters, so
what the home page counts is what the list shows. A field the user may not read is left out.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import url_for
from werkzeug.datastructures import MultiDict

from ..errors import CrmError
from ..runtime.query import parse_list_args
from .controls import control
from .pages import Screen, reading, screen_label, user_tz

#: Records shown per section; the section's link leads to all of them.
ROWS = 5
#: Records listed under "recently changed".
RECENT = 8


def today_for_user() -> dt.date:
    return dt.datetime.now(user_tz()).date()


def _range(field: dict, first: dt.date | None, last: dt.date) -> list[tuple[str, str]]:
    """List-query parameters for ``first <= field <= last`` (days in the user's time zone)."""
    key = field["key"]
    if control(field) == "datetime-local":  # a datetime: from midnight of ``first`` to midnight after ``last``
        tz = user_tz()
        start = lambda day: dt.datetime.combine(day, dt.time(), tz).isoformat()  # noqa: E731
        low = [(f"filter[{key}][gte]", start(first))] if first else []
        return low + [(f"filter[{key}][lt]", start(last + dt.timedelta(days=1)))]
    low = [(f"filter[{key}][gte]", first.isoformat())] if first else []
    return low + [(f"filter[{key}][lte]", last.isoformat())]


def _filter_text(value) -> str:
    """A reminder's excluded value as the list's query string spells it."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _section(screen: Screen, reminder: dict, user_id: int, today: dt.date, lang: str, several: bool) -> dict | None:
    date_field = screen.entity.field_map.get(reminder.get("field"))
    if date_field is None or not screen.readable(date_field["key"]):
        return None
    base = [("filter[owner_id]", str(user_id))]
    exclude = reminder.get("exclude") or {}
    if exclude.get("field") in screen.entity.field_map and screen.readable(exclude["field"]) and exclude.get("values"):
        base.append((f"filter[{exclude['field']}][not_in]", ",".join(_filter_text(v) for v in exclude["values"])))
    sort = [("sort", date_field["key"])]
    parts = {"overdue": base + _range(date_field, None, today - dt.timedelta(days=1)),
             "today": base + _range(date_field, today, today)}
    label = f"{screen.label} · {screen_label(date_field, lang)}" if several else screen.label
    out = {"key": f"{screen.key}.{date_field['key']}" if several else screen.key, "entity": screen.key, "label": label}
    shown = screen.display()
    for name, params in parts.items():
        try:
            query = parse_list_args(MultiDict(params + [("per_page", str(ROWS))]), screen.entity, count_limit=1000)
            page = screen.svc.list(screen.key, query, **reading())
        except CrmError:  # a definition changed under the dashboard: leave the item out
            return None
        out[name] = {"total": page["total"], "more": not page["total_exact"],
                     "href": url_for("screens.list_page", entity=screen.key) + "?" + urlencode(params + sort),
                     "rows": [{"id": r["id"], "title": screen.title_of(r),
                               "href": url_for("screens.record_page", entity=screen.key, record_id=r["id"]),
                               "due": shown.text(date_field["key"], r.get(date_field["key"]))}
                              for r in page["items"]]}
    return out


def sections(model, user, lang: str) -> list[dict]:
    """A section per date an entity reminds owners of (``reminders``), for ``user``."""
    if user is None:
        return []
    today = today_for_user()
    found = []
    for entity in model.active():
        reminders = entity.doc.get("reminders") or []
        if not reminders:
            continue
        screen = Screen(entity.key)
        if not screen.can("read"):
            continue
        by_field = {}
        for reminder in reminders:  # one section per date, whatever days ahead the bell rings
            by_field.setdefault(reminder.get("field"), reminder)
        for reminder in by_field.values():
            found.append(_section(screen, reminder, user.id, today, lang, len(by_field) > 1))
    return sorted((s for s in found if s is not None), key=lambda s: s["label"].casefold())


def recently_changed(model, user, lang: str) -> list[dict]:
    """The user's own records, most recently changed first, over every entity the user may read."""
    if user is None:
        return []
    found = []
    for entity in model.active():
        try:
            screen = Screen(entity.key)
        except CrmError:
            continue
        if not screen.can("read"):
            continue
        query = parse_list_args(MultiDict([("filter[owner_id]", str(user.id)), ("sort", "-updated_at"),
                                           ("per_page", str(RECENT))]), screen.entity, count_limit=RECENT)
        for r in screen.svc.list(entity.key, query, **reading())["items"]:
            found.append({"entity": screen.singular, "title": screen.title_of(r), "updated_at": r.get("updated_at"),
                          "href": url_for("screens.record_page", entity=entity.key, record_id=r["id"])})
    found.sort(key=lambda r: str(r["updated_at"] or ""), reverse=True)
    return found[:RECENT]
