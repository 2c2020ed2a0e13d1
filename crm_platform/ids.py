"""Ids as the databases can hold them, and the one parser of ids that arrive as text.

A number a column cannot hold is not an unknown id to the database but an error ("integer out of
range" on PostgreSQL, OverflowError in SQLite's driver), which would surface as a 500. Every id in
a path (``<id:record_id>``), a query parameter or a form is bounded here first, so an id out of
range is simply an id that does not exist: 404 in a path, 400 naming a query parameter.
"""
from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

#: Generated tables' ids are BIGINT (SQLite's INTEGER PRIMARY KEY is 64-bit too).
RECORD_ID_MAX = 2**63 - 1
#: The platform's own tables (users, revisions) number their rows with INTEGER: 32 bits on PostgreSQL.
ROW_ID_MAX = 2**31 - 1


def parse_id(raw, maximum: int = RECORD_ID_MAX) -> int | None:
    """The id written in ``raw`` (digits only), or None when it is not one a table can hold."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19:
        value = int(raw)
    else:
        return None
    return value if 0 <= value <= maximum else None


class IdConverter(IntegerConverter):
    """``<id:record_id>`` (BIGINT) or ``<id(bits=32):user_id>`` (INTEGER): an id beyond the column's
    range answers 404, like any id that does not exist.

    It raises NotFound rather than werkzeug's ValidationError: with the latter the router goes on
    to the path's rules for other methods and answers a PATCH of ``/api/users/<huge>`` with 405.
    """

    def __init__(self, map, bits: int = 64):
        self.maximum = RECORD_ID_MAX if bits == 64 else ROW_ID_MAX
        super().__init__(map, max=self.maximum)

    def to_python(self, value: str) -> int:
        found = parse_id(value, self.maximum)
        if found is None:
            raise NotFound(f"there is no id {value[:40]}: ids are whole numbers up to {self.maximum}")
        return found
