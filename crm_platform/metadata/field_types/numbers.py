"""Numeric and boolean field types: integer, decimal, boolean."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from ...sqltypes import DECIMAL_PRECISION, ExactDecimal
from .base import FieldType, Invalid, cell_text, register, type_error
from . import grouping as grp
from .decimal_text import DECIMAL_TEXT, text_pattern

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Banded:
    """Numbers group in reports by their value or by bands (``<field>:bands:10,50``)."""

    #: How a report's refusal names the type ("a whole number groups by ...").
    grouped_as: str

    def group_specs(self, field):
        return (None, "bands")

    def grouping(self, field, column, spec, ctx, link=None):
        if spec and spec.startswith("bands:"):
            return grp.band_grouping(self, field, column, spec[len("bands:"):])
        if spec:
            raise Invalid("group_by", f"{self.grouped_as} groups by its value or by bands ('<field>:bands:10,50'), "
                                      f"not '{spec}'")
        return grp.value_grouping(self, field, column)


@register
class Integer(Banded, FieldType):
    name = "integer"
    grouped_as = "a whole number"
    may_hold_user_id = True
    title = {"en": "Whole number", "zh": "整数"}
    orderable = True
    summable = True
    control = "number"
    inline_editable = True
    operators = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")
    converts_to = frozenset({"decimal", "text", "long_text"})

    def options_schema(self):
        return {"min": {"type": "integer"}, "max": {"type": "integer"}}

    def definition_problems(self, field, context):
        if field.get("min") is not None and field.get("max") is not None and field["min"] > field["max"]:
            return [("min", "min must not be greater than max")]
        return []

    def bounds(self, field):
        lo, hi = field.get("min"), field.get("max")
        return (INT64_MIN if lo is None else max(lo, INT64_MIN)), (INT64_MAX if hi is None else min(hi, INT64_MAX))

    def column_type(self, field):
        return sa.BigInteger()

    def formula_operand(self, field):
        return ("num", 0)

    def sum_zero(self, field):
        return 0


    def value_schema(self, field):
        lo, hi = self.bounds(field)
        return {"type": "integer", "minimum": lo, "maximum": hi}

    def compile_checker(self, field):
        lo, hi = self.bounds(field)

        def check(value):
            if type(value) is not int:
                raise type_error("a whole number")
            if value < lo:
                raise Invalid("minimum", f"must be at least {lo}")
            if value > hi:
                raise Invalid("maximum", f"must be at most {hi}")
            return value

        return check

    def parse_text(self, field, text):
        text = text.strip().replace(",", "") if isinstance(text, str) else text
        try:
            number = Decimal(text)
        except (InvalidOperation, TypeError, ValueError):
            raise type_error("a whole number") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise type_error("a whole number")
        return self.compile_checker(field)(int(number))

    def compile_import(self, field):
        check = self.compile_checker(field)

        def convert(cell, resolve=None):
            if type(cell) is int:  # a number cell: no text round trip
                return check(cell)
            return self.import_value(field, cell, resolve)
        return convert

    def from_form(self, field, raw, tz=None):
        text = super().from_form(field, raw)
        try:
            return self.parse_text({}, text) if text is not None else None
        except Invalid:
            return text  # the record service says what is wrong with it


@register
class DecimalType(Banded, FieldType):
    """Exact decimals with a fixed number of decimal places (``scale``), at most 18 digits.

    A value is a JSON number or a string holding a decimal ("12.50", see decimal_text), read
    exactly either way; values always go out as JSON numbers.
    """

    name = "decimal"
    grouped_as = "a decimal"
    title = {"en": "Decimal number", "zh": "小数"}
    orderable = True
    summable = True
    control = "decimal"
    inline_editable = True
    operators = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")
    converts_to = frozenset({"integer", "text", "long_text"})
    default_scale = 2

    def options_schema(self):
        return {
            "min": {"type": "number"},
            "max": {"type": "number"},
            "scale": {"type": "integer", "minimum": 0, "maximum": 10},
        }

    def definition_problems(self, field, context):
        if field.get("min") is not None and field.get("max") is not None and field["min"] > field["max"]:
            return [("min", "min must not be greater than max")]
        return []

    def scale(self, field) -> int:
        s = field.get("scale")
        return self.default_scale if s is None else s

    def limit(self, field) -> Decimal:
        # Exclusive bound on the magnitude: DECIMAL_PRECISION digits in all.
        return Decimal(10) ** (DECIMAL_PRECISION - self.scale(field))

    def column_type(self, field):
        return ExactDecimal(self.scale(field))

    def formula_operand(self, field):
        return ("num", self.scale(field))

    def sum_zero(self, field):
        return Decimal(0).quantize(Decimal(1).scaleb(-self.scale(field)))

    def average_places(self, field):
        return self.scale(field) + 2


    def storage_signature(self, field):
        return ("decimal", self.scale(field))

    def bounds(self, field) -> tuple[Decimal | None, Decimal | None]:
        lo, hi = field.get("min"), field.get("max")
        return (None if lo is None else Decimal(str(lo))), (None if hi is None else Decimal(str(hi)))

    def value_schema(self, field):
        limit = self.limit(field)
        lo, hi = self.bounds(field)
        number = {
            "type": "number",
            "multipleOf": Decimal(1).scaleb(-self.scale(field)),
            "exclusiveMinimum": -limit,
            "exclusiveMaximum": limit,
        }
        if lo is not None:
            number["minimum"] = lo
        if hi is not None:
            number["maximum"] = hi
        text = {"type": "string", "pattern": text_pattern(self.scale(field), lo, hi),
                "description": "The same decimal as text, e.g. \"12.50\" (no exponent), within the same rules"}
        return {"anyOf": [number, text]}

    def compile_checker(self, field):
        scale = self.scale(field)
        quantum = Decimal(1).scaleb(-scale)
        limit = self.limit(field)
        lo, hi = self.bounds(field)

        def check(value):
            kind = type(value)
            if kind is int:
                value = Decimal(value)
            elif kind is float:  # Python callers; the API parses JSON numbers as Decimal
                value = Decimal(repr(value))
            elif kind is str:  # exact text, as JavaScript clients send money; never through a float
                if DECIMAL_TEXT.fullmatch(value) is None:
                    raise Invalid("pattern", 'must be a number, or a decimal as text such as "12.50" (no exponent)')
                value = Decimal(value)
            elif kind is not Decimal:
                raise type_error('a number (or a decimal as text, such as "12.50")')
            if not value.is_finite():
                raise type_error("a finite number")
            if value <= -limit or value >= limit:
                raise Invalid("exclusiveMaximum" if value > 0 else "exclusiveMinimum",
                              f"must have at most {DECIMAL_PRECISION - scale} digits before the decimal point")
            if value.as_tuple().exponent < -scale and value != round(value, scale):
                raise Invalid("multipleOf", f"must have at most {scale} decimal places")
            if lo is not None and value < lo:
                raise Invalid("minimum", f"must be at least {lo}")
            if hi is not None and value > hi:
                raise Invalid("maximum", f"must be at most {hi}")
            # The value as the column stores it (1500 → 1500.00): what the audit trail and the
            # write hooks see is what a read gives back, whichever path wrote the record.
            return value.quantize(quantum)

        return check

    def to_json(self, value):
        return value  # a Decimal; the JSON encoder writes it as an exact number

    def compile_output(self, field):
        return None  # the Decimal as stored

    def parse_text(self, field, text):
        if isinstance(text, str):
            try:
                text = Decimal(text.strip().replace(",", ""))
            except InvalidOperation:
                raise type_error("a number") from None
        return self.compile_checker(field)(text)

    def compile_import(self, field):
        check = self.compile_checker(field)

        def convert(cell, resolve=None):
            if type(cell) in (int, float):  # a number cell: exact from its shortest repr, as cell_text gives it
                return check(Decimal(cell_text(cell)))
            return self.import_value(field, cell, resolve)
        return convert

    def display_text(self, field, value, locale=None):
        # Amounts are read in groups of three digits ("8,474,244.00"); the scale is kept as stored.
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except InvalidOperation:
            return str(value)
        return f"{number:,f}" if number.is_finite() else str(value)

    def from_form(self, field, raw, tz=None):
        text = super().from_form(field, raw)
        try:
            return Decimal(text.replace(",", "")) if text is not None else None
        except InvalidOperation:
            return text  # the record service says what is wrong with it


@register
class Boolean(FieldType):
    name = "boolean"
    title = {"en": "Yes/no", "zh": "是否"}
    control = "boolean"
    inline_editable = True
    operators = ("eq", "ne")
    converts_to = frozenset({"text"})
    TRUE = {"true", "1", "yes", "y", "on", "是", "t"}
    FALSE = {"false", "0", "no", "n", "off", "否", "f"}

    def column_type(self, field):
        return sa.Boolean(create_constraint=False)

    def formula_operand(self, field):
        return ("bool", 0)

    def value_schema(self, field):
        return {"type": "boolean"}

    def compile_checker(self, field):
        def check(value):
            if type(value) is not bool:
                raise type_error("true or false")
            return value

        return check

    def format_text(self, field, value):
        return "" if value is None else ("true" if value else "false")

    def grouping(self, field, column, spec, ctx, link=None):
        grp.no_spec(self, spec)
        return grp.value_grouping(self, field, column, value=bool)

    def group_specs(self, field):
        return (None,)

    def parse_text(self, field, text):
        word = text.strip().lower() if isinstance(text, str) else text
        if word in self.TRUE:
            return True
        if word in self.FALSE:
            return False
        raise type_error("true or false (yes/no, 1/0)")

    def from_form(self, field, raw, tz=None):
        text = super().from_form(field, raw)
        if text is None:
            return None
        word = text.lower()
        return True if word in self.TRUE else False if word in self.FALSE else text
