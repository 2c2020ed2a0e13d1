"""Shared helpers for the benchmark scripts (not a test module; run the scripts directly).

* ``add_database_args`` / ``bench_database``: ``--database-url`` handling. Without it a fresh SQLite
  file in a temporary directory is used; with a PostgreSQL URL a throw-away database is created
  next to the one named and dropped afterwards, so nothing in the named database is touched.
* ``make_app``: the app the tests build (``create_app`` + Alembic upgrade of the platform tables).
* ``profiled``: cProfile (or pyinstrument when installed) around a block, printed on demand.
* ``verdict``: prints the ratio against its target and returns the process exit code.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

# Run from a checkout without installing: make ``crm_platform`` importable.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from crm_platform.app import create_app  # noqa: E402
from crm_platform.config import normalise_database_url  # noqa: E402
from crm_platform.migrate import upgrade  # noqa: E402


def add_database_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=None,
                        help="SQLite or PostgreSQL URL. Default: a fresh SQLite file in a temporary directory. "
                             "For PostgreSQL a throw-away database is created on that server and dropped at the end.")
    parser.add_argument("--profile", action="store_true",
                        help="profile the measured platform call and print where the time goes, even if the "
                             "target is met (it is printed automatically when the target is missed)")


def backend_name(url: str) -> str:
    return "postgresql" if url.startswith(("postgres", "postgresql")) else "sqlite"


@contextmanager
def bench_database(url: str | None):
    """Yield a normalised database URL that is empty and ours to use; clean it up afterwards."""
    if not url:
        with tempfile.TemporaryDirectory(prefix="crm_bench_") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        return
    url = normalise_database_url(url)
    if not url.startswith("postgresql"):
        # An explicit SQLite file: refuse to write into one that already holds data.
        path = sa.engine.make_url(url).database
        if path and path != ":memory:" and os.path.exists(path) and os.path.getsize(path) > 0:
            raise SystemExit(f"{path} exists and is not empty; give a new file or leave --database-url out")
        yield url
        return
    name = f"crm_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def make_app(url: str):
    """The app as the tests build it: create_app, the platform's own tables, and an administrator
    whose API token every test client of the app sends (the API requires one)."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    upgrade(app.extensions["crm"].engine)
    users = app.extensions["crm"].users
    token = users.issue_token(users.get_by_name("bench") or users.create("bench", "bench-password", is_admin=True))

    class TokenClient(app.test_client_class or FlaskClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    app.test_client_class = TokenClient
    return app


def describe_database(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            version = conn.exec_driver_sql("select sqlite_version()").scalar()
            return f"SQLite {version} (file, WAL, synchronous=NORMAL)"
        version = conn.exec_driver_sql("show server_version").scalar()
        return f"PostgreSQL {version}"


class Timer:
    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start


class Profile:
    """Collects a profile of the blocks run under ``with prof:``; ``report()`` gives the text."""

    def __init__(self, enabled: bool, top: int = 25):
        self.enabled = enabled
        self.top = top
        self._cprofile = None
        self._pyinstrument = None
        if enabled:
            try:
                import pyinstrument  # optional
                self._pyinstrument = pyinstrument.Profiler()
            except ImportError:
                self._cprofile = cProfile.Profile()

    def __enter__(self):
        if self._pyinstrument is not None:
            self._pyinstrument.start()
        elif self._cprofile is not None:
            self._cprofile.enable()
        return self

    def __exit__(self, *exc):
        if self._pyinstrument is not None:
            self._pyinstrument.stop()
        elif self._cprofile is not None:
            self._cprofile.disable()

    def report(self) -> str:
        if self._pyinstrument is not None:
            return self._pyinstrument.output_text(unicode=True, color=False)
        if self._cprofile is None:
            return "(profiling was off)"
        out = io.StringIO()
        stats = pstats.Stats(self._cprofile, stream=out)
        stats.sort_stats("tottime").print_stats(self.top)
        stats.sort_stats("cumulative").print_stats(self.top)
        return out.getvalue()


def verdict(name: str, ratio: float, target: float, *, higher_is_better: bool = True, enforced: bool = True) -> int:
    """Print the ratio against its target; the exit status to use (0 met, 1 missed)."""
    met = ratio >= target if higher_is_better else ratio < target
    sign = ">=" if higher_is_better else "<"
    state = "MET" if met else "MISSED"
    if not enforced:
        state += " (informational here; not enforced for this database)"
    print(f"{name}: ratio {ratio:.3f} (target {sign} {target}) -> {state}")
    return 0 if met or not enforced else 1


# ---- the benchmark entity -------------------------------------------------------------------------
STAGES = ["lead", "qualified", "proposal", "won", "lost"]
SOURCES = ["web", "referral", "event", "cold_call", "partner"]
TAGS = ["vip", "newsletter", "partner", "churn_risk", "upsell", "b2b"]


def choices(keys):
    return [{"key": k, "label": k.replace("_", " ").title()} for k in keys]


def contact_entity(key: str) -> dict:
    """20 fields covering every scalar field type (reference fields need a second entity; left out)."""
    return {
        "key": key,
        "label": {"en": "Benchmark contact"},
        "title_field": "name",
        "fields": [
            {"key": "name", "type": "text", "label": "Name", "required": True, "max_length": 120},
            {"key": "company", "type": "text", "label": "Company"},
            {"key": "email", "type": "email", "label": "E-mail", "unique": True},
            {"key": "phone", "type": "phone", "label": "Phone"},
            {"key": "website", "type": "url", "label": "Website"},
            {"key": "notes", "type": "long_text", "label": "Notes"},
            {"key": "description", "type": "long_text", "label": "Description", "max_length": 5000},
            {"key": "age", "type": "integer", "label": "Age", "min": 0, "max": 150},
            {"key": "employees", "type": "integer", "label": "Employees"},
            {"key": "score", "type": "integer", "label": "Score", "min": 0, "max": 100},
            {"key": "revenue", "type": "decimal", "label": "Revenue", "scale": 2},
            {"key": "discount", "type": "decimal", "label": "Discount", "scale": 4, "min": 0, "max": 1},
            {"key": "active", "type": "boolean", "label": "Active"},
            {"key": "vip", "type": "boolean", "label": "VIP"},
            {"key": "born_on", "type": "date", "label": "Born on"},
            {"key": "last_contact_at", "type": "datetime", "label": "Last contact"},
            {"key": "next_call_at", "type": "datetime", "label": "Next call"},
            {"key": "stage", "type": "select", "label": "Stage", "choices": choices(STAGES)},
            {"key": "source", "type": "select", "label": "Source", "choices": choices(SOURCES)},
            {"key": "tags", "type": "multi_select", "label": "Tags", "choices": choices(TAGS)},
        ],
    }


def contact_rows(n: int, seed: int = 7) -> list[dict]:
    """JSON-like records as the API would pass them on; about 1 in 10 optional values left out or null."""
    rnd = random.Random(seed)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    rows = []
    for i in range(n):
        when = base + dt.timedelta(minutes=rnd.randrange(0, 525_600))
        row = {
            "name": f"Contact {i} {rnd.choice(['Li', 'Smith', 'García', 'Müller', 'Wang'])}",
            "company": f"Company {i % 997}",
            "email": f"Contact.{i}@Example.com",
            "phone": f"+86 10 {rnd.randrange(10_000_000, 99_999_999)}",
            "website": f"https://example.com/c/{i}",
            "notes": "Called twice, interested in the premium plan. " * rnd.randrange(1, 4),
            "description": f"Row {i} description",
            "age": rnd.randrange(18, 90),
            "employees": rnd.randrange(1, 50_000),
            "score": rnd.randrange(0, 101),
            "revenue": Decimal(rnd.randrange(0, 10**9)).scaleb(-2),
            "discount": Decimal(rnd.randrange(0, 10_001)).scaleb(-4),
            "active": rnd.random() < 0.8,
            "vip": rnd.random() < 0.1,
            "born_on": f"{rnd.randrange(1950, 2005)}-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
            "last_contact_at": when.isoformat().replace("+00:00", "Z"),
            "next_call_at": (when + dt.timedelta(days=3)).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),
            "stage": rnd.choice(STAGES),
            "source": rnd.choice(SOURCES),
            "tags": rnd.sample(TAGS, rnd.randrange(0, 3)),
        }
        for key in ("company", "phone", "website", "description", "employees", "vip", "next_call_at", "tags"):
            r = rnd.random()
            if r < 0.05:
                del row[key]
            elif r < 0.10:
                row[key] = None
        rows.append(row)
    return rows
