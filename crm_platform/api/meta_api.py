"""Metadata endpoints beside the definitions (definitions_api): revisions, meta-schemas, field types."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import NotFound, error
from ..ids import ROW_ID_MAX
from ..metadata import meta_schemas
from ..metadata.field_types import REGISTRY
from ..runtime.query import int_param
from ..http.context import platform

meta_api = Blueprint("meta_api", __name__, url_prefix="/api/meta")


@meta_api.get("/revisions")
def list_revisions():
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
    except ValueError:
        from ..errors import BadRequest
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
