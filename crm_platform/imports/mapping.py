"""Which column of an import file goes into which field.

A header names a field by its key or by its label in any language (公司名称 → ``name``, Phone →
``phone``), compared as people compare text (``match_keys.text_key``: width, case and spaces folded).
What the user chose last time for the entity wins over the guess, and what they send now wins over
both. Mappings are saved per entity and user in ``crm_import_mapping``.
"""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from ..errors import Invalid, error
from ..match_keys import text_key
from ..tables import import_mappings


def importable_fields(entity, access, model) -> list[dict]:
    """The fields a user may fill from a file: every field they may write."""
    return [f for f in entity.fields if access.can_write_field(entity.key, f["key"], model)]


def _names(field: dict) -> list[str]:
    label = field.get("label")
    labels = list(label.values()) if isinstance(label, dict) else [label]
    return [field["key"], *(t for t in labels if isinstance(t, str))]


def guess(headers: list[str], fields: list[dict], saved: dict | None = None) -> dict[str, str | None]:
    """Each header to a field key, or None when nothing matches; no field is taken twice."""
    by_name: dict[str, str] = {}
    for f in fields:
        for name in _names(f):
            by_name.setdefault(text_key(name) or "", f["key"])
    keys = {f["key"] for f in fields}
    out: dict[str, str | None] = {}
    taken: set[str] = set()
    for h in headers:  # the user's earlier choices first, so a guess cannot take their field
        chosen = (saved or {}).get(h)
        if chosen in keys and chosen not in taken:
            out[h] = chosen
            taken.add(chosen)
    for h in headers:
        if h in out:
            continue
        if saved is not None and h in saved and saved[h] is None:
            out[h] = None  # the user chose to leave this column out
            continue
        key = by_name.get(text_key(h) or "")
        out[h] = key if key is not None and key not in taken else None
        if out[h]:
            taken.add(key)
    return out


def checked(mapping, headers: list[str], fields: list[dict], entity_key: str) -> dict[str, str | None]:
    """A mapping a user sent (header → field key, or null to leave a column out), checked against the
    file's headers and the fields they may write; 422 naming ``mapping.<header>`` otherwise."""
    if not isinstance(mapping, dict):
        raise Invalid([error("mapping", "type", "the mapping must be a JSON object of column header → field key")])
    keys = {f["key"] for f in fields}
    errors, seen = [], {}
    for header, key in mapping.items():
        if header not in headers:
            errors.append(error(f"mapping.{header}", "header", f"the file has no column {header!r}; its columns: "
                                                               f"{', '.join(headers)}"))
        elif key is not None and key != "" and key not in keys:
            errors.append(error(f"mapping.{header}", "field", f"{entity_key} has no field {key!r} you may write; "
                                                              f"fields: {', '.join(sorted(keys))}"))
        elif key:
            if key in seen:
                errors.append(error(f"mapping.{header}", "duplicate", f"columns {seen[key]!r} and {header!r} both "
                                                                      f"go into field {key!r}"))
            seen[key] = header
    if errors:
        raise Invalid(errors)
    return {h: (k or None) for h, k in mapping.items()}


def load(conn, entity_key: str, user_id: int | None) -> dict | None:
    if user_id is None:
        return None
    row = conn.execute(sa.select(import_mappings.c.mapping).where(
        import_mappings.c.entity == entity_key, import_mappings.c.user_id == user_id)).first()
    return json.loads(row.mapping) if row is not None else None


def save(conn, entity_key: str, user_id: int | None, mapping: dict) -> None:
    """Remember the user's mapping for the entity, merged over what they chose before (next month's
    file may leave a column out without forgetting it)."""
    if user_id is None:
        return
    merged = {**(load(conn, entity_key, user_id) or {}), **mapping}
    values = {"mapping": json.dumps(merged, ensure_ascii=False, sort_keys=True), "updated_at": dt.datetime.now(dt.timezone.utc)}
    done = conn.execute(import_mappings.update().where(import_mappings.c.entity == entity_key,
                                                       import_mappings.c.user_id == user_id).values(values))
    if done.rowcount == 0:
        conn.execute(import_mappings.insert().values(entity=entity_key, user_id=user_id, **values))
