"""Reports and dashboards as definitions (stored, revisioned, carried in bundles).

A report names an entity (or a pipeline) and the fields it filters, groups and measures by; here
those names are checked against the other definitions. What a report computes is
``runtime/reports.py``; what a dashboard shows is the screens'.
"""
from __future__ import annotations

import re

from ..errors import error
from .definitions import MetaState
from .field_types import REGISTRY
from .kinds import Kind, register

SYSTEM_FIELD_KEYS = ("id", "created_at", "updated_at", "owner_id", "created_by", "updated_by")
_FIELD = re.compile(r"^([a-z][a-z0-9_]{0,62})")


def _field_keys(state: MetaState, entity: str) -> set[str] | None:
    found = state.entities.get(entity)
    if found is None or found.archived:
        return None
    return {f["key"] for f in found.fields} | set(SYSTEM_FIELD_KEYS)


def fields_named(doc: dict) -> list[tuple[str, str]]:
    """(where, field key) of every field a report definition names."""
    named = [(f"filters.{k}", k) for k in doc.get("filters") or {}]
    named += [(f"group_by.{i}", _FIELD.match(g).group(1) if _FIELD.match(g) else g)
              for i, g in enumerate(doc.get("group_by") or [])]
    named += [(f"measures.{i}", m.partition(":")[2]) for i, m in enumerate(doc.get("measures") or []) if ":" in m]
    if doc.get("dimension"):
        m = _FIELD.match(doc["dimension"])
        named.append(("dimension", m.group(1) if m else doc["dimension"]))
    if doc.get("amount"):
        named.append(("amount", doc["amount"]))
    return named


def report_entity(doc: dict, state: MetaState) -> str | None:
    if doc.get("type", "grouped") in ("funnel", "conversion", "effort"):
        pipeline = state.pipelines.get(doc.get("pipeline") or "")
        return pipeline.doc.get("entity") if pipeline is not None else None
    return doc.get("entity")


def renamed_field_refusals(state: MetaState, entity: str, renames: dict) -> list:
    """A field a report names may not be renamed: the report would stop working. Change the report first."""
    from . import plan as planning
    out = []
    for key, found in sorted(state.of_kind("report").items()):
        if found.archived or report_entity(found.doc, state) != entity:
            continue
        used = {k for _, k in fields_named(found.doc)}
        for old in renames:
            if old in used:
                out.append(planning.Refusal(f"fields.{old}", "report",
                                            f"report '{key}' uses field '{old}': change the report first"))
    return out


class ReportKind(Kind):
    name = "report"
    schema = "report"

    def problems(self, doc: dict, state: MetaState) -> list[dict]:
        kind = doc.get("type", "grouped")
        problems = []
        entity = doc.get("entity")
        if kind in ("funnel", "conversion", "effort"):
            pipeline = state.pipelines.get(doc.get("pipeline") or "")
            if pipeline is None or pipeline.archived:
                return [error("pipeline", "invalid", f"a {kind} report needs an active pipeline; "
                                                     f"there is none called {doc.get('pipeline')!r}")]
            if entity is not None and entity != pipeline.doc.get("entity"):
                problems.append(error("entity", "invalid", f"pipeline '{pipeline.doc['key']}' counts "
                                                           f"{pipeline.doc.get('entity')} records, not {entity}"))
            entity = pipeline.doc.get("entity")
            if kind == "conversion" and not doc.get("dimension"):
                problems.append(error("dimension", "required", "a conversion report needs a dimension (the field to break it down by)"))
            stages = {s["key"] for s in pipeline.doc.get("stages", [])}
            for k in doc.get("reached") or []:
                if k not in stages:
                    problems.append(error("reached", "invalid", f"'{k}' is not a stage of pipeline '{pipeline.doc['key']}'"))
            if kind == "effort":
                related = doc.get("related") or {}
                keys = _field_keys(state, related.get("entity") or "")
                if keys is None or related.get("via") not in keys:
                    problems.append(error("related", "invalid", "an effort report names the related entity and its "
                                                                "reference field, e.g. {\"entity\": \"communication\", \"via\": \"opportunity\"}"))
        elif not entity:
            return [error("entity", "required", "a report needs the entity whose records it counts")]
        keys = _field_keys(state, entity)
        if keys is None:
            return problems + [error("entity", "invalid", f"there is no active entity '{entity}'")]
        found = state.entities[entity]
        by_key = {f["key"]: f for f in found.fields}
        for where, key in fields_named(doc):
            if key not in keys:
                problems.append(error(where, "invalid", f"'{key}' is not a field of {entity}"))
            elif where.startswith("measures.") and key in by_key:
                op = doc["measures"][int(where.split(".")[1])].partition(":")[0]
                allowed = REGISTRY[by_key[key]["type"]].measure_ops(by_key[key])
                if op not in allowed:
                    problems.append(error(where, "invalid", f"'{op}' does not apply to {entity}.{key}"
                                                            f"{'; it applies to: ' + ', '.join(allowed) if allowed else ''}"))
        return problems

    def archive_problems(self, key: str, state: MetaState) -> list[dict]:
        users = sorted(k for k, d in state.of_kind("dashboard").items() if not d.archived and any(
            key in (w.get("report"), w.get("number")) for w in d.doc.get("widgets", [])))
        return [error(None, "in_use", f"dashboard '{d}' shows report '{key}': change the dashboard first") for d in users]


class DashboardKind(Kind):
    name = "dashboard"
    schema = "dashboard"

    def problems(self, doc: dict, state: MetaState) -> list[dict]:
        problems = []
        reports = state.of_kind("report")
        for i, w in enumerate(doc.get("widgets", [])):
            key = w.get("report") or w.get("number")
            found = reports.get(key)
            if found is None or found.archived:
                problems.append(error(f"widgets.{i}", "invalid", f"there is no active report '{key}'"))
        for role in doc.get("roles") or []:
            found = state.roles.get(role)
            if found is None or found.archived:
                problems.append(error("roles", "invalid", f"there is no active role '{role}'"))
        return problems


REPORT = register(ReportKind())
DASHBOARD = register(DashboardKind())
