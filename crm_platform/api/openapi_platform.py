"""OpenAPI of the platform's fixed endpoints: sign-in, metadata, definition kinds, pipelines, users,
bundles and the index. The per-entity record endpoints are generated from metadata in openapi.py.

Each operation says what its view function does: query parameters, body, statuses, answer.
"""
from __future__ import annotations

from ..bundles.importer import ON_CONFLICT
from ..ids import ROW_ID_MAX
from ..runtime.query import MAX_PAGE
from ..metadata import meta_schemas
from ..metadata.field_types.text import NO_NUL
from ..metadata.kinds import KINDS
from .definitions_api import KIND_PATHS

#: Text everywhere (parameters, bodies, answers) holds no NUL: the API refuses it (400 in a query
#: parameter, 422 in a body), as PostgreSQL cannot store it.
STRING = {"type": "string", "pattern": NO_NUL}
INTEGER, BOOLEAN, OBJECT = {"type": "integer"}, {"type": "boolean"}, {"type": "object"}
#: A free-form JSON object a client sends (definition attributes, bundle parts): keys and text
#: without NUL, all the way down (``crm.Json``).
JSON = {"$ref": "#/components/schemas/crm.Json"}
FREE = {"type": "object", "propertyNames": STRING, "additionalProperties": JSON}
DATETIME, NULLABLE_TEXT = {"type": "string", "format": "date-time"}, {"type": ["string", "null"], "pattern": NO_NUL}
NUMBER = {"type": ["number", "null"]}
ADMIN_WRITE, ADMIN_ONLY = "Only administrators change definitions", "Only administrators may do this"
WHY = {400: "Malformed request: the body is not a JSON object, or a query parameter is bad (named in `field`)",
       401: "No token, or the token is not valid",
       403: "Not allowed by the user's rights on the entity, the record or a field",
       404: "Not found", 409: "Conflict: a unique clash, a stale version, or a change refused by stored data",
       413: "The body is larger than CRM_MAX_BODY_BYTES", 422: "Invalid values or an invalid definition",
       429: "Too many sign-in attempts from this address; wait a minute"}


# ---- building blocks ----------------------------------------------------------------------------
#: Platform schema names carry this prefix: a name made from an entity key (``plan`` → ``Plan``) never has a dot.
PREFIX = "crm."


def shared(name: str) -> dict:
    """A reference to one of the platform's schemas."""
    return {"$ref": f"#/components/schemas/{PREFIX}{name}"}


def json_of(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def errors(*codes: int, why: dict | None = None) -> dict:
    """Error answers (all with the Errors schema), ``why`` overriding the usual descriptions."""
    text = {**WHY, **(why or {})}
    return {str(c): {"description": text[c], **json_of(shared("Errors"))} for c in codes}


def answer(description: str, schema: dict | None = None, **extra) -> dict:
    return {"description": description, **(json_of(schema) if schema is not None else {}), **extra}


def query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def in_path(name: str, schema: dict = STRING) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def body(schema: dict, description: str | None = None) -> dict:
    return {"required": True, **({"description": description} if description else {}), **json_of(schema)}


def op(op_id: str, summary: str, tag: str, ok: dict, fails: dict | None = None, **more) -> dict:
    """One operation: ``ok`` maps success statuses to answers, ``fails`` comes from ``errors``."""
    return {"operationId": op_id, "summary": summary, "tags": [tag], **more,
            "responses": {**{str(s): a for s, a in ok.items()}, **(fails or {})}}


def obj(props: dict, required: tuple = (), description: str | None = None, **more) -> dict:
    """An object with ``props``; other keys, unless ``more`` says otherwise, are free JSON without NUL."""
    return {"type": "object", "properties": props, **({"required": list(required)} if required else {}),
            **({"description": description} if description else {}),
            "propertyNames": STRING, "additionalProperties": JSON, **more}


def items_of(schema: dict, **more) -> dict:
    return obj({"items": {"type": "array", "items": schema}, **more}, ("items",))


FLAG = "1, true or yes (0, false or no: off; any other value is 400)"
#: ``page`` and ``per_page`` of the platform's own lists (the page size is at most CRM_MAX_PAGE_SIZE, 500).
PAGING = [query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "1-based page"),
          query("per_page", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (default 50)")]
DRY_RUN = query("dry_run", BOOLEAN, f"{FLAG}: answer with the plan (operations, rows affected) and change nothing")
ARCHIVED = query("archived", BOOLEAN, f"{FLAG}: include archived definitions")

SCHEMAS = {
    "Json": {"description": "Any JSON value whose text (keys included) holds no NUL", "anyOf": [
        {"type": ["null", "boolean", "number"]}, STRING,
        {"type": "array", "items": JSON}, FREE]},
    # An error may quote what the client sent, NUL included: its text is any string.
    "RecordImportReport": obj({
        "created": INTEGER, "updated": INTEGER, "skipped": INTEGER,
        "refused": {"type": "array", "items": obj({
            "row": {**INTEGER, "description": "The row as the file numbers it (header = 1)"},
            "column": NULLABLE_TEXT, "value": NULLABLE_TEXT, "message": STRING, "code": NULLABLE_TEXT})},
        "skipped_rows": {"type": "array", "items": obj({"row": INTEGER, "message": STRING})},
        "total": INTEGER, "applied": BOOLEAN, "dry_run": BOOLEAN, "sheet": NULLABLE_TEXT,
        "mapping": {"type": "object", "description": "column header → field key (null: left out)"}},
        ("created", "updated", "skipped", "refused")),
    "RecordImportJob": obj({"id": INTEGER, "status": {"enum": ["draft", "queued", "running", "done", "failed"]},
                            "processed": INTEGER, "total": {"type": ["integer", "null"]}}, ("id", "status")),
    "Errors": obj({"errors": {"type": "array", "items": obj({
        "field": {"type": ["string", "null"]}, "code": {"type": "string"}, "message": {"type": "string"},
        "row": {"type": "integer", "description": "Bulk creates: the position of the record in `records`"},
        "rows": {"type": "integer", "description": "Rows of stored data that refuse a metadata change"},
        "sample_ids": {"type": "array", "items": INTEGER}}, ("code", "message"))},
        "plan": {"type": "object", "description": "A refused metadata change or bundle import: its plan"}},
        ("errors",), "Every error; `code` is the JSON Schema keyword of the broken rule where there is one"),
    # docs/operations.md, "Personal data"; runtime/personal_data.py.
    "PersonalData": obj({
        "format": {"const": "crm-personal-data/1"}, "exported_at": DATETIME,
        "subject": obj({"entity": STRING, "id": INTEGER}, ("entity", "id")),
        "personal_fields": {"type": "object", "additionalProperties": {"type": "array", "items": STRING},
                            "description": "entity → its personal fields (flagged `personal`, or e-mail and phone)"},
        "records": {"type": "array", "items": obj({
            "entity": STRING, "id": INTEGER, "record": OBJECT,
            "relation": {**STRING, "description": "`subject`, or `<entity>.<field>`: the reference naming it"}},
            ("entity", "id", "relation", "record"))},
        "audit": {"type": "array", "items": OBJECT, "description": "The audit rows of those records, oldest first"},
        "notifications": {"type": "array", "items": OBJECT, "description": "Notifications naming those records"}},
        ("format", "subject", "records", "audit", "notifications")),
    "Erasure": obj({
        "erased": {"type": "array", "items": obj({"entity": STRING, "id": INTEGER,
                                                  "fields": {"type": "array", "items": STRING}})},
        "audit_rows": {**INTEGER, "description": "Audit rows whose personal values were replaced by \"[erased]\""},
        "notifications": {**INTEGER, "description": "Notifications whose title was replaced"}},
        ("erased", "audit_rows", "notifications")),
    "Plan": obj({"kind": STRING, "key": STRING, "action": STRING, "summary": STRING,
                 "operations": {"type": "array", "items": obj({
                     "op": STRING, "entity": STRING, "table": STRING, "detail": STRING, "field": STRING,
                     "rows": INTEGER}, ("op", "entity", "table", "detail"))},
                 "refusals": {"type": "array", "items": OBJECT}},
                ("kind", "key", "action", "summary", "operations", "refusals"), "What a metadata change does"),
    "Field": obj({"key": STRING, "type": STRING}, ("key", "type"),
                 "A field definition: it must satisfy GET /api/meta/schemas/field, with the options of its type "
                 "(GET /api/meta/field-types)"),
    "Revision": obj({"revision": INTEGER, "created_at": DATETIME, "actor": STRING, "kind": STRING, "key": STRING,
                     "action": STRING, "summary": STRING, "before": {"type": ["object", "null"]},
                     "after": {"type": ["object", "null"]}, "plan": shared("Plan")}),
    "FieldType": obj({"type": STRING, "options": OBJECT, "operators": {"type": "array", "items": STRING},
                      "converts_to": {"type": "array", "items": STRING}, "indexable": BOOLEAN, "searchable": BOOLEAN}),
    "AuditPage": obj({"items": {"type": "array", "items": obj({
        "id": INTEGER, "entity": STRING, "record_id": INTEGER, "actor_id": {"type": ["integer", "null"]},
        "actor": {"type": ["string", "null"], "description": "The user name (null for the system, e.g. a public form)"},
        "action": {"enum": ["create", "update", "delete", "restore", "stage", "approval", "personal_export", "erase"],
                   "description": "approval: a step of an approval (asked, rejected, withdrawn); an approved move is an update; "
                                  "personal_export, erase: personal data exported or erased (docs/operations.md)"},
        "at": DATETIME,
        "reason": NULLABLE_TEXT,
        "reason_key": {**NULLABLE_TEXT, "description": "A reason the system wrote (an approval step: approval_requested, "
                                                       "approval_approved, approval_rejected, approval_withdrawn; stage_entered: a stage's "
                                                       "follow-up; stage_archived), null for reasons people typed; "
                                                       "`reason` says it in English (docs/approvals.md)"},
        "reason_args": {"type": ["object", "null"], "description": "The arguments of `reason_key`: approval, pipeline, "
                                                                   "stage, from_stage (keys), comment (as typed); "
                                                                   "admin: the user name of an administrator who "
                                                                   "decided or withdrew for someone else"},
        "changes": {"type": "object", "description": "field → [old, new]; fields the "
                                                     "reader may not read are left out"}})},
        "total": INTEGER, "page": INTEGER, "per_page": INTEGER, "pages": INTEGER}, ("items", "total")),
    "Timeline": obj({"items": {"type": "array", "items": obj({
        "kind": {"enum": ["change", "stage", "related", "notification"]}, "at": DATETIME,
        "when": {"type": "string", "description": "The moment relative to now in the reader's language (\"3 天前\")"},
        "summary": STRING, "actor": {"type": ["string", "null"]},
        "action": {"type": "string", "description": "change: create, update, delete, restore"},
        "reason": NULLABLE_TEXT,
        "changes": {"type": "array", "description": "change: each field's label and its old and new values as the "
                                                    "screens show them", "items": obj({
                                                        "field": STRING, "label": STRING, "old": STRING, "new": STRING})},
        "from": NULLABLE_TEXT, "to": STRING, "from_label": NULLABLE_TEXT, "to_label": STRING,
        "entity": STRING, "entity_label": STRING, "id": INTEGER, "title": STRING, "href": STRING,
        "via": STRING, "via_label": STRING, "notification": STRING,
        "event": {"enum": ["approval_requested", "approved", "rejected", "withdrawn"],
                  "description": "stage: a step of an approval of a move into `to` (docs/approvals.md)"},
        "comment": {**NULLABLE_TEXT, "description": "an approval step's reason or decision comment"}},
        ("kind", "at", "when", "summary"))},
        "page": INTEGER, "per_page": INTEGER, "has_more": BOOLEAN}, ("items", "page", "per_page", "has_more")),
    "StageHistory": items_of(obj({
        "id": {**INTEGER, "description": "Moves only"},
        "event": {"enum": ["moved", "approval_requested", "approved", "rejected", "withdrawn"],
                  "description": "moved: the record changed stage (only these count in figures); the others are "
                                 "the steps of an approval of a move into to_stage"},
        "pipeline": STRING, "from_stage": NULLABLE_TEXT, "to_stage": STRING,
        "actor_id": {"type": ["integer", "null"]}, "moved_at": DATETIME,
        "approval_id": {**INTEGER, "description": "Approval steps only"},
        "comment": {**NULLABLE_TEXT, "description": "Approval steps only: the request's reason or the decision's comment"}})),
    "Approval": obj({
        "id": INTEGER, "pipeline": STRING, "entity": STRING, "record_id": INTEGER, "field": STRING,
        "from_stage": NULLABLE_TEXT, "to_stage": STRING, "status": {"enum": ["pending", "approved", "rejected", "withdrawn"]},
        "approvers": {"type": "object", "description": "{\"role\": key} or {\"user_id\": id}"},
        "requested_by": {"type": ["integer", "null"]}, "requested_at": DATETIME, "reason": NULLABLE_TEXT,
        "decided_by": {"type": ["integer", "null"]}, "decided_at": {**DATETIME, "type": ["string", "null"]},
        "comment": NULLABLE_TEXT, "link": STRING,
        "can_decide": {**BOOLEAN, "description": "Whether the caller may approve or reject it now (an approver, "
                                                 "or an administrator deciding for one)"},
        "can_withdraw": {**BOOLEAN, "description": "Whether the caller may withdraw it now (its requester or an "
                                                   "administrator)"}},
        ("id", "entity", "record_id", "to_stage", "status"), "A move into a stage that asks for approval"),
    "Notifications": obj({"items": {"type": "array", "items": obj({
        "id": INTEGER, "kind": STRING, "title": STRING, "entity": NULLABLE_TEXT,
        "record_id": {"type": ["integer", "null"]}, "link": NULLABLE_TEXT, "created_at": DATETIME, "read": BOOLEAN},
        ("id", "kind", "title", "created_at", "read"))},
        "unread": INTEGER, "total": INTEGER, "page": INTEGER, "per_page": INTEGER, "pages": INTEGER},
        ("items", "unread", "total")),
    "PipelineSummary": obj({
        "pipeline": STRING, "entity": STRING, "field": STRING, "amount_field": NULLABLE_TEXT,
        "stages": {"type": "array", "items": obj({
            "key": STRING, "label": {}, "category": {"enum": ["open", "won", "lost"]}, "probability": NUMBER,
            "count": INTEGER, "entered": INTEGER, "next_stage": NULLABLE_TEXT, "conversion": NUMBER,
            "overall_conversion": NUMBER, "avg_days": NUMBER, "amount": {"type": "number", "description": "Only when there is an amount field"}})}}),
    "SavedView": obj({"id": INTEGER, "entity": STRING, "name": STRING, "query": STRING, "role": NULLABLE_TEXT,
                "owner_id": INTEGER, "mine": BOOLEAN, "created_at": DATETIME, "updated_at": DATETIME},
               ("id", "entity", "name", "query", "role", "mine")),
    "User": obj({"id": INTEGER, "username": STRING, "is_admin": BOOLEAN, "roles": {"type": "array", "items": STRING},
                 "active": BOOLEAN, "created_at": DATETIME,
                 "totp": {**BOOLEAN, "description": "Signs in with a second factor (a TOTP code)"}}),
    "Bundle": obj({"format": {"const": "crm-bundle"}, "format_version": INTEGER, "name": STRING, "version": STRING,
                   "checksum": STRING, "definitions": FREE, "sample_data": FREE},
                  ("format", "format_version", "name", "version", "checksum", "definitions"),
                  "A configuration bundle; its meta-schema is GET /api/bundle/schema"),
    "ImportReport": obj({
        "bundle": OBJECT, "installed_version": NULLABLE_TEXT, "older_than_installed": BOOLEAN, "dry_run": BOOLEAN,
        "summary": OBJECT, "definitions": {"type": "array", "items": OBJECT},
        "conflicts": {"type": "array", "items": OBJECT}, "steps": {"type": "array", "items": shared("Plan")},
        "sample_data": OBJECT, "rule_tags": OBJECT,
        "demo_users": {"type": "array", "description": "Template installs that loaded the sample data: the demo "
                                                       "users made for the template's roles, with their passwords "
                                                       "(null in a dry run), shown this once",
                       "items": obj({"username": STRING, "role": STRING, "password": NULLABLE_TEXT})},
        "revision": {"type": "integer", "description": "The metadata revision the plan was made at (send it back "
                                                       "as expect_revision to apply exactly this plan)"}},
        ("bundle", "dry_run", "summary", "definitions", "conflicts", "steps", "revision")),
}


def _definition(kind: str, schema_file: str) -> dict:
    """A definition as an object with the required keys and the description of its meta-schema."""
    meta = meta_schemas.load_file(schema_file)
    where = f"GET /api/meta/schemas/{schema_file}"
    key = meta.get("properties", {}).get("key", {})
    key = key if "pattern" in key else STRING  # the key's own rule where the meta-schema states it inline
    return obj({"key": key, "archived": {"type": "boolean", "readOnly": True, "description": "In answers only"}},
               tuple(meta.get("required", ())), f"{meta.get('description', '')} It must satisfy {where}.".strip())


def _change(kind: str, name: str) -> dict:
    return obj({"plan": shared("Plan"), "dry_run": BOOLEAN,
                kind: {**shared(name), "description": f"The {kind} as it is now (absent after a dry run)"}},
               ("plan", "dry_run"))


def change_op(op_id: str, summary: str, tag: str, name: str, *, send: dict | None = None, creates: bool = False,
              missing: bool = True) -> dict:
    """A metadata write (administrators only, ``?dry_run``): the plan, and the definition unless a dry run."""
    change = shared(f"{name}Change")
    ok = ({201: answer("Applied", change), 200: answer("The plan of a dry run", change)} if creates
          else {200: answer("Applied, or the plan of a dry run", change)})
    codes = sorted({403, 409} | ({400, 413, 422} if send else set()) | ({404} if missing else set()))
    return op(op_id, summary, tag, ok, errors(*codes, why={403: ADMIN_WRITE}), parameters=[DRY_RUN],
              **({"requestBody": body(send)} if send else {}))


# ---- the paths ----------------------------------------------------------------------------------
def _meta_paths(schemas: dict) -> dict:
    schemas.update({"Entity": _definition("entity", "entity"), "EntityChange": _change("entity", "Entity")})
    patch = {**FREE, "description": "Top-level attributes to change (null removes an optional one); `fields`, "
                                      "when sent, is the whole desired list"}
    field = in_path("field")
    paths = {
        "/api/meta/entities": {
            "get": op("meta_list_entities", "Entity definitions and the current revision", "metadata",
                      {200: answer("Definitions", items_of(shared("Entity"), revision=INTEGER))},
                      parameters=[ARCHIVED]),
            "post": change_op("meta_create_entity", "Create an entity (and its table)", "metadata", "Entity",
                              send=shared("Entity"), creates=True, missing=False)},
        "/api/meta/entities/{key}": {
            "parameters": [in_path("key")],
            "get": op("meta_get_entity", "An entity definition", "metadata",
                      {200: answer("The definition", shared("Entity"))}, errors(404)),
            "patch": change_op("meta_update_entity", "Change an entity", "metadata", "Entity", send=patch),
            "delete": change_op("meta_archive_entity", "Archive an entity (table and rows kept)", "metadata",
                                "Entity")},
        "/api/meta/entities/{key}/restore": {"parameters": [in_path("key")], "post": change_op(
            "meta_restore_entity", "Restore an archived entity", "metadata", "Entity")},
        "/api/meta/entities/{key}/schema": {"parameters": [in_path("key")], "get": op(
            "meta_entity_schema", "The record JSON Schema (2020-12) of an entity", "metadata",
            {200: answer("JSON Schema", OBJECT)}, errors(404))},
        "/api/meta/entities/{key}/fields": {"parameters": [in_path("key")], "post": change_op(
            "meta_add_field", "Add a field (a column)", "metadata", "Entity", send=shared("Field"), creates=True)},
        "/api/meta/entities/{key}/fields/{field}": {
            "parameters": [in_path("key"), field],
            "patch": change_op("meta_update_field", "Change a field (label, rules, type along a safe conversion)",
                               "metadata", "Entity", send={**FREE, "description": "The attributes to change"}),
            "delete": change_op("meta_archive_field", "Archive a field (column and values kept)", "metadata",
                                "Entity")},
        "/api/meta/entities/{key}/fields/{field}/restore": {"parameters": [in_path("key"), field], "post": change_op(
            "meta_restore_field", "Bring an archived field back with its values", "metadata", "Entity")},
        "/api/meta/entities/{key}/fields/{field}/rename": {"parameters": [in_path("key"), field], "post": change_op(
            "meta_rename_field", "Rename a field and its column, data kept", "metadata", "Entity",
            send=obj({"new_key": STRING}, ("new_key",)))},
        "/api/meta/revisions": {"get": op(
            "meta_revisions", "Numbered metadata revisions, newest first", "metadata",
            {200: answer("Revisions", items_of(shared("Revision")))}, errors(400), parameters=[
                query("limit", INTEGER, "How many (1–1000, default 100; values outside are clamped)"),
                query("before", {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX},
                      "Only revisions numbered below this")])},
        "/api/meta/schemas/{kind}": {"get": op(
            "meta_schema", "A meta-schema definitions must satisfy", "metadata", {200: answer("JSON Schema", OBJECT)},
            errors(404), parameters=[in_path("kind", {"enum": meta_schemas.names()})])},
        "/api/meta/field-types": {"get": op(
            "meta_field_types", "Field types: options, filter operators, safe conversions", "metadata",
            {200: answer("Field types", items_of(shared("FieldType")))})},
    }
    for plural, kind in KIND_PATHS.items():
        name = kind.capitalize()
        schemas.update({name: _definition(kind, KINDS[kind].schema), f"{name}Change": _change(kind, name)})
        merged = {**FREE, "description": "Top-level attributes merged into the definition (null removes one); "
                                           "lists such as tags or stages are replaced whole"}
        key = [in_path("key")]
        paths[f"/api/meta/{plural}"] = {
            "get": op(f"meta_list_{plural}", f"{name} definitions and the current revision", plural,
                      {200: answer("Definitions", items_of(shared(name), revision=INTEGER))}, parameters=[ARCHIVED]),
            "post": change_op(f"meta_create_{kind}", f"Create a {kind}", plural, name, send=shared(name), creates=True,
                              missing=False)}
        paths[f"/api/meta/{plural}/{{key}}"] = {
            "parameters": key,
            "get": op(f"meta_get_{kind}", f"A {kind} definition", plural, {200: answer("The definition", shared(name))},
                      errors(404)),
            "patch": change_op(f"meta_update_{kind}", f"Change a {kind}", plural, name, send=merged),
            "delete": change_op(f"meta_archive_{kind}", f"Archive a {kind}", plural, name)}
        paths[f"/api/meta/{plural}/{{key}}/restore"] = {"parameters": key, "post": change_op(
            f"meta_restore_{kind}", f"Restore an archived {kind}", plural, name)}
    # The dry run of an automation rule also says how many records it would act on now.
    schemas["AutomationChange"]["properties"]["matches"] = obj(
        {"count": INTEGER, "sample": {"type": "array", "items": obj({"id": INTEGER, "title": STRING})}},
        ("count", "sample"), "Dry run only: the records the rule would act on now (a time trigger: on the "
                             "worker's next run), their number and the first few")
    return paths


def _automation_paths() -> dict:
    run = obj({"id": INTEGER, "automation": STRING, "entity": STRING, "record_id": {"type": ["integer", "null"]},
               "trigger": STRING, "status": {"enum": ["ok", "error", "loop"]},
               "actions": {"type": "array", "items": obj({"type": STRING, "outcome": STRING})},
               "error": NULLABLE_TEXT, "attempt": INTEGER, "depth": INTEGER, "started_at": DATETIME,
               "duration_ms": INTEGER},
              ("id", "automation", "entity", "trigger", "status", "actions", "attempt", "started_at", "duration_ms"))
    return {"/api/automations/{key}/runs": {"get": op(
        "automation_runs", "An automation rule's runs, newest first: trigger, record, each action's outcome "
                           "(and its delivery's state), duration, attempt, error", "automations",
        {200: answer("Runs", items_of(run))},
        errors(400, 403, 404, why={403: ADMIN_ONLY, 404: "No such automation"}),
        parameters=[in_path("key"), query("limit", INTEGER, "How many (1–500, default 50)"),
                    query("before", {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX},
                          "Only runs with a smaller id (the next page)"),
                    query("status", {"enum": ["ok", "error", "loop"]}, "Only runs of this status")])}}


def _bundle_paths() -> dict:
    admin = {403: ADMIN_ONLY}
    options = [DRY_RUN, query("on_conflict", {"enum": list(ON_CONFLICT)}, "How to settle conflicts and name clashes"),
               query("sample_data", BOOLEAN, f"{FLAG}: load the bundle's sample records (once per bundle name)"),
               query("expect_revision", INTEGER, "The `revision` of a plan shown earlier: refuse (409) if any "
                                                 "definition changed since")]
    report = {200: answer("The plan (applied unless a dry run)", shared("ImportReport"))}
    return {
        "/api/bundle": {
            "get": op("bundle_export", "Export the configuration as a bundle", "bundles",
                      {200: answer("The bundle", shared("Bundle"), headers={"ETag": {
                          "description": "The bundle's checksum", "schema": STRING}})},
                      errors(403, 404, 422, why=admin), parameters=[
                          query("only", STRING, "Comma-separated `key` or `kind:key` of the definitions to export "
                                                "(404 naming any that is not active)"),
                          query("name", STRING, "The bundle name (default `export`)"),
                          query("version", STRING, "The bundle version (default `1.0.0`)"),
                          query("sample_data", BOOLEAN, f"{FLAG}: include the live records as sample data")]),
            "post": op("bundle_import", "Import a bundle (plan first, then apply all or nothing)", "bundles", report,
                       errors(400, 403, 409, 413, 422, why=admin), parameters=options,
                       requestBody=body(shared("Bundle")))},
        "/api/bundle/installed": {"get": op(
            "bundle_installed", "Installed bundles", "bundles", {200: answer("Install records", items_of(obj({
                "name": STRING, "version": STRING, "checksum": STRING, "installed_at": DATETIME,
                "actor": STRING, "sample_data": BOOLEAN})))}, errors(403, why=admin))},
        "/api/bundle/schema": {"get": op("bundle_schema", "The bundle meta-schema", "bundles",
                                         {200: answer("JSON Schema", OBJECT)}, errors(403, why=admin))},
        "/api/bundle/templates": {"get": op(
            "bundle_templates", "The template library", "bundles", {200: answer("Templates", items_of(obj({
                "name": STRING, "version": STRING, "label": {}, "description": {}, "checksum": STRING,
                "definitions": {"type": "object", "description": "kind → number of definitions"},
                "sample_records": INTEGER})))}, errors(403, why=admin))},
        "/api/bundle/templates/{name}/install": {"post": op(
            "bundle_template_install", "Install a template of the library", "bundles", report,
            errors(400, 403, 404, 409, 422, why=admin), parameters=[in_path("name")] + options)},
    }


def _report_paths() -> dict:
    """Reports (docs/reports.md): run a definition, a saved report's data, dashboards."""
    cell = {"type": ["string", "number", "boolean", "null"]}
    data = obj({"entity": STRING, "columns": {"type": "array", "items": STRING},
                "rows": {"type": "array", "items": {"type": "array", "items": cell}},
                "links": {"type": "array", "items": STRING, "description": "Per row: the list query giving its records"},
                "time_zone": STRING, "report": OBJECT}, ("entity", "columns", "rows", "links", "time_zone"))
    files = {"text/csv": {"schema": {"type": "string"}},
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}
    fmt = query("format", {"enum": ["json", "csv", "xlsx"]}, "json (default), csv or xlsx")
    tz = query("tz", STRING, "The time zone of date buckets and periods (Asia/Shanghai, +08:00); default: the "
                             "browser's, else UTC")
    figures = {"description": "The rows, each with the list query that reproduces it", **json_of(data), }
    figures["content"].update(files)
    return {
        "/api/reports/run": {"post": op(
            "reports_run", "Compute an unsaved report definition", "reports", {200: figures},
            errors(400, 403, 413, 422), parameters=[fmt, tz],
            requestBody=body(obj({"entity": STRING, "type": {"enum": ["grouped", "funnel", "conversion"]},
                                  "filters": OBJECT, "group_by": {"type": "array", "items": STRING},
                                  "measures": {"type": "array", "items": STRING}, "time_zone": STRING})))},
        "/api/reports": {"get": op("reports_list", "The saved reports the user may read", "reports",
                                   {200: answer("Reports", items_of(OBJECT))})},
        "/api/reports/{key}/data": {"get": op(
            "reports_data", "A saved report's figures", "reports", {200: figures}, errors(400, 403, 404, 422),
            parameters=[in_path("key"), fmt, tz])},
        "/api/dashboards": {"get": op("dashboards_list", "The dashboards the user's roles see", "reports",
                                      {200: answer("Dashboards", items_of(OBJECT))})},
        "/api/dashboards/{key}": {"get": op("dashboards_get", "A dashboard", "reports",
                                            {200: answer("The dashboard", OBJECT)}, errors(404),
                                            parameters=[in_path("key")])},
    }


def platform_paths(schemas: dict) -> dict:
    """Every fixed endpoint; adds the component schemas they use to ``schemas`` (named with PREFIX)."""
    own = dict(SCHEMAS)
    admin = {403: "Only administrators manage users"}
    user_id = [in_path("id", {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX})]
    paths = {
        "/api": {"get": op("api_index", "Where to start: this instance's entities and their endpoints", "api",
                           {200: answer("The index", obj({
                               "name": STRING, "revision": INTEGER, "openapi": STRING, "entities": {
                                   "type": "array", "items": obj({"key": STRING, "label": {}, "records": STRING,
                                                                  "schema": STRING})}}))})},
        "/api/openapi.json": {"get": op("api_openapi", "This document, for the current metadata revision", "api",
                                        {200: answer("OpenAPI 3.1", OBJECT)})},
        "/api/auth/token": {"post": op(
            "auth_token", "Sign in: get an API token", "auth",
            {201: answer("Send the token as `Authorization: Bearer <token>`", obj({"token": STRING}, ("token",)))},
            errors(400, 401, 413, 422, 429, why={
                401: "Wrong user name or password; or, for a user with a second factor, `totp` missing "
                     "(code totp_required) or wrong or used (totp_invalid); or a role requires a second factor "
                     "the user has not set up (totp_enrolment_required: sign in at /login once)",
                422: "A name or password holding text no database stores (NUL)"}),
            security=[],
            requestBody=body(obj({"username": STRING, "password": STRING,
                                  "totp": {**STRING, "description": "The 6-digit code of the user's authenticator "
                                                                    "app, for users with a second factor"}},
                                 ("username", "password"))))},
        **_meta_paths(own),
        "/api/pipelines/{key}/summary": {"get": op(
            "pipeline_summary", "Per active stage: count, amount, entered, conversion, average days", "pipelines",
            {200: answer("The figures over the records the user may read", shared("PipelineSummary"))},
            errors(400, 403, 404, 409), parameters=[in_path("key"), query(
                "amount", STRING, "An integer or decimal field to total instead of the pipeline's amount_field")])},
        "/api/notifications": {"get": op(
            "notifications_list", "The signed-in user's notifications, newest first, with the unread count",
            "notifications", {200: answer("A page of notifications", shared("Notifications"))}, errors(400),
            parameters=[query("unread", BOOLEAN, f"{FLAG}: only the unread ones"), *PAGING])},
        "/api/notifications/{id}/read": {"post": op(
            "notifications_read", "Mark one of the user's notifications read", "notifications",
            {200: answer("Marked", obj({"id": INTEGER, "read": BOOLEAN, "unread": INTEGER}, ("id", "read", "unread")))},
            errors(404, why={404: "No such notification of this user"}), parameters=user_id)},
        "/api/notifications/read-all": {"post": op(
            "notifications_read_all", "Mark all of the user's notifications read", "notifications",
            {200: answer("Marked", obj({"marked": INTEGER, "unread": INTEGER}, ("marked", "unread")))})},
        "/api/search": {"get": op(
            "search", "Search every entity the user may read: text, e-mail and phone fields and titles", "search",
            {200: answer("Matches, up to `limit` per entity, each with the fields that matched", obj({
                "results": {"type": "array", "items": obj({
                    "entity": STRING, "id": INTEGER, "title": STRING,
                    "matches": {"type": "array", "items": obj({"field": STRING, "value": {}})}},
                    ("entity", "id", "title"))}}, ("results",)))},
            errors(400, why={400: "`q` missing or longer than 100 characters, or a bad `limit`"}),
            parameters=[{**query("q", STRING, "Any substring, case-insensitive (Chinese too); a phone number "
                                              "matches however it is spaced, dashed or prefixed with +86"),
                         "required": True},
                        query("limit", {"type": "integer", "minimum": 1, "maximum": 50}, "Results per entity (10)"),
                        query("entity", STRING, "Only these entities (comma-separated keys)")])},
        "/api/views": {
            "get": op("views_list", "The saved views of a list the user may use: their own and those shared with "
                                    "one of their roles", "views",
                      {200: answer("Views by name", obj({"views": {"type": "array", "items": shared("SavedView")}}))},
                      errors(400, 404), parameters=[{**query("entity", STRING, "The list's entity"), "required": True}]),
            "post": op("views_create", "Save a list's query string under a name, private or shared with a role",
                       "views", {201: answer("Saved", shared("SavedView"))}, errors(400, 403, 404, 413, 422),
                       requestBody=body(obj({
                           "entity": STRING, "name": {**STRING, "maxLength": 100},
                           "query": {**STRING, "maxLength": 4000, "description": "The list's query string: "
                                     "filter[..], q, sort, per_page and columns=a,b"},
                           "role": {**NULLABLE_TEXT, "description": "Share with this role (one the user holds; "
                                                                    "administrators: any); null: private"}},
                           ("entity", "name"), additionalProperties=False)))},
        "/api/views/{id}": {
            "parameters": [in_path("id", {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX})],
            "get": op("views_get", "A saved view", "views", {200: answer("The view", shared("SavedView"))},
                      errors(404, why={404: "No such view, or one not shared with the user"})),
            "patch": op("views_update", "Rename, change the query or the sharing of one's own view", "views",
                        {200: answer("Updated", shared("SavedView"))},
                        errors(400, 403, 404, 413, 422, why={403: "Only the view's owner or an administrator"}),
                        requestBody=body(obj({"name": {**STRING, "maxLength": 100}, "query": STRING,
                                              "role": NULLABLE_TEXT}, additionalProperties=False))),
            "delete": op("views_delete", "Delete one's own view", "views", {204: answer("Deleted")},
                         errors(403, 404, why={403: "Only the view's owner or an administrator"}))},
        "/api/approvals": {"get": op(
            "approvals_list", "Approvals of stage moves, newest first", "approvals",
            {200: answer("A page of approvals", obj({"items": {"type": "array", "items": shared("Approval")},
                                                     "total": INTEGER, "page": INTEGER, "per_page": INTEGER,
                                                     "pages": INTEGER}, ("items", "total")))},
            errors(400, 403, 404), parameters=[
                query("mine", BOOLEAN, f"{FLAG}: those I may decide (pending ones unless `status` says otherwise)"),
                query("status", {"enum": ["pending", "approved", "rejected", "withdrawn"]}, "Only this status"),
                query("entity", STRING, "With record_id: the approvals of one record (which the caller may read)"),
                query("record_id", {"type": "integer", "minimum": 1}, "With entity"), *PAGING])},
        "/api/approvals/{id}": {"get": op(
            "approvals_get", "One approval (its requester, approvers, administrators and readers of the record)",
            "approvals", {200: answer("The approval", shared("Approval"))}, errors(404), parameters=user_id)},
        "/api/approvals/{id}/approve": {"post": op(
            "approvals_approve", "Approve a pending move: the record moves (stage history, audit with the comment)",
            "approvals", {200: answer("Approved", shared("Approval"))},
            errors(400, 403, 404, 409, 422, why={403: "Only the approvers (the role, or the named user) or an administrator decide",
                                                 409: "Already decided, or the move is no longer allowed"}),
            parameters=user_id, requestBody=body(obj({"comment": {**STRING, "maxLength": 2000}})))},
        "/api/approvals/{id}/reject": {"post": op(
            "approvals_reject", "Reject a pending move (a comment is required): the record stays in its stage",
            "approvals", {200: answer("Rejected", shared("Approval"))},
            errors(400, 403, 404, 409, 422, why={403: "Only the approvers (the role, or the named user) or an administrator decide",
                                                 409: "Already decided", 422: "No comment"}),
            parameters=user_id, requestBody=body(obj({"comment": {**STRING, "maxLength": 2000}}, ("comment",))))},
        "/api/approvals/{id}/withdraw": {"post": op(
            "approvals_withdraw", "Withdraw a pending request (its requester, or an administrator): the record stays "
                                  "in its stage",
            "approvals", {200: answer("Withdrawn", shared("Approval"))},
            errors(400, 403, 404, 409, 422, why={403: "Only the user who asked, or an administrator, withdraws",
                                            409: "No longer pending (the message names its status)"}),
            parameters=user_id, requestBody=body(obj({"comment": {**STRING, "maxLength": 2000}})))},
        "/api/users": {
            "get": op("users_list", "Users", "users", {200: answer("Users", items_of(shared("User")))},
                      errors(403, why=admin)),
            "post": op("users_create", "Create a user", "users", {201: answer("Created", shared("User"))},
                       errors(400, 403, 409, 413, 422, why=admin), requestBody=body(obj(
                           {"username": STRING, "password": {**STRING, "minLength": 8}, "is_admin": BOOLEAN,
                            "roles": {"type": "array", "items": STRING}}, ("username", "password"))))},
        "/api/users/{id}": {
            "parameters": user_id,
            "get": op("users_get", "A user", "users", {200: answer("The user", shared("User"))},
                      errors(403, 404, why=admin)),
            "patch": op("users_update", "Change roles, flags or the password (deactivating or a new password revokes "
                                        "the user's tokens)", "users", {200: answer("Updated", shared("User"))},
                        errors(400, 403, 404, 409, 413, 422, why={
                            **admin, 409: "The last active administrator cannot be demoted or deactivated"}),
                        requestBody=body(obj(
                            {"roles": {"type": "array", "items": STRING}, "is_admin": BOOLEAN, "active": BOOLEAN,
                             "password": {**STRING, "minLength": 8}}, additionalProperties=False)))},
        "/api/users/{id}/totp": {
            "parameters": user_id,
            "delete": op("users_reset_totp", "Reset a user's second factor (a lost phone): they sign in with the "
                                             "password, or set one up again if a role requires it", "users",
                         {200: answer("The user", shared("User"))}, errors(403, 404, why=admin))},
        **_bundle_paths(),
        **_report_paths(),
        **_automation_paths(),
        "/api/imports/{id}": {"get": op(
            "import_status", "A background import: its progress, then its report", "imports",
            {202: answer("Still running", shared("RecordImportJob"), headers={"Retry-After": {
                "description": "Seconds to wait before polling again", "schema": STRING}}),
             200: answer("Done: the report, as the synchronous import answers it", {"allOf": [
                 shared("RecordImportReport"), shared("RecordImportJob")]})},
            errors(400, 404, 413, 422, why={404: "No such import, or another user's",
                                            400: "The file was refused as a whole (see errors)",
                                            413: "The file was refused as a whole (see errors)",
                                            422: "The options were refused (see errors)"}),
            parameters=[in_path("id", {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX})])},
    }
    schemas.update({f"{PREFIX}{name}": schema for name, schema in own.items()})
    return paths
