"""The field-type registry. Adding a field type is one class in this package and its tests."""
from __future__ import annotations

from .base import FieldType, Invalid, Unconvertible
from .choice import MultiSelect, Select
from .numbers import Boolean, DecimalType, Integer
from .reference import Reference
from .stage import Stage
from .tags import Tags
from .temporal import Date, DateTime
from .text import Email, LongText, Phone, Text, Url

REGISTRY: dict[str, FieldType] = {
    t.name: t
    for t in (
        Text(), LongText(), Integer(), DecimalType(), Boolean(), Date(), DateTime(),
        Email(), Phone(), Url(), Select(), MultiSelect(), Reference(), Tags(), Stage(),
    )
}


def field_type(name: str) -> FieldType:
    return REGISTRY[name]


__all__ = ["REGISTRY", "FieldType", "Invalid", "Unconvertible", "field_type"]
