"""Engine creation: one place that knows how SQLite and PostgreSQL differ at connection level."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

# Constraint and index names are explicit so that DDL at run time can drop them again.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


def local_time(utc_text, zone):
    """SQLite's ``crm_local_time(ts, 'Asia/Shanghai')``: a stored UTC timestamp (naive text) as the
    wall-clock time of a named zone, in the same text form."""
    if utc_text is None or zone is None:
        return None
    moment = dt.datetime.fromisoformat(str(utc_text)).replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(zone_info(zone)).strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=64)
def zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"


def create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine, in_memory=":memory:" in url or url in ("sqlite://", "sqlite:///"))
        return engine
    # No pre-ping: it cost every checkout a round trip (a list page checks out four connections).
    # Every request begins by reading the metadata revision, which on a dropped connection (the
    # server restarted) discards the pool and reads again (``metadata.store.read_revision``); a
    # statement that meets a dropped connection later invalidates the pool, as SQLAlchemy does.
    return sa.create_engine(url, pool_size=10, max_overflow=10)


def _configure_sqlite(engine: Engine, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        # Take transaction control away from pysqlite so that BEGIN is emitted by us: DDL then
        # runs inside the same transaction as the definition it implements.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            # WAL lets readers proceed while a writer commits: several gunicorn workers share the file.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        # Reports group datetimes by the user's local day; SQLite knows no named time zones.
        dbapi_conn.create_function("crm_local_time", 2, local_time, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        # Writers that must not interleave (metadata changes) ask for an IMMEDIATE transaction, which
        # takes the write lock up front instead of failing with "database is locked" at commit.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@contextmanager
def writing(engine: Engine):
    """A transaction that will write. On SQLite it takes the write lock when it begins (BEGIN
    IMMEDIATE): a transaction that reads and then writes would otherwise fail at once with "database
    is locked" whenever another process wrote in between, since SQLite cannot upgrade it."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        yield conn
