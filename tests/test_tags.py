"""Tag taxonomies, tags fields, rule-driven tags and `crm tags refresh`."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

CUSTOMER_TYPE = {
    "key": "customer_type", "label": {"en": "Customer type", "zh": "客户类型"},
    "tags": [
        {"key": "potential", "label": {"en": "Potential", "zh": "潜在客户"}, "color": "#9e9e9e"},
        {"key": "intended", "label": {"en": "Intended", "zh": "意向客户"}},
        {"key": "intended_hot", "label": {"en": "Hot lead", "zh": "高意向"}, "parent": "intended"},
        {"key": "won", "label": {"en": "Won", "zh": "成交客户"}},
        {"key": "lost", "label": {"en": "Lost", "zh": "流失客户"}},
    ],
}
ACTIVITY = {
    "key": "activity", "label": {"en": "Activity", "zh": "活跃度"},
    "tags": [
        {"key": "active", "label": {"en": "Active", "zh": "活跃客户"},
         "rule": {"entity": "customer", "all": [{"field": "last_purchase_at", "op": "within_days", "value": 30}]}},
        {"key": "dormant", "label": {"en": "To re-awaken", "zh": "待唤醒客户"},
         "rule": {"entity": "customer", "all": [
             {"related": {"entity": "contact_log", "via": "customer"}, "aggregate": "latest", "field": "contacted_at",
              "op": "older_than_days", "value": 90}]}},
        {"key": "regular", "label": {"en": "Regular", "zh": "常客"},
         "rule": {"entity": "customer", "all": [
             {"related": {"entity": "contact_log", "via": "customer"}, "aggregate": "count", "op": "gte", "value": 2}]}},
    ],
}


def errors_of(r):
    return r.get_json()["errors"]


def days_ago(n):
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=n)).isoformat()


@pytest.fixture
def crm(client):
    assert client.post("/api/meta/taxonomies", json=CUSTOMER_TYPE).status_code == 201
    r = client.post("/api/meta/entities", json={"key": "customer", "label": {"en": "Customer", "zh": "客户"}, "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "last_purchase_at", "type": "datetime"},
        {"key": "types", "type": "tags", "taxonomy": "customer_type"},
    ]})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/entities", json={"key": "contact_log", "label": "Contact", "fields": [
        {"key": "customer", "type": "reference", "target": "customer", "on_delete": "cascade"},
        {"key": "contacted_at", "type": "datetime"},
    ]})
    assert r.status_code == 201, r.get_json()
    return client


def names(client, query):
    r = client.get(f"/api/records/customer?{query}")
    assert r.status_code == 200, r.get_json()
    return {x["name"] for x in r.get_json()["items"]}


def test_tags_are_stored_normalised_and_filtered_with_descendants(crm, platform):
    crm.post("/api/records/customer", json={"name": "A", "types": ["potential"]})
    crm.post("/api/records/customer", json={"name": "B", "types": ["intended_hot", "won"]})
    crm.post("/api/records/customer", json={"name": "C", "types": ["intended"]})
    crm.post("/api/records/customer", json={"name": "D"})
    assert crm.get("/api/records/customer/2").get_json()["types"] == ["intended_hot", "won"]
    assert crm.get("/api/records/customer/4").get_json()["types"] == []
    assert names(crm, "filter[types][has_any]=intended") == {"B", "C"}
    assert names(crm, "filter[types][has_any]=intended_hot") == {"B"}
    assert names(crm, "filter[types][has_all]=intended,won") == {"B"}
    assert names(crm, "filter[types][has_none]=intended") == {"A", "D"}
    assert names(crm, "filter[types][is_empty]") == {"D"}
    assert names(crm, "filter[types][is_not_empty]") == {"A", "B", "C"}
    tables = sa.inspect(platform.engine).get_table_names()
    link = next(t for t in tables if t.startswith("tl_customer_types"))
    with platform.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {link}")).scalar() == 4
    assert "types" not in {c["name"] for c in sa.inspect(platform.engine).get_columns("ent_customer")}
    r = crm.patch("/api/records/customer/2", json={"types": ["lost"]})
    assert r.status_code == 200 and r.get_json()["types"] == ["lost"]
    assert names(crm, "filter[types][has_any]=intended") == {"C"}


@pytest.mark.parametrize("value, code", [(["vip"], "enum"), ("won", "type"), (["won", "won"], "uniqueItems"), ([1], "type")])
def test_bad_tag_values_get_422_naming_the_field(crm, value, code):
    r = crm.post("/api/records/customer", json={"name": "X", "types": value})
    assert r.status_code == 422
    assert (errors_of(r)[0]["field"], errors_of(r)[0]["code"]) == ("types", code)


def test_bad_tag_filters_get_400(crm):
    r = crm.get("/api/records/customer?filter[types][has_any]=vip")
    assert r.status_code == 400 and errors_of(r)[0]["field"] == "filter[types][has_any]"
    assert crm.get("/api/records/customer?filter[types][gt]=won").status_code == 400


def test_single_tag_field(crm):
    crm.post("/api/meta/entities/customer/fields", json={"key": "stage_tag", "type": "tags", "taxonomy": "customer_type",
                                                         "multiple": False})
    r = crm.post("/api/records/customer", json={"name": "S", "stage_tag": "won"})
    assert r.status_code == 201 and r.get_json()["stage_tag"] == "won"
    assert crm.post("/api/records/customer", json={"name": "S", "stage_tag": ["won"]}).status_code == 422


@pytest.mark.parametrize("doc, field", [
    ({"tags": [{"key": "a", "label": "A", "parent": "b"}, {"key": "b", "label": "B", "parent": "a"}]}, "tags.a.parent"),
    ({"tags": [{"key": "a", "label": "A", "parent": "a"}]}, "tags.a.parent"),
    ({"tags": [{"key": "a", "label": "A", "parent": "zzz"}]}, "tags.a.parent"),
    ({"tags": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}]}, "tags.a.key"),
    ({"tags": [{"key": "a", "label": "A", "rule": {"entity": "customer", "all": [
        {"field": "nothing", "op": "eq", "value": 1}]}}]}, "tags.a.rule.all.0.field"),
    ({"tags": [{"key": "a", "label": "A", "rule": {"entity": "nobody", "all": [
        {"field": "name", "op": "eq", "value": "x"}]}}]}, "tags.a.rule.entity"),
    ({"tags": [{"key": "a", "label": "A", "rule": {"entity": "customer", "all": [
        {"field": "name", "op": "within_days", "value": 3}]}}]}, "tags.a.rule.all.0.op"),
    ({"tags": [{"key": "a", "label": "A", "rule": {"entity": "customer", "all": [
        {"field": "last_purchase_at", "op": "within_days", "value": "thirty"}]}}]}, "tags.a.rule.all.0.value"),
    ({"tags": [{"key": "a", "label": "A", "rule": {"entity": "customer", "all": [
        {"related": {"entity": "contact_log", "via": "contacted_at"}, "op": "gte", "value": 1}]}}]},
     "tags.a.rule.all.0.related.via"),
    ({"tags": [{"key": "a", "label": "A", "colour": "red"}]}, "tags.a"),
    ({"key": "select"}, "key"),
])
def test_bad_taxonomies_are_refused_with_422(crm, doc, field):
    r = crm.post("/api/meta/taxonomies", json={"key": "bad", "label": "Bad", "tags": [], **doc})
    assert r.status_code == 422, r.get_json()
    assert field in {e["field"] for e in errors_of(r)}, errors_of(r)
    assert crm.get("/api/meta/taxonomies/bad").status_code == 404


def test_tags_field_needs_an_existing_taxonomy(crm):
    r = crm.post("/api/meta/entities/customer/fields", json={"key": "x", "type": "tags", "taxonomy": "nope"})
    assert r.status_code == 422 and errors_of(r)[0]["field"] == "fields.x.taxonomy"


def test_taxonomy_changes_live_and_refuses_to_drop_tags_in_use(crm):
    crm.post("/api/records/customer", json={"name": "A", "types": ["lost"]})
    tags = CUSTOMER_TYPE["tags"] + [{"key": "vip", "label": {"en": "VIP", "zh": "贵宾"}}]
    assert crm.patch("/api/meta/taxonomies/customer_type", json={"tags": tags}).status_code == 200
    assert crm.post("/api/records/customer", json={"name": "B", "types": ["vip"]}).status_code == 201
    r = crm.patch("/api/meta/taxonomies/customer_type", json={"tags": [t for t in tags if t["key"] != "lost"]})
    assert r.status_code == 409 and errors_of(r)[0]["rows"] == 1
    assert crm.get("/api/records/customer/1").get_json()["types"] == ["lost"]
    r = crm.delete("/api/meta/taxonomies/customer_type")
    assert r.status_code == 409 and "customer.types" in errors_of(r)[0]["message"]


def test_rule_tags_apply_on_write_and_cannot_be_set_by_hand(crm):
    assert crm.post("/api/meta/taxonomies", json=ACTIVITY).status_code == 201
    crm.post("/api/meta/entities/customer/fields", json={"key": "activity", "type": "tags", "taxonomy": "activity"})
    r = crm.post("/api/records/customer", json={"name": "Buyer", "last_purchase_at": days_ago(3)})
    assert r.get_json()["activity"] == ["active", "dormant"]  # never contacted counts as no contact for 90 days
    r = crm.post("/api/records/customer", json={"name": "Old", "last_purchase_at": days_ago(40)})
    assert r.get_json()["activity"] == ["dormant"]
    r = crm.post("/api/records/customer", json={"name": "X", "activity": ["active"]})
    assert r.status_code == 422 and "applied by a rule" in errors_of(r)[0]["message"]
    crm.post("/api/records/contact_log", json={"customer": 2, "contacted_at": days_ago(1)})
    assert crm.get("/api/records/customer/2").get_json()["activity"] == []
    crm.post("/api/records/contact_log", json={"customer": 2, "contacted_at": days_ago(100)})
    assert crm.get("/api/records/customer/2").get_json()["activity"] == ["regular"]
    assert crm.patch("/api/records/customer/1", json={"last_purchase_at": days_ago(31)}).get_json()["activity"] == ["dormant"]
    assert names(crm, "filter[activity][has_any]=dormant") == {"Buyer"}


def test_tags_refresh_is_idempotent_and_reports_changes(crm, platform, database_url, monkeypatch, tmp_path):
    from crm_platform.cli import main
    crm.post("/api/records/customer", json={"name": "A", "last_purchase_at": days_ago(3)})
    crm.post("/api/records/customer", json={"name": "B", "last_purchase_at": days_ago(60)})
    assert crm.post("/api/meta/taxonomies", json=ACTIVITY).status_code == 201
    crm.post("/api/meta/entities/customer/fields", json={"key": "activity", "type": "tags", "taxonomy": "activity"})
    assert crm.get("/api/records/customer/1").get_json()["activity"] == []  # rules not yet run on old records
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["tags", "refresh"]).output
    assert "activity.active: +1 -0" in out and "activity.dormant: +2 -0" in out and "activity.regular: +0 -0" in out
    out = runner.invoke(main, ["tags", "refresh", "--taxonomy", "activity"]).output
    assert "activity.active: +0 -0" in out and "activity.dormant: +0 -0" in out
    assert crm.get("/api/records/customer/1").get_json()["activity"] == ["active", "dormant"]
    assert runner.invoke(main, ["tags", "refresh", "--taxonomy", "nope"]).exit_code != 0


def test_bulk_create_writes_tags(crm):
    r = crm.post("/api/records/customer/bulk", json={"records": [{"name": "A", "types": ["won"]}, {"name": "B"}]})
    assert r.status_code == 201
    assert names(crm, "filter[types][has_any]=won") == {"A"}
    r = crm.post("/api/records/customer/bulk", json={"records": [{"name": "C", "types": ["nope"]}]})
    assert r.status_code == 422 and errors_of(r)[0]["row"] == 0


def test_tags_survive_archive_restore_and_rename(crm):
    crm.post("/api/records/customer", json={"name": "A", "types": ["won", "intended_hot"]})
    assert crm.delete("/api/meta/entities/customer/fields/types").status_code == 200
    assert "types" not in crm.get("/api/records/customer/1").get_json()
    assert crm.post("/api/meta/entities/customer/fields/types/restore").status_code == 200
    assert crm.get("/api/records/customer/1").get_json()["types"] == ["intended_hot", "won"]
    r = crm.post("/api/meta/entities/customer/fields/types/rename", json={"new_key": "kinds"})
    assert r.status_code == 200, r.get_json()
    assert crm.get("/api/records/customer/1").get_json()["kinds"] == ["intended_hot", "won"]
    assert names(crm, "filter[kinds][has_any]=intended") == {"A"}
    r = crm.patch("/api/meta/entities/customer/fields/kinds", json={"type": "text"})
    assert r.status_code == 409


def test_common_tag_filters_give_the_same_answers(crm, monkeypatch):
    """SQLite switches has_any to a correlated EXISTS when the tags are common; the answer must not change."""
    from crm_platform.runtime import query
    for n, types in enumerate([["potential"], ["intended_hot", "won"], ["intended"], [], ["lost", "intended"]]):
        crm.post("/api/records/customer", json={"name": f"C{n}", "types": types})
    queries = ["filter[types][has_any]=intended", "filter[types][has_any]=won,potential&sort=name",
               "filter[types][has_any]=intended&per_page=1&page=2", "filter[types][has_none]=intended"]
    before = [crm.get(f"/api/records/customer?{q}").get_json() for q in queries]
    monkeypatch.setattr(query, "COMMON_TAGS", 1)
    after = [crm.get(f"/api/records/customer?{q}").get_json() for q in queries]
    assert after == before
    assert [x["name"] for x in after[0]["items"]] == ["C4", "C2", "C1"]
