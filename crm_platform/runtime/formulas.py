"""A formula's typed tree (``metadata/formulas.py``) compiled twice: to a SQLAlchemy expression that
lists, filters, sorts, reports and rule tags use like a column, and to a Python function over a
record. Both follow the same rules step by step — numbers as scaled whole numbers, division
truncated toward zero, rounding half away from zero, an 18-digit overflow or a division by zero
giving null, SQL's three-valued logic — and a property test (tests/test_formula_agreement.py)
holds them together on SQLite and PostgreSQL.

Formulas are evaluated when read (docs/computed-fields.md says why): nothing is stored, so
``today()`` and a referenced record's fields are always current.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from ..clock import utcnow
from ..metadata.formulas import LIMIT, MAX_DAYS, MAX_SCALE, Node
from . import formula_sql as fx

_BOUND = LIMIT - 1
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def result_scale(shape: tuple) -> int:
    return shape[1] if shape[0] == "num" else 0


class ScaledNumber(TypeDecorator):
    """A formula's number: a scaled whole number in SQL, a Decimal (or int, for ``integer``) in
    Python. Bound values (a list filter's) are scaled the same way, so comparisons are exact."""

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, scale: int, whole: bool):
        super().__init__()
        self.scale, self.whole = scale, whole

    def load_dialect_impl(self, dialect):
        # SQLite's Numeric would read the integer through a float (inexact past 2**53).
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int(Decimal(value).scaleb(self.scale).to_integral_value())

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        scaled = int(value)
        return scaled if self.whole else Decimal(scaled).scaleb(-self.scale)

    def coerce_compared_value(self, op, value):
        return self


def sql_type(shape: tuple) -> sa.types.TypeEngine:
    """The SQL type of a formula's value; ``shape`` is the field type's ``formula_result``:
    (kind, scale, whole)."""
    kind, scale, whole = shape
    if kind == "num":
        return ScaledNumber(scale, whole)
    return {"str": sa.Text(), "bool": sa.Boolean(create_constraint=False), "day": sa.Date()}.get(kind, sa.Text())


# ---- to SQL -----------------------------------------------------------------------------------------

def to_sql(tree: Node, shape: tuple, table: sa.Table, table_of: Callable[[str], sa.Table]):
    """The formula's value as an expression over ``table``'s row (``table_of(entity)`` gives the
    tables a reference reaches), typed as the field's result."""
    expr = _Sql(table, table_of).final(tree, shape)
    return sa.type_coerce(expr, sql_type(shape))


class _Sql:
    def __init__(self, table, table_of):
        self.table, self.table_of = table, table_of

    def final(self, tree: Node, shape: tuple):
        expr = self.node(tree)
        if tree.type.kind == "num":
            return self.rescale(expr, tree.type.scale, result_scale(shape))
        return expr

    # number helpers
    @staticmethod
    def checked(x):
        return sa.case((x.between(fx.Num(-_BOUND), fx.Num(_BOUND)), x))

    def rescale(self, x, src: int, dst: int):
        if dst == src:
            return x
        if dst > src:
            return self.checked(x * fx.Num(10 ** (dst - src)))
        f = 10 ** (src - dst)
        half = f // 2
        return fx.IDiv(x + sa.case((x < fx.Num(0), fx.Num(-half)), else_=fx.Num(half)), fx.Num(f))

    def node(self, n: Node):
        return getattr(self, "_" + {"+": "add", "-": "sub", "*": "mul", "/": "div"}.get(n.op, n.op))(n)

    def _lit(self, n):
        if n.value is None:
            return sa.null()
        if n.type.kind == "num":
            return fx.Num(n.value)
        if n.type.kind == "bool":
            return sa.true() if n.value else sa.false()
        return sa.literal(n.value, sa.Text())

    def _read(self, table, n):
        col = table.c[n.field["key"]]
        if n.type.kind == "num":
            return fx.Scaled(col, n.type.scale)
        if n.source == "moment":
            return fx.UtcDay(col)
        return col

    def _field(self, n):
        return self._read(self.table, n)

    def _related(self, n):
        ref, entity, _key = n.value
        target = self.table_of(entity).alias()
        return (sa.select(self._read(target, n)).where(target.c.id == self.table.c[ref])
                .correlate(self.table).scalar_subquery())

    def _inline(self, n):
        inner = n.args[0]
        expr = self.node(inner)
        if n.type.kind == "num" and inner.type.kind == "num":
            return self.rescale(expr, inner.type.scale, n.type.scale)
        return expr

    def _neg(self, n):
        return -self.node(n.args[0])

    def _sides(self, n):
        a, b = n.args
        s = n.type.scale
        return self.rescale(self.node(a), a.type.scale, s), self.rescale(self.node(b), b.type.scale, s)

    def _add(self, n):
        a, b = self._sides(n)
        return self.checked(a + b)

    def _sub(self, n):
        a, b = self._sides(n)
        return self.checked(a - b)

    def _mul(self, n):
        a, b = n.args
        raw = a.type.scale + b.type.scale
        product = self.checked(self.node(a) * self.node(b))
        return self.rescale(product, raw, n.type.scale) if raw > MAX_SCALE else product

    def _div(self, n):
        a, b = n.args
        numerator = self.rescale(self.node(a), a.type.scale, n.type.scale + b.type.scale)
        return fx.IDiv(numerator, sa.func.nullif(self.node(b), fx.Num(0)))

    def _cmp(self, n):
        a, b = n.args
        kind = a.type.kind if a.type.kind != "null" else b.type.kind
        if kind == "num":
            s = max(a.type.scale, b.type.scale)
            x, y = self.rescale(self.node(a), a.type.scale, s), self.rescale(self.node(b), b.type.scale, s)
        elif kind == "str":
            x, y = fx.CodeOrder(self.node(a)), fx.CodeOrder(self.node(b))
        else:
            x, y = self.node(a), self.node(b)
        op = n.value
        return {"=": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op] \
            if not (kind == "null" or a.type.kind == "null" or b.type.kind == "null") else sa.null()

    def _and(self, n):
        return sa.and_(*(self.node(a) for a in n.args))

    def _or(self, n):
        return sa.or_(*(self.node(a) for a in n.args))

    def _not(self, n):
        return sa.not_(self.node(n.args[0]))

    def _concat(self, n):
        a, b = (sa.func.coalesce(self.node(x), sa.literal("", sa.Text())) for x in n.args)
        return a.op("||", return_type=sa.Text())(b)

    def _branch(self, x: Node, n: Node):
        expr = self.node(x)
        if n.type.kind == "num" and x.type.kind == "num":
            return self.rescale(expr, x.type.scale, n.type.scale)
        return expr

    def _if(self, n):
        c, a, b = n.args
        return sa.case((self.node(c), self._branch(a, n)), else_=self._branch(b, n))

    def _coalesce(self, n):
        return sa.func.coalesce(*(self._branch(a, n) for a in n.args))

    def _len(self, n):
        return fx.AsNum(sa.func.length(self.node(n.args[0])))

    def _upper(self, n):
        return fx.AsciiCase(self.node(n.args[0]), True)

    def _lower(self, n):
        return fx.AsciiCase(self.node(n.args[0]), False)

    def _days_between(self, n):
        return fx.DaysBetween(self.node(n.args[0]), self.node(n.args[1]))

    def _add_days(self, n):
        d, days = self.node(n.args[0]), self.node(n.args[1])
        return sa.case((days.between(fx.Num(-MAX_DAYS), fx.Num(MAX_DAYS)), fx.AddDays(d, days)))

    def _today(self, n):
        return fx.Today()

    def _round(self, n):
        x = n.args[0]
        return self.rescale(self.node(x), x.type.scale, n.value)


# ---- to Python --------------------------------------------------------------------------------------

Record = dict
Related = Callable[[str], "dict | None"]


def to_python(tree: Node, shape: tuple) -> Callable[[Record, Related], Any]:
    """``f(record, related)``: the formula's value for a record (its stored values, as the record
    service reads them) and ``related(reference_key)`` → the referenced record (None for none)."""
    run = _Py().node(tree)
    kind = tree.type.kind
    scale, whole = result_scale(shape), shape[2]

    def evaluate(record: Record, related: Related = lambda key: None):
        value = run(record, related)
        if value is None:
            return None
        if kind == "num":
            scaled = _rescale(value, tree.type.scale, scale)
            if scaled is None:
                return None
            return scaled if whole else Decimal(scaled).scaleb(-scale)
        return value
    return evaluate


def _checked(x):
    return x if x is not None and -_BOUND <= x <= _BOUND else None


def _tdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _rescale(x, src: int, dst: int):
    if x is None or dst == src:
        return x
    if dst > src:
        return _checked(x * 10 ** (dst - src))
    f = 10 ** (src - dst)
    return _tdiv(x + (-(f // 2) if x < 0 else f // 2), f)


def _scaled(value, scale: int) -> int:
    if isinstance(value, Decimal):
        return int(value.scaleb(scale).to_integral_value())
    return int(value) * 10 ** scale if scale else int(value)


def _and(values):
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values):
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


_CMP = {"=": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,
        "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y}


class _Py:
    def node(self, n: Node):
        return getattr(self, "_" + {"+": "add", "-": "sub", "*": "mul", "/": "div"}.get(n.op, n.op))(n)

    def _lit(self, n):
        v = n.value
        return lambda r, rel: v

    def _convert(self, n):
        kind, scale, source = n.type.kind, n.type.scale, n.source

        def convert(v):
            if v is None:
                return None
            if kind == "num":
                return _scaled(v, scale)
            if source == "moment":
                return v.astimezone(dt.timezone.utc).date()
            if kind == "bool":
                return bool(v)
            return v
        return convert

    def _field(self, n):
        key, convert = n.value, self._convert(n)
        return lambda r, rel: convert(r.get(key))

    def _related(self, n):
        ref, _entity, key = n.value
        convert = self._convert(n)

        def read(r, rel):
            if r.get(ref) is None:
                return None
            other = rel(ref)
            return None if other is None else convert(other.get(key))
        return read

    def _inline(self, n):
        inner = n.args[0]
        run = self.node(inner)
        if n.type.kind == "num" and inner.type.kind == "num":
            src, dst = inner.type.scale, n.type.scale
            return lambda r, rel: _rescale(run(r, rel), src, dst)
        return run

    def _neg(self, n):
        run = self.node(n.args[0])
        return lambda r, rel: None if (v := run(r, rel)) is None else -v

    def _sides(self, n):
        a, b = n.args
        s = n.type.scale
        ra, rb = self.node(a), self.node(b)
        sa_, sb = a.type.scale, b.type.scale
        return lambda r, rel: (_rescale(ra(r, rel), sa_, s), _rescale(rb(r, rel), sb, s))

    def _arith(self, n, f):
        sides = self._sides(n)

        def run(r, rel):
            x, y = sides(r, rel)
            return None if x is None or y is None else _checked(f(x, y))
        return run

    def _add(self, n):
        return self._arith(n, lambda x, y: x + y)

    def _sub(self, n):
        return self._arith(n, lambda x, y: x - y)

    def _mul(self, n):
        a, b = n.args
        ra, rb = self.node(a), self.node(b)
        raw, dst = a.type.scale + b.type.scale, n.type.scale

        def run(r, rel):
            x, y = ra(r, rel), rb(r, rel)
            if x is None or y is None:
                return None
            return _rescale(_checked(x * y), raw, dst) if raw > MAX_SCALE else _checked(x * y)
        return run

    def _div(self, n):
        a, b = n.args
        ra, rb = self.node(a), self.node(b)
        src, dst = a.type.scale, n.type.scale + b.type.scale

        def run(r, rel):
            x, y = _rescale(ra(r, rel), src, dst), rb(r, rel)
            if x is None or y is None or y == 0:
                return None
            return _tdiv(x, y)
        return run

    def _cmp(self, n):
        a, b = n.args
        if "null" in (a.type.kind, b.type.kind):
            return lambda r, rel: None
        ra, rb, f = self.node(a), self.node(b), _CMP[n.value]
        if a.type.kind == "num":
            s = max(a.type.scale, b.type.scale)
            sa_, sb = a.type.scale, b.type.scale
            get = lambda r, rel: (_rescale(ra(r, rel), sa_, s), _rescale(rb(r, rel), sb, s))  # noqa: E731
        else:
            get = lambda r, rel: (ra(r, rel), rb(r, rel))  # noqa: E731

        def run(r, rel):
            x, y = get(r, rel)
            return None if x is None or y is None else f(x, y)
        return run

    def _and(self, n):
        runs = [self.node(a) for a in n.args]
        return lambda r, rel: _and([f(r, rel) for f in runs])

    def _or(self, n):
        runs = [self.node(a) for a in n.args]
        return lambda r, rel: _or([f(r, rel) for f in runs])

    def _not(self, n):
        run = self.node(n.args[0])
        return lambda r, rel: None if (v := run(r, rel)) is None else not v

    def _concat(self, n):
        ra, rb = (self.node(a) for a in n.args)
        return lambda r, rel: (ra(r, rel) or "") + (rb(r, rel) or "")

    def _branch(self, x: Node, n: Node):
        run = self.node(x)
        if n.type.kind == "num" and x.type.kind == "num":
            src, dst = x.type.scale, n.type.scale
            return lambda r, rel: _rescale(run(r, rel), src, dst)
        return run

    def _if(self, n):
        c, a, b = n.args
        rc, ra, rb = self.node(c), self._branch(a, n), self._branch(b, n)
        return lambda r, rel: ra(r, rel) if rc(r, rel) is True else rb(r, rel)

    def _coalesce(self, n):
        runs = [self._branch(a, n) for a in n.args]

        def run(r, rel):
            for f in runs:
                v = f(r, rel)
                if v is not None:
                    return v
            return None
        return run

    def _text_fn(self, n, f):
        run = self.node(n.args[0])
        return lambda r, rel: None if (v := run(r, rel)) is None else f(v)

    def _len(self, n):
        return self._text_fn(n, len)

    def _upper(self, n):
        return self._text_fn(n, lambda s: s.translate(_ASCII_UPPER))

    def _lower(self, n):
        return self._text_fn(n, lambda s: s.translate(_ASCII_LOWER))

    def _days_between(self, n):
        ra, rb = (self.node(a) for a in n.args)

        def run(r, rel):
            x, y = ra(r, rel), rb(r, rel)
            return None if x is None or y is None else (y - x).days
        return run

    def _add_days(self, n):
        rd, rn = (self.node(a) for a in n.args)

        def run(r, rel):
            d, days = rd(r, rel), rn(r, rel)
            if d is None or days is None or not -MAX_DAYS <= days <= MAX_DAYS:
                return None
            try:
                return d + dt.timedelta(days=days)
            except OverflowError:
                return None
        return run

    def _today(self, n):
        return lambda r, rel: utcnow().date()

    def _round(self, n):
        x = n.args[0]
        run, src, dst = self.node(x), x.type.scale, n.value
        return lambda r, rel: _rescale(run(r, rel), src, dst)
