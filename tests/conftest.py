"""Fixtures: every test that touches SQL runs on SQLite, and on PostgreSQL when DATABASE_URL names one."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import settings

from crm_platform.app import create_app
from crm_platform.config import normalise_database_url
from crm_platform.migrate import upgrade

PG_URL = os.environ.get("DATABASE_URL", "")
HAS_PG = PG_URL.startswith(("postgres://", "postgresql"))
#: Under CI=true a backend that is missing is an error, never a quiet skip (see docs/testing.md):
#: browser tests always; PostgreSQL tests when .ci/run says it provides a database.
CI = os.environ.get("CI") == "true"
REQUIRE_PG = CI and os.environ.get("CRM_REQUIRE_POSTGRES") == "1"

# ---- Hypothesis profiles: a fixed seed in CI, a larger random run on demand -----------------------
# HYPOTHESIS_PROFILE=thorough multiplies every property test's examples by ten (``examples(n)``).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("thorough", deadline=None)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if CI else "default")
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(n: int) -> int:
    """A property test's number of examples under the loaded profile."""
    return n * 10 if HYPOTHESIS_PROFILE == "thorough" else n


def pytest_configure(config):
    if REQUIRE_PG and not HAS_PG:
        raise pytest.UsageError("CI=true and CRM_REQUIRE_POSTGRES=1, but DATABASE_URL names no PostgreSQL database: "
                                "the PostgreSQL tests would be skipped")


_passed = {"postgresql": 0, "browser": 0}
_collected = {"postgresql": 0, "browser": 0}


def _backend_of(item) -> str | None:
    if item.get_closest_marker("browser") is not None:
        return "browser"
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("database_url") == "postgresql":
        return "postgresql"
    if item.get_closest_marker("postgres") is not None or "pg_database" in getattr(item, "fixturenames", ()):
        return "postgresql"
    return None


#: CRM_TEST_ONLY_POSTGRES=1 (.ci/run's second pass): only the PostgreSQL tests, the rest having run in
#: the first pass on SQLite, so that CI does not run the SQLite half of the suite twice.
ONLY_PG = os.environ.get("CRM_TEST_ONLY_POSTGRES") == "1"


def pytest_collection_modifyitems(config, items):
    if not ONLY_PG:
        return
    keep, drop = [], []
    for item in items:
        (keep if _backend_of(item) == "postgresql" else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session):
    for item in session.items:  # what will run, after -m / -k deselection
        backend = _backend_of(item)
        if backend:
            _collected[backend] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true, a browser test skipped (no Chromium, no Playwright) or a PostgreSQL test skipped
    while .ci/run provides a database fails instead: CI must not go green without them."""
    outcome = yield
    report = outcome.get_result()
    backend = _backend_of(item)
    if report.passed and report.when == "call" and backend:
        _passed[backend] += 1
    if CI and report.skipped and (backend == "browser" or (backend == "postgresql" and REQUIRE_PG)):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{backend} test skipped under CI=true: {reason}"


def pytest_sessionfinish(session, exitstatus):
    """Under CI=true, collected browser (or required PostgreSQL) tests of which none passed fail the run."""
    if not CI:
        return
    empty = [b for b in _collected if _collected[b] and not _passed[b] and (b == "browser" or REQUIRE_PG)]
    if REQUIRE_PG and not _collected["postgresql"]:
        empty.append("postgresql")
    if empty and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _missing[:] = empty


_missing: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if CI:
        terminalreporter.write_line(f"CI=true: passed per backend {_passed} of collected {_collected}")
    if _missing:
        terminalreporter.write_line(f"CI=true: no {' and no '.join(_missing)} test passed: failing the run", red=True)


def _backends():
    yield pytest.param("sqlite", id="sqlite")
    yield pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(
        not HAS_PG, reason="DATABASE_URL names no PostgreSQL database"))


@pytest.fixture(scope="session")
def pg_database():
    """A throw-away database for this test session, dropped at the end."""
    admin_url = normalise_database_url(PG_URL)
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _reset_pg(url: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=list(_backends()))
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.sqlite'}"
    url = request.getfixturevalue("pg_database")
    _reset_pg(url)
    return url


class TokenClient(FlaskClient):
    """A test client that signs its API calls with the app's administrator token, unless told otherwise."""

    def open(self, *args, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if "Authorization" not in headers and self.application.config.get("TEST_TOKEN"):
            headers["Authorization"] = f"Bearer {self.application.config['TEST_TOKEN']}"
        elif headers.get("Authorization") is None:
            headers.pop("Authorization", None)
        return super().open(*args, headers=headers, **kwargs)


ADMIN_PASSWORD = "admin-password"


def make_app(url: str, *, signed_in: bool = True):
    """An app on ``url`` with the platform tables; its test clients act as the administrator 'admin'."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "TESTING": True, "WTF_CSRF_ENABLED": False})
    upgrade(app.extensions["crm"].engine)
    from crm_platform.auth.web import limiter
    limiter.reset()  # sign-in attempts are counted per process; each test starts from none
    users = app.extensions["crm"].users
    admin = users.get_by_name("admin") or users.create("admin", ADMIN_PASSWORD, is_admin=True)
    app.config["TEST_TOKEN"] = users.issue_token(admin) if signed_in else None
    app.test_client_class = TokenClient
    return app


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    app.extensions["crm"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def platform(app):
    return app.extensions["crm"]


STUDENT = {
    "key": "student",
    "label": {"en": "Student", "zh": "学员"},
    "plural_label": {"en": "Students", "zh": "学员"},
    "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True, "max_length": 100},
        {"key": "age", "type": "integer", "label": "Age", "min": 3, "max": 120},
        {"key": "email", "type": "email", "label": "E-mail", "unique": True},
        {"key": "course", "type": "select", "label": {"en": "Course", "zh": "课程类型"},
         "choices": [{"key": "math", "label": "Math"}, {"key": "art", "label": {"en": "Art", "zh": "美术"}}]},
        {"key": "enrolled_on", "type": "date", "label": "Enrolment date"},
    ],
}


@pytest.fixture
def student(client):
    r = client.post("/api/meta/entities", json=STUDENT)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["entity"]
