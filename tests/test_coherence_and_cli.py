"""Several app processes over one database; the `crm` command; the OpenAPI document."""
from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner
from openapi_spec_validator import validate

from conftest import STUDENT, make_app


def test_a_field_added_through_one_instance_is_live_in_another(database_url):
    first, second = make_app(database_url), make_app(database_url)
    a, b = first.test_client(), second.test_client()
    assert a.post("/api/meta/entities", json=STUDENT).status_code == 201
    assert b.post("/api/records/student", json={"name": "Li"}).status_code == 201  # b compiles revision 1
    assert a.post("/api/meta/entities/student/fields", json={"key": "phone", "type": "phone"}).status_code == 201
    r = b.post("/api/records/student", json={"name": "Han", "phone": "+86 10 1234 5678"})
    assert r.status_code == 201, r.get_json()
    assert a.get(f"/api/records/student/{r.get_json()['id']}").get_json()["phone"] == "+86 10 1234 5678"
    assert a.delete("/api/meta/entities/student/fields/phone").status_code == 200
    r = b.post("/api/records/student", json={"name": "Wei", "phone": "+86 10 1234 5678"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "phone"
    for app in (first, second):
        app.extensions["crm"].engine.dispose()


def test_a_second_process_sees_changes_on_its_next_request(database_url, tmp_path):
    """A separate Python process (like a second gunicorn worker) adds a field; this one accepts it."""
    app = make_app(database_url)
    client = app.test_client()
    client.post("/api/meta/entities", json=STUDENT)
    client.get("/api/records/student")
    script = (
        "import sys; from crm_platform.app import create_app\n"
        "app = create_app({'DATABASE_URL': sys.argv[1]})\n"
        "r = app.test_client().post('/api/meta/entities/student/fields', json={'key': 'grade', 'type': 'integer'},\n"
        "                           headers={'Authorization': 'Bearer ' + sys.argv[2]})\n"
        "assert r.status_code == 201, r.get_json()\n"
    )
    subprocess.run([sys.executable, "-c", script, database_url, app.config["TEST_TOKEN"]], check=True, cwd=tmp_path)
    r = client.post("/api/records/student", json={"name": "Li", "grade": 5})
    assert r.status_code == 201, r.get_json()
    app.extensions["crm"].engine.dispose()


def test_openapi_document_is_valid_and_follows_the_metadata(client, student):
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    assert "/api/records/student" in doc["paths"]
    assert doc["components"]["schemas"]["student"]["properties"]["course"]["anyOf"][0]["enum"] == ["math", "art"]
    client.post("/api/meta/entities", json={"key": "course_offer", "label": "Course offer", "fields": [
        {"key": "title", "type": "text"}]})
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    assert "/api/records/course_offer/{id}" in doc["paths"]


def test_cli_init_and_entity_list(database_url, tmp_path, monkeypatch):
    from crm_platform.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "database ready" in result.output
    assert runner.invoke(main, ["init"]).exit_code == 0  # upgrading twice is harmless
    assert "no entities yet" in runner.invoke(main, ["entity", "list"]).output
    app = make_app(database_url)
    c = app.test_client()
    c.post("/api/meta/entities", json=STUDENT)
    c.post("/api/records/student", json={"name": "Li"})
    out = runner.invoke(main, ["entity", "list"]).output
    assert "student  Student  (5 fields, 1 records)" in out
    app.extensions["crm"].engine.dispose()


def test_crm_serve_runs_gunicorn_workers_that_share_metadata(tmp_path):
    """`crm serve` with two workers: a field added through one request is accepted by every worker."""
    import json
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}", "SECRET_KEY": "x"}
    crm = [sys.executable, "-m", "crm_platform.cli"]
    subprocess.run(crm + ["init"], check=True, env=env, cwd=tmp_path, capture_output=True)
    subprocess.run(crm + ["user", "create", "boss", "--password", "boss-password", "--admin"], check=True, env=env,
                   cwd=tmp_path, capture_output=True)
    server = subprocess.Popen(crm + ["serve", "--port", str(port), "--workers", "2"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    token = {}

    def call(method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token['value']}"
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    try:
        for _ in range(100):
            try:
                status, body = call("POST", "/api/auth/token", {"username": "boss", "password": "boss-password"})
                break
            except OSError:
                time.sleep(0.1)
        assert status == 201
        token["value"] = body["token"]
        assert call("POST", "/api/meta/entities", STUDENT)[0] == 201
        assert call("POST", "/api/meta/entities/student/fields", {"key": "grade", "type": "integer"})[0] == 201
        statuses = {call("POST", "/api/records/student", {"name": f"S{i}", "grade": i})[0] for i in range(20)}
        assert statuses == {201}
        assert call("GET", "/api/records/student")[1]["total"] == 20
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_index_lists_entities_and_their_endpoints(client, student):
    body = client.get("/api").get_json()
    assert body["openapi"] == "/api/openapi.json"
    assert body["entities"] == [{"key": "student", "label": {"en": "Student", "zh": "学员"},
                                 "records": "/api/records/student", "schema": "/api/meta/entities/student/schema"}]


def test_crm_init_indexes_for_search_the_records_of_an_instance_upgraded_from_before_search(database_url, tmp_path,
                                                                                         monkeypatch):
    """An instance from a release without global search finds its old records after `crm init`
    (the upgrade), without a separate `crm search reindex`."""
    import sqlalchemy as sa
    from alembic import command

    from crm_platform.cli import main
    from crm_platform.migrate import alembic_config

    app = make_app(database_url)
    c = app.test_client()
    assert c.post("/api/meta/entities", json=STUDENT).status_code == 201
    assert c.post("/api/records/student", json={"name": "Zhang Wei"}).status_code == 201
    engine = app.extensions["crm"].engine
    with engine.begin() as conn:  # back to the release before search: no index
        command.downgrade(alembic_config(conn), "0015_totp")
    with engine.connect() as conn:
        assert "crm_search" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "values indexed" in result.output
    app = make_app(database_url)
    found = app.test_client().get("/api/search?q=Zhang").get_json()
    assert [r["title"] for r in found["results"]] == ["Zhang Wei"], found
    app.extensions["crm"].engine.dispose()
