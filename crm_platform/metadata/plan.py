"""Planning a metadata change: a pure function of (definitions, live row facts, proposed change).

The plan lists the operations that will run and their consequences (rows affected, values that
would not convert, rows that break a tightened rule). It is shown by dry runs and tested by its
content; ``runtime.ddl`` applies it. Nothing here writes.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field as dc_field
from typing import Protocol

from .field_types import REGISTRY, defaults as dynamic_defaults
from .keys import table_name


@dataclass
class Operation:
    op: str
    entity: str
    field: str | None = None
    detail: str = ""
    rows: int | None = None
    #: What the applier needs, as plain data (never code: ``runtime.ddl`` dispatches on ``op``);
    #: not part of the human-facing plan.
    data: dict = dc_field(default_factory=dict, repr=False)

    def public(self) -> dict:
        out = {"op": self.op, "entity": self.entity, "table": table_name(self.entity), "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        if self.rows is not None:
            out["rows"] = self.rows
        return out


@dataclass
class Refusal:
    field: str | None
    code: str
    message: str
    rows: int | None = None
    sample_ids: list[int] = dc_field(default_factory=list)

    def public(self) -> dict:
        """As errors carry it: ``rows`` and ``sample_ids`` only when they say something (never null)."""
        out = asdict(self)
        if self.rows is None:
            out.pop("rows")
        if not self.sample_ids:
            out.pop("sample_ids")
        return out


@dataclass
class Plan:
    kind: str
    key: str
    action: str
    before: dict | None
    after: dict | None
    operations: list[Operation] = dc_field(default_factory=list)
    refusals: list[Refusal] = dc_field(default_factory=list)
    #: the metadata revision the plan was made at (set by ``MetadataService.apply``): an Apply that
    #: passes it back as ``expect_revision`` runs this plan or nothing
    revision: int | None = None

    @property
    def summary(self) -> str:
        if not self.operations:
            return f"{self.action} {self.kind} {self.key}: no change"
        return "; ".join(op.detail for op in self.operations)

    def public(self) -> dict:
        return {
            "kind": self.kind, "key": self.key, "action": self.action, "summary": self.summary,
            "operations": [op.public() for op in self.operations],
            "refusals": [r.public() for r in self.refusals],
        }


class Probe(Protocol):
    """Facts about stored rows that a plan needs. The database implements it; tests may fake it."""

    def row_count(self, entity: str) -> int: ...

    def values(self, entity: str, field: dict, live_only: bool = False):
        """Yield (id, python value) for every row of the entity, archived rows included unless live_only."""

    def duplicate_count(self, entity: str, field: dict) -> int: ...

    def dangling_references(self, entity: str, field: dict) -> tuple[int, list[int]]:
        """Live records whose reference ``field`` names a record that is not live: count, first ids."""

    def count_holding(self, entity: str, field_key: str, value) -> int:
        """Records of the entity, archived ones included, whose column ``field_key`` holds ``value``."""

    def links_carrying(self, entity: str, field_key: str, values: list) -> int:
        """Values among ``values`` that records of the entity hold in the link-stored field ``field_key``."""


def _by_key(fields: list[dict]) -> dict[str, dict]:
    return {f["key"]: f for f in fields}


def _rule_changed(old: dict, new: dict) -> bool:
    t = REGISTRY[new["type"]]
    return t.value_schema(old) != t.value_schema(new) or bool(old.get("required")) != bool(new.get("required"))


def _index_flags(f: dict) -> tuple[bool, bool]:
    return bool(f.get("unique")), bool(f.get("indexed")) or REGISTRY[f["type"]].always_indexed


def _scan(probe: Probe, entity: str, stored: dict, check) -> tuple[int, list[int]]:
    """Count rows whose stored value fails ``check`` (which raises on failure); keep a sample of ids."""
    found = _scan_kinds(probe, entity, stored, lambda value: None if _passes(check, value) else "bad")
    return found.get("bad", (0, []))


def _passes(check, value) -> bool:
    try:
        check(value)
    except Exception:  # noqa: BLE001 - any failure of the rule counts the row
        return False
    return True


def _scan_kinds(probe: Probe, entity: str, stored: dict, classify) -> dict[str, tuple[int, list[int]]]:
    """Rows whose stored value ``classify`` names a failure for (it returns None when the value is
    fine): per failure, their count and a sample of ids. One pass over the column."""
    found: dict[str, tuple[int, list[int]]] = {}
    for row_id, value in probe.values(entity, stored):
        kind = classify(value)
        if kind is not None:
            count, sample = found.get(kind, (0, []))
            found[kind] = (count + 1, sample + [row_id] if len(sample) < 10 else sample)
    return found


#: Attributes of a field that are not rules on its values.
NOT_RULES = frozenset({"key", "type", "label", "help", "description", "required", "default", "unique", "indexed", "personal",
                       "archived", "placeholder"})


def _rule_refusals(probe: Probe, entity: str, fkey: str, old: dict, new: dict, ftype) -> tuple[list, int]:
    """Refusals for stored values the new rules would reject, each naming what to change: a field
    newly required names ``fields.<f>.required`` and counts the records without a value; any other
    broken rule names that rule when only one changed. Also returns how many rows break a rule."""
    checker, required = ftype.compile_checker(new), bool(new.get("required"))

    def classify(value):
        if value is None:
            return "missing" if required else None
        return None if _passes(checker, ftype.to_json(value)) else "rule"

    found = _scan_kinds(probe, entity, old, classify)
    refusals = []
    if "missing" in found:
        n, sample = found["missing"]
        refusals.append(Refusal(f"fields.{fkey}.required", "existing_rows",
                                f"{n} existing records have no value for '{fkey}'; fill it in first or keep it optional",
                                rows=n, sample_ids=sample))
    if "rule" in found:
        n, sample = found["rule"]
        changed = sorted(k for k in set(old) | set(new) if k not in NOT_RULES and old.get(k) != new.get(k))
        where = f"fields.{fkey}.{changed[0]}" if len(changed) == 1 else f"fields.{fkey}"
        refusals.append(Refusal(where, "existing_rows", f"{n} existing records break the new rule for '{fkey}'; "
                                                        f"fix them first", rows=n, sample_ids=sample))
    return refusals, sum(n for n, _ in found.values())


def _dangling_reference_refusals(doc: dict, probe: Probe) -> list[Refusal]:
    """A restored entity must not bring back references to records in the recycle bin.

    Deletes apply ``on_delete`` to archived entities too, so only data written before that rule (or
    outside the platform) can dangle; the records it names must be restored first, and deleting
    them again then applies the field's rule.
    """
    out = []
    for f in doc.get("fields", []):
        if REGISTRY[f["type"]].target_entity(f) is None:
            continue
        n, sample = probe.dangling_references(doc["key"], f)
        if n:
            out.append(Refusal(f"fields.{f['key']}", "dangling_reference",
                               f"{n} {doc['key']} records refer through '{f['key']}' to {f['target']} records that "
                               f"are in the recycle bin: restore those {f['target']} records first (deleting them "
                               f"again then applies the field's on_delete rule)", rows=n, sample_ids=sample))
    return out


def plan_entity_change(action: str, before: dict | None, after: dict | None, probe: Probe,
                       renames: dict[str, str] | None = None) -> Plan:
    key = (after or before)["key"]
    plan = Plan("entity", key, action, before, after)
    ops, refusals = plan.operations, plan.refusals

    if before is None:
        ops.append(Operation("create_table", key, detail=f"create table {table_name(key)} with {len(after['fields'])} fields",
                             data={"doc": after}))
        return plan
    if action == "archive":
        ops.append(Operation("archive_entity", key, detail=f"archive entity {key} (table {table_name(key)} and its rows are kept)",
                             rows=probe.row_count(key)))
        return plan
    if action == "restore":
        ops.append(Operation("restore_entity", key, detail=f"restore entity {key}", rows=probe.row_count(key)))
        refusals += _dangling_reference_refusals(before, probe)
        return plan

    renames = renames or {}
    for old_key, new_key in renames.items():
        ops.append(Operation("rename_column", key, new_key, detail=f"rename column {old_key} to {new_key} (values kept)",
                             rows=probe.row_count(key), data={"old": old_key, "new": new_key,
                                                             "field": _by_key(after["fields"])[new_key]}))

    old_active = _by_key(before.get("fields", []))
    old_archived = _by_key(before.get("archived_fields", []))
    for old_key, new_key in renames.items():
        old_active[new_key] = {**old_active.pop(old_key), "key": new_key}
    new_active = _by_key(after.get("fields", []))
    rows = None

    def row_count():
        nonlocal rows
        if rows is None:
            rows = probe.row_count(key)
        return rows

    def compute(fkey, new, retype, old=None):
        # A computed field (roll-up, formula) added, restored or computed another way: every record's
        # value is (re)computed in the change's transaction, and the plan says how many. A formula
        # (``virtual``) is computed when read: there is nothing to store.
        if REGISTRY[new["type"]].virtual:
            return
        ops.append(Operation("recompute_column", key, fkey, rows=row_count(),
                             detail=f"compute {fkey} ({new['type']}) for {row_count()} rows",
                             data={"field": new, "old": old, "retype": retype}))

    for fkey, new in new_active.items():
        ftype = REGISTRY[new["type"]]
        if fkey in old_archived and fkey not in old_active:
            ops.append(Operation("restore_column", key, fkey, detail=f"restore field {fkey} with its stored values",
                                 rows=row_count()))
            old = old_archived[fkey]
            if old["type"] != new["type"] or ftype.storage_signature(old) != ftype.storage_signature(new):
                refusals.append(Refusal(f"fields.{fkey}", "restore", "restore the field as it was, then change it"))
            elif ftype.computed:
                compute(fkey, new, False)
            continue
        if ftype.computed and fkey in old_active and _computing(old_active[fkey]) != _computing(new):
            # Computed another way (or a typed field becoming computed): the column is made again in
            # the result's type and filled; its old values are facts the new definition recomputes.
            compute(fkey, new, True, old_active[fkey])
            continue
        if fkey not in old_active:
            # Only a required field cares how many rows exist; an optional one is added without
            # counting them, so adding it costs the same on an empty table and on a huge one.
            n = row_count() if new.get("required") else 0
            # "current_user" names nobody for records that exist already: they need a value first
            backfill = n > 0 and new.get("required") and new.get("default") is not None and \
                (dynamic_defaults.token_of(new) or ("",))[0] != "current_user"
            if n > 0 and new.get("required") and not backfill:
                refusals.append(Refusal(f"fields.{fkey}.required", "required",
                                        f"{n} existing records would have no value for required field '{fkey}': "
                                        "give the field a default, or add it as optional and fill it first", rows=n))
            detail = f"add column {fkey} ({ftype.name}) to table {table_name(key)}, {n if backfill else 0} rows affected"
            if ftype.virtual:
                detail = f"add {ftype.name} {fkey} to {key} (computed when read: no column, no rows written)"
            ops.append(Operation("add_column", key, fkey, detail=detail, rows=n if backfill else 0,
                                 data={"field": new, "backfill": bool(backfill)}))
            if ftype.computed:
                compute(fkey, new, False)
            continue
        old = old_active[fkey]
        old_type = REGISTRY[old["type"]]
        if old["type"] != new["type"] or old_type.storage_signature(old) != ftype.storage_signature(new):
            if old["type"] != new["type"] and new["type"] not in old_type.converts_to:
                allowed = ", ".join(sorted(old_type.converts_to)) or "none"
                refusals.append(Refusal(f"fields.{fkey}.type", "conversion",
                                        f"a {old['type']} field cannot become {new['type']}; safe conversions from "
                                        f"{old['type']}: {allowed}. Add a new field and archive this one instead."))
                continue
            check = _convert_check(old_type, old, ftype, new)
            bad, sample = _scan(probe, key, old, check)
            if bad:
                refusals.append(Refusal(f"fields.{fkey}.type", "conversion",
                                        f"{bad} stored values of '{fkey}' cannot become {new['type']} "
                                        f"without loss; fix those records first", rows=bad, sample_ids=sample))
            if new.get("unique"):
                # Distinct values can become equal ("5" and "05" as integers, e-mails lower-cased):
                # the unique index would fail half-way through the change.
                dupes = _converted_duplicates(probe, key, old_type, old, ftype, new)
                if dupes:
                    refusals.append(Refusal(f"fields.{fkey}.unique", "unique",
                                            f"{dupes} records would share a value of '{fkey}' with another record "
                                            f"once converted to {new['type']}", rows=dupes))
            ops.append(Operation("convert_column", key, fkey, rows=row_count(),
                                 detail=f"convert column {fkey} from {old_type.name} to {ftype.name}, {row_count()} rows rewritten",
                                 data={"old": old, "new": new}))
        elif _rule_changed(old, new):
            found, bad = _rule_refusals(probe, key, fkey, old, new, ftype)
            refusals.extend(found)
            ops.append(Operation("check_rows", key, fkey, rows=0,
                                 detail=f"tighten or relax the rules of {fkey}: {bad} of {row_count()} rows break them"))
        old_unique, old_indexed = _index_flags(old)
        new_unique, new_indexed = _index_flags(new)
        if new_unique and not old_unique:
            dupes = probe.duplicate_count(key, old)
            if dupes:
                refusals.append(Refusal(f"fields.{fkey}.unique", "unique",
                                        f"{dupes} records share a value of '{fkey}' with another record", rows=dupes))
        if (old_unique, old_indexed) != (new_unique, new_indexed):
            ops.append(Operation("reindex", key, fkey, detail=f"{'create' if new_unique or new_indexed else 'drop'} index on {fkey}",
                                 data={"field": new, "old": old}))
        if old.get("label") != new.get("label") and not any(o.field == fkey for o in ops):
            ops.append(Operation("relabel", key, fkey, detail=f"relabel {fkey} (no DDL)"))

    for fkey, old in old_active.items():
        if fkey not in new_active:
            ops.append(Operation("archive_column", key, fkey, rows=row_count(),
                                 detail=f"archive field {fkey} (column and {row_count()} rows of values kept, restorable)"))

    entity_attrs = {k: v for k, v in after.items() if k not in ("fields", "archived_fields")}
    old_attrs = {k: v for k, v in before.items() if k not in ("fields", "archived_fields")}
    if entity_attrs != old_attrs:
        changed = sorted(k for k in set(entity_attrs) | set(old_attrs) if entity_attrs.get(k) != old_attrs.get(k))
        ops.append(Operation("update_entity", key, detail=f"change {', '.join(changed)} of entity {key} (no DDL)"))
    if [f["key"] for f in after.get("fields", [])] != [f["key"] for f in before.get("fields", [])] and not any(
            o.op in ("add_column", "archive_column", "restore_column", "rename_column") for o in ops):
        ops.append(Operation("reorder_fields", key, detail="reorder fields (no DDL)"))
    return plan


def _computing(field: dict) -> dict:
    """What decides a computed field's values: the definition without its wording and index."""
    return {k: v for k, v in field.items() if k not in ("label", "help", "description", "indexed", "placeholder")}


def _converted_duplicates(probe: Probe, entity: str, old_type, old: dict, new_type, new: dict) -> int:
    """Live records whose converted value another live record shares (what a unique index refuses)."""
    counts: dict = {}
    for _row_id, value in probe.values(entity, old, live_only=True):
        try:
            converted = new_type.convert(old_type, old, new, value)
        except Exception:  # noqa: BLE001 - counted by the conversion scan already
            continue
        if converted is not None:
            counts[converted] = counts.get(converted, 0) + 1
    return sum(n for n in counts.values() if n > 1)


def _convert_check(old_type, old, new_type, new):
    def check(value):
        new_type.convert(old_type, old, new, value)
    return check


def canonical(doc: dict | None) -> str | None:
    import simplejson
    return None if doc is None else simplejson.dumps(doc, sort_keys=True, ensure_ascii=False, use_decimal=True)


def as_json(plan: Plan) -> str:
    return json.dumps(plan.public(), ensure_ascii=False, sort_keys=True)
