"""Records in and out of JSON with marshmallow; each field delegates to its field type.

The marshmallow fields hold no rules of their own: loading calls the type's compiled checker and
dumping calls its ``to_json``, so the API, the screens and imports agree on every value.
"""
from __future__ import annotations

import marshmallow as ma

from ..metadata.field_types import Invalid, REGISTRY
from ..metadata.field_types.temporal import iso


class TypedField(ma.fields.Field):
    def __init__(self, field: dict, **kwargs):
        super().__init__(allow_none=not field.get("required"), **kwargs)
        self.ftype = REGISTRY[field["type"]]
        self.check = self.ftype.compile_checker(field)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else self.ftype.to_json(value)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.check(value)
        except Invalid as exc:
            raise ma.ValidationError(exc.message) from None


class Stamp(ma.fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else iso(value)


def build_output_schema(entity) -> ma.Schema:
    spec = {
        "id": ma.fields.Integer(),
        "version": ma.fields.Integer(),
        "created_at": Stamp(),
        "updated_at": Stamp(),
        "created_by": ma.fields.Integer(allow_none=True),
        "updated_by": ma.fields.Integer(allow_none=True),
        "owner_id": ma.fields.Integer(allow_none=True),
    }
    for f in entity.fields:
        spec[f["key"]] = TypedField(f)
    return ma.Schema.from_dict(spec, name=f"Record_{entity.key}")()
