"""Stage pipelines: ordered stages of one stage field. Validated and planned for the choke point.

A pipeline binds ``entity.field`` (a field of type ``stage``); its active stages are the values the
field accepts. Stages are never dropped: a stage left out of a change, or marked
``"archived": true``, stays in the definition as archived. Archiving a stage that still holds
records needs ``"move_to": "<active stage>"`` on it; the plan then moves those records (and writes
a history row for each) inside the change's transaction. ``move_to`` itself is not stored.
"""
from __future__ import annotations

import copy
import re

from ..errors import Conflict, error
from . import plan as planning
from .definitions import MetaState
from .field_types import REGISTRY
from .kinds import Kind, register
from .taxonomies import rule_problems

#: ``{field}`` placeholders in a follow-up's text values.
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,62})\}")
TEMPLATE_SYSTEM = ("id", "owner_id", "created_by", "updated_by")


def active_stages(doc: dict) -> list[dict]:
    return [s for s in doc.get("stages", []) if not s.get("archived")]


def bound_to(state: MetaState, entity: str, field: str, *, other_than: str | None = None) -> str | None:
    for key, p in state.pipelines.items():
        if key != other_than and not p.archived and p.doc.get("entity") == entity and p.doc.get("field") == field:
            return key
    return None


def _fields(state: MetaState, entity: str) -> dict[str, dict] | None:
    e = state.entities.get(entity)
    if e is None or e.archived:
        return None
    return {f["key"]: f for f in e.fields}


def _follow_up_problems(where: str, spec: dict, state: MetaState, entity: str, own: dict[str, dict]) -> list[dict]:
    target = _fields(state, spec["entity"])
    if target is None:
        return [error(where + ".entity", "invalid", f"there is no active entity '{spec['entity']}'")]
    problems = []
    for key, value in (spec.get("values") or {}).items():
        if key not in target:
            problems.append(error(f"{where}.values.{key}", "invalid", f"'{key}' is not a field of {spec['entity']}"))
        if isinstance(value, str):
            for name in PLACEHOLDER.findall(value):
                if name not in own and name not in TEMPLATE_SYSTEM:
                    problems.append(error(f"{where}.values.{key}", "invalid",
                                          f"{{{name}}} is not a field of {entity}"))
    due = spec.get("due_field")
    if due is not None:
        if due not in target:
            problems.append(error(where + ".due_field", "invalid", f"'{due}' is not a field of {spec['entity']}"))
        elif not REGISTRY[target[due]["type"]].temporal:
            problems.append(error(where + ".due_field", "invalid", f"'{due}' is not a date or datetime field"))
    link = spec.get("link_field")
    if link is not None:
        f = target.get(link)
        if f is None:
            problems.append(error(where + ".link_field", "invalid", f"'{link}' is not a field of {spec['entity']}"))
        elif REGISTRY[f["type"]].target_entity(f) != entity:
            problems.append(error(where + ".link_field", "invalid",
                                  f"'{link}' is not a reference field of {spec['entity']} pointing at {entity}"))
    return problems


def _approval_problems(where: str, stage: dict, state: MetaState, entity: str, own: dict[str, dict]) -> list[dict]:
    """A stage's ``enter_roles`` and ``approval``: roles that exist, an approver field that can hold a
    user's id, and ``when`` conditions in the rule-tag language (checked as a rule of the entity)."""
    problems = []
    for role in stage.get("enter_roles", []):
        if role not in state.roles or state.roles[role].archived:
            problems.append(error(where + ".enter_roles", "invalid", f"there is no active role '{role}'"))
    spec = stage.get("approval")
    if not spec:
        return problems
    approvers = spec["approvers"]
    if "role" in approvers:
        role = approvers["role"]
        if role not in state.roles or state.roles[role].archived:
            problems.append(error(where + ".approval.approvers.role", "invalid", f"there is no active role '{role}'"))
    else:
        key = approvers["field"]
        f = own.get(key)
        if key != "owner_id" and (f is None or not REGISTRY[f["type"]].may_hold_user_id):
            problems.append(error(where + ".approval.approvers.field", "invalid",
                                  f"'{key}' is not owner_id or a whole-number field of {entity} holding a user's id"))
    if spec.get("when"):
        for e in rule_problems(where + ".approval.when", {"entity": entity, "all": spec["when"]}, state):
            problems.append({**e, "field": e["field"].replace(".approval.when.all.", ".approval.when.", 1)})
    return problems


class PipelineKind(Kind):
    name = "pipeline"
    schema = "pipeline"

    def prepare(self, change, state, before, after, probe):
        if change.archive is False and before is not None:
            other = bound_to(state, before["entity"], before["field"], other_than=before["key"])
            if other is not None:
                raise Conflict([error("field", "unique", f"{before['entity']}.{before['field']} is used by pipeline "
                                                         f"'{other}' now: archive that one first")])
        if after is not None and change.archive is None and before is not None and isinstance(after, dict):
            # A stage left out of the list is archived, never dropped: its history still names it.
            stages = after.get("stages")
            if isinstance(stages, list):
                kept = {s.get("key") for s in stages if isinstance(s, dict)}
                after = {**after, "stages": list(stages) + [
                    {**copy.deepcopy(s), "archived": True} for s in before.get("stages", []) if s["key"] not in kept]}
        return super().prepare(change, state, before, after, probe)

    def normalise(self, doc):
        doc = copy.deepcopy(doc)
        for s in doc.get("stages", []) if isinstance(doc.get("stages"), list) else []:
            if isinstance(s, dict) and s.get("archived") is False:
                del s["archived"]
        return doc

    def problems(self, doc, state):
        entity, field_key = doc["entity"], doc["field"]
        fields = _fields(state, entity)
        if fields is None:
            return [error("entity", "invalid", f"there is no active entity '{entity}'")]
        problems = []
        field = fields.get(field_key)
        if field is None:
            problems.append(error("field", "invalid", f"'{field_key}' is not a field of {entity}: "
                                                      f"add a field of type stage first"))
        elif not REGISTRY[field["type"]].holds_stages:
            problems.append(error("field", "invalid", f"'{field_key}' is a {field['type']} field; a pipeline needs a "
                                                      f"field of type stage"))
        else:
            other = bound_to(state, entity, field_key, other_than=doc["key"])
            if other is not None:
                problems.append(error("field", "unique", f"{entity}.{field_key} is used by pipeline '{other}' already"))
        amount = doc.get("amount_field")
        if amount is not None:
            if amount not in fields:
                problems.append(error("amount_field", "invalid", f"'{amount}' is not a field of {entity}"))
            elif not REGISTRY[fields[amount]["type"]].summable:
                problems.append(error("amount_field", "invalid", f"'{amount}' is not an integer or decimal field"))
        stages = doc["stages"]
        keys = [s["key"] for s in stages]
        for dup in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(error(f"stages.{dup}.key", "unique", f"two stages have the key '{dup}'"))
        active = {s["key"] for s in stages if not s.get("archived")}
        if not active:
            problems.append(error("stages", "minItems", "a pipeline needs at least one active stage"))
        for s in stages:
            where = f"stages.{s['key']}"
            nxt = s.get("allowed_next", "any")
            if isinstance(nxt, list):
                for k in nxt:
                    if k not in keys:
                        problems.append(error(where + ".allowed_next", "invalid", f"there is no stage '{k}'"))
            for k in s.get("required_fields", []):
                if k not in fields:
                    problems.append(error(where + ".required_fields", "invalid", f"'{k}' is not a field of {entity}"))
            problems += _approval_problems(where, s, state, entity, fields)
            if s.get("on_enter"):
                problems += _follow_up_problems(where + ".on_enter", s["on_enter"], state, entity, fields)
            move_to = s.get("move_to")
            if move_to is not None:
                if not s.get("archived"):
                    problems.append(error(where + ".move_to", "invalid", "move_to goes with \"archived\": true"))
                elif move_to not in active:
                    problems.append(error(where + ".move_to", "invalid", f"'{move_to}' is not an active stage"))
        return problems

    def plan(self, change, state, before, after, probe):
        plan = super().plan(change, state, before, after, probe)
        if after is None or change.archive is not None:
            return plan
        moves = {s["key"]: s.pop("move_to") for s in after.get("stages", []) if "move_to" in s}
        if before is None:
            return plan
        for attr in ("entity", "field"):
            if after[attr] != before[attr]:
                plan.refusals.append(planning.Refusal(
                    attr, "const", f"the {attr} of a pipeline cannot change; create another pipeline instead"))
        if plan.refusals:
            return plan
        was_active = {s["key"] for s in active_stages(before)}
        entity, field = after["entity"], after["field"]
        for s in after["stages"]:
            if not s.get("archived") or s["key"] not in was_active:
                continue
            n = probe.count_holding(entity, field, s["key"])
            if not n:
                plan.operations.append(planning.Operation("archive_stage", entity, field,
                                                          detail=f"archive stage {s['key']} (no records in it)"))
                continue
            target = moves.get(s["key"])
            if target is None:
                plan.refusals.append(planning.Refusal(
                    f"stages.{s['key']}", "in_use",
                    f"{n} records are in stage '{s['key']}': archive it with \"move_to\": \"<active stage>\" "
                    f"to move them", rows=n))
                continue
            plan.operations.append(planning.Operation(
                "move_stage_records", entity, field, rows=n,
                detail=f"archive stage {s['key']}: move {n} records to {target} (recorded in their stage history)",
                data={"pipeline": after["key"], "stage": s["key"], "target": target}))
        return plan

    def archive_problems(self, key, state):
        return []


register(PipelineKind())
