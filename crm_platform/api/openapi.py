"""OpenAPI 3.1 for the current revision: the whole REST API a client can call.

Every entity's record endpoints are generated here from its metadata (with its record schema); the
fixed platform endpoints (sign-in, metadata, definitions, users, bundles...) come from openapi_platform.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..i18n import text_of
from ..ids import RECORD_ID_MAX
from ..metadata.field_types import REGISTRY
from ..runtime.query import MAX_PAGE
from ..runtime.record_schema import patch_schema, record_schema
from ..http.context import platform
from .openapi_platform import (BOOLEAN, FLAG, INTEGER, OBJECT, STRING, answer, body, errors, in_path, obj, op, platform_paths,
                               query, shared)

openapi_api = Blueprint("openapi_api", __name__)

REASON = {"name": "X-Change-Reason", "in": "header", "required": False, "schema": {**STRING, "maxLength": 2000},
          "description": "Why, kept in the audit trail (a `_reason` key in the body wins); entities with "
                         "require_change_reason refuse a PATCH or DELETE without one (422)"}
REASON_PROPERTY = {**STRING, "type": ["string", "null"], "maxLength": 2000, "writeOnly": True,
                   "description": "Why, kept in the audit trail (instead of the X-Change-Reason header); null: none"}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
            "schema": {"type": "string", "pattern": r'^(W/)?"?[0-9]{1,18}"?$'},
            "description": "The record version, e.g. \"3\": 409 instead of overwriting a newer change"}
ETAG = {"ETag": {"description": "The record version", "schema": STRING}}
def paging(max_per_page: int) -> list[dict]:
    """``page`` and ``per_page`` with the bounds the endpoints enforce (400 outside them)."""
    return [query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "1-based page"),
            query("per_page", {"type": "integer", "minimum": 1, "maximum": max_per_page},
                  f"Page size (default CRM_DEFAULT_PAGE_SIZE, at most CRM_MAX_PAGE_SIZE: {max_per_page} here)")]


#: Ids beyond the column's range match no route (404); saying so keeps generated requests honest.
RECORD_ID = {"type": "integer", "minimum": 0, "maximum": RECORD_ID_MAX}
MERGE_IDS = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": RECORD_ID_MAX}}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _filter_params(doc: dict) -> list[dict]:
    """One parameter per field, sent as ``filter[<field>][<op>]=<value>`` (deepObject)."""
    params = []
    for f in doc.get("fields", []):
        ops = REGISTRY[f["type"]].operators_of(f) + ("is_empty", "is_not_empty")
        params.append({"name": f"filter[{f['key']}]", "in": "query", "required": False,
                       "style": "deepObject", "explode": True,
                       "description": f"Filter on {text_of(f.get('label') or f['key'], 'en')}, e.g. "
                                      f"filter[{f['key']}][{ops[0]}]=…; is_empty and is_not_empty take 1",
                       "schema": {"type": "object", "properties": {o: STRING for o in ops},
                                  "additionalProperties": False}})
    return params


def _list_params(doc: dict, max_per_page: int) -> list[dict]:
    return paging(max_per_page) + [
        query("sort", STRING, "Comma-separated field keys; prefix with - for descending"),
        query("q", STRING, "Search text fields"),
        query("archived", BOOLEAN, f"{FLAG}: list the recycle bin instead"),
        query("exact_total", BOOLEAN, f"{FLAG}: count every match (otherwise exact up to CRM_COUNT_LIMIT)"),
    ] + _filter_params(doc)


#: What ``POST /api/records/<entity>/import`` takes (see docs/import.md).
IMPORT_FORM = obj({
    "file": {"type": "string", "contentMediaType": "application/octet-stream",
             "description": "CSV (UTF-8, UTF-8 with BOM or GB18030; delimiter sniffed) or XLSX"},
    "mapping": {**STRING, "description": "JSON object: column header → field key (null or \"\" leaves the column "
                                         "out); columns not named are matched by field key or label"},
    "match": {**STRING, "description": "Comma-separated field keys that identify a record (phones compared in "
                                       "E.164, e-mails case-folded, text trimmed)"},
    "on_match": {"enum": ["skip", "update"], "description": "A row matching an existing record: skip it (default) "
                                                           "or update the record with its non-empty mapped cells"},
    "dry_run": {**STRING, "description": "1: check every row and report; write nothing"},
    "all_or_nothing": {**STRING, "description": "1: write nothing if any row is refused"},
    "sheet": {**STRING, "description": "The XLSX sheet to read (default: the first)"}}, ("file",))


def _entity_paths(key: str, doc: dict, schemas: dict, max_per_page: int = 500) -> dict:
    """The record endpoints of one entity, typed by its record schema."""
    # Schemas are named by the entity key, which is unique, with a dotted suffix no key can have
    # (a CamelCase name would make ``student_list`` clash with student's list).
    # ``key``: a record as answered (tags applied by rules included); ``.new`` and ``.patch``: what a
    # create and a PATCH may send, with ``_reason`` (the API takes it out before validating the record);
    # ``.row``: one record of a bulk create, which takes no reason.
    name = key
    for suffix, schema, reason in (("", record_schema(doc, answer=True), False), (".new", record_schema(doc), True),
                                   (".patch", patch_schema(doc), True), (".row", record_schema(doc), False)):
        schema = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        if reason:
            schema["properties"] = {**schema.get("properties", {}), "_reason": REASON_PROPERTY}
        schemas[f"{name}{suffix}"] = schema
    # A merge answers the survivor with ``_merge`` beside its fields; the record schema admits no other
    # property, so an ``allOf`` of it and ``_merge`` could match nothing: the answer is a schema of its own.
    merged = schemas[name]
    schemas[f"{name}.merged"] = {**merged, "properties": {**merged.get("properties", {}), "_merge": obj({
        "merged": MERGE_IDS, "repointed": {"type": "object", "additionalProperties": INTEGER}})}}
    schemas[f"{name}.list"] = obj({
        "items": {"type": "array", "items": ref(name)}, "total": INTEGER, "page": INTEGER, "per_page": INTEGER,
        "pages": INTEGER, "total_exact": {"type": "boolean", "description": "false when total is CRM_COUNT_LIMIT+"}})
    label, one = text_of(doc.get("plural_label") or doc["label"], "en"), text_of(doc["label"], "en")
    record, tag, id_param = ref(name), [key], [in_path("id", RECORD_ID)]
    writes = errors(400, 403, 404, 409, 413, 422)
    return {
        f"/api/records/{key}": {
            "get": {"operationId": f"list_{key}", "summary": f"List {label}", "tags": tag,
                    "parameters": _list_params(doc, max_per_page),
                    "responses": {"200": answer("A page of records", ref(f"{name}.list")), **errors(400, 403, 404)}},
            "post": {"operationId": f"create_{key}", "summary": f"Create a {one}", "tags": tag, "parameters": [REASON],
                     "requestBody": body(ref(f"{name}.new")),
                     "responses": {"201": answer("Created", record, headers={**ETAG, "Location": {
                         "description": "The record's URL", "schema": STRING}}), **writes}},
        },
        f"/api/records/{key}/bulk": {"post": op(
            f"bulk_create_{key}", f"Create many {label}, all or nothing", key,
            {201: answer("Created", obj({"created": INTEGER}, ("created",)))}, writes,
            requestBody=body(obj({"records": {"type": "array", "items": ref(f"{name}.row")}}, ("records",)),
                             "Errors name the record's position in `row`"))},
        f"/api/records/{key}/bulk-update": {"post": op(
            f"bulk_update_{key}", f"Change, re-tag, hand over or delete many {label}, each through the record "
                                  "service's checks; refusals are listed, the rest written", key,
            {200: answer("What was written and what was refused", obj({
                "updated": INTEGER, "deleted": {**INTEGER, "description": "Only for `delete`: the same count"},
                "queued": {**INTEGER, "description": "Only for `email`: the e-mails queued (the same count)"},
                "refused": {"type": "array", "items": obj({
                    "id": INTEGER, "status": {**INTEGER, "description": "The status a single write would answer"},
                    "errors": {"type": "array", "items": OBJECT}}, ("id", "errors"))}}, ("updated", "refused")))},
            errors(400, 403, 404, 413, 422, why={
                400: "Neither or both of `ids` and `filter`, no action, an unknown property or a bad filter "
                     "(`field` names it, e.g. `filter.filter[stage]`)",
                413: "More than 10,000 records named or matched",
                422: "`add_tags` / `remove_tags` name a field that holds no list of values"}),
            parameters=[REASON], requestBody=body(obj({
                "ids": {"type": "array", "maxItems": 10000, "items": RECORD_ID},
                "filter": {"type": "object", "description": "The records matching these conditions that the user "
                           "may read: `{\"q\": text, field: value | [values] | {operator: value} | null}` — the list's "
                           "`filter[field][operator]` parameters as an object (null: is empty)"},
                "set": {**ref(f"{name}.patch"), "description": "Fields to set on each record; `owner_id` hands "
                                                               "them over, a stage field moves them"},
                "add_tags": {"type": "object", "additionalProperties": {"type": "array", "items": STRING},
                             "description": "Tags / multiple-choice field → values to add"},
                "remove_tags": {"type": "object", "additionalProperties": {"type": "array", "items": STRING},
                                "description": "Tags / multiple-choice field → values to remove"},
                "delete": {"const": True, "description": "Move each record to the recycle bin (alone)"},
                "email": obj({"to": {**STRING, "description": "The field holding each record's address"},
                              "subject": STRING, "body": STRING,
                              "unless": {**STRING, "description": "A yes/no field: records where it is true "
                                                                  "(unsubscribed) are refused, not e-mailed"}},
                             ("to", "subject", "body"), additionalProperties=False, description="E-mail each record (alone): `{field}` in the "
                             "subject and body is the record's value; queued in the outbox, sent by the worker"),
                "_reason": REASON_PROPERTY}, additionalProperties=False),
                "Send `ids` or `filter`, and `set`, `add_tags`/`remove_tags`, `delete` or `email`; one reason for all"))},
        f"/api/records/{key}/import": {"post": op(
            f"import_{key}", f"Import {label} from a CSV or XLSX file", key,
            {200: answer("The report (a dry run writes nothing)", shared("RecordImportReport")),
             202: answer("A large file: the import runs in the background; poll `Location`",
                         shared("RecordImportJob"), headers={"Location": {
                             "description": "/api/imports/<id>: 202 with the progress, then the report",
                             "schema": STRING}})},
            errors(400, 403, 404, 413, 422, why={
                400: "The file is missing, empty, not CSV/XLSX, or has no header row, a formula, merged cells, "
                     "too many columns (`field` is `file`)",
                413: "The file is larger than CRM_IMPORT_MAX_BYTES",
                422: "A bad option: `mapping.<column>`, `match` or `on_match`; or no column matches a field"}),
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": IMPORT_FORM}}})},
        f"/api/records/{key}/{{id}}": {
            "parameters": id_param,
            "get": {"operationId": f"get_{key}", "summary": f"A {one}", "tags": tag,
                    "responses": {"200": answer("The record", record, headers=ETAG), **errors(403, 404)}},
            "patch": {"operationId": f"update_{key}", "summary": f"Change some fields of a {one}", "tags": tag,
                      "parameters": [IF_MATCH, REASON], "requestBody": body(ref(f"{name}.patch")),
                      "responses": {"200": answer("Updated", record, headers=ETAG), **writes}},
            "delete": {"operationId": f"delete_{key}", "summary": f"Move a {one} to the recycle bin", "tags": tag,
                       "parameters": [REASON],
                       "responses": {"204": {"description": "Moved to the recycle bin"},
                                     **errors(400, 403, 404, 409, 413, 422)}},
        },
        f"/api/records/{key}/{{id}}/restore": {"parameters": id_param, "post": op(
            f"restore_{key}", f"Take a {one} out of the recycle bin", key, {200: answer("Restored", record)},
            errors(400, 403, 404, 409, 413), parameters=[REASON])},
        f"/api/records/{key}/{{id}}/history": {"parameters": id_param, "get": op(
            f"history_{key}", f"The audit trail of a {one}, newest first", key,
            {200: answer("Audit rows (records in the recycle bin included)", shared("AuditPage"))},
            errors(400, 403, 404), parameters=paging(max_per_page))},
        f"/api/records/{key}/{{id}}/stage-history": {"parameters": id_param, "get": op(
            f"stage_history_{key}", f"The pipeline stage moves of a {one}, oldest first", key,
            {200: answer("Moves; from_stage is null when the record entered by creation", shared("StageHistory"))},
            errors(403, 404))},
        f"/api/records/{key}/{{id}}/timeline": {"parameters": id_param, "get": op(
            f"timeline_{key}", f"One story of a {one}, newest first: its changes, stage moves, records made about it "
                               "and the caller's notifications about it, in the caller's language (Accept-Language)",
            key, {200: answer("A page of the timeline", shared("Timeline"))},
            errors(400, 403, 404), parameters=paging(100))},
        **_list_tool_paths(key, doc, label, record, max_per_page),
        **_personal_data_paths(key, one, id_param),
    }


def _personal_data_paths(key: str, one: str, id_param: list) -> dict:
    """Export and erase a person's data (docs/operations.md, "Personal data"); administrators only."""
    admin = {403: "Only administrators export or erase personal data"}
    return {
        f"/api/records/{key}/{{id}}/personal-data": {"parameters": id_param, "get": op(
            f"personal_data_{key}", f"Everything about a {one} (related records, audit rows) as one JSON file; "
                                    f"writes a personal_export audit row", key,
            {200: answer("The file (Content-Disposition: attachment)", shared("PersonalData"))},
            errors(403, 404, 422, why={**admin, 422: "More related records than one file holds"}))},
        f"/api/records/{key}/{{id}}/erase": {"parameters": id_param, "post": op(
            f"erase_{key}", f"Erase the personal values of a {one} and its related records; the audit rows "
                            f"keep who, when and why with the values replaced", key,
            {200: answer("What was erased", shared("Erasure"))},
            errors(400, 403, 404, 409, 413, 422, why={
                **admin, 422: "No reason, an unknown option, or a required personal field whose type has no "
                              "erased placeholder"}),
            requestBody=body(obj({"reason": {**STRING, "minLength": 1, "maxLength": 2000,
                                             "description": "Why (kept in the audit trail)"}}, ("reason",),
                                 additionalProperties=False)))},
    }


def _list_tool_paths(key: str, doc: dict, label: str, record: dict, max_per_page: int) -> dict:
    """Export, duplicates and merge (docs/export-and-merge.md)."""
    list_params = [p for p in _list_params(doc, max_per_page) if p["name"] not in ("page", "per_page")]
    matchable = [f["key"] for f in doc.get("fields", []) if REGISTRY[f["type"]].matchable]
    binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
    ids = MERGE_IDS
    return {
        f"/api/records/{key}/export": {"get": op(
            f"export_{key}", f"Download the {label} of a list view as CSV or Excel", key,
            {200: {"description": "The file, streamed: CSV is UTF-8 with a BOM; header cells are labels in the "
                                  "Accept-Language language; fields the caller may not read are absent",
                   "content": {"text/csv": binary,
                               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": binary}}},
            errors(400, 403, 404),
            parameters=[query("format", {"enum": ["csv", "xlsx"]}, "csv (the default) or xlsx"),
                        query("columns", STRING, "Comma-separated field keys (and id, created_at, updated_at); "
                                                 "default: every field the caller may read"),
                        query("tz", STRING, "IANA time zone of the datetimes, e.g. Asia/Shanghai (default UTC)"),
                        *list_params])},
        f"/api/records/{key}/duplicates": {"get": op(
            f"duplicates_{key}", f"Groups of {label} sharing a normalised phone, e-mail or near-identical name",
            key, {200: answer("Groups, by field then first record", obj({
                "groups": {"type": "array", "items": obj({"key": STRING, "field": STRING, "ids": ids},
                                                          ("key", "field", "ids"))},
                "total": INTEGER}, ("groups", "total")))},
            errors(400, 403, 404),
            parameters=[query("by", {**STRING, "description": f"matchable here: {', '.join(matchable) or 'none'}"},
                              "Comma-separated text, phone or e-mail fields to compare"),
                        query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Most groups listed"),
                        *list_params])},
        f"/api/records/{key}/merge": {"post": op(
            f"merge_{key}", f"Merge {label} into one, in one transaction", key,
            {200: answer("The surviving record, with _merge: merged ids and records repointed per entity.field",
                         ref(f"{key}.merged"))},
            errors(400, 403, 404, 409, 413, 422), parameters=[REASON],
            requestBody=body(obj({
                "survivor": {"type": "integer", "minimum": 1, "maximum": RECORD_ID_MAX},
                "others": {**ids, "minItems": 1, "maxItems": 50, "uniqueItems": True},
                "choices": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1},
                            "description": "Field key to the id of the record whose value the survivor keeps"},
                "_reason": REASON_PROPERTY}, ("survivor", "others"))))},
    }


def _secured(paths: dict) -> dict:
    """Every operation but sign-in needs a token: each answers 401 without a valid one. Every one
    answers 400 to a query parameter holding a NUL (request_input checks them all, expected or not)."""
    for item in paths.values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if operation.get("security") != []:
                operation["responses"].update(errors(401))
            operation["responses"].setdefault("400", errors(400)["400"])
    return paths


def build_openapi(model, max_per_page: int = 500) -> dict:
    schemas: dict = {}
    paths = platform_paths(schemas)
    for entity in sorted(model.active(), key=lambda e: e.key):
        paths.update(_entity_paths(entity.key, entity.doc, schemas, max_per_page))
    return {
        "openapi": "3.1.0",
        "info": {"title": "CRM platform API", "version": str(model.revision),
                 "description": f"Generated from metadata revision {model.revision}. Sign in with POST "
                                "/api/auth/token and send `Authorization: Bearer <token>`; every error answer is "
                                "the crm.Errors schema."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearerAuth": []}],
        "paths": _secured(paths),
        "components": {"schemas": schemas, "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer", "description": "A token from POST /api/auth/token"}}},
    }


@openapi_api.get("/api/openapi.json")
def openapi_document():
    return jsonify(build_openapi(platform().runtime.current(), current_app.config["CRM_MAX_PAGE_SIZE"]))


@openapi_api.get("/api")
def api_index():
    """Where to start: the entities of this instance and their endpoints (``/`` is the screens' menu)."""
    model = platform().runtime.current()
    return jsonify({
        "name": "CRM platform", "revision": model.revision, "openapi": "/api/openapi.json",
        "entities": [{"key": e.key, "label": e.doc["label"], "records": f"/api/records/{e.key}",
                      "schema": f"/api/meta/entities/{e.key}/schema"} for e in sorted(model.active(), key=lambda e: e.key)],
    })
