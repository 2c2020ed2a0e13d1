"""Fixtures: every test that touches SQL runs on SQLite, and on PostgreSQL when DATABASE_URL names one."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from crm_platform import create_app
from crm_platform.config import normalise_database_url
from crm_platform.migrate import upgrade

PG_URL = os.environ.get("DATABASE_URL", "")
HAS_PG = PG_URL.startswith(("postgres://", "postgresql"))


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
