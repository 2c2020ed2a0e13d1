"""JSON that keeps decimals exact: numbers are parsed as Decimal and written back digit for digit."""
from __future__ import annotations

import datetime as dt

import simplejson


def loads(text: str | bytes):
    # allow_nan=False: NaN and Infinity are not JSON and have no place in a CRM value.
    return simplejson.loads(text, use_decimal=True, allow_nan=False)


def _default(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _encoder(sort_keys: bool = False, indent: int | None = None) -> simplejson.JSONEncoder:
    return simplejson.JSONEncoder(use_decimal=True, ensure_ascii=False, sort_keys=sort_keys, indent=indent,
                                  default=_default, allow_nan=False)


# The plain encoder is built once: audit rows of a bulk import encode one document per record, and
# simplejson.dumps would build a new encoder for each.
_plain = _encoder().encode


def dumps(value, *, sort_keys: bool = False, indent: int | None = None) -> str:
    if not sort_keys and indent is None:
        return _plain(value)
    return _encoder(sort_keys, indent).encode(value)
