"""The record JSON Schema (2020-12) of an entity, derived from its definition.

It is the published contract (``GET /api/meta/entities/<key>/schema``, OpenAPI) and the oracle
the compiled validator is tested against. It comes in two readings that differ only where the
platform sets values a write may not (tags applied by rules): ``record_schema(doc)`` is what a
write may send (request bodies; the validator's oracle), ``record_schema(doc, answer=True)`` what
the API answers (responses; the served schema), those values marked readOnly. Computed fields
(roll-ups, formulas; the type's ``computed`` trait) are only in the answer reading, readOnly.
"""
from __future__ import annotations

from ..metadata.field_types import REGISTRY
from ..metadata.field_types.temporal import DATETIME_PATTERN
from ..i18n import text_of
from .validation import MAX_USER_ID

SYSTEM_PROPERTIES = {
    "id": {"type": "integer", "readOnly": True, "description": "Record id, assigned by the platform."},
    "version": {"type": "integer", "minimum": 1,
                "description": "Row version; send it back on PATCH to be told (409) when someone else changed the record."},
    "created_at": {"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN, "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN, "readOnly": True},
    "created_by": {"type": ["integer", "null"], "readOnly": True},
    "updated_by": {"type": ["integer", "null"], "readOnly": True},
    "owner_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_USER_ID,
                 "description": "The user who owns the record: the id of an existing user (422 otherwise)."},
}


def field_schema(field: dict, *, answer: bool = False) -> dict:
    ftype = REGISTRY[field["type"]]
    value = ftype.answer_schema(field) if answer else ftype.value_schema(field)
    annotations = {"title": text_of(field.get("label") or field["key"], "en")}
    if ftype.computed:  # roll-ups and formulas: answered, never written (request schemas leave them out)
        annotations["readOnly"] = True
    if field.get("help"):
        annotations["description"] = text_of(field["help"], "en")
    if field.get("default") is not None:
        annotations["default"] = field["default"]
    if field.get("required"):
        return {**value, **annotations}
    # One flat list of alternatives: a decimal is a number, decimal text or null, not nested anyOf.
    alternatives = value["anyOf"] if list(value) == ["anyOf"] else [value]
    return {"anyOf": [*alternatives, {"type": "null"}], **annotations}


def record_schema(doc: dict, *, answer: bool = False) -> dict:
    fields = doc.get("fields", [])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:crm:record:{doc['key']}",
        "title": text_of(doc["label"], "en"),
        "type": "object",
        # A computed field is in answers (readOnly) but not in what a write may send: additionalProperties
        # then refuses it, as the compiled validator does.
        "properties": {**SYSTEM_PROPERTIES, **{f["key"]: field_schema(f, answer=answer) for f in fields
                                               if answer or not REGISTRY[f["type"]].computed}},
        "required": [f["key"] for f in fields if f.get("required") and f.get("default") is None],
        "additionalProperties": False,
    }


def patch_schema(doc: dict) -> dict:
    """PATCH sends only the fields that change: nothing is required, null still is refused where it is."""
    schema = record_schema(doc)
    schema["required"] = []
    schema["$id"] += ":patch"
    return schema
