"""Roll-up fields: definition checks, values kept right by every write, read-only, filters, sorts,
rule tags, reports, the plan's backfill."""
from __future__ import annotations

from decimal import Decimal

import pytest

CUSTOMER = {"key": "customer", "label": "Customer", "fields": [{"key": "name", "type": "text", "required": True}]}
ORDER = {"key": "order_rec", "label": "Order", "fields": [
    {"key": "customer", "type": "reference", "target": "customer", "on_delete": "set_null"},
    {"key": "amount", "type": "decimal", "scale": 2},
    {"key": "status", "type": "select", "choices": [{"key": "paid", "label": "Paid"}, {"key": "open", "label": "Open"}]},
    {"key": "placed_at", "type": "datetime"},
]}
PAID = [{"field": "status", "op": "eq", "value": "paid"}]
ROLLUPS = [
    {"key": "repeat_purchases", "type": "rollup", "label": "Repeat purchases",
     "source": {"entity": "order_rec", "via": "customer"}, "aggregate": "count", "filter": PAID},
    {"key": "average_order_value", "type": "rollup", "label": "Average order value",
     "source": {"entity": "order_rec", "via": "customer"}, "aggregate": "avg", "field": "amount", "filter": PAID},
    {"key": "total", "type": "rollup", "source": {"entity": "order_rec", "via": "customer"}, "aggregate": "sum",
     "field": "amount", "indexed": True},
    {"key": "last_order", "type": "rollup", "source": {"entity": "order_rec", "via": "customer"},
     "aggregate": "latest", "field": "placed_at"},
]


def add_field(client, entity, field):
    return client.post(f"/api/meta/entities/{entity}/fields", json=field)


@pytest.fixture
def crm(client):
    assert client.post("/api/meta/entities", json=CUSTOMER).status_code == 201
    assert client.post("/api/meta/entities", json=ORDER).status_code == 201
    for f in ROLLUPS:
        r = add_field(client, "customer", f)
        assert r.status_code in (200, 201), r.get_json()
    return client


def new(client, entity, body):
    r = client.post(f"/api/records/{entity}", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def get(client, entity, rid):
    r = client.get(f"/api/records/{entity}/{rid}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_values_follow_creates_moves_deletes_and_restores(crm):
    a, b = new(crm, "customer", {"name": "A"}), new(crm, "customer", {"name": "B"})
    assert (a["repeat_purchases"], a["total"], a["average_order_value"], a["last_order"]) == (0, 0, None, None)
    o1 = new(crm, "order_rec", {"customer": a["id"], "amount": "10.00", "status": "paid",
                                "placed_at": "2026-01-02T03:04:05+00:00"})
    new(crm, "order_rec", {"customer": a["id"], "amount": "5.01", "status": "paid"})
    new(crm, "order_rec", {"customer": a["id"], "amount": "100", "status": "open"})
    got = get(crm, "customer", a["id"])
    assert got["repeat_purchases"] == 2
    assert Decimal(str(got["average_order_value"])) == Decimal("7.5050")
    assert Decimal(str(got["total"])) == Decimal("115.01")
    assert got["last_order"] == "2026-01-02T03:04:05Z" or got["last_order"].startswith("2026-01-02T03:04:05")
    # Moving an order to B changes both.
    r = crm.patch(f"/api/records/order_rec/{o1['id']}", json={"customer": b["id"]})
    assert r.status_code == 200, r.get_json()
    assert get(crm, "customer", a["id"])["repeat_purchases"] == 1
    assert get(crm, "customer", b["id"])["repeat_purchases"] == 1
    # A filter-relevant change.
    r = crm.patch(f"/api/records/order_rec/{o1['id']}", json={"status": "open"})
    assert get(crm, "customer", b["id"])["repeat_purchases"] == 0
    assert crm.delete(f"/api/records/order_rec/{o1['id']}").status_code == 204
    assert Decimal(str(get(crm, "customer", b["id"])["total"])) == 0
    assert crm.post(f"/api/records/order_rec/{o1['id']}/restore").status_code == 200
    assert Decimal(str(get(crm, "customer", b["id"])["total"])) == Decimal("10.00")


def test_a_write_to_a_rollup_is_422_naming_it(crm):
    r = crm.post("/api/records/customer", json={"name": "A", "repeat_purchases": 3})
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["repeat_purchases"]
    a = new(crm, "customer", {"name": "A"})
    r = crm.patch(f"/api/records/customer/{a['id']}", json={"total": 0})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "total"
    schema = crm.get("/api/meta/entities/customer/schema").get_json()
    assert schema["properties"]["repeat_purchases"]["readOnly"] is True
    components = crm.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert components["customer"]["properties"]["total"]["readOnly"] is True
    assert "total" not in components["customer.new"]["properties"]
    assert "total" not in components["customer.patch"]["properties"]
    r = crm.post("/api/records/customer/bulk", json={"records": [{"name": "B"}, {"name": "C", "total": 1}]})
    if r.status_code != 404:  # the bulk endpoint names the row and the field
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "total", r.get_json()
        assert r.get_json()["errors"][0]["row"] == 1


def test_bulk_create_and_list_filter_sort(crm, platform):
    a, b = new(crm, "customer", {"name": "A"}), new(crm, "customer", {"name": "B"})
    rows = [{"customer": a["id"] if n % 3 else b["id"], "amount": n, "status": "paid"} for n in range(30)]
    platform.records.create_many("order_rec", rows)
    assert get(crm, "customer", a["id"])["repeat_purchases"] == 20
    assert get(crm, "customer", b["id"])["repeat_purchases"] == 10
    r = crm.get("/api/records/customer?sort=-repeat_purchases")
    assert [x["name"] for x in r.get_json()["items"]] == ["A", "B"]
    r = crm.get("/api/records/customer?filter[repeat_purchases][gt]=15")
    assert r.status_code == 200, r.get_json()
    assert [x["name"] for x in r.get_json()["items"]] == ["A"]


def test_adding_a_rollup_fills_it_and_the_plan_says_how_many_rows(client):
    assert client.post("/api/meta/entities", json=CUSTOMER).status_code == 201
    assert client.post("/api/meta/entities", json=ORDER).status_code == 201
    a = new(client, "customer", {"name": "A"})
    new(client, "customer", {"name": "B"})
    new(client, "order_rec", {"customer": a["id"], "amount": 3, "status": "paid"})
    r = client.post("/api/meta/entities/customer/fields?dry_run=1", json=ROLLUPS[0])
    plan = r.get_json()
    ops = plan.get("plan", plan).get("operations") if isinstance(plan, dict) else None
    assert any(op["op"] == "recompute_column" and op["rows"] == 2 for op in ops), plan
    from crm_platform.metadata.describe import describe_plan
    state = client.application.extensions["crm"].metadata.state()
    after = {**state.entities["customer"].doc, "fields": state.entities["customer"].doc["fields"] + [ROLLUPS[0]]}
    said = describe_plan(plan["plan"], "en", state=state, after=after)
    assert any("computes the field Repeat purchases" in s and "its 2 records" in s for s in said), said
    said = describe_plan(plan["plan"], "zh", state=state, after=after)
    assert any("2 条记录" in s for s in said), said
    assert add_field(client, "customer", ROLLUPS[0]).status_code in (200, 201)
    assert get(client, "customer", a["id"])["repeat_purchases"] == 1
    # Changing the filter recomputes.
    r = client.patch("/api/meta/entities/customer/fields/repeat_purchases", json={"filter": []})
    assert r.status_code == 200, r.get_json()
    assert get(client, "customer", a["id"])["repeat_purchases"] == 1


@pytest.mark.parametrize("field, where", [
    ({"source": {"entity": "nope", "via": "customer"}, "aggregate": "count"}, "source.entity"),
    ({"source": {"entity": "order_rec", "via": "amount"}, "aggregate": "count"}, "source.via"),
    ({"source": {"entity": "order_rec", "via": "customer"}, "aggregate": "sum"}, "field"),
    ({"source": {"entity": "order_rec", "via": "customer"}, "aggregate": "sum", "field": "status"}, "field"),
    ({"source": {"entity": "order_rec", "via": "customer"}, "aggregate": "max", "field": "ghost"}, "field"),
    ({"source": {"entity": "order_rec", "via": "customer"}, "aggregate": "count",
      "filter": [{"field": "ghost", "op": "eq", "value": 1}]}, "filter.0.field"),
    ({"source": {"entity": "order_rec", "via": "customer"}, "aggregate": "count", "required": True}, "required"),
])
def test_bad_definitions_are_422_with_the_path(crm, field, where):
    r = add_field(crm, "customer", {"key": "bad", "type": "rollup", **field})
    assert r.status_code == 422, r.get_json()
    assert any(e["field"].endswith(f"bad.{where}") for e in r.get_json()["errors"]), r.get_json()


def test_a_merge_keeps_rollups_right_and_refuses_choosing_one(crm, platform):
    from crm_platform.errors import CrmError
    from crm_platform.runtime.merge import merge
    a, b = new(crm, "customer", {"name": "A"}), new(crm, "customer", {"name": "B"})
    new(crm, "order_rec", {"customer": a["id"], "amount": 1, "status": "paid"})
    new(crm, "order_rec", {"customer": b["id"], "amount": 2, "status": "paid"})
    with pytest.raises(CrmError) as refused:
        merge(platform.records, "customer", a["id"], [b["id"]], {"total": b["id"]})
    assert refused.value.errors[0]["field"] == "choices.total"
    merge(platform.records, "customer", a["id"], [b["id"]], {})
    got = get(crm, "customer", a["id"])
    assert got["repeat_purchases"] == 2 and Decimal(str(got["total"])) == Decimal("3.00")


def test_imports_and_forms_do_not_offer_rollups(crm, platform):
    from crm_platform.imports.mapping import importable_fields
    from crm_platform.runtime.access import Access
    model = platform.records.runtime.current()
    access = Access(1, admin=True, runtime=platform.records.runtime)
    keys = {f["key"] for f in importable_fields(model.entity("customer"), access, model)}
    assert "name" in keys and not keys & {"repeat_purchases", "total", "average_order_value", "last_order"}
    a = new(crm, "customer", {"name": "A"})
    new(crm, "order_rec", {"customer": a["id"], "amount": "1234.5", "status": "paid"})
    from conftest import ADMIN_PASSWORD
    assert crm.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}).status_code in (200, 302, 303)
    html = crm.get(f"/app/customer/{a['id']}/edit").get_data(as_text=True)
    # The screens' edit form shows it read-only (a disabled input), and saving the form leaves it alone.
    assert '<div class="field read-only" data-field="total"' in html and 'value="1234.50"' in html
    assert crm.post(f"/app/customer/{a['id']}/edit", data={"f-name": "A2"}).status_code == 303
    assert "1,234.50" in crm.get("/app/customer?sort=-total").get_data(as_text=True)
    assert get(crm, "customer", a["id"])["name"] == "A2"


def test_rule_tags_reports_and_pipeline_entry_use_rollups_like_fields(crm, platform):
    """A tag "high value" on the average order value, a report by repeat-purchase band, and a stage
    that requires a figure: each follows the roll-up as the orders change."""
    r = crm.post("/api/meta/taxonomies", json={"key": "value", "label": "Value", "tags": [
        {"key": "high", "label": "High value", "rule": {"entity": "customer", "all": [
            {"field": "average_order_value", "op": "gt", "value": 5000}]}}]})
    assert r.status_code == 201, r.get_json()
    assert add_field(crm, "customer", {"key": "value", "type": "tags", "taxonomy": "value"}).status_code == 201
    a, b = new(crm, "customer", {"name": "A"}), new(crm, "customer", {"name": "B"})
    assert get(crm, "customer", a["id"])["value"] == []
    order = new(crm, "order_rec", {"customer": a["id"], "amount": "6000.00", "status": "paid"})
    assert get(crm, "customer", a["id"])["value"] == ["high"]
    crm.patch(f"/api/records/order_rec/{order['id']}", json={"amount": "10.00"})
    assert get(crm, "customer", a["id"])["value"] == []
    new(crm, "order_rec", {"customer": b["id"], "amount": "1", "status": "paid"})
    new(crm, "order_rec", {"customer": b["id"], "amount": "1", "status": "paid"})
    r = crm.post("/api/reports/run", json={"entity": "customer", "group_by": ["repeat_purchases:bands:2"],
                                           "measures": ["count", "sum:total"]})
    assert r.status_code == 200, r.get_json()
    rows = r.get_json()["rows"]
    assert sum(row[1] for row in rows) == 2 and len(rows) == 2, rows
    # A pipeline stage may require a roll-up: entry is refused while it is empty.
    r = add_field(crm, "customer", {"key": "stage", "type": "stage"})
    assert r.status_code == 201, r.get_json()
    r = crm.post("/api/meta/pipelines", json={"key": "life", "label": "Life", "entity": "customer", "field": "stage",
                                              "stages": [{"key": "new", "label": "New"},
                                                         {"key": "buyer", "label": "Buyer",
                                                          "required_fields": ["last_order"]}]})
    assert r.status_code == 201, r.get_json()
    r = crm.patch(f"/api/records/customer/{a['id']}", json={"stage": "buyer"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "last_order", r.get_json()
    new(crm, "order_rec", {"customer": a["id"], "placed_at": "2026-01-01T00:00:00+00:00"})
    assert crm.patch(f"/api/records/customer/{a['id']}", json={"stage": "buyer"}).status_code == 200


def test_archiving_what_a_rollup_reads_is_refused_naming_it(crm):
    r = crm.delete("/api/meta/entities/order_rec/fields/amount")
    assert r.status_code == 409, r.get_json()
    assert "customer.average_order_value" in r.get_json()["errors"][0]["message"]
    r = crm.delete("/api/meta/entities/order_rec")
    assert r.status_code in (409, 422) and "customer.repeat_purchases" in str(r.get_json())
    # Once the roll-ups go, the field may go.
    for key in ("average_order_value", "total"):
        assert crm.delete(f"/api/meta/entities/customer/fields/{key}").status_code == 200
    assert crm.delete("/api/meta/entities/order_rec/fields/amount").status_code == 200
