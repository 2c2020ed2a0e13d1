"""Keys are the stable identifiers of definitions; they become SQL identifiers, so they are strict."""
from __future__ import annotations

import re

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
#: Entity keys are shorter: the table name carries a prefix and index names carry the table name,
#: and PostgreSQL truncates identifiers at 63 bytes.
ENTITY_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

_KEY_RE = re.compile(KEY_PATTERN)
_ENTITY_KEY_RE = re.compile(ENTITY_KEY_PATTERN)

#: Columns every generated table carries; no field may take these keys.
SYSTEM_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "owner_id",
    "version",
    "archived_at",
)

#: Columns PostgreSQL gives every table itself: a field with one of these keys cannot be created
#: there ("column name "xmin" conflicts with a system column name"). Refused on both databases,
#: so a definition made on SQLite still installs on PostgreSQL (bundles move between them).
POSTGRESQL_SYSTEM_COLUMNS = ("tableoid", "xmin", "cmin", "xmax", "cmax", "ctid")

# Words PostgreSQL reserves, SQLite's keywords that need quoting, and the core of SQL:2016's
# reserved list. A key that is one of them would need quoting in every hand-written report, so it
# is refused up front. Words the standard reserves but both databases accept and people use as
# field names (date, year, value, level, data, position...) stay allowed: generated SQL always
# quotes where the dialect needs it.
SQL_RESERVED_WORDS = frozenset(
    """
    abort all alter analyse analyze and any array as asc asymmetric attach authorization autoincrement
    begin between binary both by cascade case cast check collate collation column commit concurrently
    constraint create cross current_catalog current_date current_role current_schema current_time
    current_timestamp current_user database default deferrable delete desc detach distinct do drop each
    else end escape except exclusive exists explain false fetch filter for foreign freeze from full glob
    grant group having ilike immediate in index indexed inner insert instead intersect into is isnull
    join lateral leading left like limit localtime localtimestamp match natural not notnull null nulls
    of offset on only or order outer over overlaps placing pragma primary raise recursive references
    regexp reindex release rename replace restrict returning revoke right rollback row rows savepoint
    select session_user set similar some symmetric system_user table tablesample temp temporary then
    to trailing transaction trigger true union unique update user using vacuum values variadic verbose
    view virtual when where window with without
    """.split()
)


def key_problem(key: object, *, entity: bool = False) -> str | None:
    """Why ``key`` cannot be used as a key, or None when it can."""
    if not isinstance(key, str):
        return "must be a string"
    pattern = _ENTITY_KEY_RE if entity else _KEY_RE
    # fullmatch: Python's `$` also matches before a final newline, and "f1\n" is no key (it reached
    # SQL as an unquoted f1 followed by a line break).
    if not pattern.fullmatch(key):
        return f"must match {pattern.pattern} (lower-case letters, digits and _, starting with a letter)"
    if key in SQL_RESERVED_WORDS:
        return f"'{key}' is an SQL reserved word"
    return None


def table_name(entity_key: str) -> str:
    """Generated tables carry a prefix so that an entity keyed `user` never meets a platform table."""
    return f"ent_{entity_key}"
