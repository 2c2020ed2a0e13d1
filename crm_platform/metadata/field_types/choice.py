"""Choice field types: select (one key) and multi_select (a list of keys)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ..keys import key_problem
from .base import END, FieldType, Invalid, Unconvertible, cell_text, register, type_error
from .label import label_schema_ref
from . import grouping as grp


def choice_keys(field) -> list[str]:
    return [c["key"] for c in field.get("choices") or []]


def choice_lookup(field) -> dict[str, str]:
    """Key, and every label in every language (case-folded), to the choice key."""
    table: dict[str, str] = {}
    for choice in field.get("choices") or []:
        label = choice.get("label")
        labels = label.values() if isinstance(label, dict) else [label]
        for text in labels:
            if isinstance(text, str):
                table.setdefault(text.strip().casefold(), choice["key"])
    for key in choice_keys(field):
        table[key.casefold()] = key
    return table


CHOICES_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "maxItems": 500,
    "items": {
        "type": "object",
        "required": ["key", "label"],
        "properties": {
            "key": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,62}" + END},
            "label": label_schema_ref(),
            "color": {"type": "string", "pattern": r"^#[0-9a-fA-F]{6}" + END},
        },
        "additionalProperties": False,
    },
}


class ChoiceType(FieldType):
    """What select and multi_select share: a list of choices with unique keys."""

    def options(self, field, state):
        return [(c["key"], c["label"]) for c in field.get("choices") or []]

    def options_schema(self):
        return {"choices": CHOICES_SCHEMA}

    def definition_problems(self, field, context):
        if not field.get("choices"):
            return [("choices", f"a {self.name} field needs at least one choice")]
        return _choice_problems(field)


def multiple_from_form(raw):
    """Several posted choices as a list (None when none was picked)."""
    picked = [v.strip() for v in (raw if isinstance(raw, list) else [raw]) if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(picked)) or None


def _choice_problems(field):
    keys = choice_keys(field)
    problems = []
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        problems.append(("choices", f"choice keys must be unique; repeated: {', '.join(dupes)}"))
    for k in keys:
        why = key_problem(k)
        if why and "reserved" not in why:  # choice keys are values, not SQL identifiers
            problems.append(("choices", f"choice key {k!r} {why}"))
    return problems


@register
class Select(ChoiceType):
    name = "select"
    title = {"en": "Choice", "zh": "单选"}
    control = "choice"
    inline_editable = True
    operators = ("eq", "ne", "in", "not_in")
    converts_to = frozenset({"text", "long_text", "multi_select"})

    def column_type(self, field):
        return sa.Text()

    def formula_operand(self, field):
        return ("str", 0)  # the choice's key

    def value_schema(self, field):
        return {"type": "string", "enum": choice_keys(field)}

    def compile_checker(self, field):
        allowed = frozenset(choice_keys(field))
        listing = ", ".join(choice_keys(field))

        def check(value):
            if type(value) is not str:
                raise type_error("one of the choice keys")
            if value not in allowed:
                raise Invalid("enum", f"must be one of: {listing}")
            return value

        return check

    def group_specs(self, field):
        return (None,)

    def grouping(self, field, column, spec, ctx, link=None):
        grp.no_spec(self, spec)
        return grp.value_grouping(self, field, column, order=choice_keys(field))

    def parse_text(self, field, text):
        return self._parse(choice_lookup(field), field, text)

    @staticmethod
    def _parse(lookup, field, text):
        key = lookup.get(text.strip().casefold())
        if key is None:
            raise Invalid("enum", f"must be one of: {', '.join(choice_keys(field))}")
        return key

    def compile_import(self, field):
        lookup = choice_lookup(field)
        return lambda cell, resolve=None: self._parse(lookup, field, cell_text(cell))


@register
class MultiSelect(ChoiceType):
    name = "multi_select"
    title = {"en": "Choices", "zh": "多选"}
    multi_valued = True
    control = "choices"
    indexable = False
    operators = ("has_any", "has_all", "has_none")
    converts_to = frozenset({"select", "text", "long_text"})

    def column_type(self, field):
        # none_as_null: an empty value is SQL NULL, never the JSON scalar null. Writes list every
        # column of the entity (absent fields as None), and on PostgreSQL a JSON null breaks
        # jsonb_array_length in the list filters ("cannot get array length of a scalar").
        return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

    def storage_signature(self, field):
        return ("json",)

    def value_schema(self, field):
        schema = {"type": "array", "items": {"type": "string", "enum": choice_keys(field)}, "uniqueItems": True}
        if field.get("required"):
            schema["minItems"] = 1
        return schema

    def compile_checker(self, field):
        allowed = frozenset(choice_keys(field))
        listing = ", ".join(choice_keys(field))
        required = bool(field.get("required"))

        def check(value):
            if type(value) is not list:
                raise type_error("a list of choice keys")
            for item in value:
                if type(item) is not str:
                    raise type_error("a list of choice keys")
                if item not in allowed:
                    raise Invalid("enum", f"must contain only: {listing}")
            if len(set(value)) != len(value):
                raise Invalid("uniqueItems", "must not repeat a choice")
            if required and not value:
                raise Invalid("minItems", "must have at least one choice")
            return value

        return check

    def format_text(self, field, value):
        return "" if value is None else ", ".join(value)

    def form_text(self, field, value, tz=None):
        return list(value or [])

    def from_form(self, field, raw, tz=None):
        return multiple_from_form(raw)

    def parse_text(self, field, text):
        return self._parse(choice_lookup(field), self.compile_checker(field), field, text)

    def compile_import(self, field):
        lookup, check = choice_lookup(field), self.compile_checker(field)
        return lambda cell, resolve=None: self._parse(lookup, check, field, cell_text(cell))

    @staticmethod
    def _parse(lookup, check, field, text):
        keys = []
        for part in (p.strip() for p in text.replace("，", ",").replace(";", ",").split(",")):
            if not part:
                continue
            key = lookup.get(part.casefold())
            if key is None:
                raise Invalid("enum", f"{part!r} is not a choice; choices: {', '.join(choice_keys(field))}")
            if key not in keys:
                keys.append(key)
        return check(keys)

    def convert(self, old_type, old_field, new_field, value):
        if value is not None and old_type.name == "multi_select" and len(value) > 1:
            raise Unconvertible("holds more than one choice")
        return super().convert(old_type, old_field, new_field, value)

    def group_specs(self, field):
        return (None,)

    def grouping(self, field, column, spec, ctx, link=None):
        """One row per choice a record holds (a record without any is one row with null)."""
        grp.no_spec(self, spec)
        if ctx.dialect == "postgresql":
            array = sa.case((sa.func.jsonb_typeof(column) == "array", column), else_=sa.literal_column("'[]'::jsonb", postgresql.JSONB))
            each = sa.func.jsonb_array_elements_text(array).table_valued("value").lateral(ctx.alias)
        else:
            each = sa.func.json_each(column).table_valued("value").alias(ctx.alias)
        return grp.Grouping(each.c.value, join=lambda source: source.outerjoin(each, sa.true()),
                            cell=lambda v: grp.empty_cell(v) or [("has_any", v)],
                            order=grp.ranked(each.c.value, choice_keys(field)))

    def empty_clause(self, column, dialect):
        if dialect == "postgresql":
            # A record saved without the field holds JSON null, whose "array length" PostgreSQL refuses.
            return sa.or_(column.is_(None), column.in_([sa.literal_column("'null'::jsonb"), sa.literal_column("'[]'::jsonb")]))
        return sa.or_(column.is_(None), sa.func.json_array_length(column) == 0)

    def filter_clause(self, column, op, values, field, dialect):
        if dialect == "postgresql":
            array = postgresql.array(values, type_=sa.Text)
            if op == "has_any":
                return column.op("?|", return_type=sa.Boolean)(array)
            if op == "has_all":
                return column.op("?&", return_type=sa.Boolean)(array)
            return sa.or_(column.is_(None), sa.not_(column.op("?|", return_type=sa.Boolean)(array)))
        each = sa.func.json_each(column).table_valued("value")
        matches = sa.select(sa.func.count(sa.distinct(each.c.value))).where(each.c.value.in_(values)).scalar_subquery()
        if op == "has_any":
            return matches > 0
        if op == "has_all":
            return matches == len(set(values))
        return sa.or_(column.is_(None), matches == 0)
