"""/api/bundle and the `crm export | import | template` commands (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crm_platform.bundles.format import parse, serialise
from crm_platform.cli import main
from test_bundles import make_bundle, revision_count, tables


@pytest.fixture
def seller_token(app):
    users = app.extensions["crm"].users
    return users.issue_token(users.create("seller", "seller-password"))


def test_export_and_import_over_the_api(client, platform):
    bundle = make_bundle()
    plan = client.post("/api/bundle?dry_run=1&sample_data=1", data=serialise(bundle))
    assert plan.status_code == 200, plan.get_json()
    assert plan.get_json()["dry_run"] is True and tables(platform) == set()
    done = client.post("/api/bundle?sample_data=1", data=serialise(bundle))
    assert done.status_code == 200 and done.get_json()["sample_data"]["records"] == {"customer": 2, "manager": 1}
    exported = client.get("/api/bundle?name=shop&sample_data=1")
    assert exported.status_code == 200 and exported.headers["ETag"] == f"\"{json.loads(exported.data)['checksum']}\""
    assert exported.data == client.get("/api/bundle?name=shop&sample_data=1").data  # deterministic
    only = parse(client.get("/api/bundle?only=segment,entity:manager").data)
    assert {k: [d["key"] for d in v] for k, v in only["definitions"].items()} == {"entity": ["manager"],
                                                                                  "taxonomy": ["segment"]}
    installed = client.get("/api/bundle/installed").get_json()["items"]
    assert [(b["name"], b["version"], b["sample_data"]) for b in installed] == [("shop", "1.0.0", True)]


def test_bad_requests_get_clear_errors_and_change_nothing(client, platform):
    revs = revision_count(platform)
    r = client.post("/api/bundle", data=b'{"format": ')
    assert r.status_code == 400 and r.get_json()["errors"][0]["code"] == "json"
    r = client.post("/api/bundle", data=b"")
    assert r.status_code == 400
    bundle = make_bundle()
    bundle["checksum"] = "sha256:" + "0" * 64
    r = client.post("/api/bundle", data=serialise(bundle))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "checksum"
    r = client.post("/api/bundle?on_conflict=mine", data=serialise(make_bundle()))
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "on_conflict"
    r = client.get("/api/bundle?only=nothing")
    assert r.status_code == 404 and r.get_json()["errors"][0]["field"] == "only"
    r = client.get("/api/bundle?version=latest")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "version"
    assert revision_count(platform) == revs and tables(platform) == set()


def test_only_administrators_reach_bundles(client, seller_token, platform):
    seller = {"Authorization": f"Bearer {seller_token}"}
    assert client.get("/api/bundle", headers=seller).status_code == 403
    r = client.post("/api/bundle", data=serialise(make_bundle()), headers=seller)
    assert r.status_code == 403 and tables(platform) == set()
    assert client.post("/api/bundle/templates/b2b/install", headers=seller).status_code == 403
    assert client.get("/api/bundle", headers={"Authorization": None}).status_code == 401


def test_the_commands_export_import_and_show_the_plan(app, database_url, tmp_path):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    path = tmp_path / "shop.json"
    path.write_text(serialise(make_bundle()), encoding="utf-8")
    dry = runner.invoke(main, ["import", str(path), "--dry-run", "--sample-data"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing changed" in dry.output and "create     entity customer" in dry.output
    assert "sample data: 2 customer, 1 manager" in dry.output
    done = runner.invoke(main, ["import", str(path), "--sample-data"], env=env)
    assert done.exit_code == 0 and "4 created" in done.output
    out = tmp_path / "out.json"
    assert runner.invoke(main, ["export", "-o", str(out), "--name", "shop", "--sample-data"], env=env).exit_code == 0
    again = runner.invoke(main, ["export", "--name", "shop", "--sample-data"], env=env)
    assert again.output == out.read_text(encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{nope", encoding="utf-8")
    bad = runner.invoke(main, ["import", str(broken)], env=env)
    assert bad.exit_code == 1 and "not valid JSON" in bad.output


def test_a_conflict_stops_the_command_until_settled(app, database_url, tmp_path):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    platform = app.extensions["crm"]
    path = tmp_path / "v1.json"
    path.write_text(serialise(make_bundle()), encoding="utf-8")
    assert runner.invoke(main, ["import", str(path)], env=env).exit_code == 0
    platform.metadata.update_definition("taxonomy", "segment", {"label": "Ours"}, actor="admin")
    v2 = make_bundle(version="2.0.0", taxonomy=[{**json.loads(path.read_text())["definitions"]["taxonomy"][0],
                                                 "label": "Theirs"}])
    path.write_text(serialise(v2), encoding="utf-8")
    stopped = runner.invoke(main, ["import", str(path)], env=env)
    assert stopped.exit_code == 1
    assert "CONFLICT taxonomy segment label: unresolved" in stopped.output
    assert "here:      Ours" in stopped.output and "bundle:    Theirs" in stopped.output
    settled = runner.invoke(main, ["import", str(path), "--on-conflict", "take-incoming"], env=env)
    assert settled.exit_code == 0, settled.output
    assert platform.metadata.state().taxonomies["segment"].doc["label"] == "Theirs"


def test_an_import_can_insist_on_the_plan_it_was_shown(client, platform):
    body = serialise(make_bundle())
    plan = client.post("/api/bundle?dry_run=1", data=body).get_json()
    platform.metadata.create_definition("entity", {"key": "note", "label": "Note",
                                                   "fields": [{"key": "text", "type": "text"}]}, actor="someone else")
    r = client.post(f"/api/bundle?expect_revision={plan['revision']}", data=body)
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "expect_revision"
    assert "customer" not in platform.metadata.state().entities
    fresh = client.post("/api/bundle?dry_run=1", data=body).get_json()
    assert client.post(f"/api/bundle?expect_revision={fresh['revision']}", data=body).status_code == 200
    assert client.post("/api/bundle?expect_revision=soon", data=body).status_code == 400


def test_export_refuses_a_name_no_bundle_may_have(app, database_url):
    r = CliRunner().invoke(main, ["export", "--name", "My Export"], env={"DATABASE_URL": database_url})
    assert r.exit_code == 1 and "error: name:" in r.output


def test_the_template_library_over_the_api(client, platform):
    items = client.get("/api/bundle/templates").get_json()["items"]
    assert [t["name"] for t in items] == ["b2b", "ecommerce", "education"]
    assert all(t["sample_records"] >= 300 and t["label"]["zh"] for t in items)
    plan = client.post("/api/bundle/templates/education/install?dry_run=1&sample_data=1")
    assert plan.status_code == 200 and plan.get_json()["sample_data"]["records"]["student"] == 160
    assert tables(platform) == set()
    assert client.post("/api/bundle/templates/crm9000/install").status_code == 404
    done = client.post("/api/bundle/templates/education/install")
    from crm_platform.bundles import templates
    definitions = sum(len(docs) for docs in templates.load("education")["definitions"].values())
    assert done.status_code == 200 and done.get_json()["summary"]["created"] == definitions
    schema = client.get("/api/bundle/schema").get_json()
    assert schema["$id"] == "urn:crm:bundle"
