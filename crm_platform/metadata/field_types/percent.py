"""Percentages: ``{"key": "probability", "type": "percent"}``.

A value is the number of percent as an exact decimal (``12.5`` is 12.5 %), stored like a decimal
field of the same ``scale`` (2 places unless given). It lies between 0 and 100 unless the field
names its own ``min`` / ``max`` (a growth rate may be ``{"min": -100, "max": 1000}``). Screens show
it with a % sign, and a typed "12.5%" is read as 12.5.

Percentages are ordered (rules may ask for "more than 50 %", lists sort by them) but not summable:
the total of two deals' win probabilities, or of two discounts, is not a percentage of anything,
so a pipeline cannot use a percent field as its amount.
"""
from __future__ import annotations

from .base import FieldType, register
from .numbers import DecimalType

DEFAULT_MIN, DEFAULT_MAX = 0, 100


@register
class Percent(DecimalType):
    name = "percent"
    title = {"en": "Percentage", "zh": "百分比"}
    summable = False
    sum_zero = FieldType.sum_zero
    converts_to = frozenset({"decimal", "text", "long_text"})

    def bounded(self, field: dict) -> dict:
        """The field with its range filled in: 0–100 unless it names its own (None: no bound)."""
        return {**field, "min": field["min"] if "min" in field else DEFAULT_MIN,
                "max": field["max"] if "max" in field else DEFAULT_MAX}

    def relaxed(self, field):
        # Explicitly unbounded: without min/max the default 0–100 would apply again.
        return {**super().relaxed(field), "min": None, "max": None}

    def definition_problems(self, field, context):
        lo, hi = self.bounded(field)["min"], self.bounded(field)["max"]
        if lo is not None and hi is not None and lo > hi:
            return [("min" if "min" in field else "max",
                     f"min ({lo}) must not be greater than max ({hi}); a percentage lies between "
                     f"{DEFAULT_MIN} and {DEFAULT_MAX} unless min and max say otherwise")]
        return []

    def value_schema(self, field):
        return super().value_schema(self.bounded(field))

    def compile_checker(self, field):
        return super().compile_checker(self.bounded(field))

    def parse_text(self, field, text):
        return super().parse_text(field, _without_sign(text))

    def from_form(self, field, raw, tz=None):
        return super().from_form(field, _without_sign(raw), tz)

    def display_text(self, field, value, locale=None):
        return f"{value}%"  # a share, not an amount: no thousands separators


def _without_sign(text):
    """ "12.5%" and "12.5 %" as typed in a form or a spreadsheet are 12.5."""
    if isinstance(text, str) and text.strip().endswith(("%", "％")):
        return text.strip()[:-1].rstrip()
    return text
