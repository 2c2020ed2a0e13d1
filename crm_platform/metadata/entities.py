"""Entities as a definition kind: validated, merged and planned for the one choke point like the
others, with the richer planner an entity needs (tables, columns, indexes, rows affected).

Field-level changes (add, rename, archive a field...) are entity changes too: ``MetadataService``
builds the entity as it should be after them and it is planned here.
"""
from __future__ import annotations

import copy

from ..errors import Conflict, error
from . import plan as planning
from .definitions import MetaState, check_entity, normalise_entity
from .field_types import REGISTRY
from .kinds import Kind, register


def _bound_stage_field_refusals(state: MetaState, before: dict, after: dict, renames: dict) -> list:
    """A stage field an active pipeline uses may not be archived, renamed or retyped from under it."""
    kept = {f["key"]: f for f in after.get("fields", [])}
    out = []
    for p in state.pipelines.values():
        doc = p.doc
        if p.archived or doc.get("entity") != before["key"]:
            continue
        key = doc.get("field")
        now = kept.get(renames.get(key, key))
        if key in renames or now is None or not REGISTRY[now["type"]].holds_stages:
            out.append(planning.Refusal(f"fields.{key}", "pipeline",
                                        f"pipeline '{doc['key']}' uses stage field '{key}': archive the pipeline first"))
    return out


def formula_users_conflict(state: MetaState, before: dict, after: dict, renames: dict) -> None:
    """A field that an active formula reads may not be archived or renamed from under it (409 naming
    the formula): the formula, on this entity or another one reaching it through a reference, would
    stop meaning anything."""
    key = before["key"]
    kept = {f["key"] for f in after.get("fields", [])}
    gone = {f["key"] for f in before.get("fields", []) if f["key"] not in kept or f["key"] in renames}
    if not gone:
        return
    docs = {k: s.doc for k, s in state.entities.items() if not s.archived}
    docs[key] = after
    users = []
    for entity, doc in docs.items():
        for f in doc.get("fields", []):
            ftype = REGISTRY[f["type"]]
            if ftype.formula_expression(f) is None or (entity == key and f["key"] in gone):
                continue
            for used_entity, used_key in formula_reads(f, entity, docs):
                if used_entity == key and used_key in gone:
                    users.append((f"{entity}.{f['key']}", used_key))
    if users:
        raise Conflict([error(f"fields.{field}", "formula", f"formula '{user}' uses '{key}.{field}': change or archive "
                                                          f"the formula first") for user, field in users])


def formula_reads(field: dict, entity: str, docs: dict) -> set[tuple[str, str]]:
    """(entity, field) pairs a formula field reads: its own entity's fields and, through a
    reference, the target's."""
    from . import formulas
    try:
        tree = formulas.parse(field.get("expression") or "")
    except formulas.FormulaError:
        return set()
    fields = {f["key"]: f for f in docs.get(entity, {}).get("fields", [])}
    out = set()
    for t in tree.iter_subtrees():
        if t.data == "field":
            out.add((entity, str(t.children[0])))
        elif t.data == "related":
            ref = str(t.children[0])
            out.add((entity, ref))
            target = REGISTRY[fields[ref]["type"]].target_entity(fields[ref]) if ref in fields else None
            if target is not None:
                out.add((target, str(t.children[1])))
    return out


def _computed_from_refusals(state: MetaState, before: dict, after: dict, renames: dict) -> list:
    """A field a computed field of another definition is computed from (a roll-up's reference, field or
    filter; a formula's operand) may not be archived, renamed or retyped from under it (409 naming it)."""
    kept = {f["key"]: f for f in after.get("fields", [])}
    old = {f["key"]: f for f in before.get("fields", [])}
    gone = {k for k in old if k in renames or k not in kept or kept[k]["type"] != old[k]["type"]}
    if not gone:
        return []
    out = []
    docs = [(k, s.doc) for k, s in state.entities.items() if not s.archived and k != before["key"]] + [(after["key"], after)]
    for entity_key, doc in docs:
        for f in doc.get("fields", []):
            ftype = REGISTRY[f["type"]]
            if not ftype.computed:
                continue
            for dep_entity, dep_key in ftype.depends_on(f, entity_key):
                if dep_entity == before["key"] and dep_key in gone and not (entity_key == before["key"] and f["key"] in gone):
                    out.append(planning.Refusal(f"fields.{dep_key}", "computed",
                                                f"'{entity_key}.{f['key']}' is computed from '{dep_key}': change or "
                                                f"archive '{f['key']}' first"))
    return out


class EntityKind(Kind):
    name = "entity"
    schema = "entity"
    article = "an"

    def normalise(self, doc: dict) -> dict:
        return normalise_entity(doc)

    def fixed_key(self) -> str:
        return "an entity key cannot be changed by PATCH"

    def merge(self, before: dict, patch: dict) -> dict:
        """Top-level attributes; ``fields``, when given, is the whole desired list of fields. Archived
        fields are the platform's to keep; the key, label and fields are never removed by a null."""
        after = copy.deepcopy(before)
        after.update({k: v for k, v in patch.items() if v is not None and k != "archived_fields"})
        for k, v in patch.items():
            if v is None and k not in ("key", "label", "fields"):
                after.pop(k, None)
        return after

    def archive_problems(self, key: str, state: MetaState) -> list[dict]:
        users = [f"{other}.{f['key']}" for other, s in state.entities.items() if other != key and not s.archived
                 for f in s.fields if REGISTRY[f["type"]].target_entity(f) == key
                 or (REGISTRY[f["type"]].rolls_up(f) or (None,))[0] == key]
        if users:
            return [error("key", "referenced", f"entity '{key}' is referenced by {', '.join(users)}: "
                                               "archive or change those fields first")]
        return []

    def entities_after(self, state: MetaState, key: str, after: dict | None) -> list[dict]:
        return [s.doc for k, s in state.entities.items() if k != key] + [after]

    def prepare(self, change, state: MetaState, before, after, probe):
        if after is not None and before is not None and change.archive is None:
            formula_users_conflict(state, before, after, change.renames)
        if after is not None:
            after = normalise_entity(after)
            check_entity(after, state)
            if before is not None:
                # A field left out of the new list is archived (its column and values are kept).
                after["archived_fields"] = [f for f in before.get("archived_fields", [])
                                            if f["key"] not in {x["key"] for x in after["fields"]}]
                for f in before.get("fields", []):
                    new_key = change.renames.get(f["key"], f["key"])
                    if new_key not in {x["key"] for x in after["fields"]}:
                        after["archived_fields"].append(f)
                if not after["archived_fields"]:
                    del after["archived_fields"]
        plan = planning.plan_entity_change(
            "archive" if change.archive else "restore" if change.archive is False else change.action,
            before, after if change.archive is None else before, probe, change.renames)
        if before is not None and after is not None and change.archive is None:
            from . import roles  # here, not above: entities register before the kinds they check
            plan.refusals += _bound_stage_field_refusals(state, before, after, change.renames)
            plan.refusals += _computed_from_refusals(state, before, after, change.renames)
            plan.refusals += roles.renamed_field_refusals(state, before["key"], change.renames)
            from . import reports
            plan.refusals += reports.renamed_field_refusals(state, before["key"], change.renames)
        return after, plan


register(EntityKind())
