"""A metadata change commits its DDL, definition and revision together, or nothing at all."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import STUDENT
from crm_platform.runtime import ddl


def test_failure_after_ddl_rolls_back_ddl_definition_and_revision(client, platform, monkeypatch):
    assert client.post("/api/meta/entities", json=STUDENT).status_code == 201
    client.post("/api/records/student", json={"name": "Li"})
    real = platform.metadata.apply_plan
    assert real is ddl.apply_plan
    ran = []

    def apply_then_fail(conn, plan, docs):
        real(conn, plan, docs)  # the DDL runs inside the transaction...
        # ...really (the same signature as the real applier, so no TypeError stands in for the failure)
        seen = sa.inspect(conn)
        ran.append((set(seen.get_table_names()), {c["name"] for c in seen.get_columns("ent_student")}))
        raise RuntimeError("disk full")  # ...and then something breaks before commit

    monkeypatch.setattr(platform.metadata, "apply_plan", apply_then_fail)
    r = client.post("/api/meta/entities/student/fields", json={"key": "phone", "type": "phone", "indexed": True})
    assert r.status_code == 500
    assert len(ran) == 1 and "phone" in ran[0][1], "the failing applier must fail after its DDL ran"
    assert "phone" not in {c["name"] for c in sa.inspect(platform.engine).get_columns("ent_student")}
    assert [f["key"] for f in client.get("/api/meta/entities/student").get_json()["fields"]] == [
        "name", "age", "email", "course", "enrolled_on"]
    assert len(client.get("/api/meta/revisions").get_json()["items"]) == 1
    r = client.post("/api/meta/entities", json={**STUDENT, "key": "teacher"})
    assert r.status_code == 500
    assert len(ran) == 2 and "ent_teacher" in ran[1][0], "the failing applier must run the CREATE TABLE before failing"
    assert not sa.inspect(platform.engine).has_table("ent_teacher")
    monkeypatch.setattr(platform.metadata, "apply_plan", real)
    assert client.post("/api/meta/entities/student/fields", json={"key": "phone", "type": "phone"}).status_code == 201
    assert client.get("/api/records/student/1").get_json()["name"] == "Li"


def test_reference_added_later_is_a_real_foreign_key(client, platform):
    client.post("/api/meta/entities", json=STUDENT)
    client.post("/api/meta/entities", json={"key": "guardian", "label": "Guardian", "fields": [{"key": "name", "type": "text"}]})
    r = client.post("/api/meta/entities/guardian/fields", json={"key": "child", "type": "reference", "target": "student",
                                                                "on_delete": "set_null"})
    assert r.status_code == 201
    fks = sa.inspect(platform.engine).get_foreign_keys("ent_guardian")
    assert [(fk["constrained_columns"], fk["referred_table"]) for fk in fks] == [(["child"], "ent_student")]
    with platform.engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(sa.text("INSERT INTO ent_guardian (created_at, updated_at, version, child) "
                             "VALUES (:t, :t, 1, 12345)"), {"t": "2024-01-01 00:00:00"})
        conn.commit()
