"""Values as people read them: lists, record pages, cards, the history and the admin data views.

One display layer for every page that shows a stored value to a person:

* a field's value → text, through a function compiled once per (metadata revision, entity,
  ``Locale``): choice and tag labels in the reader's language, yes / no, the title of a referenced
  record, and for every other control the type's own ``display_text`` (thousands separators for
  decimals, datetimes in the reader's time zone). Compiling once means a list of 50 rows does not
  look up labels or translations per cell.
* a record's title (``title_field``, else its first text field, else ``#id``), one rule for the
  screens' titles, reference cells, reference drop-downs and the admin.

Locale formatting (currency signs, percentages, dates in another convention) is added in ONE place:
the ``Locale`` (``crm_platform/i18n.py``) says what the reader uses, and each field type's
``display_text`` applies it. Exports and the API never come through here: they write values raw.
"""
from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import Any, Callable

from ..i18n import Locale, text_of
from ..metadata.field_types import REGISTRY
from ..runtime.query import SYSTEM_FIELDS, Filter, ListQuery
from .i18n import translate

#: (target entity, id) → title of the referenced records a page shows.
Titles = dict
Formatter = Callable[[Any, Titles], str]

#: model → {(entity, lang, tz) → {field key → Formatter}}; a model is one metadata revision, so
#: entries go away with the revision (the model is the weak key).
_compiled: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def per_revision(model) -> dict:
    """A cache dict that lives as long as ``model`` (one metadata revision)."""
    found = _compiled.get(model)
    if found is None:
        with _lock:
            found = _compiled.setdefault(model, {})
    return found


def _empty(value) -> bool:
    return value is None or value == "" or value == []


def formatter(field: dict, state, locale: Locale) -> Formatter:
    """``field``'s values → text for ``locale``, decided once (by the control the type chose)."""
    ftype = REGISTRY[field["type"]]
    control = ftype.control_of(field)
    if control == "boolean":
        yes, no = translate("yes", locale.lang), translate("no", locale.lang)
        return lambda value, titles: "" if _empty(value) else (yes if value else no)
    if control == "record":
        target = ftype.target_entity(field)
        return lambda value, titles: "" if _empty(value) else (titles.get((target, value)) or f"#{value}")
    if control in ("choice", "choices"):
        labels = {key: text_of(label, locale.lang) for key, label in ftype.options(field, state)}

        def choice_text(value, titles):
            if _empty(value):
                return ""
            items = value if isinstance(value, list) else [value]
            return ", ".join(labels.get(v, v) for v in items)
        return choice_text
    text = ftype.display_text
    return lambda value, titles: "" if _empty(value) else text(field, value, locale)


def formatters(model, entity, locale: Locale) -> dict[str, Formatter]:
    """Every field of ``entity`` (a compiled entity) → its formatter, compiled once per revision."""
    cache = per_revision(model)
    key = ("display", entity.key, locale)
    found = cache.get(key)
    if found is None:
        found = {f["key"]: formatter(f, model.state, locale) for f in entity.fields}
        cache[key] = found
    return found


class Display:
    """Values of one entity's records as text for one reader; ``titles`` names referenced records."""

    def __init__(self, model, entity, locale: Locale, titles: Titles | None = None):
        self.formatters = formatters(model, entity, locale)
        self.titles = titles or {}

    def text(self, field_key: str, value) -> str:
        fmt = self.formatters.get(field_key)
        return fmt(value, self.titles) if fmt is not None else ("" if _empty(value) else str(value))

    def cells(self, record: dict, keys: list[str]) -> list[str]:
        titles, fmts = self.titles, self.formatters
        return [fmts[k](record.get(k), titles) for k in keys]


# ---- titles of records ------------------------------------------------------------------------------
def title_field(doc: dict) -> str | None:
    """The field that names a record: ``title_field``, else the first text field."""
    if doc.get("title_field"):
        return doc["title_field"]
    return next((f["key"] for f in doc.get("fields", []) if _control(f) == "text"), None)


def _control(field: dict) -> str:
    return REGISTRY[field["type"]].control_of(field)


def record_title(doc: dict, record: dict, title_key: str | None = None) -> str:
    """A record's title: its title field's value, else ``#id`` (also when that field is hidden
    from the reader: the record service leaves hidden fields out of the record)."""
    key = title_key if title_key is not None else title_field(doc)
    value = record.get(key) if key else None
    return str(value) if value not in (None, "") else f"#{record['id']}"


def record_titles(records_service, model, target: str, ids: list[int], read: dict) -> dict[int, str]:
    """id → title of the records of ``target`` the reader may read (one query)."""
    entity = model.entity(target)
    key = title_field(entity.doc)
    lq = ListQuery(per_page=len(ids), filters=[Filter(SYSTEM_FIELDS["id"], "in", ids)], count_limit=len(ids))
    found = records_service.list(target, lq, fields=[key] if key else [], **read)["items"]
    return {r["id"]: record_title(entity.doc, r, key) for r in found}


def reference_titles(records_service, model, fields: list[dict], records: list[dict], read: dict,
                     can_read: Callable[[str], bool]) -> Titles:
    """(target, id) → title for the reference values of ``records`` in ``fields``, one query per
    target the reader may read (``read``: the record service's access arguments)."""
    wanted: dict[str, set] = {}
    for f in fields:
        target = REGISTRY[f["type"]].target_entity(f)
        if target is None:
            continue
        ids = {r.get(f["key"]) for r in records if isinstance(r.get(f["key"]), int)}
        if ids:
            wanted.setdefault(target, set()).update(ids)
    found: Titles = {}
    for target, ids in wanted.items():
        if target in model.entities and not model.entities[target].archived and can_read(target):
            found.update({(target, rid): title for rid, title in
                          record_titles(records_service, model, target, sorted(ids), read).items()})
    return found


# ---- moments relative to now ------------------------------------------------------------------------
#: (limit in seconds, message key, seconds per unit): "3 minutes ago" up to an hour, hours up to a day,
#: days up to a month; older moments read as their date in the reader's zone.
_RELATIVE = ((60, "just_now", 1), (3600, "minutes_ago", 60), (86400, "hours_ago", 3600), (30 * 86400, "days_ago", 86400))


def relative_time(moment, now, locale: Locale) -> str:
    """``moment`` as "3 天前" / "3 days ago" from ``now`` (both aware), else its local date."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        seconds = 0
    for limit, key, unit in _RELATIVE:
        if seconds < limit:
            return translate(key, locale.lang, n=int(seconds // unit))
    return moment.astimezone(locale.tz).strftime("%Y-%m-%d")
