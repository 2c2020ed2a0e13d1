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

# Reserved words of SQL:2016, PostgreSQL and SQLite. A key that is one of them would need quoting
# everywhere and would break hand-written reports, so it is refused up front.
SQL_RESERVED_WORDS = frozenset(
    """
    abort abs absolute action add after aggregate all allocate alter always analyse analyze and any are
    array as asc asensitive assertion asymmetric at atomic attach authorization autoincrement avg before
    begin between bigint binary bit blob boolean both breadth by call called cardinality cascade cascaded
    case cast catalog ceil ceiling char character check class close coalesce collate collation collect
    column commit condition conflict connect connection constraint constraints constructor contains
    continue convert corr corresponding count create cross cube current current_date current_role
    current_time current_timestamp current_user cursor cycle data database date day deallocate dec decimal
    declare default deferrable deferred delete depth deref desc describe descriptor detach deterministic
    diagnostics disconnect distinct do domain double drop dynamic each element else end equals escape
    every except exception exclude exclusive exec execute exists exp explain external extract fail false
    fetch filter first float floor following for foreign found free freeze from full function fusion
    generated get glob global go goto grant group grouping groups having hold hour identity if ignore
    ilike immediate in index indexed indicator initially inner inout input insensitive insert instead int
    integer intersect intersection interval into is isnull isolation join key language large last lateral
    leading left level like limit ln local localtime localtimestamp lower match materialized max member
    merge method min minute mod modifies module month multiset names national natural nchar nclob new next
    no none normalize not nothing notnull null nullif nulls numeric object of offset old on only open
    option or order ordinality others out outer output over overlaps overlay pad parameter partial
    partition placing position power pragma preceding precision prepare preserve primary prior privileges
    procedure public raise range read reads real recursive ref references referencing regexp reindex
    relative release rename replace restrict result return returning returns revoke right role rollback
    rollup routine row rows savepoint schema scope scroll search second section select sensitive session
    session_user set sets similar size smallint some space specific specifictype sql sqlexception sqlstate
    sqlwarning sqrt start state static submultiset substring sum symmetric system system_user table
    tablesample temp temporary then ties time timestamp timezone_hour timezone_minute to trailing
    transaction translate translation treat trigger trim true truncate uescape unbounded under union
    unique unknown unnest update upper usage user using vacuum value values var_pop var_samp varchar
    variadic varying verbose view virtual when whenever where width_bucket window with within without
    work write year zone
    """.split()
)


def key_problem(key: object, *, entity: bool = False) -> str | None:
    """Why ``key`` cannot be used as a key, or None when it can."""
    if not isinstance(key, str):
        return "must be a string"
    pattern = _ENTITY_KEY_RE if entity else _KEY_RE
    if not pattern.match(key):
        return f"must match {pattern.pattern} (lower-case letters, digits and _, starting with a letter)"
    if key in SQL_RESERVED_WORDS:
        return f"'{key}' is an SQL reserved word"
    return None


def table_name(entity_key: str) -> str:
    """Generated tables carry a prefix so that an entity keyed `user` never meets a platform table."""
    return f"ent_{entity_key}"
