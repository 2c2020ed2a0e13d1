"""Which list cells may be edited in place, and what the page tells the script about them.

Editing a list cell in place: one field of one record, saved through the record service with the
version the list was read at.

Which cells: columns (but the first, the link to the record) whose field type says it is
``inline_editable`` (one plain control, one value: text, numbers, dates, a choice, yes / no), that
the user may write, on a list of an entity the user may update. The page carries each cell's value
as its control shows it (``data-value``) and each row's version; ``static/inline_edit.js`` posts
``{"field", "value", "version", "reason"}`` to ``/app/<entity>/<id>/inline``. The answer is the new
text and version; a record changed since answers 409 with its current text, value and version, so
the cell shows what it holds now and the next edit starts from it.
"""
from __future__ import annotations

from ..metadata.field_types import REGISTRY
from .controls import options_of
from .messages import reason_required
from .pages import Screen


def inline_columns(screen: Screen, columns: list[dict]) -> dict[str, dict]:
    """field key → {"control", "options"} of the list's columns editable in place by this user."""
    if screen.key is None or not screen.can("update"):
        return {}
    found = {}
    for f in columns[1:]:
        ftype = REGISTRY[f["type"]]
        if not ftype.inline_editable or not screen.writable(f["key"]) or f.get("_rule_tags"):
            continue
        found[f["key"]] = {"control": ftype.control_of(f), "required": bool(f.get("required")),
                           "options": options_of(f, screen.state, screen.lang)}
    return found


def cell_value(field: dict, value, tz) -> str:
    """A stored value as the cell's control shows it (what ``data-value`` holds)."""
    shown = REGISTRY[field["type"]].form_text(field, value, tz)
    return shown if isinstance(shown, str) else ""


def table_attributes(screen: Screen, editable: dict) -> dict:
    """What the list's table tells the script: where to post, whether a reason is asked, the choices."""
    if not editable:
        return {}
    return {"url": f"/app/{screen.key}/", "reason": reason_required(screen.entity.doc),
            "controls": {k: {"control": v["control"], "required": v["required"], "options": v["options"]}
                         for k, v in editable.items()}}
