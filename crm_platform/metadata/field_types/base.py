"""The field-type contract: one class per type owns everything about that type.

A type knows its options (for the meta-schema), its SQL column, its record JSON Schema fragment,
its compiled checker (the fast validator the record service runs), its JSON output, its text
parsing (CSV import, query-string filters, conversions), its filter operators and the type changes
that are safe from it. Nothing else in the code base switches on a field's type.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, ClassVar

import sqlalchemy as sa

#: Anchor used at the end of every pattern. Python's ``$`` also matches before a final newline,
#: ECMAScript's does not; ``$(?!\n)`` means "end of text" in both, so the published schema and the
#: compiled checker agree.
END = r"$(?!\n)"


class Invalid(Exception):
    """A value breaks a rule. ``code`` is the JSON Schema keyword that expresses the rule."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Unconvertible(Exception):
    """A stored value cannot be carried over to a new field type or option set."""


Checker = Callable[[Any], Any]


class FieldType:
    name: ClassVar[str]
    #: Searched by the list endpoint's free-text ``q`` parameter.
    searchable: ClassVar[bool] = False
    #: Whether ``indexed`` / ``unique`` make sense for this type.
    indexable: ClassVar[bool] = True
    #: Types a field of this type may be changed to; the conversion itself is generic (see convert).
    converts_to: ClassVar[frozenset[str]] = frozenset()
    #: Filter operators accepted in list queries, besides is_empty / is_not_empty.
    operators: ClassVar[tuple[str, ...]] = ("eq", "ne", "in")

    # ---- definition -----------------------------------------------------------------------------
    def options_schema(self) -> dict:
        """JSON Schema properties of the options this type accepts in a field definition."""
        return {}

    def definition_problems(self, field: dict, context) -> list[tuple[str, str]]:
        """Rules about a definition that JSON Schema cannot express: (option, message) pairs."""
        return []

    #: Values live in a link table of their own (``ent_x`` has no column for the field).
    link_stored: ClassVar[bool] = False

    # ---- binding to other definitions -----------------------------------------------------------
    def bind(self, field: dict, state) -> dict:
        """The field as the runtime sees it, with what other definitions contribute.

        A tags field learns its taxonomy's tags, a stage field its pipeline's stages. Keys the
        runtime adds start with ``_``; they are never stored or published.
        """
        return field

    # ---- storage --------------------------------------------------------------------------------
    def column_type(self, field: dict) -> sa.types.TypeEngine:
        raise NotImplementedError

    def storage_signature(self, field: dict) -> tuple:
        """Two fields with equal signatures store values identically: no data rewrite is needed."""
        return (type(self.column_type(field)).__name__,)

    def foreign_key(self, field: dict):
        return None

    # ---- validation -----------------------------------------------------------------------------
    def value_schema(self, field: dict) -> dict:
        """The JSON Schema of a non-null value of this field."""
        raise NotImplementedError

    def compile_checker(self, field: dict) -> Checker:
        """A function that returns the Python value for a JSON value, or raises Invalid.

        It must accept exactly what value_schema accepts: a property test holds the two together.
        """
        raise NotImplementedError

    # ---- output ---------------------------------------------------------------------------------
    def to_json(self, value: Any) -> Any:
        return value

    def compile_output(self, field: dict) -> Callable[[Any], Any] | None:
        """The compiled record dumper's ``to_json`` for this field: a function from a stored non-null
        value to its JSON value, or None when the stored value already is its JSON value (the dumper
        then copies it). ``to_json``, which the marshmallow schema calls, stays the oracle: a
        property test holds the two together. A type that overrides ``to_json`` gets it here unless
        it says better."""
        return None if type(self).to_json is FieldType.to_json else self.to_json

    def format_text(self, field: dict, value: Any) -> str:
        """The value as text: CSV export and the source side of conversions."""
        return "" if value is None else str(value)

    # ---- text input (CSV, filters, conversions) ------------------------------------------------
    def parse_text(self, field: dict, text: str) -> Any:
        """Parse a human-typed string into a valid Python value, or raise Invalid."""
        return self.compile_checker(field)(text)

    def convert(self, old_type: "FieldType", old_field: dict, new_field: dict, value: Any) -> Any:
        """Carry a stored value over from ``old_field`` to this type; raise Unconvertible if lossy."""
        if value is None:
            return None
        try:
            return self.parse_text(new_field, old_type.format_text(old_field, value))
        except Invalid as exc:
            raise Unconvertible(exc.message) from None

    # ---- screens (generated forms, list filters) ------------------------------------------------
    #: The control a generated form shows for a value: an HTML input type (text, textarea, number,
    #: decimal, email, tel, url, date, datetime-local), "boolean" (yes / no / empty), "choice" (one
    #: of ``options``), "choices" (several of ``options``) or "record" (a record of another entity).
    control: ClassVar[str] = "text"

    def control_of(self, field: dict) -> str:
        """The control of this field (a tags field holding one tag is a "choice", several "choices")."""
        return self.control

    def options(self, field: dict, state) -> list[tuple[str, Any]]:
        """(value, label) pairs a choice control offers; labels are label objects ({"en", "zh"})."""
        return []

    def form_text(self, field: dict, value: Any, tz: dt.tzinfo = dt.timezone.utc) -> Any:
        """A record's value as the API writes it (JSON) as its form control shows it (a list for "choices")."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def from_form(self, field: dict, raw: Any, tz: dt.tzinfo = dt.timezone.utc) -> Any:
        """What a form posted (text, or a list for "choices") as the JSON value the record service checks.

        Text that does not parse is passed on unchanged, so the record service names the broken
        rule exactly as it does for the API; nothing here is a second validator.
        """
        if raw is None:
            return None
        text = raw.strip() if isinstance(raw, str) else raw
        return text if text != "" else None

    # ---- queries --------------------------------------------------------------------------------
    def filter_clause(self, column, op: str, values: list, field: dict, dialect: str):
        """SQL condition for ``op``; ``values`` are already parsed with parse_text."""
        return generic_filter(column, op, values)


def generic_filter(column, op: str, values: list):
    v = values[0] if values else None
    if op == "eq":
        return column == v
    if op == "ne":
        # "not X" includes the rows that have no value, as a user reading a list expects.
        return sa.or_(column != v, column.is_(None))
    if op == "in":
        return column.in_(values)
    if op == "not_in":
        return sa.or_(column.not_in(values), column.is_(None))
    if op == "lt":
        return column < v
    if op == "lte":
        return column <= v
    if op == "gt":
        return column > v
    if op == "gte":
        return column >= v
    raise ValueError(op)


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def type_error(expected: str) -> Invalid:
    return Invalid("type", f"must be {expected}")
