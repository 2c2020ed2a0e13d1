"""Sample data: records in a bundle, written without database ids or timestamps.

In a bundle a record is its field values plus an optional ``_key`` other records refer to:
reference fields hold ``{"ref": "<_key>"}``, dates may be ``{"days": n}`` (n days from the install
day; a datetime may add ``"time": "HH:MM"``, UTC) so demo data always looks recent. Loading goes
through the record service (validation, pipeline checks and history, rule tags, audit), inside the
import's transaction.

With ``owners`` (a template's demo users, see ``demo_users``) the records are given owners so that
each of those users has a book of their own: a record referring to a sample record created before
it takes that record's owner (the first such reference field of its definition: a contact and its
company, an opportunity, its communications and tasks all belong to one salesperson); any other
record is dealt out in turn, the first of each entity to the first user, and so on.
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


class Owners:
    """Who owns each sample record when they are spread over ``users`` (user ids, in order)."""

    def __init__(self, users: list[int]):
        self.users = users
        self.of: dict[tuple[str, int], int] = {}  # (entity, record id) → owner
        self.dealt: dict[str, int] = {}  # entity → records dealt out in turn so far

    def pick(self, entity, values: dict) -> int:
        for f in entity.fields:
            target = REGISTRY[f["type"]].target_entity(f)
            if target and (target, values.get(f["key"])) in self.of:
                return self.of[(target, values[f["key"]])]
        n = self.dealt.get(entity.key, 0)
        self.dealt[entity.key] = n + 1
        return self.users[n % len(self.users)]


def load(records_service, conn: sa.Connection, sample: dict[str, list[dict]], *, actor_id: int | None,
         today: dt.date, owners: list[int] | None = None) -> dict[str, int]:
    """Create every sample record; returns the count per entity. Errors name entity, row and field.
    With ``owners`` (user ids), the records are spread over them (``Owners``).

    The records of an entity are created in batches through ``RecordService.create_many`` (one
    validation pass, executemany, the write hooks per batch): a record at a time cost about 2 ms
    of statement building and round trips, so a 20,000-row bundle ran past a worker's timeout.
    A batch is cut before a record that refers to one still waiting in it, so such a reference is
    written with its record, as when records were created one by one.
    """
    model = records_service.runtime.current(conn)
    problems = [error(f"sample_data.{key}", "invalid", f"there is no active entity '{key}'")
                for key in sorted(sample) if key not in model.entities or model.entities[key].archived]
    if problems:
        raise Invalid(problems)
    ids: dict[tuple[str, str], int] = {}  # (entity, _key) → database id
    later: list[tuple[str, int, dict, int]] = []  # references to records created after the referrer
    counts: dict[str, int] = {}
    spread = Owners(owners) if owners else None
    for entity_key in _order(list(sample), model):
        fields = model.entity(entity_key).field_map
        seen: set[str] = set()
        batch: list[tuple[int, dict, dict, dict]] = []  # (position, raw, values, pending references)
        waiting: set[str] = set()  # the _keys of the batch

        def flush():
            created: list[int] = []
            try:
                records_service.create_many(entity_key, [values for _, _, values, _ in batch], actor_id=actor_id,
                                            conn=conn, created_ids=created)
            except CrmError as exc:
                for e in exc.errors:
                    row = e.pop("row", None)
                    where = f"sample_data.{entity_key}" + (f".{batch[row][0]}" if row is not None else "")
                    e["field"] = f"{where}.{e['field']}" if e.get("field") else where
                raise
            for (n, raw, values, pending), record_id in zip(batch, created):
                if raw.get("_key") is not None:
                    ids[(entity_key, raw["_key"])] = record_id
                if pending:
                    later.append((entity_key, record_id, pending, n))
                if spread is not None:
                    spread.of[(entity_key, record_id)] = values["owner_id"]
            counts[entity_key] = counts.get(entity_key, 0) + len(batch)
            batch.clear()
            waiting.clear()

        for n, raw in enumerate(sample[entity_key]):
            where = f"sample_data.{entity_key}.{n}"
            if any(_is_ref(v) and k in fields and REGISTRY[fields[k]["type"]].target_entity(fields[k]) == entity_key
                   and v["ref"] in waiting for k, v in raw.items()):
                flush()  # it refers to a record of this batch: create those first to know its id
            values, pending = {}, {}
            for k, v in raw.items():
                if k == "_key":
                    continue
                ftype = REGISTRY[fields[k]["type"]] if k in fields else None
                if ftype is not None and ftype.computed:
                    # A bundle made when the field was still typed carries values: computed now, they go.
                    continue
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
            if spread is not None and "owner_id" not in values:
                values["owner_id"] = spread.pick(model.entity(entity_key), values)
            if raw.get("_key") is not None:
                if raw["_key"] in seen:
                    raise Invalid([error(f"{where}._key", "unique",
                                         f"two sample {entity_key} records have the _key '{raw['_key']}'")])
                seen.add(raw["_key"])
                waiting.add(raw["_key"])
            batch.append((n, raw, values, pending))
        if batch:
            flush()
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
                if ftype.computed:  # the platform computes it again on import
                    continue
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
