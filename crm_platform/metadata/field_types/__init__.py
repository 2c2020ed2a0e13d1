"""The field-type registry. Adding a field type is one module in this package and its tests.

Each type registers itself (``@register``); importing a module here is what makes its types
available, and the order of the imports is the order the designer offers them.
"""
from __future__ import annotations

from . import text, numbers, percent, temporal, choice, reference, tags, stage, rollup, formula  # noqa: F401  (they register)
from .base import REGISTRY, FieldType, Invalid, Unconvertible


def field_type(name: str) -> FieldType:
    return REGISTRY[name]


__all__ = ["REGISTRY", "FieldType", "Invalid", "Unconvertible", "field_type"]
