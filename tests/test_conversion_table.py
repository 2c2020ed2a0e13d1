"""Type changes by a table written by hand: what each stored value becomes, or that the change is refused.

This table is the oracle that does not come from the code under test: ``FieldType.convert`` must
give exactly these answers, and the state machine in test_fields_never_lose_values.py checks its
own predictions (which call ``convert``) against ``table_says`` whenever it meets a value listed
here. A lossy conversion (``"5.5"`` to an integer) is refused, never rounded or truncated.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crm_platform.metadata.field_types import REGISTRY, Unconvertible

class _Refused:
    def __repr__(self):
        return "REFUSED"


REFUSED = _Refused()  # not a string: a text value "refused" must not look like a refusal
D = Decimal

#: (from type, to type) -> {stored value: what it becomes, or REFUSED}. Decimals have scale 2.
TABLE: dict[tuple[str, str], dict] = {
    ("text", "integer"): {"5": 5, " 5": 5, "05": 5, "5.0": 5, "5.00": 5, "-3": -3, "1,000": 1000,
                          "5.5": REFUSED, "2.50": REFUSED, "2.5": REFUSED, "0.001": REFUSED, "1E+30": REFUSED,
                          "No": REFUSED, "2024-02-30": REFUSED, "": REFUSED, "9223372036854775807": 2**63 - 1,
                          "9223372036854775808": REFUSED},
    ("text", "decimal"): {"5": D("5.00"), "2.50": D("2.50"), "2.5": D("2.50"), "-3": D("-3.00"),
                          "1,000": D("1000.00"), "0.001": REFUSED, "1E+30": REFUSED, "No": REFUSED,
                          "9999999999999999.99": D("9999999999999999.99"), "10000000000000000": REFUSED},
    ("text", "boolean"): {"true": True, "y": True, "yes": True, "1": True, "No": False, "0": False,
                          "false": False, "5": REFUSED, "maybe": REFUSED},
    ("text", "email"): {"a@b.co": "a@b.co", "A@B.co": "a@b.co", "No": REFUSED, "a@b": REFUSED},
    ("text", "date"): {"2024-02-29": dt.date(2024, 2, 29), "2024-02-30": REFUSED, "No": REFUSED},
    ("text", "long_text"): {"5.5": "5.5", "": "", "字段": "字段"},
    ("long_text", "text"): {"5.5": "5.5", "x" * 255: "x" * 255, "x" * 256: REFUSED},
    ("integer", "decimal"): {5: D("5.00"), -3: D("-3.00"), 0: D("0.00"), 10**16 - 1: D("9999999999999999.00"),
                             10**16: REFUSED},
    ("integer", "text"): {5: "5", -3: "-3", 0: "0"},
    ("decimal", "integer"): {D("5.00"): 5, D("-3.00"): -3, D("2.50"): REFUSED, D("0.01"): REFUSED},
    ("decimal", "text"): {D("2.50"): "2.50", D("5.00"): "5.00", D("-0.01"): "-0.01",
                          D("9999999999999999.99"): "9999999999999999.99"},
    ("boolean", "text"): {True: "true", False: "false"},
    ("date", "text"): {dt.date(2024, 2, 29): "2024-02-29"},
    ("email", "text"): {"a@b.co": "a@b.co"},
}
#: The declared conversions among these types (a change to any other type is refused, 409).
DECLARED = {
    "text": {"long_text", "email", "integer", "decimal", "boolean", "date", "select"},
    "long_text": {"text"}, "integer": {"decimal", "text", "long_text"},
    "decimal": {"integer", "text", "long_text"}, "boolean": {"text"},
    "date": {"text", "long_text"}, "select": {"text", "long_text"}, "email": {"text", "long_text"},
}


def field(ftype: str) -> dict:
    return {"key": "f", "type": ftype, **({"scale": 2} if ftype == "decimal" else {})}


def table_says(old: dict, new: dict, value):
    """What the table expects converting ``value`` from field ``old`` to field ``new``, or None
    when the table does not list the case (or options other than the table's could change it)."""
    if value is None or old["type"] == new["type"]:
        return None
    if any(k in new for k in ("min", "max", "max_length", "required")) or old.get("scale", 2) != 2 \
            or new.get("scale", 2) != 2:
        return None
    row = TABLE.get((old["type"], new["type"]), {})
    try:
        return row.get(value)
    except TypeError:  # unhashable (a list)
        return None


def product_convert(old: dict, new: dict, value):
    try:
        return REGISTRY[new["type"]].convert(REGISTRY[old["type"]], old, new, value)
    except Unconvertible:
        return REFUSED


def same(a, b) -> bool:
    """Equal, of the same type, and decimals with the same digits (5.00 is not 5.0)."""
    return type(a) is type(b) and (str(a) == str(b) if isinstance(a, Decimal) else a == b)


CASES = [(old, new, value, expected) for (old, new), row in TABLE.items() for value, expected in row.items()]


@pytest.mark.parametrize("old, new, value, expected", CASES,
                         ids=[f"{o}->{n}:{v!r}"[:60] for o, n, v, _ in CASES])
def test_a_stored_value_converts_as_the_table_says(old, new, value, expected):
    got = product_convert(field(old), field(new), value)
    if isinstance(got, Decimal) and not isinstance(expected, str):
        got = got.quantize(Decimal("0.01"))  # the column keeps exactly the scale
    assert same(got, expected), (old, new, value, got, expected)


@pytest.mark.parametrize("old", sorted(DECLARED))
def test_the_declared_conversions_are_the_documented_ones(old):
    assert REGISTRY[old].converts_to & set(DECLARED) == DECLARED[old]
