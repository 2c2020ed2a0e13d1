"""Reports are queries: a report definition compiles to one SQL statement with GROUP BY.

The filters are the list filter language (``query.py``): a definition's ``filters`` object becomes
the list's query parameters and is parsed by the list parser, and the rows are limited by the same
read rule (``Access.read_clause``) with the same refusal of hidden fields, so a report counts
exactly the records its list shows. Each row carries the list query that reproduces it.

How a field is grouped (its SQL, its joins, its list filter per group) and which aggregates apply
are traits of its field type (``metadata/field_types/grouping.py``); nothing here asks a type's name.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from ..errors import BadRequest, CrmError, Invalid, error
from ..metadata.field_types import REGISTRY, Invalid as ValueInvalid
from ..metadata.field_types.grouping import GroupContext, bucket_end, bucket_start
from .access import SYSTEM, Access
from .compiled import CompiledModel
from .query import EMPTINESS, MANY, SYSTEM_FIELDS, ListQuery, conditions, parse_list_args

MEASURE = re.compile(r"^(count|count_distinct|sum|avg|min|max)(?::([a-z][a-z0-9_]{0,62}))?$")
LAST_N = re.compile(r"^last_([1-9][0-9]{0,3})_(days|weeks|months|quarters|years)$")
PERIODS = ("today", "yesterday", "this_week", "last_week", "this_month", "last_month", "this_quarter",
           "last_quarter", "this_year", "last_year")
OFFSET = re.compile(r"^(?:UTC)?([+-])([01][0-9]|2[0-3]):?([0-5][0-9])$")
MAX_GROUPS = 2
#: The most rows a report answers (its top N may ask for fewer).
MAX_ROWS = 10_000


@dataclass
class Answer:
    entity: str
    columns: list[str]
    rows: list[list]
    links: list[str]
    time_zone: str

    def public(self) -> dict:
        return {"entity": self.entity, "columns": self.columns, "rows": self.rows, "links": self.links,
                "time_zone": self.time_zone}


# ---- time zones and periods -----------------------------------------------------------------------

def parse_time_zone(text: str | None, default: dt.tzinfo = dt.timezone.utc) -> dt.tzinfo:
    """"Asia/Shanghai", "+08:00", "UTC" or "Z"; None gives ``default``."""
    if text is None or text == "":
        return default
    if not isinstance(text, str) or len(text) > 64:
        raise BadRequest([error("time_zone", "type", "the time zone must be a name such as Asia/Shanghai or an offset such as +08:00")])
    if text in ("Z", "UTC", "utc"):
        return dt.timezone.utc
    m = OFFSET.match(text)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3))
        return dt.timezone(dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest([error("time_zone", "invalid", f"unknown time zone {text!r}: use a name such as "
                                                        f"Asia/Shanghai or an offset such as +08:00")]) from None


def zone_name(tz: dt.tzinfo) -> str:
    key = getattr(tz, "key", None)
    if key:
        return key
    minutes = int(tz.utcoffset(None).total_seconds() // 60)
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def period_days(name: str, today: dt.date) -> tuple[dt.date | None, dt.date | None] | None:
    """A relative period as local days [start, end) (None: open on that side); None when the
    name is no period."""
    m = LAST_N.match(name)
    if m:  # the last N days (weeks, months...) up to and including the current one
        n, unit = int(m.group(1)), m.group(2)
        if unit == "days":
            return today - dt.timedelta(days=n - 1), today + dt.timedelta(days=1)
        bucket = unit[:-1]
        start = bucket_start(today, bucket)
        for _ in range(n - 1):
            start = bucket_start(start - dt.timedelta(days=1), bucket)
        return start, bucket_end(bucket_start(today, bucket), bucket)
    if name == "before_today":
        return None, today
    if name == "from_today":
        return today, None
    if name == "today":
        return today, today + dt.timedelta(days=1)
    if name == "yesterday":
        return today - dt.timedelta(days=1), today
    if "_" not in name:
        return None
    which, _, bucket = name.partition("_")
    if name not in PERIODS:
        return None
    start = bucket_start(today, bucket)
    if which == "last":
        start = bucket_start(start - dt.timedelta(days=1), bucket)
    return start, bucket_end(start, bucket)


# ---- definitions to list filters ------------------------------------------------------------------

def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float, str)):
        return str(value)
    raise ValueInvalid("type", "must be a text, a number or true/false (or a list of them)")


def filter_params(fields: dict, filters, tz: dt.tzinfo, today: dt.date) -> list[tuple[str, str]]:
    """A definition's ``filters`` object as list query parameters (periods resolved to bounds)."""
    if filters is None:
        return []
    if not isinstance(filters, dict):
        raise Invalid([error("filters", "type", "filters must be an object: {\"<field>\": {\"<operator>\": <value>}}")])
    params: list[tuple[str, str]] = []
    for key, ops in filters.items():
        where = f"filters.{key}"
        field = fields.get(key)
        if field is None:
            raise Invalid([error(where, "unknown_field", f"cannot filter on '{key}': no such field")])
        if not isinstance(ops, dict) or not ops:
            raise Invalid([error(where, "type", "write a field's filter as {\"<operator>\": <value>}, e.g. {\"in\": [\"won\"]}")])
        ftype = REGISTRY[field["type"]]
        for op, value in ops.items():
            name = f"filter[{key}][{op}]"
            if op == "period":
                days = period_days(value, today) if isinstance(value, str) else None
                if days is None:
                    raise Invalid([error(f"{where}.period", "enum", f"unknown period {value!r}; use one of: "
                                                                     f"{', '.join(PERIODS)}, before_today, from_today, "
                                                                     f"last_<N>_days (weeks, months, quarters, years)")])
                if not ftype.temporal:
                    raise Invalid([error(f"{where}.period", "invalid", f"'{key}' is not a date or a datetime")])
                if days[0] is not None:
                    params.append((f"filter[{key}][gte]", ftype.day_start_text(field, days[0], tz)))
                if days[1] is not None:
                    params.append((f"filter[{key}][lt]", ftype.day_start_text(field, days[1], tz)))
            elif op in EMPTINESS:
                if value is not True:
                    raise Invalid([error(f"{where}.{op}", "const", f"write {op} as {{\"{op}\": true}}")])
                params.append((name, ""))
            else:
                values = value if isinstance(value, list) else [value]
                if not values or (isinstance(value, list) and op not in MANY and len(values) != 1):
                    raise Invalid([error(f"{where}.{op}", "type", f"'{op}' takes {'a list of values' if op in MANY else 'one value'}")])
                try:
                    texts = [_text(v) for v in values]
                except ValueInvalid as exc:
                    raise Invalid([error(f"{where}.{op}", exc.code, exc.message)]) from None
                params.extend((name, t) for t in texts)
    return params


#: For a bound given twice (the report's period and a cell's date bucket), which one holds.
TIGHTER = {"gte": max, "gt": max, "lte": min, "lt": min}


def narrowed(params: list[tuple[str, str]], fields: dict) -> list[tuple[str, str]]:
    """The list parameters with a one-value operator given twice merged into the tighter one, as
    the list takes each operator once: a period's ``gte`` and a month bucket's ``gte`` become the
    later of the two. (An equal ``eq`` given twice is kept once.)"""
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for name, text in params:
        m = re.match(r"^filter\[([^\]]*)\]\[([^\]]*)\]$", name)
        if m is None or m.group(2) not in (*TIGHTER, "eq") or name not in seen:
            if m is not None and m.group(2) in (*TIGHTER, "eq"):
                seen[name] = len(out)
            out.append((name, text))
            continue
        key, op = m.group(1), m.group(2)
        if op == "eq":
            continue  # a group of a field the report filters with eq has that very value
        field = fields[key]
        ftype = REGISTRY[field["type"]]
        parse = lambda t: ftype.parse_text(ftype.relaxed(field), t)  # noqa: E731
        earlier = out[seen[name]][1]
        out[seen[name]] = (name, TIGHTER[op]((earlier, text), key=parse))
    return out


def _list_query(entity, params: list[tuple[str, str]]) -> ListQuery:
    try:
        return parse_list_args(MultiDict(params), entity, count_limit=None)
    except CrmError as exc:  # name the definition's path rather than the query parameter
        raise Invalid([{**e, "field": _param_path(e.get("field"))} for e in exc.errors]) from None


def _param_path(name: str | None) -> str | None:
    m = re.match(r"^filter\[([^\]]*)\](?:\[([^\]]*)\])?$", name or "")
    return f"filters.{m.group(1)}.{m.group(2) or 'eq'}" if m else name


# ---- the grouped report ---------------------------------------------------------------------------

@dataclass
class _Measure:
    name: str
    op: str
    field: dict | None
    exprs: list


def run(conn, model: CompiledModel, definition: dict, *, access: Access = SYSTEM, tz: dt.tzinfo = dt.timezone.utc,
        now: dt.datetime | None = None) -> Answer:
    """Compute a report definition (grouped, funnel or conversion) for ``access``."""
    if not isinstance(definition, dict):
        raise Invalid([error(None, "type", "a report definition must be a JSON object")])
    kind = definition.get("type", "grouped")
    now = now or dt.datetime.now(dt.timezone.utc)
    if kind == "funnel":
        from .report_special import funnel
        return funnel(conn, model, definition, access=access, tz=tz, now=now)
    if kind == "conversion":
        from .report_special import conversion
        return conversion(conn, model, definition, access=access, tz=tz, now=now)
    if kind == "effort":
        from .report_special import effort
        return effort(conn, model, definition, access=access, tz=tz, now=now)
    if kind != "grouped":
        raise Invalid([error("type", "enum", "a report's type is one of: grouped, funnel, conversion, effort")])
    return grouped(conn, model, definition, access=access, tz=tz, now=now)


def compute(records, definition: dict, *, access: Access = SYSTEM, tz: dt.tzinfo = dt.timezone.utc) -> dict:
    """The answer (``Answer.public()``) to a definition, for ``access``: what ``POST /api/reports/run``
    answers. ``records`` is the record service (``platform.records``), for its engine and model."""
    with records.engine.connect() as conn:
        model = records.runtime.current(conn)
        return run(conn, model, definition, access=access, tz=tz).public()


def saved_definition(model_state, key: str) -> dict:
    """An active saved report, or NotFound."""
    from ..errors import NotFound
    found = model_state.of_kind("report").get(key)
    if found is None or found.archived:
        raise NotFound([error(None, "not_found", f"no report '{key}'")])
    return found.doc


def entity_of(model: CompiledModel, definition: dict):
    key = definition.get("entity")
    entity = model.entities.get(key) if isinstance(key, str) else None
    if entity is None or entity.archived:
        raise Invalid([error("entity", "invalid", f"there is no active entity {key!r}")])
    return entity


def readable_fields(entity) -> dict:
    return {**SYSTEM_FIELDS, **entity.field_map}


def grouped(conn, model: CompiledModel, definition: dict, *, access: Access, tz: dt.tzinfo, now: dt.datetime,
            extra_measures: list[tuple[str, object]] = ()) -> Answer:
    """A grouped report. ``extra_measures``: (column name, SQL aggregate) pairs computed after the
    definition's measures (the conversion report counts the won records this way)."""
    entity = entity_of(model, definition)
    dialect = conn.dialect.name
    fields = readable_fields(entity)
    t = entity.table
    today = now.astimezone(tz).date()

    base_params = filter_params(fields, definition.get("filters"), tz, today)
    lq = _list_query(entity, base_params)

    group_specs = definition.get("group_by") or []
    if not isinstance(group_specs, list) or len(group_specs) > MAX_GROUPS or not all(isinstance(g, str) for g in group_specs):
        raise Invalid([error("group_by", "type", f"group_by is a list of at most {MAX_GROUPS} fields, e.g. "
                                                 f"[\"owner_id\", \"created_at:month\"]")])
    measure_specs = definition.get("measures") or ["count"]
    if not isinstance(measure_specs, list) or not all(isinstance(m, str) for m in measure_specs) or len(measure_specs) > 20:
        raise Invalid([error("measures", "type", "measures is a list such as [\"count\", \"sum:amount\"]")])

    used = [f.field["key"] for f in lq.filters]
    source = t
    groups, group_fields = [], []
    for i, spec in enumerate(group_specs):
        key, _, rest = spec.partition(":")
        field = fields.get(key)
        if field is None:
            raise Invalid([error(f"group_by.{i}", "unknown_field", f"cannot group by '{key}': no such field")])
        ftype = REGISTRY[field["type"]]
        ctx = GroupContext(dialect, tz, alias=f"grp{i}", extra={"record_id": t.c.id})
        try:
            g = ftype.grouping(field, None if ftype.link_stored else entity.column(key), rest or None, ctx,
                               entity.link_tables.get(key) if ftype.link_stored else None)
        except ValueInvalid as exc:
            raise Invalid([error(f"group_by.{i}", exc.code, exc.message)]) from None
        if g.join is not None:
            source = g.join(source)
        groups.append(g)
        group_fields.append(key)
        used.append(key)

    measures = []
    for i, spec in enumerate(measure_specs):
        m = MEASURE.match(spec)
        if m is None or (m.group(1) == "count") != (m.group(2) is None):
            raise Invalid([error(f"measures.{i}", "invalid", f"unknown measure {spec!r}; use count, count_distinct:<field>, "
                                                             f"sum:<field>, avg:<field>, min:<field> or max:<field>")])
        op, key = m.group(1), m.group(2)
        if op == "count":
            measures.append(_Measure(spec, op, None, [sa.func.count()]))
            continue
        field = fields.get(key)
        if field is None:
            raise Invalid([error(f"measures.{i}", "unknown_field", f"no field '{key}' to measure")])
        ftype = REGISTRY[field["type"]]
        if op not in ftype.measure_ops(field):
            raise Invalid([error(f"measures.{i}", "invalid", f"'{op}' does not apply to a {ftype.name} field"
                                                             f"{'; it applies to: ' + ', '.join(ftype.measure_ops(field)) if ftype.measure_ops(field) else ''}")])
        col = entity.column(key)  # a formula is its expression
        used.append(key)
        if op == "count_distinct":
            exprs = [sa.func.count(sa.distinct(col))]
        elif op == "avg":  # exact: the sum and the count, divided as decimals
            exprs = [sa.func.sum(col, type_=col.type), sa.func.count(col)]
        else:
            exprs = [getattr(sa.func, op)(col, type_=col.type)]
        measures.append(_Measure(spec, op, field, exprs))
    for name, expr in extra_measures:
        measures.append(_Measure(name, "raw", None, [expr]))

    only = access.read_clause(entity, model)
    rights = access.rights(entity.key, model)
    access.check_query_fields(entity, model, used)
    where = conditions(entity, lq, dialect, conn, only, rights.hidden)

    group_cols = [g.expr.label(f"g{i}") for i, g in enumerate(groups)]
    measure_cols = [e.label(f"m{i}_{j}") for i, m in enumerate(measures) for j, e in enumerate(m.exprs)]
    stmt = sa.select(*group_cols, *measure_cols).select_from(source).where(*where)
    if groups:
        # By output name: the same expression written twice would carry its own bound parameters
        # ($1 and $5), which PostgreSQL does not take for the same expression.
        stmt = stmt.group_by(*[sa.literal_column(f"g{i}") for i in range(len(groups))])
    columns = list(group_specs) + [m.name for m in measures]
    stmt = stmt.order_by(*_order(definition.get("sort"), columns, groups, measures)).limit(_limit(definition.get("limit")))

    rows, links = [], []
    for row in conn.execute(stmt):
        values = [g.value(row[i]) for i, g in enumerate(groups)]
        n = len(groups)
        for m in measures:
            values.append(_measure_value(m, row[n:n + len(m.exprs)]))
            n += len(m.exprs)
        rows.append(values)
        cell = list(base_params)
        for key, g, v in zip(group_fields, groups, values):
            cell += [(f"filter[{key}][{op}]", text) for op, text in g.cell(v)]
        links.append(urlencode(narrowed(cell, fields)))
    return Answer(entity.key, columns, rows, links, zone_name(tz))


def _measure_value(m: _Measure, raw):
    if m.op == "raw":  # an extra measure: its caller reads it
        return raw[0]
    if m.op in ("count", "count_distinct"):
        return int(raw[0])
    ftype = REGISTRY[m.field["type"]]
    if m.op == "avg":
        return ftype.average(m.field, raw[0], int(raw[1]))
    if raw[0] is None:
        return None
    if m.op == "sum":
        zero = ftype.sum_zero(m.field)
        return raw[0] if type(raw[0]) is type(zero) else type(zero)(raw[0])  # PostgreSQL sums BIGINT as NUMERIC
    return ftype.to_json(raw[0])


def _limit(raw) -> int:
    if raw is None:
        return MAX_ROWS
    if type(raw) is not int or not 1 <= raw <= MAX_ROWS:
        raise Invalid([error("limit", "range", f"limit (top N) must be a whole number from 1 to {MAX_ROWS}")])
    return raw


def _order(sort, columns: list[str], groups: list, measures: list[_Measure]) -> list:
    """ORDER BY: the definition's ``sort`` (column names, "-" for descending), then the groups."""
    by_name = {}
    for i, (name, g) in enumerate(zip(columns, groups)):
        by_name[name] = g.order if g.order is not None else sa.literal_column(f"g{i}")
    for m in measures:
        by_name[m.name] = m.exprs[0] if m.op != "avg" else m.exprs[0] / sa.func.nullif(m.exprs[1], 0)
    order = []
    if sort is not None:
        if not isinstance(sort, list) or not all(isinstance(s, str) for s in sort):
            raise Invalid([error("sort", "type", "sort is a list of column names, '-' first for descending, e.g. [\"-sum:amount\"]")])
        for i, s in enumerate(sort):
            name = s.lstrip("-+")
            if name not in by_name:
                raise Invalid([error(f"sort.{i}", "invalid", f"cannot sort by {name!r}: sort by one of {', '.join(columns)}")])
            expr = by_name[name]
            order.append(expr.desc().nulls_last() if s.startswith("-") else expr.asc().nulls_last())
    for name, g in zip(columns, groups):
        order.append(by_name[name].asc().nulls_last())
    return order
