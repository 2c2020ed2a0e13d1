"""SQL pieces a formula needs that SQLite and PostgreSQL spell differently.

Each is a SQLAlchemy element compiled per dialect (``@compiles``), so one expression built from a
formula's tree is correct on both and can be cached with the compiled model (which does not know
the dialect). Numbers are scaled whole numbers (see ``metadata/formulas.py``): SQLite keeps them as
64-bit integers, PostgreSQL as NUMERIC (exact, and never an "out of range" error).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()


class _Element(FunctionElement):
    inherit_cache = True

    def _arg(self, compiler, i, **kw):
        # Parenthesised: an argument may be an operation ("a + b") and the SQL around it another.
        return f"({compiler.process(list(self.clauses)[i], **kw)})"


class Scaled(_Element):
    """A stored number as a scaled whole number: SQLite's decimal column already is one (it stores
    ``value * 10**scale``), PostgreSQL's NUMERIC is multiplied. ``scale`` rides on the element."""
    name = "crm_scaled"
    inherit_cache = True
    type = sa.Numeric()
    # What changes the SQL is part of the statement cache key.
    _traverse_internals = FunctionElement._traverse_internals + [("scale", InternalTraversal.dp_plain_obj)]

    def __init__(self, column, scale: int):
        super().__init__(column)
        self.scale = scale


@compiles(Scaled, "sqlite")
def _scaled_sqlite(element, compiler, **kw):
    return element._arg(compiler, 0, **kw)


@compiles(Scaled, "postgresql")
def _scaled_pg(element, compiler, **kw):
    col = f"CAST({element._arg(compiler, 0, **kw)} AS NUMERIC)"
    return col if not element.scale else f"({col} * {10 ** element.scale})"


class Num(_Element):
    """A whole-number constant (our own, never user text: a literal is safe to inline)."""
    name = "crm_num"
    inherit_cache = True
    type = sa.Numeric()
    _traverse_internals = FunctionElement._traverse_internals + [("value", InternalTraversal.dp_plain_obj)]

    def __init__(self, value: int):
        super().__init__()
        self.value = int(value)


@compiles(Num, "sqlite")
def _num_sqlite(element, compiler, **kw):
    return str(element.value) if element.value >= 0 else f"({element.value})"


@compiles(Num, "postgresql")
def _num_pg(element, compiler, **kw):
    return f"CAST({element.value} AS NUMERIC)"


class IDiv(_Element):
    """Whole-number division truncated toward zero (SQLite's integer ``/``, PostgreSQL's ``div``)."""
    name = "crm_idiv"
    inherit_cache = True
    type = sa.Numeric()


@compiles(IDiv, "sqlite")
def _idiv_sqlite(element, compiler, **kw):
    return f"({element._arg(compiler, 0, **kw)} / {element._arg(compiler, 1, **kw)})"


@compiles(IDiv, "postgresql")
def _idiv_pg(element, compiler, **kw):
    return f"div({element._arg(compiler, 0, **kw)}, {element._arg(compiler, 1, **kw)})"


class AsNum(_Element):
    """A whole number from a function (length, a day count) as the formula's number type."""
    name = "crm_as_num"
    inherit_cache = True
    type = sa.Numeric()


@compiles(AsNum, "sqlite")
def _asnum_sqlite(element, compiler, **kw):
    return element._arg(compiler, 0, **kw)


@compiles(AsNum, "postgresql")
def _asnum_pg(element, compiler, **kw):
    return f"CAST({element._arg(compiler, 0, **kw)} AS NUMERIC)"


class CodeOrder(_Element):
    """Text compared by code point, as Python and SQLite do; PostgreSQL's collation might not."""
    name = "crm_code_order"
    inherit_cache = True
    type = sa.Text()


@compiles(CodeOrder, "sqlite")
def _code_sqlite(element, compiler, **kw):
    return element._arg(compiler, 0, **kw)


@compiles(CodeOrder, "postgresql")
def _code_pg(element, compiler, **kw):
    return f'({element._arg(compiler, 0, **kw)} COLLATE "C")'


class AsciiCase(_Element):
    """upper / lower of the letters a–z only: SQLite's built-ins do exactly that, PostgreSQL's follow
    the database's locale, so it translates the 26 letters itself."""
    name = "crm_ascii_case"
    inherit_cache = True
    type = sa.Text()
    _traverse_internals = FunctionElement._traverse_internals + [("upper", InternalTraversal.dp_plain_obj)]

    def __init__(self, text, upper: bool):
        super().__init__(text)
        self.upper = upper


@compiles(AsciiCase, "sqlite")
def _case_sqlite(element, compiler, **kw):
    return f"{'upper' if element.upper else 'lower'}({element._arg(compiler, 0, **kw)})"


@compiles(AsciiCase, "postgresql")
def _case_pg(element, compiler, **kw):
    src, dst = (_LOWER, _UPPER) if element.upper else (_UPPER, _LOWER)
    return f"translate({element._arg(compiler, 0, **kw)}, '{src}', '{dst}')"


class Today(_Element):
    """Today's date in UTC, when the statement runs."""
    name = "crm_today"
    inherit_cache = True
    type = sa.Date()


@compiles(Today, "sqlite")
def _today_sqlite(element, compiler, **kw):
    return "date('now')"


@compiles(Today, "postgresql")
def _today_pg(element, compiler, **kw):
    return "CAST((now() AT TIME ZONE 'UTC') AS DATE)"


class UtcDay(_Element):
    """A datetime column's UTC day (SQLite stores naive UTC text, PostgreSQL timestamptz)."""
    name = "crm_utc_day"
    inherit_cache = True
    type = sa.Date()


@compiles(UtcDay, "sqlite")
def _day_sqlite(element, compiler, **kw):
    return f"date({element._arg(compiler, 0, **kw)})"


@compiles(UtcDay, "postgresql")
def _day_pg(element, compiler, **kw):
    return f"CAST(({element._arg(compiler, 0, **kw)} AT TIME ZONE 'UTC') AS DATE)"


class DaysBetween(_Element):
    name = "crm_days_between"
    inherit_cache = True
    type = sa.Numeric()


@compiles(DaysBetween, "sqlite")
def _between_sqlite(element, compiler, **kw):
    a, b = element._arg(compiler, 0, **kw), element._arg(compiler, 1, **kw)
    return f"CAST(julianday({b}) - julianday({a}) AS INTEGER)"


@compiles(DaysBetween, "postgresql")
def _between_pg(element, compiler, **kw):
    a, b = element._arg(compiler, 0, **kw), element._arg(compiler, 1, **kw)
    return f"CAST(({b} - {a}) AS NUMERIC)"


class AddDays(_Element):
    name = "crm_add_days"
    inherit_cache = True
    type = sa.Date()


@compiles(AddDays, "sqlite")
def _add_sqlite(element, compiler, **kw):
    d, n = element._arg(compiler, 0, **kw), element._arg(compiler, 1, **kw)
    return f"date({d}, ({n}) || ' days')"


@compiles(AddDays, "postgresql")
def _add_pg(element, compiler, **kw):
    d, n = element._arg(compiler, 0, **kw), element._arg(compiler, 1, **kw)
    return f"({d} + CAST({n} AS INTEGER))"
