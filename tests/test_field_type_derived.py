"""Formulas and roll-ups answer every value question as their result type does, from one mixin
(``field_types/derived.py``) rather than a copy of the same delegating lines in each module."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform.i18n import Locale
from crm_platform.metadata.field_types import REGISTRY

TRAITS = ("column_type", "value_schema", "compile_output", "parse_text", "sum_zero", "format_text", "display_text",
          "control_of", "group_specs", "grouping", "measure_ops", "average", "average_places", "empty_clause",
          "filter_clause")

FORMULAS = [({"key": "f", "type": "formula", "expression": "1", "result": "decimal", "scale": 3}, "12.345"),
            ({"key": "f", "type": "formula", "expression": "1", "result": "integer"}, "7"),
            ({"key": "f", "type": "formula", "expression": "1", "result": "date"}, "2026-03-01"),
            ({"key": "f", "type": "formula", "expression": "1", "result": "text"}, "星河")]
ROLLUPS = [({"key": "r", "type": "rollup", "aggregate": "count", "source": {"entity": "o", "via": "c"}}, "3"),
           ({"key": "r", "type": "rollup", "aggregate": "sum", "field": "amount", "source": {"entity": "o", "via": "c"},
             "_result": {"key": "r", "type": "decimal", "scale": 2}}, "10.50"),
           ({"key": "r", "type": "rollup", "aggregate": "latest", "field": "on", "source": {"entity": "o", "via": "c"},
             "_result": {"key": "r", "type": "datetime"}}, "2026-03-01T08:00:00Z")]


def test_one_mixin_holds_the_delegation_of_both_computed_types():
    from crm_platform.metadata.field_types.derived import DerivedValues
    for name in ("formula", "rollup"):
        cls = type(REGISTRY[name])
        assert issubclass(cls, DerivedValues)
        for trait in TRAITS:
            assert trait not in vars(cls), f"{name} defines {trait} again: it belongs to DerivedValues"


@pytest.mark.parametrize("field, text", FORMULAS + ROLLUPS)
def test_values_of_a_computed_field_are_those_of_its_result_type(field, text):
    ftype = REGISTRY[field["type"]]
    rf = ftype.result(field)
    rtype = REGISTRY[rf["type"]]
    assert rf["type"] != field["type"]
    assert repr(ftype.column_type(field)) == repr(rtype.column_type(rf))
    assert ftype.value_schema(field) == rtype.value_schema(rf)
    assert ftype.parse_text(field, text) == rtype.parse_text(rf, text)
    value = rtype.parse_text(rf, text)
    out, rout = ftype.compile_output(field), rtype.compile_output(rf)
    assert (out is None) == (rout is None) and (out is None or out(value) == rout(value))
    json = rout(value) if rout else value
    json = json.isoformat() if isinstance(json, (dt.date, dt.datetime)) else json
    assert ftype.format_text(field, value) == rtype.format_text(rf, value)
    assert ftype.display_text(field, json) == rtype.display_text(rf, json)
    zh = Locale(lang="zh", tz=dt.timezone(dt.timedelta(hours=8)))
    assert ftype.display_text(field, json, zh) == rtype.display_text(rf, json, zh)
    assert ftype.control_of(field) == rtype.control_of(rf)
    assert ftype.group_specs(field) == rtype.group_specs(rf)
    assert ftype.measure_ops(field) == rtype.measure_ops(rf)
    if "sum" in rtype.measure_ops(rf) or "avg" in rtype.measure_ops(rf):
        assert ftype.average_places(field) == rtype.average_places(rf)
        assert ftype.sum_zero(field) == rtype.sum_zero(rf)
        assert ftype.average(field, Decimal("10"), 4) == rtype.average(rf, Decimal("10"), 4)
    column = sa.column("x", rtype.column_type(rf))
    assert str(ftype.empty_clause(column, "sqlite")) == str(column.is_(None))
    for dialect in ("sqlite", "postgresql"):
        assert str(ftype.filter_clause(column, "eq", [value], field, dialect)) == \
            str(rtype.filter_clause(column, "eq", [value], rf, dialect))
