""""My work" on the home page: what the signed-in user must do today, and what changed lately.

What counts as work is declared, never guessed: an entity whose records are due by a date says so
in its definition (``due``; templates declare it on tasks and communication records)::

    "due": {"field": "due_on", "done": {"field": "status", "values": ["done", "cancelled"]}}

Each section is an ordinary list query — the user's own records (``owner_id``), due before today
(overdue) or today, in the user's time zone, not done — run through the record service with the
user's rights, and links to the list screen with the very same parameters, so what the home page
counts is what the list shows. An entity or field the user may not read is left out.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import url_for
from werkzeug.datastructures import MultiDict

from ..errors import CrmError
from ..runtime.query import parse_list_args
from .controls import control, display
from .pages import Screen, reading, user_tz

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


def _section(entity_key: str, user_id: int, today: dt.date, lang: str) -> dict | None:
    screen = Screen(entity_key)
    due = screen.entity.doc.get("due") or {}
    date_field = screen.entity.field_map.get(due.get("field"))
    if not screen.can("read") or date_field is None or not screen.readable(date_field["key"]):
        return None
    base = [("filter[owner_id]", str(user_id))]
    done = due.get("done") or {}
    if done.get("field") in screen.entity.field_map and screen.readable(done["field"]) and done.get("values"):
        base.append((f"filter[{done['field']}][not_in]", ",".join(done["values"])))
    sort = [("sort", date_field["key"])]
    parts = {"overdue": base + _range(date_field, None, today - dt.timedelta(days=1)),
             "today": base + _range(date_field, today, today)}
    out = {"key": screen.key, "entity": screen.key, "label": screen.label}
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
                               "due": display(date_field, r.get(date_field["key"]), state=screen.state, lang=lang)}
                              for r in page["items"]]}
    return out


def sections(model, user, lang: str) -> list[dict]:
    """A section per entity whose records are due by a date (``due``), for ``user``."""
    if user is None:
        return []
    today = today_for_user()
    found = [_section(e.key, user.id, today, lang) for e in model.active() if e.doc.get("due")]
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
