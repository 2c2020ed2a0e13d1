"""List queries: paging, sorting, free-text search and typed filters, parsed from a query string.

Syntax (documented in docs/api.md, "List parameters"):
    ?page=2&per_page=50&sort=-amount,name&q=zhang
    &filter[age][gte]=18&filter[status][in]=new,won&filter[email][is_empty]&filter[name]=Li
Field keys and operators are looked up in the definition; values are parsed by the field's type
and always reach SQL as bound parameters.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field as dc_field

import sqlalchemy as sa

from ..errors import BadRequest, error
from ..query_flags import parse_flag
from ..metadata.field_types import REGISTRY, Invalid
from .compiled import CompiledEntity

FILTER_PARAM = re.compile(r"^filter\[([^\]]*)\](?:\[([^\]]*)\])?$")
EMPTINESS = ("is_empty", "is_not_empty")
#: Operators taking a list of values (comma-separated, or the parameter repeated).
MANY = ("in", "not_in", "has_any", "has_all", "has_none")
SYSTEM_FIELDS = {
    "id": {"key": "id", "type": "integer"},
    "created_at": {"key": "created_at", "type": "datetime"},
    "updated_at": {"key": "updated_at", "type": "datetime"},
    "owner_id": {"key": "owner_id", "type": "integer"},
    "created_by": {"key": "created_by", "type": "integer"},
    "updated_by": {"key": "updated_by", "type": "integer"},
}


@dataclass
class Filter:
    field: dict
    op: str
    values: list = dc_field(default_factory=list)


@dataclass
class ListQuery:
    page: int = 1
    per_page: int = 50
    sort: list[tuple[str, bool]] = dc_field(default_factory=list)
    q: str | None = None
    filters: list[Filter] = dc_field(default_factory=list)
    archived: bool = False
    #: Count matches exactly up to this many; past it, ``total`` is this number and ``total_exact``
    #: is false ("10,000+"). None counts everything. Counting half a million matches costs hundreds
    #: of milliseconds; a list screen needs the first page fast, not the exact size of a huge result.
    count_limit: int | None = 10_000


#: The highest page a list or a history serves (a bound keeps OFFSET within what SQL takes).
MAX_PAGE = 10_000_000


def int_param(args, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter within [lo, hi], or a 400 naming it."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest([error(name, "type", f"'{name}' must be a whole number")]) from None
    if not lo <= value <= hi:
        raise BadRequest([error(name, "range", f"'{name}' must be between {lo} and {hi}")])
    return value


def parse_list_args(args, entity: CompiledEntity, *, default_per_page: int = 50, max_per_page: int = 500,
                    count_limit: int | None = 10_000) -> ListQuery:
    lq = ListQuery(page=int_param(args, "page", 1, 1, MAX_PAGE),
                   per_page=int_param(args, "per_page", default_per_page, 1, max_per_page), count_limit=count_limit)
    fields = {**SYSTEM_FIELDS, **entity.field_map}
    for name in args.keys():
        if name in ("page", "per_page"):
            continue
        if name == "sort":
            for part in (p.strip() for p in args.get("sort", "").split(",")):
                if not part:
                    continue
                desc = part.startswith("-")
                key = part.lstrip("-+")
                if key not in fields:
                    raise BadRequest([error("sort", "unknown_field", f"cannot sort by '{key}': no such field")])
                if REGISTRY[fields[key]["type"]].multi_valued:
                    raise BadRequest([error("sort", "not_sortable", f"cannot sort by multi-choice field '{key}'")])
                lq.sort.append((key, desc))
        elif name == "q":
            lq.q = args.get("q", "").strip()[:200] or None
        elif name == "exact_total":
            if parse_flag(args, "exact_total"):
                lq.count_limit = None
        elif name == "archived":
            lq.archived = parse_flag(args, "archived")
        else:
            m = FILTER_PARAM.match(name)
            if not m:
                raise BadRequest([error(name, "unknown_parameter",
                                        f"unknown parameter '{name}'; filters are written filter[field][operator]=value")])
            key, op = m.group(1), m.group(2) or "eq"
            if key not in fields:
                raise BadRequest([error(name, "unknown_field", f"cannot filter on '{key}': no such field")])
            lq.filters.append(_parse_filter(name, fields[key], op, args.getlist(name)))
    return lq


def _parse_filter(param: str, field: dict, op: str, raw_values: list[str]) -> Filter:
    ftype = REGISTRY[field["type"]]
    if op in EMPTINESS:
        return Filter(field, op)
    operators = ftype.operators_of(field)
    if op not in operators:
        allowed = ", ".join(operators + EMPTINESS)
        raise BadRequest([error(param, "unknown_operator", f"'{op}' does not apply to a {ftype.name} field; use one of: {allowed}")])
    many = op in MANY
    parts = [p for raw in raw_values for p in (raw.split(",") if many and len(raw_values) == 1 else [raw])]
    if not many and len(parts) != 1:
        raise BadRequest([error(param, "too_many_values", f"'{op}' takes one value")])
    if ftype.link_stored:
        try:
            return Filter(field, op, [v for raw in raw_values for v in ftype.parse_filter_values(field, raw)])
        except Invalid as exc:
            raise BadRequest([error(param, exc.code, exc.message)]) from None
    values = []
    for part in parts:
        if op in ("contains", "starts_with", "ends_with"):
            values.append(part)
            continue
        try:
            if ftype.multi_valued:  # "a,b" is two choices
                values.extend(ftype.parse_compared(field, part))
            else:
                values.append(ftype.parse_compared(field, part))
        except Invalid as exc:
            raise BadRequest([error(param, exc.code, f"filter value {part!r} {exc.message}")]) from None
    if not values:
        raise BadRequest([error(param, "required", f"'{op}' needs a value")])
    return Filter(field, op, values)


#: A tag set carried by at least this many links counts as common (see ``_tags_are_common``).
COMMON_TAGS = 20_000


def _tags_are_common(conn, link, tags: list[str]) -> bool:
    """Whether a has_any filter matches many records, read from the link index (at most COMMON_TAGS entries).

    SQLite runs ``id IN (SELECT record_id ...)`` by collecting every match first, which is slow
    when half the table matches; a correlated EXISTS walking the table in page order is then fast,
    but slow for a rare tag. SQLite does not weigh the two, so this probe does (PostgreSQL does).
    """
    probe = sa.select(link.c.record_id).where(link.c.tag.in_(tags)).limit(COMMON_TAGS).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(probe)).scalar_one() >= COMMON_TAGS


def conditions(entity: CompiledEntity, lq: ListQuery, dialect: str, conn=None, only=None,
               hidden: frozenset = frozenset()) -> list:
    """WHERE clauses of a list. ``only`` limits it to the records the user may read; ``hidden``
    fields (which the user may not read) are left out of free-text search, or a match would reveal them."""
    t = entity.table
    where = [t.c.archived_at.is_not(None) if lq.archived else t.c.archived_at.is_(None)]
    if only is not None:
        where.append(only)
    for flt in lq.filters:
        ftype = REGISTRY[flt.field["type"]]
        if ftype.link_stored:
            link = entity.link_tables[flt.field["key"]]
            if flt.op in EMPTINESS:
                empty = ftype.empty_filter(t.c.id, link)
                where.append(empty if flt.op == "is_empty" else sa.not_(empty))
            else:
                common = (dialect == "sqlite" and conn is not None and flt.op == "has_any"
                          and _tags_are_common(conn, link, ftype.expand(flt.field, flt.values)))
                where.append(ftype.link_filter(t.c.id, link, flt.op, flt.values, flt.field, common=common))
            continue
        col = entity.column(flt.field["key"])
        if flt.op in EMPTINESS:
            empty = ftype.empty_clause(col, dialect)
            where.append(empty if flt.op == "is_empty" else sa.not_(empty))
        else:
            where.append(ftype.filter_clause(col, flt.op, flt.values, flt.field, dialect))
    if lq.q:
        searchable = [t.c[f["key"]] for f in entity.fields if REGISTRY[f["type"]].searchable and f["key"] not in hidden]
        needle = "%" + lq.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(sa.or_(*(c.ilike(needle, escape="\\") for c in searchable)) if searchable else sa.false())
    return where


def ordering(entity: CompiledEntity, lq: ListQuery) -> list:
    """ORDER BY of a list: its sort keys, then the id (so equal keys keep one order across pages)."""
    t = entity.table
    order = []
    for key, desc in lq.sort or [("id", True)]:
        col = entity.column(key)
        if not getattr(col, "nullable", True):  # a formula's expression may be null
            # NOT NULL (id, created_at, updated_at): no NULLS LAST, so that PostgreSQL can read the order
            # from an index (its DESC puts NULLs first) instead of sorting every match; same order.
            order.append(col.desc() if desc else col.asc())
        else:
            order.append(col.desc().nulls_last() if desc else col.asc().nulls_last())
    order.append(t.c.id.desc() if (lq.sort or [("id", True)])[-1][1] else t.c.id.asc())
    return order


def all_rows_statement(entity: CompiledEntity, lq: ListQuery, dialect: str, columns=None, conn=None, only=None,
                       hidden: frozenset = frozenset()):
    """Every row of a list in its order, no page: what an export streams (the same WHERE as ``list_statements``)."""
    where = conditions(entity, lq, dialect, conn, only, hidden)
    return sa.select(*(columns or entity.columns)).where(*where).order_by(*ordering(entity, lq))


def list_statements(entity: CompiledEntity, lq: ListQuery, dialect: str, fields: tuple[str, ...] | None = None,
                    conn=None, only=None, hidden: frozenset = frozenset()):
    """The (rows, count) statements of a page; ``fields``: only these fields (``entity.selection``)."""
    # A plain page (no filter, no search, every record readable) is the most common list and its
    # statements depend only on these; they are kept per compiled entity, so a revision drops them.
    plain = only is None and not lq.filters and not lq.q
    if plain:
        cache_key = (dialect, lq.archived, tuple(lq.sort), lq.per_page, lq.page, lq.count_limit, fields)
        found = entity.plain_list_statements.get(cache_key)
        if found is not None:
            return found
    t = entity.table
    where = conditions(entity, lq, dialect, conn, only, hidden)
    columns = entity.columns if fields is None else entity.selection(fields)
    rows = (sa.select(*columns).where(*where).order_by(*ordering(entity, lq))
            .limit(lq.per_page).offset((lq.page - 1) * lq.per_page))
    if lq.count_limit is None:
        count = sa.select(sa.func.count()).select_from(t).where(*where)
    else:
        capped = sa.select(t.c.id).where(*where).limit(lq.count_limit + 1).subquery()
        count = sa.select(sa.func.count()).select_from(capped)
    if plain:
        if len(entity.plain_list_statements) >= 256:  # bounded: page numbers are unbounded
            entity.plain_list_statements.clear()
        entity.plain_list_statements[cache_key] = (rows, count)
    return rows, count


def pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))
