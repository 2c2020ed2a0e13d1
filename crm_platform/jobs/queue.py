"""The job queue: Huey on a SQLite file (the default) or on Redis (``CRM_QUEUE_URL=redis://host:port/db``)."""
from __future__ import annotations

from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey

QUEUE_NAME = "crm"


def make_queue(url: str) -> Huey:
    """A Huey instance for ``url``: ``sqlite:///path`` or ``redis://…`` (``rediss://`` for TLS)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(QUEUE_NAME, url=url)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(path))
    raise ValueError(f"CRM_QUEUE_URL must be sqlite:///<file> or redis://<host>:<port>/<db>, not {url!r}")
