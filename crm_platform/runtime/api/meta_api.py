"""Metadata endpoints: entities and their fields, record schemas, revisions, meta-schemas."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ...errors import NotFound, error
from ...ids import ROW_ID_MAX
from ...metadata import meta_schemas
from ...metadata.field_types import REGISTRY
from ..query import int_param
from .context import actor_name, platform
from .errors import flag, json_object

meta_api = Blueprint("meta_api", __name__, url_prefix="/api/meta")


def _entity_out(state_entity) -> dict:
    return {**state_entity.doc, "archived": state_entity.archived}


def _applied(plan, status_created: int = 200):
    """A dry run answers with the plan; an applied change with the plan and the new definition."""
    body = {"plan": plan.public(), "dry_run": flag("dry_run")}
    if not flag("dry_run"):
        state = platform().metadata.state()
        entity = state.entities.get(plan.key)
        if entity is not None:
            body["entity"] = _entity_out(entity)
        return jsonify(body), status_created
    return jsonify(body), 200


@meta_api.get("/entities")
def list_entities():
    state = platform().metadata.state()
    include_archived = flag("archived")
    items = [_entity_out(e) for e in state.entities.values() if include_archived or not e.archived]
    return jsonify({"items": items, "revision": state.revision})


@meta_api.post("/entities")
def create_entity():
    plan = platform().metadata.create_entity(json_object(), actor=actor_name(), dry_run=flag("dry_run"))
    return _applied(plan, 201)


@meta_api.get("/entities/<key>")
def get_entity(key):
    entity = platform().metadata.state().entities.get(key)
    if entity is None:
        raise NotFound([error(None, "not_found", f"no entity '{key}'")])
    return jsonify(_entity_out(entity))


@meta_api.patch("/entities/<key>")
def update_entity(key):
    return _applied(platform().metadata.update_entity(key, json_object(), actor=actor_name(), dry_run=flag("dry_run")))


@meta_api.delete("/entities/<key>")
def archive_entity(key):
    return _applied(platform().metadata.archive_entity(key, actor=actor_name(), dry_run=flag("dry_run")))


@meta_api.post("/entities/<key>/restore")
def restore_entity(key):
    return _applied(platform().metadata.restore_entity(key, actor=actor_name(), dry_run=flag("dry_run")))


@meta_api.get("/entities/<key>/schema")
def entity_schema(key):
    return jsonify(platform().runtime.current().entity(key).json_schema)


@meta_api.post("/entities/<key>/fields")
def add_field(key):
    return _applied(platform().metadata.add_field(key, json_object(), actor=actor_name(), dry_run=flag("dry_run")), 201)


@meta_api.patch("/entities/<key>/fields/<field>")
def update_field(key, field):
    return _applied(platform().metadata.update_field(key, field, json_object(), actor=actor_name(),
                                                     dry_run=flag("dry_run")))


@meta_api.delete("/entities/<key>/fields/<field>")
def archive_field(key, field):
    return _applied(platform().metadata.archive_field(key, field, actor=actor_name(), dry_run=flag("dry_run")))


@meta_api.post("/entities/<key>/fields/<field>/restore")
def restore_field(key, field):
    return _applied(platform().metadata.restore_field(key, field, actor=actor_name(), dry_run=flag("dry_run")))


@meta_api.post("/entities/<key>/fields/<field>/rename")
def rename_field(key, field):
    body = json_object()
    new_key = body.get("new_key")
    return _applied(platform().metadata.rename_field(key, field, new_key, actor=actor_name(), dry_run=flag("dry_run")))


@meta_api.get("/revisions")
def list_revisions():
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
    except ValueError:
        from ...errors import BadRequest
        raise BadRequest([error("limit", "type", "limit must be a whole number")]) from None
    # Revisions are numbered in an INTEGER column: a number beyond it is refused, not sent to SQL.
    before = int_param(request.args, "before", None, 0, ROW_ID_MAX)
    return jsonify({"items": platform().metadata.revisions(limit=limit, before=before)})


@meta_api.get("/schemas/<kind>")
def meta_schema(kind):
    if kind not in meta_schemas.names():
        raise NotFound([error(None, "not_found", f"no meta-schema '{kind}'")])
    return jsonify(meta_schemas.assembled(kind))


@meta_api.get("/field-types")
def field_types():
    return jsonify({"items": [{
        "type": name, "options": t.options_schema(), "operators": list(t.operators) + ["is_empty", "is_not_empty"],
        "converts_to": sorted(t.converts_to), "indexable": t.indexable, "searchable": t.searchable,
    } for name, t in sorted(REGISTRY.items())]})
