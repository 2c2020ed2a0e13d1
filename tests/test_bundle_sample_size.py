"""Large sample data in bundles: loaded in batches (a bounded number of statements, not several per
record), refused over HTTP above the documented limit with 413 pointing to `crm import`, which has
no limit (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crm_platform.bundles.format import seal, serialise
from crm_platform.cli import main
from test_bundles import install, revision_count, tables

ITEM = {"key": "item", "label": "Item", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "qty", "type": "integer", "min": 0},
    {"key": "size", "type": "tags", "taxonomy": "size"},
    {"key": "parent", "type": "reference", "target": "item", "on_delete": "set_null"}]}
SIZE = {"key": "size", "label": "Size", "tags": [
    {"key": "bulk", "label": "Bulk", "rule": {"entity": "item", "all": [{"field": "qty", "op": "gte", "value": 40}]}}]}


def bundle_of(rows: list[dict], name: str = "items") -> dict:
    return seal({"format": "crm-bundle", "format_version": 1, "name": name, "version": "1.0.0",
                 "definitions": {"entity": [ITEM], "taxonomy": [SIZE]}, "sample_data": {"item": rows}})


def items(n: int) -> list[dict]:
    return [{"_key": f"i{i}", "name": f"Item {i}", "qty": i % 50} for i in range(n)]


def count_statements(engine: sa.Engine):
    seen = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: seen.append(1))
    return seen


def test_sample_records_are_written_in_batches_not_statement_by_statement(platform):
    seen = count_statements(platform.engine)
    result = install(platform, bundle_of(items(1000)), sample_data=True, dry_run=True)
    assert result["sample_data"] == {"records": {"item": 1000}}
    # One record at a time took five statements each (savepoint, insert, release, audit, tags).
    assert len(seen) < 300, len(seen)
    assert tables(platform) == set()  # a dry run


def test_batched_sample_records_keep_references_rule_tags_and_audit(platform, client):
    rows = items(5)
    rows[1]["parent"] = {"ref": "i0"}   # an earlier record of the same entity: written with the record
    rows[0]["parent"] = {"ref": "i4"}   # a later one: filled in once it exists
    result = install(platform, bundle_of(rows), sample_data=True)
    assert result["sample_data"] == {"records": {"item": 5}}
    got = {r["name"]: r for r in client.get("/api/records/item?sort=id").get_json()["items"]}
    ids = {name: r["id"] for name, r in got.items()}
    assert got["Item 1"]["parent"] == ids["Item 0"] and got["Item 1"]["version"] == 1
    assert got["Item 0"]["parent"] == ids["Item 4"] and got["Item 0"]["version"] == 2
    assert [n for n, r in got.items() if r["size"] == ["bulk"]] == []  # qty 0-4
    history = client.get(f"/api/records/item/{ids['Item 1']}/history").get_json()["items"]
    assert [h["action"] for h in history] == ["create"]
    assert history[0]["changes"]["parent"] == [None, ids["Item 0"]]

    more = [{"name": "Big", "qty": 45}]
    install(platform, bundle_of(more, name="more"), sample_data=True)
    big = client.get("/api/records/item?filter[name]=Big").get_json()["items"][0]
    assert big["size"] == ["bulk"]  # the rule tag, applied to a bulk-written sample record


def test_a_bad_sample_record_is_named_by_its_position(platform):
    rows = items(12)
    rows[11]["qty"] = -1
    revs = revision_count(platform)
    with pytest.raises(Exception) as caught:
        install(platform, bundle_of(rows), sample_data=True)
    assert [e["field"] for e in caught.value.errors] == ["sample_data.item.11.qty"]
    assert revision_count(platform) == revs and tables(platform) == set()


@pytest.mark.parametrize("path", ["/api/bundle?sample_data=1", "/api/bundle?sample_data=1&dry_run=1"])
def test_too_many_sample_records_over_http_is_413_pointing_to_crm_import(app, client, platform, path):
    app.config["BUNDLE_MAX_SAMPLE_RECORDS"] = 10
    revs = revision_count(platform)
    r = client.post(path, data=serialise(bundle_of(items(11))))
    assert r.status_code == 413
    (e,) = r.get_json()["errors"]
    assert e["field"] == "sample_data" and e["code"] == "too_many_records" and (e["records"], e["limit"]) == (11, 10)
    assert e["message"] == ("the bundle carries 11 sample records; at most 10 are loaded through the API "
                            "(CRM_BUNDLE_MAX_SAMPLE_RECORDS): import larger bundles on the server with "
                            "`crm import FILE --sample-data`, which has no limit")
    assert revision_count(platform) == revs and tables(platform) == set()
    assert client.get("/api/meta/entities/item").status_code == 404

    # At the limit it loads; without sample_data=1 the records are not loaded, so no limit applies.
    assert client.post("/api/bundle?sample_data=1&dry_run=1", data=serialise(bundle_of(items(10)))).status_code == 200
    assert client.post("/api/bundle", data=serialise(bundle_of(items(11)))).status_code == 200
    assert client.get("/api/records/item").get_json()["total"] == 0


def test_the_command_line_has_no_sample_limit(app, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_BUNDLE_MAX_SAMPLE_RECORDS", "10")
    path = tmp_path / "items.json"
    path.write_text(serialise(bundle_of(items(25))), encoding="utf-8")
    done = CliRunner().invoke(main, ["import", str(path), "--sample-data"], env={"DATABASE_URL": database_url})
    assert done.exit_code == 0, done.output
    with app.extensions["crm"].engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ent_item")).scalar_one() == 25


RECORDS = [{}, {"name": 1}, {"_key": "a"}, {"_key": "a.b-c_9"}, {"_key": "A"}, {"_key": 5}, {"_key": None},
           {"_key": "a\n"}, {"_key": "a" * 100}, {"_key": "a" * 101}, {"Name": 1}, {"na me": 1}, {"n\n": 1},
           {"x" * 63: 1}, {"x" * 64: 1}, {"_keys": 1}, {"a": {"ref": "Not A Key"}}, [], "x", None, 7]


@pytest.mark.parametrize("record", RECORDS, ids=range(len(RECORDS)))
def test_the_fast_sample_record_check_agrees_with_the_meta_schema(record):
    """jsonschema is the oracle: the fast check may only say "valid" when jsonschema finds no error."""
    from crm_platform.bundles import format as fmt
    fast = fmt._sample_records_check()
    assert fast is not None  # the schema's record rule has the shape the fast check reads
    bundle = {"format": "crm-bundle", "format_version": 1, "name": "b", "version": "1.0.0",
              "checksum": "sha256:" + "0" * 64, "definitions": {}, "sample_data": {"item": [{"name": "ok"}, record]}}
    errors = list(fmt._validator().iter_errors(bundle))
    assert fast(bundle["sample_data"]) is (not errors)


def test_a_sample_record_the_meta_schema_refuses_is_still_named_by_its_place(platform):
    rows = items(3)
    rows[2]["_key"] = "Bad Key"
    with pytest.raises(Exception) as caught:
        install(platform, bundle_of(rows), sample_data=True)
    assert [(e["field"], e["code"]) for e in caught.value.errors] == [("sample_data.item.2._key", "pattern")]
    assert tables(platform) == set()
