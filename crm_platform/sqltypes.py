"""Column types that hide the differences between SQLite and PostgreSQL.

Datetimes are stored in UTC and returned timezone-aware; decimals never pass through floats.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

#: Decimal fields carry at most this many significant digits, so that on SQLite a value scaled
#: by 10**scale still fits in a 64-bit integer.
DECIMAL_PRECISION = 18


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes, stored as UTC.

    PostgreSQL gets ``timestamptz``; SQLite, which has no datetime type, gets naive UTC text
    that sorts correctly. Naive values are refused rather than guessed.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: datetimes must carry a timezone")
        value = value.astimezone(dt.timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class ExactDecimal(TypeDecorator):
    """A fixed-scale decimal: NUMERIC(18, scale) on PostgreSQL, a scaled BIGINT on SQLite.

    The SQLite form keeps values exact, sortable and summable in SQL; the scale is part of the
    storage, so changing it is a conversion (planned like a type change).
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = scale
        self._factor = Decimal(10) ** scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(DECIMAL_PRECISION, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return int((value * self._factor).to_integral_value())
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / self._factor).quantize(self._quantum)
        return Decimal(value).quantize(self._quantum)

    def coerce_compared_value(self, op, value):
        return self
