"""OpenAPI 3.1 for the current revision: every entity's record endpoints with its record schema."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ...i18n import text_of
from ...metadata.field_types import REGISTRY
from ..record_schema import patch_schema, record_schema
from .context import platform

openapi_api = Blueprint("openapi_api", __name__)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": {
        "type": "object", "required": ["code", "message"],
        "properties": {"field": {"type": ["string", "null"]}, "code": {"type": "string"}, "message": {"type": "string"}},
    }}},
}


def _errors(*codes: int) -> dict:
    text = {400: "Malformed request", 404: "Unknown entity or record", 409: "Unique clash, stale version or conflict",
            413: "Body too large", 422: "Invalid values"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}
            for c in codes}


def _json(ref: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": ref}}}}


def _filter_params(doc: dict) -> list[dict]:
    params = []
    for f in doc.get("fields", []):
        ops = REGISTRY[f["type"]].operators + ("is_empty", "is_not_empty")
        params.append({"name": f"filter[{f['key']}][op]", "in": "query", "required": False,
                       "description": f"Filter on {text_of(f.get('label') or f['key'], 'en')}; op is one of {', '.join(ops)}",
                       "schema": {"type": "string"}})
    return params


def build_openapi(model) -> dict:
    paths, schemas = {}, {"Errors": ERROR_SCHEMA}
    for entity in sorted(model.active(), key=lambda e: e.key):
        key, doc = entity.key, entity.doc
        name = "".join(p.capitalize() for p in key.split("_"))
        for suffix, schema in (("", record_schema(doc)), ("Patch", patch_schema(doc))):
            schema = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
            schemas[f"{name}{suffix}"] = schema
        schemas[f"{name}List"] = {"type": "object", "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
            "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
            "pages": {"type": "integer"}}}
        label = text_of(doc.get("plural_label") or doc["label"], "en")
        id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        paths[f"/api/records/{key}"] = {
            "get": {"operationId": f"list_{key}", "summary": f"List {label}", "tags": [key],
                    "parameters": [
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                        {"name": "sort", "in": "query", "schema": {"type": "string"},
                         "description": "Comma-separated field keys; prefix with - for descending"},
                        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Search text fields"},
                    ] + _filter_params(doc),
                    "responses": {"200": {"description": "A page of records", **_json(f"#/components/schemas/{name}List")},
                                  **_errors(400, 404)}},
            "post": {"operationId": f"create_{key}", "summary": f"Create a {text_of(doc['label'], 'en')}", "tags": [key],
                     "requestBody": {"required": True, **_json(f"#/components/schemas/{name}")},
                     "responses": {"201": {"description": "Created", **_json(f"#/components/schemas/{name}")},
                                   **_errors(400, 404, 409, 413, 422)}},
        }
        paths[f"/api/records/{key}/{{id}}"] = {
            "parameters": [id_param],
            "get": {"operationId": f"get_{key}", "tags": [key],
                    "responses": {"200": {"description": "The record", **_json(f"#/components/schemas/{name}")}, **_errors(404)}},
            "patch": {"operationId": f"update_{key}", "tags": [key],
                      "requestBody": {"required": True, **_json(f"#/components/schemas/{name}Patch")},
                      "responses": {"200": {"description": "Updated", **_json(f"#/components/schemas/{name}")},
                                    **_errors(400, 404, 409, 413, 422)}},
            "delete": {"operationId": f"delete_{key}", "tags": [key],
                       "responses": {"204": {"description": "Moved to the recycle bin"}, **_errors(404, 409)}},
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "CRM platform API", "version": str(model.revision),
                 "description": "Generated from metadata revision %d." % model.revision},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {"schemas": schemas},
    }


@openapi_api.get("/api/openapi.json")
def openapi_document():
    return jsonify(build_openapi(platform().runtime.current()))


@openapi_api.get("/api")
def api_index():
    """Where to start: the entities of this instance and their endpoints (``/`` is the screens' menu)."""
    model = platform().runtime.current()
    return jsonify({
        "name": "CRM platform", "revision": model.revision, "openapi": "/api/openapi.json",
        "entities": [{"key": e.key, "label": e.doc["label"], "records": f"/api/records/{e.key}",
                      "schema": f"/api/meta/entities/{e.key}/schema"} for e in sorted(model.active(), key=lambda e: e.key)],
    })
