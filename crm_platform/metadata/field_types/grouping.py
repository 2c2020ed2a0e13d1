"""What a report asks a field type: how to group records by the field, and which measures apply.

A report (``runtime/reports.py``) groups by SQL expressions and aggregates in SQL; the type says
which expression, which joins (a multi-valued field contributes one row per value), how a grouped
value is written in the answer, and which list filter reproduces one group (so every cell of a
report links to the list that shows exactly its records). Nothing outside the field types decides
this by a type's name.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field as dc_field
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa

from .base import Invalid

#: The date buckets of a temporal group-by, computed in the user's time zone.
BUCKETS = ("day", "week", "month", "quarter", "year")


@dataclass
class GroupContext:
    """What a grouping needs besides the field: the database and the user's time zone."""

    dialect: str
    tz: dt.tzinfo
    #: a unique name for this group-by's joined source (two group-bys may join the same field)
    alias: str = "g"
    #: what some groupings refer to (a tags field: the record id column it joins its links on)
    extra: dict = dc_field(default_factory=dict)


@dataclass
class Grouping:
    #: the SQL expression whose value names the group
    expr: Any
    #: from-clause → from-clause with the joins this grouping needs (multi-valued fields)
    join: Callable | None = None
    #: a grouped value as the answer writes it (JSON)
    value: Callable[[Any], Any] = lambda v: v
    #: a (JSON) group value → list filter conditions ``[(operator, text), ...]`` selecting its records
    cell: Callable[[Any], list] = lambda v: []
    #: an expression to order groups by, valid after GROUP BY (over the grouped column, or an
    #: aggregate), when the value's own order is not the one people expect
    order: Any = None


def no_spec(ftype, spec: str | None) -> None:
    if spec:
        raise Invalid("group_by", f"a {ftype.name} field groups by its value; ':{spec}' does not apply to it")


def bucket_of(ftype, spec: str | None) -> str:
    if spec not in BUCKETS:
        raise Invalid("group_by", f"a {ftype.name} field groups by one of {', '.join(BUCKETS)} "
                                  f"('<field>:month'), not {spec!r}")
    return spec


def empty_cell(value) -> list | None:
    return [("is_empty", "")] if value is None else None


def value_grouping(ftype, field: dict, column, *, text: Callable[[Any], str] | None = None,
                   value: Callable[[Any], Any] | None = None, order: list | None = None) -> Grouping:
    """Group by the column's own value; a group is the list filter ``eq`` that value. ``order``:
    the values in the order groups should come (choices, stages), others after them."""
    as_text = text or (lambda v: ftype.format_text(field, v))
    out = value or (lambda v: v)

    def cell(v):
        return empty_cell(v) or [("eq", as_text(v))]

    return Grouping(column, value=lambda v: None if v is None else out(v), cell=cell, order=ranked(column, order))


def ranked(expr, order: list | None):
    """An expression giving each known value its position (unknown ones after, empty as NULL)."""
    if not order:
        return None
    return sa.case((expr.is_(None), sa.null()), *[(expr == v, n) for n, v in enumerate(order)], else_=len(order))


def parse_bands(ftype, field: dict, spec: str) -> list:
    """"10,50,100" → the ascending band bounds, parsed by the field's type."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts or len(parts) > 20:
        raise Invalid("bands", "bands need 1 to 20 ascending bounds, e.g. 'amount:bands:100,1000'")
    try:
        bounds = [ftype.parse_text(ftype.relaxed(field), p) for p in parts]
    except Invalid as exc:
        raise Invalid("bands", f"band bound {exc.message}") from None
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise Invalid("bands", "band bounds must be ascending and distinct")
    return bounds


def _num(v) -> str:
    if isinstance(v, Decimal):
        text = format(v.normalize(), "f")
        return text
    return str(v)


def band_grouping(ftype, field: dict, column, spec: str) -> Grouping:
    """Group numbers into bands: "<b0", "b0-b1", ..., ">=bn"; a group is a range filter."""
    bounds = parse_bands(ftype, field, spec)
    labels = [f"<{_num(bounds[0])}"] + [f"{_num(a)}-{_num(b)}" for a, b in zip(bounds, bounds[1:])] + \
        [f">={_num(bounds[-1])}"]
    label_case = sa.case((column.is_(None), sa.null()), *[(column < b, labels[i]) for i, b in enumerate(bounds)],
                         else_=labels[-1])
    order_case = sa.case((column.is_(None), sa.null()), *[(column < b, i) for i, b in enumerate(bounds)],
                         else_=len(bounds))
    ranges = {}
    for i, label in enumerate(labels):
        lo = bounds[i - 1] if i > 0 else None
        hi = bounds[i] if i < len(bounds) else None
        conds = ([("gte", ftype.format_text(field, lo))] if lo is not None else []) + \
            ([("lt", ftype.format_text(field, hi))] if hi is not None else [])
        ranges[label] = conds

    # the band's position, taken from its rows (the label is grouped, the column is not)
    return Grouping(label_case, cell=lambda v: empty_cell(v) or ranges[v], order=sa.func.min(order_case))


# ---- dates --------------------------------------------------------------------------------------

def bucket_start(day: dt.date, bucket: str) -> dt.date:
    if bucket == "day":
        return day
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def bucket_end(start: dt.date, bucket: str) -> dt.date:
    """The first day after the bucket that starts on ``start``."""
    if bucket == "day":
        return start + dt.timedelta(days=1)
    if bucket == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[bucket]
    n = start.year * 12 + start.month - 1 + months
    return dt.date(n // 12, n % 12 + 1, 1)


def local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The instant a local day starts (ZoneInfo settles days that start twice or never)."""
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)


def truncate_sql(local, bucket: str, dialect: str, *, is_date: bool = False):
    """SQL for the first day of ``bucket`` holding the local timestamp (or date) ``local``.

    PostgreSQL answers a DATE; SQLite text 'YYYY-MM-DD'; ``bucket_value`` makes both the same.
    """
    if dialect == "postgresql":
        source = sa.cast(local, sa.DateTime()) if is_date else local
        return sa.cast(sa.func.date_trunc(bucket, source), sa.Date)
    if bucket == "day":
        return sa.func.date(local)
    if bucket == "week":  # back to Monday: strftime('%w') is 0 on Sunday
        back = (sa.cast(sa.func.strftime("%w", local), sa.Integer) + 6) % 7
        return sa.func.date(local, sa.literal("-") + sa.cast(back, sa.Text) + sa.literal(" days"))
    if bucket == "month":
        return sa.func.strftime("%Y-%m-01", local)
    if bucket == "quarter":
        month = (sa.cast(sa.func.strftime("%m", local), sa.Integer) - 1) // 3 * 3 + 1
        # printf writes NULL as "" and 00: keep an empty value empty
        return sa.case((local.is_(None), sa.null()), else_=sa.func.printf("%s-%02d-01", sa.func.strftime("%Y", local), month))
    return sa.func.strftime("%Y-01-01", local)


def bucket_value(raw) -> str | None:
    if raw is None:
        return None
    return raw.isoformat() if isinstance(raw, dt.date) else str(raw)[:10]


def local_time_sql(column, tz: dt.tzinfo, dialect: str):
    """A UTC timestamp column as the wall-clock time of ``tz`` (naive), in SQL."""
    zone = getattr(tz, "key", None)
    if dialect == "postgresql":
        if zone:
            return sa.func.timezone(zone, column)
        offset = tz.utcoffset(None)
        return sa.func.timezone("UTC", column) + sa.literal(offset, sa.Interval())
    if zone:  # a named zone (daylight saving): the function db.py registers on every SQLite connection
        return sa.func.crm_local_time(column, zone)
    minutes = int(tz.utcoffset(None).total_seconds() // 60)
    return sa.func.datetime(column, f"{minutes:+d} minutes")


def date_grouping(column, bucket: str, ctx: GroupContext, *, is_date: bool,
                  bound_text: Callable[[dt.date], str]) -> Grouping:
    """Group a date or a datetime by day, week, month, quarter or year, in the user's time zone."""
    local = column if is_date else local_time_sql(column, ctx.tz, ctx.dialect)
    expr = truncate_sql(local, bucket, ctx.dialect, is_date=is_date)

    def cell(v):
        if v is None:
            return [("is_empty", "")]
        start = dt.date.fromisoformat(v)
        return [("gte", bound_text(start)), ("lt", bound_text(bucket_end(start, bucket)))]

    return Grouping(expr, value=bucket_value, cell=cell)
