"""Automation rules: a trigger, rule-tag conditions and actions on records of one entity.

A rule is a definition like any other (stored, revisioned, carried in bundles). Here it is only
checked against the other definitions, every problem named by its place (``trigger.cron``,
``actions.2.values.status``...); what a rule does at run time is ``runtime/automation/``.
User names (assign, notify) are checked against the users through the plan's probe: users are not
definitions, so a bundle naming a user this instance lacks is refused in the same way.
"""
from __future__ import annotations

import re
import zoneinfo
from urllib.parse import urlsplit

from cronsim import CronSim, CronSimError

from ..errors import Invalid, error
from .definitions import MetaState
from .field_types import REGISTRY
from .field_types.base import Invalid as ValueInvalid
from .kinds import Kind, register
from .pipelines import _follow_up_problems
from .taxonomies import rule_problems

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,62})\}")
#: Placeholders every record can fill besides its fields.
SYSTEM_PLACEHOLDERS = ("id", "owner_id", "created_by", "updated_by", "created_at", "updated_at")
EVENT_TRIGGERS = ("created", "updated", "stage_entered")
TIME_TRIGGERS = ("date", "no_activity", "schedule")
#: Which trigger attributes go with which trigger (anything else is refused, so a typo is not ignored).
TRIGGER_ATTRIBUTES = {
    "created": set(), "updated": {"fields", "to"}, "stage_entered": {"pipeline", "stage"},
    "date": {"field", "days_before", "days_after"}, "no_activity": {"related", "field", "days"},
    "schedule": {"cron", "timezone"},
}
ACTION_ATTRIBUTES = {
    "set_fields": {"values"},
    "create_record": {"entity", "values", "due_in_days", "due_field", "assign_to_owner", "link_field"},
    "add_tags": {"field", "tags", "via"}, "remove_tags": {"field", "tags", "via"},
    "assign": {"to", "user", "role", "field"},
    "notify": {"users", "roles", "owner", "message"},
    "email": {"to", "subject", "body"},
    "webhook": {"url"},
}
ADDRESS = re.compile(r"^[^@\s{}]+@[^@\s{}]+\.[^@\s{}]+$")


def cron_problem(expression: str, timezone: str | None) -> tuple[str, str] | None:
    """(attribute, why) when the schedule cannot run, else None."""
    try:
        zone = zoneinfo.ZoneInfo(timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "timezone", f"'{timezone}' is not a time zone (an IANA name such as Asia/Shanghai)"
    import datetime as dt
    try:
        CronSim(expression, dt.datetime(2000, 1, 1, tzinfo=zone))
    except (CronSimError, ValueError, TypeError) as exc:
        return "cron", f"'{expression}' is not a valid cron expression ({exc})"
    return None


def _placeholder_problems(where: str, text, known: set[str], entity: str) -> list[dict]:
    texts = text.values() if isinstance(text, dict) else [text]
    return [error(where, "invalid", f"{{{name}}} is not a field of {entity}")
            for t in texts if isinstance(t, str) for name in PLACEHOLDER.findall(t) if name not in known]


def _value_problems(where: str, field: dict, value) -> list[dict]:
    if isinstance(value, str) and PLACEHOLDER.fullmatch(value):
        return []  # one placeholder keeps the record's value and type; judged when it runs
    try:
        REGISTRY[field["type"]].compile_checker(field)(value)
    except ValueInvalid as exc:
        return [error(where, exc.code, f"the value {exc.message}")]
    return []


class AutomationKind(Kind):
    name = "automation"
    schema = "automation"
    article = "an"

    def problems(self, doc: dict, state: MetaState) -> list[dict]:
        entity_key = doc["entity"]
        found = state.entities.get(entity_key)
        if found is None or found.archived:
            return [error("entity", "invalid", f"there is no active entity '{entity_key}'")]
        fields = {f["key"]: REGISTRY[f["type"]].bind({**f, "_entity": entity_key}, state) for f in found.fields}
        known = set(fields) | set(SYSTEM_PLACEHOLDERS)
        problems = self._trigger_problems(doc["trigger"], state, entity_key, fields)
        if doc.get("conditions"):
            for e in rule_problems("conditions", {"entity": entity_key, "all": doc["conditions"]}, state):
                problems.append({**e, "field": e["field"].replace("conditions.all.", "conditions.", 1)})
        for n, action in enumerate(doc["actions"]):
            problems += self._action_problems(f"actions.{n}", action, state, entity_key, fields, known)
        return problems

    # ---- trigger --------------------------------------------------------------------------------
    @staticmethod
    def _trigger_problems(trigger: dict, state: MetaState, entity: str, fields: dict) -> list[dict]:
        on = trigger["on"]
        problems = [error(f"trigger.{k}", "invalid", f"'{k}' does not apply to a trigger on {on}")
                    for k in sorted(set(trigger) - {"on"} - TRIGGER_ATTRIBUTES[on])]
        if on == "updated":
            for k in trigger.get("fields", []):
                if k not in fields and k != "owner_id":
                    problems.append(error("trigger.fields", "invalid", f"'{k}' is not a field of {entity}"))
            if "to" in trigger:
                if len(trigger.get("fields", [])) != 1:
                    problems.append(error("trigger.to", "invalid", "'to' needs exactly one field in 'fields'"))
                elif trigger["fields"][0] in fields:
                    f = fields[trigger["fields"][0]]
                    problems += _value_problems("trigger.to", f, trigger["to"])
        elif on == "stage_entered":
            if "stage" not in trigger:
                return problems + [error("trigger.stage", "required", "a stage_entered trigger names its stage")]
            pipelines = [p for p in state.pipelines.values() if not p.archived and p.doc.get("entity") == entity
                         and trigger.get("pipeline") in (None, p.doc["key"])]
            if trigger.get("pipeline") and not pipelines:
                problems.append(error("trigger.pipeline", "invalid", f"there is no active pipeline "
                                                                     f"'{trigger['pipeline']}' of {entity}"))
            elif not any(s["key"] == trigger["stage"] for p in pipelines for s in p.doc.get("stages", [])):
                problems.append(error("trigger.stage", "invalid", f"no pipeline of {entity} has a stage "
                                                                  f"'{trigger['stage']}'"))
        elif on == "date":
            f = fields.get(trigger.get("field"))
            if f is None or not REGISTRY[f["type"]].temporal:
                problems.append(error("trigger.field", "invalid", f"'{trigger.get('field')}' is not a date or "
                                                                  f"datetime field of {entity}"))
            if "days_before" in trigger and "days_after" in trigger:
                problems.append(error("trigger.days_after", "invalid", "give days_before or days_after, not both"))
        elif on == "no_activity":
            related, days = trigger.get("related"), trigger.get("days")
            if days is None:
                problems.append(error("trigger.days", "required", "a no_activity trigger says after how many days"))
            if related is None:
                return problems + [error("trigger.related", "required",
                                         "a no_activity trigger names the related records ({entity, via})")]
            other = state.entities.get(related["entity"])
            if other is None or other.archived:
                return problems + [error("trigger.related.entity", "invalid",
                                         f"there is no active entity '{related['entity']}'")]
            other_fields = {f["key"]: f for f in other.fields}
            via = other_fields.get(related["via"])
            if via is None or REGISTRY[via["type"]].target_entity(via) != entity:
                problems.append(error("trigger.related.via", "invalid", f"'{related['via']}' is not a field of "
                                                                        f"{related['entity']} referring to {entity}"))
            if "field" in trigger:
                f = other_fields.get(trigger["field"])
                if f is None or not REGISTRY[f["type"]].temporal:
                    problems.append(error("trigger.field", "invalid", f"'{trigger['field']}' is not a date or "
                                                                      f"datetime field of {related['entity']}"))
        elif on == "schedule":
            if "cron" not in trigger:
                return problems + [error("trigger.cron", "required", "a schedule trigger needs a cron expression")]
            why = cron_problem(trigger["cron"], trigger.get("timezone"))
            if why:
                problems.append(error(f"trigger.{why[0]}", "invalid", why[1]))
        return problems

    # ---- actions --------------------------------------------------------------------------------
    @staticmethod
    def _action_problems(where: str, action: dict, state: MetaState, entity: str, fields: dict,
                         known: set[str]) -> list[dict]:
        kind = action["type"]
        problems = [error(f"{where}.{k}", "invalid", f"'{k}' does not apply to a {kind} action")
                    for k in sorted(set(action) - {"type"} - ACTION_ATTRIBUTES[kind])]
        if kind == "set_fields":
            for k, value in action["values"].items():
                if k not in fields:
                    problems.append(error(f"{where}.values.{k}", "invalid", f"'{k}' is not a field of {entity}"))
                    continue
                problems += _placeholder_problems(f"{where}.values.{k}", value, known, entity)
                problems += _value_problems(f"{where}.values.{k}", fields[k], value)
        elif kind == "create_record":
            spec = {k: v for k, v in action.items() if k != "type"}
            problems += _follow_up_problems(where, spec, state, entity, fields)
        elif kind in ("add_tags", "remove_tags"):
            target, target_fields = entity, fields
            if "via" in action:  # the tags of the record a reference names (an order tags its customer)
                ref = fields.get(action["via"])
                target = REGISTRY[ref["type"]].target_entity(ref) if ref is not None else None
                found = state.entities.get(target) if target else None
                if found is None or found.archived:
                    return problems + [error(f"{where}.via", "invalid", f"'{action['via']}' is not a reference field "
                                                                        f"of {entity}")]
                target_fields = {f["key"]: f for f in found.fields}
            f = target_fields.get(action["field"])
            taxonomy = REGISTRY[f["type"]].taxonomy_of(f) if f is not None else None
            if taxonomy is None:
                problems.append(error(f"{where}.field", "invalid", f"'{action['field']}' is not a tags field of {target}"))
            else:
                tax = state.taxonomies.get(taxonomy)
                tags = {t["key"] for t in tax.doc.get("tags", [])} if tax is not None else set()
                for tag in action["tags"]:
                    if tag not in tags:
                        problems.append(error(f"{where}.tags", "invalid", f"taxonomy '{taxonomy}' has no tag '{tag}'"))
        elif kind == "assign":
            to = action["to"]
            if not isinstance(to, str):
                problems.append(error(f"{where}.to", "invalid", "assign to user, owner_of, round_robin or least_loaded"))
            elif to == "user" and "user" not in action:
                problems.append(error(f"{where}.user", "required", "assign to a user names the user"))
            elif to == "owner_of":
                f = fields.get(action.get("field"))
                if f is None or REGISTRY[f["type"]].target_entity(f) is None:
                    problems.append(error(f"{where}.field", "invalid", f"'{action.get('field')}' is not a reference "
                                                                       f"field of {entity}"))
            elif to in ("round_robin", "least_loaded"):
                role = state.roles.get(action.get("role") or "")
                if role is None or role.archived:
                    problems.append(error(f"{where}.role", "invalid", f"there is no active role '{action.get('role')}'"))
        elif kind == "notify":
            for role in action.get("roles", []):
                if role not in state.roles or state.roles[role].archived:
                    problems.append(error(f"{where}.roles", "invalid", f"there is no active role '{role}'"))
            if not (action.get("users") or action.get("roles") or action.get("owner")):
                problems.append(error(f"{where}.owner", "required", "notify someone: users, roles or the owner"))
            problems += _placeholder_problems(f"{where}.message", action["message"], known, entity)
        elif kind == "email":
            to = action["to"]
            if not isinstance(to, list):
                problems.append(error(f"{where}.to", "invalid", "an e-mail goes to a list of addresses or {field}s"))
            else:
                for n, address in enumerate(to):
                    whole = PLACEHOLDER.fullmatch(address)
                    if whole:
                        problems += _placeholder_problems(f"{where}.to.{n}", address, known, entity)
                    elif not ADDRESS.match(address):
                        problems.append(error(f"{where}.to.{n}", "invalid",
                                              f"'{address}' is neither an e-mail address nor a {{field}}"))
            problems += _placeholder_problems(f"{where}.subject", action["subject"], known, entity)
            problems += _placeholder_problems(f"{where}.body", action["body"], known, entity)
        elif kind == "webhook":
            parts = urlsplit(action["url"])
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems.append(error(f"{where}.url", "invalid", f"'{action['url']}' is not an http(s) URL"))
        return problems

    # ---- users, which live in the database ---------------------------------------------------
    def prepare(self, change, state, before, after, probe):
        after, plan = super().prepare(change, state, before, after, probe)
        if after is not None and change.archive is None:
            problems = self.user_problems(after, probe)
            if problems:
                raise Invalid(problems)
        return after, plan

    @staticmethod
    def user_problems(doc: dict, probe) -> list[dict]:
        named = []
        for n, action in enumerate(doc.get("actions", [])):
            if action.get("type") == "assign" and action.get("to") == "user" and action.get("user"):
                named.append((f"actions.{n}.user", action["user"]))
            for name in action.get("users", []) if action.get("type") == "notify" else []:
                named.append((f"actions.{n}.users", name))
        existing = getattr(probe, "users_named", None)
        if not named or existing is None:
            return []
        found = existing(sorted({name for _, name in named}))
        return [error(where, "invalid", f"there is no user '{name}'") for where, name in named if name not in found]


register(AutomationKind())
