"""Sample data: records in a bundle, written without database ids or timestamps.

In a bundle a record is its field values plus an optional ``_key`` other records refer to:
reference fields hold ``{"ref": "<_key>"}``, dates may be ``{"days": n}`` (n days from the install
day; a datetime may add ``"time": "HH:MM"``, UTC) so demo data always looks recent. Loading goes
through the record service (validation, pipeline checks and history, rule tags, audit), inside the
import's transaction.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..errors import CrmError, Invalid, error
from ..metadata.field_types import REGISTRY
from ..runtime.query import ListQuery

def _is_ref(value) -> bool:
    return isinstance(value, dict) and set(value) == {"ref"}


def _is_relative(value) -> bool:
    return isinstance(value, dict) and "days" in value and set(value) <= {"days", "time"}


def _relative(value: dict, field: dict, today: dt.date):
    """``{"days": n, "time": "HH:MM"}`` as the JSON value of a temporal field (a date keeps the day)."""
    day = today + dt.timedelta(days=value["days"])
    hours, minutes = (int(x) for x in value.get("time", "09:00").split(":"))
    ftype = REGISTRY[field["type"]]
    return ftype.to_json(ftype.moment_value(field, dt.datetime(day.year, day.month, day.day, hours, minutes,
                                                                tzinfo=dt.timezone.utc)))


def _order(entities: list[str], model) -> list[str]:
    """Entities ordered so that a record's reference targets are usually created before it."""
    out: list[str] = []
    visiting: set[str] = set()

    def visit(key):
        if key in out or key in visiting:
            return
        visiting.add(key)
        for target in sorted(model.entity(key).references.values()):
            if target in entities and target != key:
                visit(target)
        visiting.discard(key)
        out.append(key)

    for key in sorted(entities):
        visit(key)
    return out


def load(records_service, conn: sa.Connection, sample: dict[str, list[dict]], *, actor_id: int | None,
         today: dt.date) -> dict[str, int]:
    """Create every sample record; returns the count per entity. Errors name entity, row and field."""
    model = records_service.runtime.current(conn)
    problems = [error(f"sample_data.{key}", "invalid", f"there is no active entity '{key}'")
                for key in sorted(sample) if key not in model.entities or model.entities[key].archived]
    if problems:
        raise Invalid(problems)
    ids: dict[tuple[str, str], int] = {}  # (entity, _key) → database id
    later: list[tuple[str, int, dict, int]] = []  # references to records created after the referrer
    counts: dict[str, int] = {}
    for entity_key in _order(list(sample), model):
        fields = model.entity(entity_key).field_map
        for n, raw in enumerate(sample[entity_key]):
            where = f"sample_data.{entity_key}.{n}"
            values, pending = {}, {}
            for k, v in raw.items():
                if k == "_key":
                    continue
                ftype = REGISTRY[fields[k]["type"]] if k in fields else None
                if _is_ref(v):
                    if ftype is None or ftype.target_entity(fields[k]) is None:
                        raise Invalid([error(f"{where}.{k}", "reference", f"'{k}' is not a reference field")])
                    target = (ftype.target_entity(fields[k]), v["ref"])
                    if target in ids:
                        values[k] = ids[target]
                    else:
                        pending[k] = target
                elif _is_relative(v) and ftype is not None and ftype.temporal:
                    values[k] = _relative(v, fields[k], today)
                else:
                    values[k] = v
            try:
                created = records_service.create(entity_key, values, actor_id=actor_id, conn=conn)
            except CrmError as exc:
                for e in exc.errors:
                    e["field"] = f"{where}.{e['field']}" if e.get("field") else where
                raise
            if raw.get("_key") is not None:
                if (entity_key, raw["_key"]) in ids:
                    raise Invalid([error(f"{where}._key", "unique",
                                         f"two sample {entity_key} records have the _key '{raw['_key']}'")])
                ids[(entity_key, raw["_key"])] = created["id"]
            if pending:
                later.append((entity_key, created["id"], pending, n))
            counts[entity_key] = counts.get(entity_key, 0) + 1
    for entity_key, record_id, pending, n in later:
        missing = [(k, ref) for k, ref in pending.items() if ref not in ids]
        if missing:
            field_key, (target, key) = missing[0]
            raise Invalid([error(f"sample_data.{entity_key}.{n}.{field_key}", "reference",
                                 f"no sample {target} record has the _key '{key}'")])
        records_service.update(entity_key, record_id, {k: ids[ref] for k, ref in pending.items()}, actor_id=actor_id,
                               conn=conn)
    return counts


def export(records_service, conn: sa.Connection, entities: list[str]) -> dict[str, list[dict]]:
    """Every live record of ``entities`` in bundle form: ``_key`` = entity-ordinal, references by ``_key``.

    Rule-applied tags are left out: the rules apply them again on import.
    """
    model = records_service.runtime.current(conn)
    keys: dict[str, dict[int, str]] = {}
    rows: dict[str, list[dict]] = {}
    for entity_key in entities:
        items, page = [], 1
        while True:
            got = records_service.list(entity_key, ListQuery(page=page, per_page=500, sort=[("id", False)],
                                                             count_limit=None), conn=conn)
            items += got["items"]
            if page >= got["pages"]:
                break
            page += 1
        keys[entity_key] = {r["id"]: f"{entity_key}-{n}" for n, r in enumerate(items, start=1)}
        rows[entity_key] = items
    out = {}
    for entity_key, items in rows.items():
        entity = model.entity(entity_key)
        records = []
        for r in items:
            rec = {"_key": keys[entity_key][r["id"]]}
            for f in entity.fields:
                value, ftype = r.get(f["key"]), REGISTRY[f["type"]]
                if ftype.target_entity(f) is not None and value is not None:
                    value = keys.get(ftype.target_entity(f), {}).get(value)
                    value = {"ref": value} if value is not None else None
                elif value is not None:
                    value = ftype.export_value(f, value)
                if value is not None and value != []:
                    rec[f["key"]] = value
            records.append(rec)
        if records:
            out[entity_key] = records
    return out
