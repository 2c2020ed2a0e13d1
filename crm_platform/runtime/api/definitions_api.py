"""CRUD endpoints for definition kinds other than entities: /api/meta/<plural>[/<key>]."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ...errors import NotFound, error
from .context import actor_name, platform
from .errors import flag, json_object

definitions_api = Blueprint("definitions_api", __name__, url_prefix="/api/meta")

#: URL segment → definition kind
KIND_PATHS = {"taxonomies": "taxonomy", "pipelines": "pipeline", "roles": "role", "forms": "form"}
#: the URL rule of a kind's collection, e.g. /api/meta/<any(taxonomies, pipelines, ...):plural>
PLURAL = f"<any({', '.join(KIND_PATHS)}):plural>"


def _kind(plural: str) -> str:
    kind = KIND_PATHS.get(plural)
    if kind is None:
        raise NotFound([error(None, "not_found", f"no definitions called '{plural}'")])
    return kind


def _answer(kind, plan, status=200):
    body = {"plan": plan.public(), "dry_run": flag("dry_run")}
    if not flag("dry_run"):
        found = platform().metadata.state().of_kind(kind).get(plan.key)
        if found is not None:
            body[kind] = {**found.doc, "archived": found.archived}
    return jsonify(body), status


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
