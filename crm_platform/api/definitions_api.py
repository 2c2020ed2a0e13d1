"""CRUD endpoints of every definition kind, entities included: /api/meta/<plural>[/<key>], and the
field-level changes and record schema of an entity. Each route calls the one service path
(``MetadataService.create_definition`` ... and the field operations, all through ``apply``)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..errors import NotFound, error
from ..http.context import actor_name, platform
from ..http.errors import flag, json_object

definitions_api = Blueprint("definitions_api", __name__, url_prefix="/api/meta")

#: URL segment → definition kind, for the kinds the OpenAPI document describes alike (openapi_platform)
KIND_PATHS = {"taxonomies": "taxonomy", "pipelines": "pipeline", "roles": "role", "forms": "form",
              "reports": "report", "dashboards": "dashboard", "automations": "automation"}
#: every kind served here: entities too (the OpenAPI document describes them with their fields)
PATHS = {"entities": "entity", **KIND_PATHS}
#: the URL rule of a kind's collection, e.g. /api/meta/<any(entities, taxonomies, ...):plural>
PLURAL = f"<any({', '.join(PATHS)}):plural>"
#: Kinds whose dry-run create answers 200, as the OpenAPI document says of every kind: nothing was
#: created. The other kinds have always answered 201 and clients may rely on it, so they keep it.
DRY_RUN_CREATE_200 = {"entity"}


def _kind(plural: str) -> str:
    kind = PATHS.get(plural)
    if kind is None:
        raise NotFound([error(None, "not_found", f"no definitions called '{plural}'")])
    return kind


def _answer(kind, plan, status=200):
    """A dry run answers with the plan; an applied change with the plan and the definition after it."""
    body = {"plan": plan.public(), "dry_run": flag("dry_run")}
    if flag("dry_run"):
        if kind == "automation" and plan.after is not None and plan.action != "archive":
            body["matches"] = _would_act(plan.after)
        return jsonify(body), 200 if kind in DRY_RUN_CREATE_200 else status
    found = platform().metadata.state().of_kind(kind).get(plan.key)
    if found is not None:
        body[kind] = {**found.doc, "archived": found.archived}
    return jsonify(body), status


def _would_act(rule: dict) -> dict:
    """The dry run of an automation rule: how many records it would act on now, with a sample."""
    from ..clock import utcnow
    from ..runtime.automation.preview import would_act
    svc = platform()
    with svc.engine.connect() as conn:
        return would_act(conn, svc.runtime.current(conn), rule, utcnow())


@definitions_api.get(f"/{PLURAL}")
def list_definitions(plural):
    kind = _kind(plural)
    state = platform().metadata.state()
    items = [{**d.doc, "archived": d.archived} for d in state.of_kind(kind).values() if flag("archived") or not d.archived]
    return jsonify({"items": items, "revision": state.revision})


@definitions_api.post(f"/{PLURAL}")
def create_definition(plural):
    kind = _kind(plural)
    return _answer(kind, platform().metadata.create_definition(kind, json_object(), actor=actor_name(),
                                                               dry_run=flag("dry_run")), 201)


@definitions_api.get(f"/{PLURAL}/<key>")
def get_definition(plural, key):
    kind = _kind(plural)
    found = platform().metadata.state().of_kind(kind).get(key)
    if found is None:
        raise NotFound([error(None, "not_found", f"no {kind} '{key}'")])
    return jsonify({**found.doc, "archived": found.archived})


@definitions_api.patch(f"/{PLURAL}/<key>")
def update_definition(plural, key):
    kind = _kind(plural)
    return _answer(kind, platform().metadata.update_definition(kind, key, json_object(), actor=actor_name(),
                                                               dry_run=flag("dry_run")))


@definitions_api.delete(f"/{PLURAL}/<key>")
def archive_definition(plural, key):
    kind = _kind(plural)
    return _answer(kind, platform().metadata.archive_definition(kind, key, actor=actor_name(), dry_run=flag("dry_run")))


@definitions_api.post(f"/{PLURAL}/<key>/restore")
def restore_definition(plural, key):
    kind = _kind(plural)
    return _answer(kind, platform().metadata.restore_definition(kind, key, actor=actor_name(), dry_run=flag("dry_run")))


# ---- what only an entity has: its record schema and its fields ---------------------------------
@definitions_api.get("/entities/<key>/schema")
def entity_schema(key):
    return jsonify(platform().runtime.current().entity(key).json_schema)


@definitions_api.post("/entities/<key>/fields")
def add_field(key):
    return _answer("entity", platform().metadata.add_field(key, json_object(), actor=actor_name(),
                                                           dry_run=flag("dry_run")), 201)


@definitions_api.patch("/entities/<key>/fields/<field>")
def update_field(key, field):
    return _answer("entity", platform().metadata.update_field(key, field, json_object(), actor=actor_name(),
                                                              dry_run=flag("dry_run")))


@definitions_api.delete("/entities/<key>/fields/<field>")
def archive_field(key, field):
    return _answer("entity", platform().metadata.archive_field(key, field, actor=actor_name(),
                                                               dry_run=flag("dry_run")))


@definitions_api.post("/entities/<key>/fields/<field>/restore")
def restore_field(key, field):
    return _answer("entity", platform().metadata.restore_field(key, field, actor=actor_name(),
                                                               dry_run=flag("dry_run")))


@definitions_api.post("/entities/<key>/fields/<field>/rename")
def rename_field(key, field):
    new_key = json_object().get("new_key")
    return _answer("entity", platform().metadata.rename_field(key, field, new_key, actor=actor_name(),
                                                              dry_run=flag("dry_run")))
