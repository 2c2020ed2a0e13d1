"""Reference fields: a real foreign key to another entity's record."""
from __future__ import annotations

import sqlalchemy as sa

from ..keys import table_name
from .base import END, FieldType, Invalid, cell_text, register, type_error
from . import grouping as grp

ON_DELETE = {"restrict": "RESTRICT", "set_null": "SET NULL", "cascade": "CASCADE"}


@register
class Reference(FieldType):
    name = "reference"
    title = {"en": "Reference", "zh": "关联"}
    #: Joins and ON DELETE look rows up by this column.
    always_indexed = True
    control = "record"
    operators = ("eq", "ne", "in", "not_in")
    converts_to = frozenset()

    def options_schema(self):
        return {
            "target": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}" + END},
            "on_delete": {"enum": sorted(ON_DELETE)},
        }

    def definition_problems(self, field, context):
        target = field.get("target")
        if not target:
            return [("target", "a reference field needs a target entity")]
        if not context.entity_is_available(target):
            return [("target", f"there is no active entity '{target}' to reference")]
        return []

    def target_entity(self, field):
        return field.get("target")

    def group_specs(self, field):
        return (None,)

    def grouping(self, field, column, spec, ctx, link=None):
        grp.no_spec(self, spec)
        return grp.value_grouping(self, field, column)

    def on_delete(self, field) -> str:
        return field.get("on_delete") or "restrict"

    def column_type(self, field):
        return sa.BigInteger()

    def formula_operand(self, field):
        return ("ref", 0)

    def storage_signature(self, field):
        return ("reference", field.get("target"), self.on_delete(field))

    def foreign_key(self, field):
        return sa.ForeignKey(f"{table_name(field['target'])}.id", ondelete=ON_DELETE[self.on_delete(field)])

    def value_schema(self, field):
        return {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}

    def compile_checker(self, field):
        def check(value):
            if type(value) is not int:
                raise type_error("the id of a record")
            if value < 1 or value > 2**63 - 1:
                raise Invalid("minimum" if value < 1 else "maximum", "must be the id of a record")
            return value

        return check

    def parse_text(self, field, text):
        try:
            return self.compile_checker(field)(int(text.strip()))
        except ValueError:
            raise type_error("the id of a record") from None

    def import_value(self, field, cell, resolve=None):
        """A cell naming the target record by its title or a unique field (``resolve`` looks it up),
        else by its id."""
        text = cell_text(cell)
        found = resolve(field["target"], text) if resolve is not None else None
        if found is not None:
            return found
        if text.isascii() and text.isdigit():
            return self.parse_text(field, text)
        raise Invalid("reference", f"no {field['target']} record is named {text!r}")

    def from_form(self, field, raw, tz=None):
        text = super().from_form(field, raw)
        return int(text) if text is not None and text.isascii() and text.isdigit() else text
