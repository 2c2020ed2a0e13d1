"""Defaults computed when a record is made: ``now``, ``today``, ``today+N`` / ``today-N`` and ``current_user``.

A field's ``default`` is either a value of the field (stored in the definition, written as is) or one
of these tokens, which the field's type must accept (its ``dynamic_defaults`` trait): a date takes
``today±N``; a date and time takes ``now`` and ``today±N`` (now, N days on); a text field takes
``current_user`` (the name of whoever creates the record). A token a type does not accept is read as
a plain value, so a text field may still default to the word "now".

Where they are applied (one rule, docs/screens.md): the screens' new-record forms show the value
computed for the reader (``today`` in their time zone), so what is saved is what they saw; the record
service fills a field the caller left out (API create, imports, follow-ups) with the value computed
at the write, ``today`` being the UTC day there.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from . import REGISTRY

#: ``now`` | ``today`` | ``today+N`` | ``today-N`` (N up to 3650 days) | ``current_user``
TOKEN = re.compile(r"^(now|current_user|today)(?:([+-])([0-9]{1,9}))?$")
MAX_DAYS = 3650


def parse(value) -> tuple[str, int] | None:
    """``"today+3"`` → ``("today", 3)``; None when ``value`` is not a token."""
    if not isinstance(value, str):
        return None
    m = TOKEN.match(value)
    if m is None or (m.group(2) and m.group(1) != "today"):
        return None
    days = int(m.group(3) or 0) * (-1 if m.group(2) == "-" else 1)
    if abs(days) > MAX_DAYS:
        return None
    return m.group(1), days


def token_of(field: dict) -> tuple[str, int] | None:
    """The field's default as a token its type computes, else None (a plain value, or none)."""
    found = parse(field.get("default"))
    if found is None or found[0] not in REGISTRY[field["type"]].dynamic_defaults:
        return None
    return found


def problem(field: dict) -> str | None:
    """Why a default its type refused as a value was no token either (None: it was not meant as one)."""
    value = field.get("default")
    if not isinstance(value, str) or TOKEN.match(value) is None:
        return None
    if parse(value) is None:
        return f"'{value}' is out of range: today±N takes at most {MAX_DAYS} days"
    accepted = ", ".join(sorted(REGISTRY[field["type"]].dynamic_defaults)) or "none"
    return f"'{value}' is not a default a {field['type']} field computes (it computes: {accepted})"


def value_of(field: dict, now: dt.datetime, user_name: str | None) -> Any:
    """The value of the field's token at ``now`` (aware; a date takes ``now``'s own day, so pass
    ``now`` in the reader's zone for their today) for ``user_name``."""
    token, days = token_of(field)
    return REGISTRY[field["type"]].dynamic_value(field, token, now + dt.timedelta(days=days), user_name)


def dynamic_fields(fields: list[dict]) -> list[dict]:
    return [f for f in fields if token_of(f) is not None]
