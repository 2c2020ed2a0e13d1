"""Tag taxonomies: a tree of tags, some applied by rules. Validated and planned for the choke point."""
from __future__ import annotations

from ..errors import error
from . import plan as planning
from .definitions import MetaState
from .field_types import REGISTRY
from .field_types.base import Invalid as ValueInvalid
from .kinds import Kind, register

WINDOW_OPS = ("within_days", "older_than_days")
EMPTY_OPS = ("is_empty", "is_not_empty")


def bound_fields(state: MetaState, taxonomy: str) -> list[tuple[str, dict]]:
    """(entity, field) of every active tags field that uses ``taxonomy``."""
    return [(key, f) for key, e in state.entities.items() if not e.archived
            for f in e.fields if REGISTRY[f["type"]].taxonomy_of(f) == taxonomy]


def _field_problems(where: str, field: dict | None, cond: dict, *, aggregate: str | None) -> list[dict]:
    op = cond["op"]
    if aggregate == "count":
        if op in WINDOW_OPS or op in EMPTY_OPS:
            return [error(where + ".op", "invalid", f"'{op}' does not apply to a count")]
        return [] if isinstance(cond.get("value"), int) and not isinstance(cond.get("value"), bool) else [
            error(where + ".value", "type", "a count is compared with a whole number")]
    if field is None:
        return [error(where + ".field", "invalid", f"no such field '{cond.get('field')}'")]
    ftype = REGISTRY[field["type"]]
    if ftype.multi_valued:
        return [error(where + ".field", "invalid", f"rules cannot test {field['type']} fields")]
    if op in EMPTY_OPS:
        return []
    if op in WINDOW_OPS:
        if not ftype.temporal:
            return [error(where + ".op", "invalid", f"'{op}' needs a date or datetime field")]
        value = cond.get("value")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return [error(where + ".value", "type", "the number of days must be a whole number of at least 0")]
        return []
    if op in ("gt", "gte", "lt", "lte") and not ftype.orderable:
        return [error(where + ".op", "invalid", f"'{op}' needs a number, date or datetime field")]
    values = cond.get("value") if op == "in" else [cond.get("value")]
    if not isinstance(values, list) or not values:
        return [error(where + ".value", "type", "'in' takes a non-empty list of values")]
    check = ftype.compared_checker(field)
    for v in values:
        try:
            check(v)
        except ValueInvalid as exc:
            return [error(where + ".value", exc.code, f"the value {exc.message}")]
    return []


def rule_problems(where: str, rule: dict, state: MetaState) -> list[dict]:
    entity = state.entities.get(rule["entity"])
    if entity is None or entity.archived:
        return [error(where + ".entity", "invalid", f"there is no active entity '{rule['entity']}'")]
    # Bound as the runtime sees them: a stage field knows its pipeline's stages, so "stage eq quote" is judged.
    fields = {f["key"]: REGISTRY[f["type"]].bind({**f, "_entity": rule["entity"]}, state) for f in entity.fields}
    problems = []
    for n, cond in enumerate(rule["all"]):
        at = f"{where}.all.{n}"
        related = cond.get("related")
        if related is None:
            if cond.get("aggregate"):
                problems.append(error(at + ".aggregate", "invalid", "aggregate needs related"))
                continue
            problems += _field_problems(at, fields.get(cond.get("field")), cond, aggregate=None)
            continue
        other = state.entities.get(related["entity"])
        if other is None or other.archived:
            problems.append(error(at + ".related.entity", "invalid", f"there is no active entity '{related['entity']}'"))
            continue
        other_fields = {f["key"]: REGISTRY[f["type"]].bind({**f, "_entity": related["entity"]}, state)
                        for f in other.fields}
        via = other_fields.get(related["via"])
        if via is None or REGISTRY[via["type"]].target_entity(via) != rule["entity"]:
            problems.append(error(at + ".related.via", "invalid",
                                  f"'{related['via']}' is not a field of {related['entity']} referring to {rule['entity']}"))
            continue
        aggregate = cond.get("aggregate", "count")
        if aggregate == "latest":
            field = other_fields.get(cond.get("field"))
            if field is not None and not REGISTRY[field["type"]].orderable:
                problems.append(error(at + ".field", "invalid", "latest needs a number, date or datetime field"))
                continue
            problems += _field_problems(at, field, cond, aggregate=None)
        else:
            problems += _field_problems(at, None, cond, aggregate="count")
    return problems


class TaxonomyKind(Kind):
    name = "taxonomy"
    schema = "taxonomy"

    def problems(self, doc, state):
        problems = []
        tags = doc.get("tags", [])
        keys = [t["key"] for t in tags]
        by_key = {t["key"]: t for t in tags}
        for dup in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(error(f"tags.{dup}.key", "unique", f"two tags have the key '{dup}'"))
        for t in tags:
            parent = t.get("parent")
            if parent is not None and parent not in by_key:
                problems.append(error(f"tags.{t['key']}.parent", "invalid", f"no tag '{parent}' to be the parent"))
            if t.get("rule"):
                problems += rule_problems(f"tags.{t['key']}.rule", t["rule"], state)
        for t in tags:  # a cycle: following parents comes back to the start
            seen, k = set(), t["key"]
            while k is not None and k in by_key and k not in seen:
                seen.add(k)
                k = by_key[k].get("parent")
            if k == t["key"]:
                problems.append(error(f"tags.{t['key']}.parent", "cycle", f"tag '{t['key']}' is its own ancestor"))
        return problems

    def plan(self, change, state, before, after, probe):
        plan = super().plan(change, state, before, after, probe)
        if before is None or after is None or change.archive is not None:
            return plan
        removed = sorted({t["key"] for t in before.get("tags", [])} - {t["key"] for t in after.get("tags", [])})
        if removed:
            used = sum(probe.links_carrying(entity, field["key"], removed)
                       for entity, field in bound_fields(state, after["key"]))
            if used:
                plan.refusals.append(planning.Refusal(
                    "tags", "in_use", f"{used} records carry the tags {', '.join(removed)}: "
                                      "remove the tags from them (or merge them into another tag) first", rows=used))
        rules_before = {t["key"]: t.get("rule") for t in before.get("tags", [])}
        changed = [t["key"] for t in after.get("tags", []) if t.get("rule") and t.get("rule") != rules_before.get(t["key"])]
        if changed:
            plan.operations.append(planning.Operation(
                "rules_changed", after["key"], detail=f"rules of {', '.join(changed)} changed: run `crm tags refresh`"))
        return plan

    def archive_problems(self, key, state):
        users = [f"{entity}.{f['key']}" for entity, f in bound_fields(state, key)]
        if users:
            return [error("key", "referenced", f"taxonomy '{key}' is used by {', '.join(users)}: archive those fields first")]
        return []


register(TaxonomyKind())
