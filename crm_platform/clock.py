"""The platform's clock: the current time, timezone-aware in UTC, as every datetime is stored and compared."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
