"""Fields whose values are those of another type: formulas and roll-ups (``formula.py``, ``rollup.py``).

Such a field answers ``result(field)``: the plain field its values are (a decimal of scale 2, a
date...). Everything about the values — column, JSON Schema, output, text, controls, filters,
report groups and measures — is then asked of that result type with the result field, once here
for both kinds of computed field.
"""
from __future__ import annotations

from .base import REGISTRY


class DerivedValues:
    """Delegates the value traits to the result type. Mixed in before ``FieldType``: the class
    defines ``result(field)``; what differs between formulas and roll-ups stays in their classes."""

    def _r(self, field):
        rf = self.result(field)
        return REGISTRY[rf["type"]], rf

    # ---- storage and values ---------------------------------------------------------------------
    def column_type(self, field):
        rtype, rf = self._r(field)
        return rtype.column_type(rf)

    def value_schema(self, field):
        rtype, rf = self._r(field)
        return rtype.value_schema(rf)

    def compile_output(self, field):
        rtype, rf = self._r(field)
        return rtype.compile_output(rf)

    def parse_text(self, field, text):
        rtype, rf = self._r(field)
        return rtype.parse_text(rf, text)

    def sum_zero(self, field):
        rtype, rf = self._r(field)
        return rtype.sum_zero(rf)

    # ---- text and controls ----------------------------------------------------------------------
    def format_text(self, field, value):
        rtype, rf = self._r(field)
        return rtype.format_text(rf, value)

    def display_text(self, field, value, locale=None):
        rtype, rf = self._r(field)
        return rtype.display_text(rf, value, locale) if locale is not None else rtype.display_text(rf, value)

    def control_of(self, field):
        rtype, rf = self._r(field)
        return rtype.control_of(rf)

    # ---- reports and queries --------------------------------------------------------------------
    def group_specs(self, field):
        rtype, rf = self._r(field)
        return rtype.group_specs(rf)

    def grouping(self, field, column, spec, ctx, link=None):
        rtype, rf = self._r(field)
        return rtype.grouping(rf, column, spec, ctx, link)

    def measure_ops(self, field):
        rtype, rf = self._r(field)
        return rtype.measure_ops(rf)

    def average(self, field, total, count):
        rtype, rf = self._r(field)
        return rtype.average(rf, total, count)

    def average_places(self, field):
        rtype, rf = self._r(field)
        return rtype.average_places(rf)

    def empty_clause(self, column, dialect):
        return column.is_(None)

    def filter_clause(self, column, op, values, field, dialect):
        rtype, rf = self._r(field)
        return rtype.filter_clause(column, op, values, rf, dialect)
