"""Definition keys that would break DDL are refused with 422 naming the key, and the names of the
indexes made for keys cannot clash between entities (SQLite and PostgreSQL). A refusal creates no
table or column, saves no definition and leaves the revision where it was."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_platform.bundles.format import seal, serialise

PG_SYSTEM_COLUMNS = ["ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"]


def revision(client) -> int:
    return client.get("/api/meta/entities").get_json()["revision"]


def tables(platform) -> set[str]:
    return {t for t in sa.inspect(platform.engine).get_table_names() if t.startswith(("ent_", "tl_"))}


def columns(platform, table) -> set[str]:
    return {c["name"] for c in sa.inspect(platform.engine).get_columns(table)}


def indexes(platform, table) -> set[str]:
    return {i["name"] for i in sa.inspect(platform.engine).get_indexes(table)}


def entity(key, *fields):
    return {"key": key, "label": key, "fields": [{"key": "name", "type": "text"}, *fields]}


def create(client, doc):
    r = client.post("/api/meta/entities", json=doc)
    assert r.status_code == 201, r.get_json()


def only_error(r, field):
    (e,) = r.get_json()["errors"]
    assert e["field"] == field, e
    return e


# ---- PostgreSQL's system column names -------------------------------------------------------

@pytest.mark.parametrize("key", PG_SYSTEM_COLUMNS)
def test_a_postgresql_system_column_name_is_no_field_key(client, platform, key):
    create(client, entity("shop"))
    before = revision(client)
    message = f"field key '{key}' is a system column PostgreSQL gives every table " \
              f"(tableoid, xmin, cmin, xmax, cmax, ctid): choose another key"

    r = client.post("/api/meta/entities", json=entity("depot", {"key": key, "type": "integer"}))
    assert r.status_code == 422
    assert only_error(r, f"fields.{key}.key")["message"] == message
    assert client.get("/api/meta/entities/depot").status_code == 404 and "ent_depot" not in tables(platform)

    r = client.post("/api/meta/entities/shop/fields", json={"key": key, "type": "text"})
    assert r.status_code == 422 and only_error(r, f"fields.{key}.key")["message"] == message
    assert key not in columns(platform, "ent_shop")

    r = client.post("/api/meta/entities/shop/fields/name/rename", json={"new_key": key})
    assert r.status_code == 422 and only_error(r, f"fields.{key}.key")["message"] == message
    assert "name" in columns(platform, "ent_shop") and key not in columns(platform, "ent_shop")
    assert revision(client) == before


def test_a_bundle_bringing_a_postgresql_system_column_name_is_refused(client, platform):
    before = revision(client)
    bundle = seal({"format": "crm-bundle", "format_version": 1, "name": "ware", "version": "1.0.0",
                   "definitions": {"entity": [entity("ware", {"key": "xmin", "type": "integer"})]}})
    r = client.post("/api/bundle", data=serialise(bundle))
    assert r.status_code == 422
    e = only_error(r, "definitions.entity.ware.fields.xmin.key")
    assert "field key 'xmin' is a system column PostgreSQL gives every table" in e["message"]
    assert revision(client) == before and tables(platform) == set()
    assert client.get("/api/meta/entities/ware").status_code == 404


def test_an_entity_key_ending_in_id_seq_is_refused(client, platform):
    create(client, entity("colp"))
    before = revision(client)
    r = client.post("/api/meta/entities", json=entity("colp_id_seq"))
    assert r.status_code == 422
    assert only_error(r, "key")["message"] == ("entity key 'colp_id_seq' ends in '_id_seq', which PostgreSQL uses "
                                               "for the id sequences of tables: choose another key")
    assert revision(client) == before and tables(platform) == {"ent_colp"}


# ---- index names -------------------------------------------------------------------------------

def test_unique_fields_of_two_entities_whose_names_run_together_both_work(client, platform):
    create(client, entity("colp", {"key": "b_c", "type": "text", "unique": True}))
    create(client, entity("colp_b", {"key": "c", "type": "text", "unique": True},
                          {"key": "d_owner_id", "type": "text", "indexed": True}))
    # the index on colp_b.d_owner_id and the owner_id index of entity colp_b_d were both ix_ent_colp_b_d_owner_id
    create(client, entity("colp_b_d"))
    names = [indexes(platform, t) for t in ("ent_colp", "ent_colp_b", "ent_colp_b_d")]
    assert sum(len(n) for n in names) == len(set().union(*names)) == 3 + 4 + 2
    for entity_key, field in (("colp", "b_c"), ("colp_b", "c")):
        assert client.post(f"/api/records/{entity_key}", json={field: "same"}).status_code == 201
        r = client.post(f"/api/records/{entity_key}", json={field: "same"})
        assert r.status_code == 409 and only_error(r, field)["code"] == "unique"
    # and each index goes with its own field only
    r = client.patch("/api/meta/entities/colp_b/fields/c", json={"unique": False})
    assert r.status_code == 200, r.get_json()
    assert client.post("/api/records/colp_b", json={"c": "same"}).status_code == 201
    assert client.post("/api/records/colp", json={"b_c": "same"}).status_code == 409


def _rename_to_legacy(platform, table: str, field: str, prefix: str) -> str:
    """Give the field's index the name it would have had before the hashed naming."""
    (name,) = [n for n in indexes(platform, table) if n.startswith(f"{prefix}_{table}_{field}_")]
    legacy = f"{prefix}_{table}_{field}"
    with platform.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f'ALTER INDEX "{name}" RENAME TO "{legacy}"')
        else:  # SQLite cannot rename an index: make it again under the old name
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
            conn.exec_driver_sql(f'CREATE UNIQUE INDEX "{legacy}" ON "{table}" ("{field}") WHERE archived_at IS NULL')
    return legacy


def test_indexes_named_the_old_way_keep_working_and_are_dropped_with_their_field_rule(client, platform):
    create(client, entity("colp", {"key": "b_c", "type": "text", "unique": True}))
    legacy = _rename_to_legacy(platform, "ent_colp", "b_c", "uq")
    assert legacy == "uq_ent_colp_b_c"
    # the old name is the one the clash took: a new entity no longer meets it
    create(client, entity("colp_b", {"key": "c", "type": "text", "unique": True}))
    assert client.post("/api/records/colp", json={"b_c": "x"}).status_code == 201
    assert client.post("/api/records/colp", json={"b_c": "x"}).status_code == 409  # the old index still works

    # dropping colp_b's rule leaves colp's old-named index alone
    assert client.patch("/api/meta/entities/colp_b/fields/c", json={"unique": False}).status_code == 200
    assert legacy in indexes(platform, "ent_colp")
    # dropping colp's own rule drops its old-named index
    r = client.patch("/api/meta/entities/colp/fields/b_c", json={"unique": False})
    assert r.status_code == 200, r.get_json()
    assert not any(n.startswith("uq_") for n in indexes(platform, "ent_colp"))
    assert client.post("/api/records/colp", json={"b_c": "x"}).status_code == 201
