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


def propose_key(label: str, taken=(), *, entity: bool = False) -> str:
    """A key for a definition typed by its label: Chinese as pinyin (意向等级 → ``yi_xiang_deng_ji``),
    English and other Latin text in snake_case (Next follow-up → ``next_follow_up``).

    The result always passes ``key_problem``: it starts with a letter, is cut to the key's length,
    steps around reserved words and system columns, and is made unique against ``taken`` (the
    entity's other keys, archived ones included) with a number: ``ji_bie_2``. The admin may edit it
    before the first save; after that the key is fixed (renaming is an explicit action).
    """
    from pypinyin import Style, lazy_pinyin

    # Every Han character becomes its syllable; other text is kept for snake_case below.
    words = lazy_pinyin(label or "", style=Style.NORMAL, errors=lambda text: [text])
    text = "_".join(words)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)  # camelCase → camel_Case
    key = re.sub(r"[^a-z0-9]+", "_", _ascii(text).lower()).strip("_")
    if not key:
        key = "entity" if entity else "field"
    if not key[0].isalpha():
        key = f"f_{key}"
    limit = 40 if entity else 63
    key = key[:limit].rstrip("_")
    if key in SQL_RESERVED_WORDS or key in SYSTEM_COLUMNS or key in POSTGRESQL_SYSTEM_COLUMNS:
        key = f"{key}_field"[:limit]
    taken = set(taken)
    candidate, n = key, 2
    while candidate in taken or (entity and candidate.endswith("_id_seq")):
        suffix = f"_{n}"
        candidate = key[:limit - len(suffix)] + suffix
        n += 1
    return candidate


def _ascii(text: str) -> str:
    """Accented Latin letters without their accents (Café → Cafe); anything else non-ASCII is dropped."""
    import unicodedata
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
