"""References from an archived entity are still honoured when the record they name is deleted, and
restoring an entity never brings back references to records in the recycle bin (SQLite and
PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

PAR = {"key": "par", "label": "Parent", "title_field": "name", "fields": [{"key": "name", "type": "text", "required": True}]}
CHI = {"key": "chi", "label": "Child", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "keeper", "type": "reference", "target": "par", "on_delete": "restrict"},
    {"key": "loose", "type": "reference", "target": "par", "on_delete": "set_null"}]}
KID = {"key": "kid", "label": "Kid", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "owner_par", "type": "reference", "target": "par", "on_delete": "cascade"}]}


def create(client, entity, **values):
    r = client.post(f"/api/records/{entity}", json=values)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def revision(client) -> int:
    return client.get("/api/meta/entities").get_json()["revision"]


def row(platform, entity, record_id):
    with platform.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT * FROM ent_{entity} WHERE id = :id"), {"id": record_id}).mappings().one()


@pytest.fixture
def linked(client):
    for doc in (PAR, CHI, KID):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    return client


def archive(client, entity):
    r = client.delete(f"/api/meta/entities/{entity}")
    assert r.status_code == 200, r.get_json()


def test_restrict_from_an_archived_entity_still_refuses_the_delete(linked, platform):
    p = create(linked, "par", name="P")
    c = create(linked, "chi", name="C", keeper=p)
    archive(linked, "chi")
    r = linked.delete(f"/api/records/par/{p}")
    assert r.status_code == 409
    (e,) = r.get_json()["errors"]
    assert e["code"] == "referenced" and e["rows"] == 1
    assert "1 chi records refer to this record through 'keeper'" in e["message"]
    assert "entity 'chi' is archived" in e["message"]
    assert linked.get(f"/api/records/par/{p}").status_code == 200  # nothing changed
    assert row(platform, "par", p)["archived_at"] is None
    assert row(platform, "chi", c)["keeper"] == p


def test_set_null_from_an_archived_entity_clears_the_reference_before_the_restore(linked, platform):
    p = create(linked, "par", name="P")
    c = create(linked, "chi", name="C", loose=p)
    archive(linked, "chi")
    assert linked.delete(f"/api/records/par/{p}").status_code == 204
    assert row(platform, "chi", c)["loose"] is None
    r = linked.post("/api/meta/entities/chi/restore")
    assert r.status_code == 200, r.get_json()
    got = linked.get(f"/api/records/chi/{c}").get_json()
    assert got["loose"] is None and got["version"] == 2
    history = linked.get(f"/api/records/chi/{c}/history").get_json()["items"]
    assert history[0]["action"] == "update" and history[0]["changes"] == {"loose": [p, None]}
    assert history[0]["reason"] == f"par {p} was deleted"


def test_cascade_from_an_archived_entity_moves_its_records_to_the_recycle_bin(linked, platform):
    p = create(linked, "par", name="P")
    k = create(linked, "kid", name="K", owner_par=p)
    other = create(linked, "kid", name="untouched")
    archive(linked, "kid")
    assert linked.delete(f"/api/records/par/{p}").status_code == 204
    assert row(platform, "kid", k)["archived_at"] is not None
    assert linked.post("/api/meta/entities/kid/restore").status_code == 200
    assert [x["id"] for x in linked.get("/api/records/kid").get_json()["items"]] == [other]
    assert [x["id"] for x in linked.get("/api/records/kid?archived=1").get_json()["items"]] == [k]


def test_restoring_an_entity_that_refers_to_records_in_the_recycle_bin_is_refused(linked, platform):
    """Data written before deletes honoured archived entities: the restore says what to do first."""
    p = create(linked, "par", name="P")
    c = create(linked, "chi", name="C", keeper=p, loose=p)
    archive(linked, "chi")
    with platform.engine.begin() as conn:  # the par record went to the recycle bin under the old rule
        conn.execute(sa.text("UPDATE ent_par SET archived_at = :now WHERE id = :id"),
                     {"now": dt.datetime.now(dt.timezone.utc), "id": p})
    before = revision(linked)
    r = linked.post("/api/meta/entities/chi/restore")
    assert r.status_code == 409
    errors = {e["field"]: e for e in r.get_json()["errors"]}
    assert set(errors) == {"fields.keeper", "fields.loose"}
    assert errors["fields.keeper"]["code"] == "dangling_reference" and errors["fields.keeper"]["rows"] == 1
    assert errors["fields.keeper"]["sample_ids"] == [c]
    assert errors["fields.keeper"]["message"].startswith(
        "1 chi records refer through 'keeper' to par records that are in the recycle bin: restore those par "
        "records first")
    assert revision(linked) == before  # nothing changed: still archived
    assert linked.get("/api/meta/entities/chi").get_json()["archived"] is True
    assert linked.get(f"/api/records/chi/{c}").status_code == 404

    assert linked.post(f"/api/records/par/{p}/restore").status_code == 200
    assert linked.post("/api/meta/entities/chi/restore").status_code == 200
    got = linked.get(f"/api/records/chi/{c}").get_json()
    assert got["keeper"] == p and got["loose"] == p
