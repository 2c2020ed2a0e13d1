"""Date and datetime field types. Datetimes are stored in UTC and written as ISO 8601 with offset."""
from __future__ import annotations

import calendar
import datetime as dt
import re
from operator import methodcaller

import sqlalchemy as sa

from ...sqltypes import UTCDateTime
from .base import END, FieldType, Invalid, register, type_error
from . import grouping as grp

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}" + END
#: The platform stores datetimes in UTC, in years 1-9999. A positive offset on the first day or a
#: negative one on the last can fall outside them (0001-01-01T00:30:00+01:00 is year 0 in UTC), and
#: JSON Schema cannot do the arithmetic, so the published pattern refuses those offsets on those two
#: days (the leading lookahead) and the compiled checker, which uses the same pattern, agrees.
DATETIME_PATTERN = (
    r"^(?!0001-01-01[Tt][^+]*\+(?!00:00)|9999-12-31[Tt][^-]*-(?!00:00))"
    r"([0-9]{4})-(0[1-9]|1[0-2])-([0-9]{2})[Tt]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(\.[0-9]+)?"
    r"([Zz]|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))" + END
)
_DATE_RE = re.compile(DATE_PATTERN)
#: What an HTML datetime-local control posts: wall-clock time, no offset.
_LOCAL_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?" + END)
_DATETIME_RE = re.compile(DATETIME_PATTERN)
#: Dates as Chinese and spreadsheet users write them: 2024年5月1日, 2024/5/1, 2024.5.1, 2024-5-1,
#: optionally followed by a time (9:30, 09:30:15, 9时30分).
_LOOSE_RE = re.compile(r"^([0-9]{4})\s*[年/.\-]\s*([0-9]{1,2})\s*[月/.\-]\s*([0-9]{1,2})\s*[日号]?"
                       r"(?:(?:\s+|T)([0-9]{1,2})\s*[:：时]\s*([0-9]{1,2})(?:\s*[:：分]\s*([0-9]{1,2})\s*秒?)?\s*分?)?" + END)


def loose_moment(text: str) -> tuple[dt.date, dt.time | None] | None:
    """The day (and time of day, when written) of a date in one of the usual Chinese and ISO forms;
    None when ``text`` is none of them or not a calendar date."""
    m = _LOOSE_RE.search(text.strip())
    if m is None:
        return None
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        at = dt.time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)) if m.group(4) else None
    except ValueError:
        return None
    return day, at


def parse_iso_datetime(value: str) -> dt.datetime | None:
    """RFC 3339 date-time to an aware UTC datetime; None when it is not one."""
    m = _DATETIME_RE.search(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if year == 0 or day < 1 or day > calendar.monthrange(year, month)[1]:
        return None
    micro = int((m.group(7) or ".0")[1:7].ljust(6, "0"))
    if m.group(8) in ("Z", "z"):
        tz = dt.timezone.utc
    else:
        sign = 1 if m.group(9) == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(m.group(10)), minutes=int(m.group(11))))
    try:
        return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00:00+01:00 falls before year 1
        return None


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def iso_output(value: dt.datetime) -> str:
    """``iso`` for the compiled record dumper, which writes two or more per record: a value already
    in UTC (what the database gives back) is not converted again."""
    if value.utcoffset():
        value = value.astimezone(dt.timezone.utc)
    return value.isoformat()[:-6] + "Z"


@register
class Date(FieldType):
    name = "date"
    title = {"en": "Date", "zh": "日期"}
    orderable = True
    temporal = True
    control = "date"
    inline_editable = True
    dynamic_defaults = frozenset({"today"})

    def dynamic_value(self, field, token, moment, user_name):
        return moment.date()  # the day of ``moment`` in its own zone (the reader's on a form)
    operators = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")
    converts_to = frozenset({"datetime", "text", "long_text"})

    def column_type(self, field):
        return sa.Date()

    def formula_operand(self, field):
        return ("day", 0)

    def group_specs(self, field):
        return grp.BUCKETS

    def grouping(self, field, column, spec, ctx, link=None):
        return grp.date_grouping(column, grp.bucket_of(self, spec), ctx, is_date=True, bound_text=dt.date.isoformat)

    def day_start_text(self, field, day: dt.date, tz: dt.tzinfo) -> str:
        """The list filter text of the moment local ``day`` starts (a date is its own day)."""
        return day.isoformat()

    def moment_value(self, field, moment):
        return (moment.astimezone(dt.timezone.utc) if moment.tzinfo is not None else moment).date()

    def value_schema(self, field):
        return {"type": "string", "format": "date", "pattern": DATE_PATTERN}

    def compile_checker(self, field):
        def check(value):
            if type(value) is not str:
                raise type_error("a date written YYYY-MM-DD")
            if _DATE_RE.search(value) is None:
                raise Invalid("pattern", "must be a date written YYYY-MM-DD")
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise Invalid("format", "is not a calendar date") from None

        return check

    def to_json(self, value):
        return value.isoformat()

    def compile_output(self, field):
        return methodcaller("isoformat")

    def format_text(self, field, value):
        return "" if value is None else value.isoformat()

    def parse_text(self, field, text):
        text = text.strip()
        if "T" in text or " " in text:  # a datetime typed into a date column: keep its day
            parsed = parse_iso_datetime(text.replace(" ", "T"))
            if parsed is not None:
                return parsed.date()
        return self.compile_checker(field)(text)

    def import_value(self, field, cell, resolve=None):
        """An Excel date cell (a datetime), or text in the usual Chinese and ISO forms."""
        if isinstance(cell, dt.datetime):
            return cell.date().isoformat()
        if isinstance(cell, dt.date):
            return cell.isoformat()
        loose = loose_moment(str(cell)) if isinstance(cell, str) else None
        if loose is not None:
            return loose[0].isoformat()
        return super().import_value(field, cell, resolve)

    def convert(self, old_type, old_field, new_field, value):
        if value is not None and old_type.name == "datetime":
            # A datetime becomes a date only when nothing but midnight UTC would be dropped.
            if value.timetz().replace(tzinfo=None) != dt.time(0, 0):
                from .base import Unconvertible
                raise Unconvertible("has a time of day that a date cannot hold")
            return value.date()
        return super().convert(old_type, old_field, new_field, value)


@register
class DateTime(FieldType):
    name = "datetime"
    title = {"en": "Date and time", "zh": "日期时间"}
    orderable = True
    temporal = True
    control = "datetime-local"
    inline_editable = True
    dynamic_defaults = frozenset({"now", "today"})

    def dynamic_value(self, field, token, moment, user_name):
        return moment.astimezone(dt.timezone.utc).replace(microsecond=0)
    operators = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")
    converts_to = frozenset({"date", "text", "long_text"})

    def column_type(self, field):
        return UTCDateTime()

    def formula_operand(self, field):
        return ("moment", 0)  # read as its UTC day

    def group_specs(self, field):
        return grp.BUCKETS

    def grouping(self, field, column, spec, ctx, link=None):
        return grp.date_grouping(column, grp.bucket_of(self, spec), ctx, is_date=False,
                                 bound_text=lambda day: self.day_start_text(field, day, ctx.tz))

    def day_start_text(self, field, day: dt.date, tz: dt.tzinfo) -> str:
        return iso(grp.local_midnight(day, tz))

    def moment_value(self, field, moment):
        return moment

    def value_schema(self, field):
        return {"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}

    def compile_checker(self, field):
        def check(value):
            if type(value) is not str:
                raise type_error("a date and time in ISO 8601 with an offset, such as 2024-05-01T09:30:00+08:00")
            parsed = parse_iso_datetime(value)
            if parsed is None:
                code = "pattern" if _DATETIME_RE.search(value) is None else "format"
                raise Invalid(code, "must be a date and time in ISO 8601 with an offset, such as 2024-05-01T09:30:00+08:00")
            return parsed

        return check

    def to_json(self, value):
        return iso(value)

    def compile_output(self, field):
        return iso_output

    def format_text(self, field, value):
        return "" if value is None else iso(value)

    def export_text(self, field, value, lang="en", tz=dt.timezone.utc):
        """Wall-clock time in the reader's zone, as a spreadsheet cell shows it (the zone is stated once,
        beside the export, not in every cell)."""
        if isinstance(value, str):
            try:  # the record dumper's own "...Z" form: the fast parser reads it
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                moment = parse_iso_datetime(value)
        else:
            moment = value
        return "" if moment is None else moment.astimezone(tz).replace(tzinfo=None).isoformat(" ", "seconds")

    def parse_text(self, field, text):
        text = text.strip()
        if _DATE_RE.search(text):  # a bare date means midnight UTC
            return dt.datetime.combine(Date().compile_checker(field)(text), dt.time(0, 0), dt.timezone.utc)
        candidate = text.replace(" ", "T", 1)
        if parse_iso_datetime(candidate) is None and re.search(r"T[0-9:.]+$", candidate):
            candidate += "Z"  # no offset given in a spreadsheet: UTC, stated in docs/definitions.md
        return self.compile_checker(field)(candidate)

    def import_value(self, field, cell, resolve=None):
        """An Excel date-time cell or a date in the usual Chinese and ISO forms; a time written without
        an offset is UTC, as everywhere a spreadsheet gives no zone."""
        if isinstance(cell, dt.datetime):
            return iso(cell if cell.tzinfo is not None else cell.replace(tzinfo=dt.timezone.utc))
        if isinstance(cell, dt.date):
            return iso(dt.datetime.combine(cell, dt.time(0, 0), dt.timezone.utc))
        loose = loose_moment(str(cell)) if isinstance(cell, str) else None
        if loose is not None:
            return iso(dt.datetime.combine(loose[0], loose[1] or dt.time(0, 0), dt.timezone.utc))
        return super().import_value(field, cell, resolve)

    def display_text(self, field, value, locale=None):
        # A moment as the reader's wall-clock time ("2026-09-08 09:00"), as the form shows it.
        moment = parse_iso_datetime(value) if isinstance(value, str) else value
        if not isinstance(moment, dt.datetime):
            return str(value)
        return moment.astimezone(locale.tz if locale is not None else dt.timezone.utc).strftime("%Y-%m-%d %H:%M")

    def form_text(self, field, value, tz=dt.timezone.utc):
        # datetime-local shows wall-clock time without an offset: the user's own zone.
        if isinstance(value, str):
            value = parse_iso_datetime(value)
        return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")

    def from_form(self, field, raw, tz=dt.timezone.utc):
        text = super().from_form(field, raw)
        if text is None or not _LOCAL_RE.search(text):
            return text
        local = dt.datetime.fromisoformat(text).replace(tzinfo=tz)
        return iso(local)
