"""Decimals written as JSON strings ("12.50"), as JavaScript clients send them to keep every digit.

The accepted text is JSON's number grammar without an exponent: an optional minus, whole digits
without leading zeros, an optional fraction ("12", "-0.5", "12.50"; not "1e5", "+1", "007", ".5",
"5.", " 5", "1,000"). The compiled checker reads such text as an exact Decimal and checks it like a
number. The published record schema cannot compare strings as numbers, so it says the same thing
with a regular expression built from the field's rules: at most ``scale`` significant decimal
places, fewer than 10**(18 - scale) in magnitude, and within ``min``/``max``. The property test
(tests/test_validator_agrees_with_jsonschema.py) holds the expression and the checker together.
"""
from __future__ import annotations

import decimal
import re
from decimal import Decimal

from ...sqltypes import DECIMAL_PRECISION
from .base import END

#: The syntax of a decimal as text (the range is the field's to check).
DECIMAL_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
NEVER = "(?!)"

Classes = list[tuple[int, int]]  # one (lowest, highest) digit per position


def text_pattern(scale: int, lo: Decimal | None, hi: Decimal | None) -> str:
    """An ECMA-262 / Python expression that matches exactly the decimal texts the field accepts."""
    most = 10**DECIMAL_PRECISION - 1  # in units of 10**-scale: the largest magnitude the column holds
    with decimal.localcontext() as ctx:
        ctx.prec = 200
        low = -most if lo is None else max(-most, int(Decimal(lo).scaleb(scale).to_integral_value(decimal.ROUND_CEILING)))
        high = most if hi is None else min(most, int(Decimal(hi).scaleb(scale).to_integral_value(decimal.ROUND_FLOOR)))
    positive = _magnitudes(max(low, 0), high, scale) if high >= 0 else None
    negative = _magnitudes(max(-high, 0), -low, scale) if low <= 0 else None
    if positive is not None and positive == negative:
        body = f"-?{positive}"
    else:
        body = "|".join([p for p in (positive, None if negative is None else f"-{negative}") if p is not None])
    return f"^(?:{body or NEVER}){END}"


def _magnitudes(a: int, b: int, scale: int) -> str | None:
    """Texts without a sign whose value, in units of 10**-scale, lies in [a, b]."""
    if a > b:
        return None
    alternatives = []
    full_run: list[int] = []  # whole-digit counts whose every value is in range, merged into one alternative
    for digits in range(1, DECIMAL_PRECISION - scale + 1):
        first = 0 if digits == 1 else 10 ** (digits - 1)
        band_lo, band_hi = first * 10**scale, 10**(digits + scale) - 1
        x, y = max(a, band_lo), min(b, band_hi)
        if x > y:
            continue
        if (x, y) == (band_lo, band_hi):
            full_run.append(digits)
            continue
        alternatives += [_render(c, digits, scale) for c in _ranges(str(x).zfill(digits + scale), str(y).zfill(digits + scale))]
    if full_run:
        d1, d2 = full_run[0], full_run[-1]  # consecutive: a band between two full bands is full
        whole = ("[0-9]" if d2 == 1 else f"(?:0|[1-9][0-9]{{0,{d2 - 1}}})") if d1 == 1 else \
            f"[1-9][0-9]{{{d1 - 1},{d2 - 1}}}"
        alternatives.insert(0, whole + _fraction([(0, 9)] * scale))
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def _ranges(x: str, y: str) -> list[Classes]:
    """Digit strings of one width from x to y (inclusive) as sequences of digit classes."""
    if not x:
        return [[]]
    a, b, rest = int(x[0]), int(y[0]), len(x) - 1
    if a == b:
        return [[(a, a)] + tail for tail in _ranges(x[1:], y[1:])]
    out: list[Classes] = []
    start, end = a, b
    if x[1:] != "0" * rest:
        out += [[(a, a)] + tail for tail in _ranges(x[1:], "9" * rest)]
        start = a + 1
    upper: list[Classes] = []
    if y[1:] != "9" * rest:
        upper = [[(b, b)] + tail for tail in _ranges("0" * rest, y[1:])]
        end = b - 1
    if start <= end:
        out.append([(start, end)] + [(0, 9)] * rest)
    return out + upper


def _cls(c: tuple[int, int]) -> str:
    return str(c[0]) if c[0] == c[1] else f"[{c[0]}-{c[1]}]"


def _digits(classes: Classes) -> str:
    out, n = [], 0
    while n < len(classes):
        run = 1
        while n + run < len(classes) and classes[n + run] == classes[n]:
            run += 1
        out.append(_cls(classes[n]) + (f"{{{run}}}" if run > 1 else ""))
        n += run
    return "".join(out)


def _render(classes: Classes, digits: int, scale: int) -> str:
    return _digits(classes[:digits]) + _fraction(classes[digits:])


def _fraction(classes: Classes) -> str:
    """The decimal places: trailing places that may be 0 may be left out, and more zeros may follow."""
    if not classes:
        return r"(?:\.0+)?"
    if all(c == (0, 9) for c in classes):
        return rf"(?:\.[0-9]{{1,{len(classes)}}}0*)?"
    required = len(classes)
    while required > 0 and classes[required - 1][0] == 0:
        required -= 1
    optional = ""
    for c in reversed(classes[max(required, 1):]):
        optional = f"(?:{_cls(c)}{optional})?"
    if required == 0:
        return rf"(?:\.{_cls(classes[0])}{optional}0*)?"
    return rf"\.{_digits(classes[:required])}{optional}0*"
