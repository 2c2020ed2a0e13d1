"""Meta-schemas: the JSON Schema 2020-12 documents that every definition must satisfy.

The common parts are files in ``schemas/``; the per-type options of fields come from the
field-type registry, so a new field type brings its options with it.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from .field_types import REGISTRY

SCHEMA_DIR = Path(__file__).with_name("schemas")


def field_type_options_schema() -> dict:
    branches = []
    for name, ftype in sorted(REGISTRY.items()):
        branches.append({
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": {"properties": ftype.options_schema()},
        })
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:crm:field-type-options", "allOf": branches}


def field_type_names_schema() -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:crm:field-type-names",
            "enum": sorted(REGISTRY)}


def names() -> list[str]:
    """The meta-schemas there are: one file each (entity, field, label and every definition kind)."""
    return sorted(p.name.split(".")[0] for p in SCHEMA_DIR.glob("*.schema.json"))


def load_file(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def registry() -> Registry:
    docs = [load_file(p.name.split(".")[0]) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))]
    docs += [field_type_options_schema(), field_type_names_schema()]
    return Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in docs)


@lru_cache(maxsize=None)
def validator(kind: str) -> Draft202012Validator:
    schema = load_file(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry())


def assembled(kind: str) -> dict:
    """The meta-schema with every reference it uses, as one document (served by the API)."""
    doc = load_file(kind)
    doc["$defs"] = {**doc.get("$defs", {}), **{
        "label": load_file("label"), "field": load_file("field"),
        "field_type_options": field_type_options_schema(), "field_type_names": field_type_names_schema(),
    }}
    return doc
