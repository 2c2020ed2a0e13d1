"""Formula fields (docs/computed-fields.md, Formulas): typed at definition time, computed by SQL
when a record is read, shown, filtered and sorted like a field of their result type, never written."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

COMPANY = {"key": "company", "label": "Company", "title_field": "name",
           "fields": [{"key": "name", "type": "text", "label": "Name"},
                      {"key": "city", "type": "text", "label": "City"},
                      {"key": "founded", "type": "date", "label": "Founded"}]}
DEAL = {
    "key": "deal", "label": "Deal", "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": "Name"},
        {"key": "amount", "type": "decimal", "label": "Amount"},
        {"key": "probability", "type": "percent", "label": "Probability"},
        {"key": "closes", "type": "date", "label": "Closes"},
        {"key": "company", "type": "reference", "target": "company", "label": "Company"},
        {"key": "weighted_amount", "type": "formula", "label": "Weighted", "expression": "amount * probability / 100",
         "result": "decimal", "scale": 2},
        {"key": "headline", "type": "formula", "label": "Headline", "expression": "upper(name) & \" @ \" & company.city",
         "result": "text"},
        {"key": "big", "type": "formula", "label": "Big", "expression": "weighted_amount >= 1000", "result": "boolean"},
        {"key": "days_left", "type": "formula", "label": "Days left", "expression": "days_between(today(), closes)",
         "result": "integer"},
        {"key": "per_zero", "type": "formula", "label": "Nonsense", "expression": "amount / (probability - probability)",
         "result": "decimal"},
    ],
}


@pytest.fixture
def deals(client):
    for doc in (COMPANY, DEAL):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    acme = client.post("/api/records/company", json={"name": "Acme", "city": "Acme"}).get_json()["id"]
    return acme


def test_a_formula_is_computed_when_read(client, deals):
    closes = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=10)).isoformat()
    r = client.post("/api/records/deal", json={"name": "Big one", "amount": "12345.67", "probability": "33.33",
                                                "closes": closes, "company": deals})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    # 12345.67 * 33.33 / 100 = 4114.811811 -> 4114.81, exactly
    assert body["weighted_amount"] == Decimal("4114.81")
    assert body["headline"] == "BIG ONE @ Acme"
    assert body["big"] is True
    assert body["days_left"] == 10
    assert body["per_zero"] is None  # a division by zero is null, not an error
    got = client.get(f"/api/records/deal/{body['id']}").get_json()
    assert got["weighted_amount"] == Decimal("4114.81") and got["headline"] == "BIG ONE @ Acme"
    # a change of the referenced record shows at once: nothing is stored
    client.patch(f"/api/records/company/{deals}", json={"city": "Acme Ltd"})
    assert client.get(f"/api/records/deal/{body['id']}").get_json()["headline"] == "BIG ONE @ Acme Ltd"
    r = client.patch(f"/api/records/deal/{body['id']}", json={"amount": 100})
    assert r.status_code == 200 and r.get_json()["weighted_amount"] == Decimal("33.33")


def test_lists_filter_and_sort_by_a_formula(client, deals):
    for name, amount in (("a", 1000), ("b", 5000), ("c", 3000), ("d", None)):
        r = client.post("/api/records/deal", json={"name": name, "amount": amount, "probability": 50})
        assert r.status_code == 201, r.get_json()
    r = client.get("/api/records/deal?sort=-weighted_amount")
    assert [x["name"] for x in r.get_json()["items"]] == ["b", "c", "a", "d"]
    r = client.get("/api/records/deal?filter[weighted_amount][gte]=1500&sort=weighted_amount")
    assert [x["name"] for x in r.get_json()["items"]] == ["c", "b"]
    r = client.get("/api/records/deal?filter[weighted_amount]=1500.00")
    assert [x["name"] for x in r.get_json()["items"]] == ["c"]
    r = client.get("/api/records/deal?filter[big]=true")
    assert [x["name"] for x in r.get_json()["items"]] == ["b", "c"] or sorted(x["name"] for x in r.get_json()["items"]) == ["b", "c"]
    r = client.get("/api/records/deal?filter[weighted_amount][is_empty]")
    assert [x["name"] for x in r.get_json()["items"]] == ["d"]
    r = client.get("/api/records/deal?filter[headline][contains]=B")
    assert r.status_code == 200
    r = client.get("/api/records/deal?filter[weighted_amount][contains]=1")
    assert r.status_code == 400 and "weighted_amount" in r.get_json()["errors"][0]["field"]


def test_writing_a_formula_is_422_naming_it(client, deals):
    r = client.post("/api/records/deal", json={"name": "x", "weighted_amount": 5})
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["weighted_amount"]
    rid = client.post("/api/records/deal", json={"name": "x"}).get_json()["id"]
    r = client.patch(f"/api/records/deal/{rid}", json={"headline": "no"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "headline"


def add(client, entity, field):
    return client.post(f"/api/meta/entities/{entity}/fields", json=field)


@pytest.mark.parametrize("expression, result, where, words", [
    ("amount + name", "decimal", "fields.bad.expression", ["at character 8", "'+' needs numbers", "a number and a text"]),
    ("amount * nope", "decimal", "fields.bad.expression", ["at character 10", "no field 'nope'"]),
    ("company.nope", "text", "fields.bad.expression", ["'company' has no field 'nope'"]),
    ("name.x", "text", "fields.bad.expression", ["'name' is not a reference"]),
    ("bad + 1", "decimal", "fields.bad.expression", ["refers to itself", "bad → bad"]),
    ("amount *", "decimal", "fields.bad.expression", ["ends too early"]),
    ("frobnicate(amount)", "decimal", "fields.bad.expression", ["no function 'frobnicate'"]),
    ("amount > 5", "decimal", "fields.bad.result", ["gives a yes/no value but the field's result is decimal"]),
    ("if(amount, 1, 2)", "integer", "fields.bad.expression", ["condition must be yes/no"]),
    ("name & 1", "text", "fields.bad.expression", ["'&' joins texts"]),
    ("add_days(closes, 1.5)", "date", "fields.bad.expression", ["whole number of days"]),
])
def test_a_bad_formula_is_refused_naming_the_place(client, deals, expression, result, where, words):
    r = add(client, "deal", {"key": "bad", "type": "formula", "label": "Bad", "expression": expression, "result": result})
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert errors[0]["field"] == where, errors
    for w in words:
        assert w in errors[0]["message"], errors


def test_a_cycle_through_formulas_is_refused_with_its_path(client, deals):
    r = add(client, "deal", {"key": "f1", "type": "formula", "label": "F1", "expression": "amount + 1", "result": "decimal"})
    assert r.status_code == 201, r.get_json()
    r = add(client, "deal", {"key": "f2", "type": "formula", "label": "F2", "expression": "f1 * 2", "result": "decimal"})
    assert r.status_code == 201, r.get_json()
    r = client.patch("/api/meta/entities/deal/fields/f1", json={"expression": "f2 + 1"})
    assert r.status_code == 422, r.get_json()
    msg = r.get_json()["errors"][0]["message"]
    assert "cycle" in msg and "f1 → f2 → f1" in msg, msg


def test_archiving_a_field_a_formula_uses_is_409_naming_the_formula(client, deals):
    r = client.delete("/api/meta/entities/deal/fields/probability")
    assert r.status_code == 409, r.get_json()
    assert "weighted_amount" in r.get_json()["errors"][0]["message"]
    r = client.delete("/api/meta/entities/company/fields/city")  # read through deal.company
    assert r.status_code == 409, r.get_json()
    assert "deal.headline" in r.get_json()["errors"][0]["message"]
    r = client.delete("/api/meta/entities/deal/fields/weighted_amount")  # big reads it
    assert r.status_code == 409 and "deal.big" in r.get_json()["errors"][0]["message"], r.get_json()
    # once the formulas that read it are gone, the field may go
    assert client.delete("/api/meta/entities/deal/fields/big").status_code == 200
    assert client.delete("/api/meta/entities/deal/fields/weighted_amount").status_code == 200


def test_rule_tags_and_reports_use_a_formula_like_a_field(client, deals):
    r = client.post("/api/meta/taxonomies", json={
        "key": "deal_size", "label": "Deal size",
        "tags": [{"key": "weighty", "label": "Weighty",
                  "rule": {"entity": "deal", "all": [{"field": "weighted_amount", "op": "gte", "value": 1000}]}}]})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/entities/deal/fields", json={"key": "size", "type": "tags", "taxonomy": "deal_size", "label": "Size"})
    assert r.status_code == 201, r.get_json()
    big = client.post("/api/records/deal", json={"name": "big", "amount": 5000, "probability": 50}).get_json()
    small = client.post("/api/records/deal", json={"name": "small", "amount": 100, "probability": 50}).get_json()
    assert client.get(f"/api/records/deal/{big['id']}").get_json()["size"] == ["weighty"]
    assert client.get(f"/api/records/deal/{small['id']}").get_json()["size"] == []
    r = client.post("/api/reports/run", json={"entity": "deal", "group_by": ["big"], "measures": ["count", "sum:weighted_amount"]})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    rows = {row[0]: row for row in body["rows"]}
    assert body["columns"] == ["big", "count", "sum:weighted_amount"], body
    assert rows[True][2] == Decimal("2500.00") and rows[False][2] == Decimal("50.00"), body


def test_screens_show_a_formula_read_only_in_lists_records_and_forms(app, client, deals):
    from test_screens import Pages, text
    pages = Pages(app)
    rid = client.post("/api/records/deal", json={"name": "Shown", "amount": "8000.50", "probability": 50,
                                                 "company": deals}).get_json()["id"]
    page = text(pages.get("/app/deal?sort=-weighted_amount&filter[weighted_amount][gte]=10"))
    assert "4,000.25" in page and "Shown" in page
    record = text(pages.get(f"/app/deal/{rid}"))
    assert "4,000.25" in record and "SHOWN @ Acme" in record
    form = text(pages.get(f"/app/deal/{rid}/edit"))
    assert re.search(r'<input[^>]*disabled[^>]*id="f-weighted_amount"[^>]*value="4000.25"', form), form
    # a posted value for it changes nothing: the form does not take it
    r = pages.post(f"/app/deal/{rid}/edit", data={"f-name": "Shown", "f-amount": "8000.50", "f-probability": "50",
                                                  "f-company": str(deals), "f-weighted_amount": "1"})
    assert r.status_code in (200, 303)
    assert client.get(f"/api/records/deal/{rid}").get_json()["weighted_amount"] == Decimal("4000.25")


def test_bulk_create_and_export_carry_formulas(client, deals, platform):
    from crm_platform.runtime.query import ListQuery
    made = platform.records.create_many("deal", [{"name": f"n{i}", "amount": i, "probability": 10} for i in range(1, 4)])
    with platform.engine.connect() as conn:
        streamed = [r for part in platform.records.stream("deal", ListQuery(sort=[("weighted_amount", True)]), conn=conn,
                                                         columns=["name", "weighted_amount"]) for r in part]
    assert [(r["name"], r["weighted_amount"]) for r in streamed] == [
        ("n3", Decimal("0.30")), ("n2", Decimal("0.20")), ("n1", Decimal("0.10"))], (made, streamed)


def test_a_rule_on_a_formula_over_today_is_refreshed_by_the_daily_job(client, deals, platform):
    from crm_platform.runtime import tag_rules
    soon = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=3)).isoformat()
    r = client.post("/api/meta/taxonomies", json={
        "key": "urgency", "label": "Urgency",
        "tags": [{"key": "closing", "label": "Closing soon",
                  "rule": {"entity": "deal", "all": [{"field": "days_left", "op": "lte", "value": 2}]}},
                 {"key": "plain", "label": "Plain", "rule": {"entity": "deal", "all": [{"field": "amount", "op": "gte", "value": 1}]}}]})
    assert r.status_code == 201, r.get_json()
    assert client.post("/api/meta/entities/deal/fields", json={"key": "urgency", "type": "tags", "taxonomy": "urgency",
                                                              "label": "Urgency"}).status_code == 201
    rid = client.post("/api/records/deal", json={"name": "x", "closes": soon}).get_json()["id"]
    assert client.get(f"/api/records/deal/{rid}").get_json()["urgency"] == []
    model = platform.runtime.current()
    assert tag_rules.time_relative_taxonomies(model) == ["urgency"]  # days_left reads today()
    assert tag_rules._drifts(model, "deal", {"field": "big", "op": "eq", "value": True}) is False
    assert tag_rules._drifts(model, "deal", {"field": "headline", "op": "eq", "value": "x"}) is True  # company.city
    # the job re-evaluates it (the SQL reads the database's own today, so no clock is faked here)
    with platform.engine.begin() as conn:
        report = tag_rules.refresh_time_relative(conn, model)
    assert set(report) == {"urgency.closing", "urgency.plain"}


def test_the_audit_trail_logs_what_was_written_not_formulas(client, deals):
    rid = client.post("/api/records/deal", json={"name": "a", "amount": 100, "probability": 10}).get_json()["id"]
    client.patch(f"/api/records/deal/{rid}", json={"amount": 200})
    history = client.get(f"/api/records/deal/{rid}/history").get_json()
    entries = history["items"] if isinstance(history, dict) else history
    logged = [set(e["changes"]) for e in entries]
    assert {"amount"} in logged and all("weighted_amount" not in keys for keys in logged), entries


def test_a_formula_reads_roll_ups_as_their_result(client):
    from test_rollups import CUSTOMER, ORDER, ROLLUPS
    assert client.post("/api/meta/entities", json=CUSTOMER).status_code == 201
    assert client.post("/api/meta/entities", json=ORDER).status_code == 201
    for f in ROLLUPS:
        assert client.post("/api/meta/entities/customer/fields", json=f).status_code in (200, 201)
    r = client.post("/api/meta/entities/customer/fields", json={
        "key": "band", "type": "formula", "label": "Band", "result": "text",
        "expression": "if(total >= 5000, \"high\", if(repeat_purchases > 0, \"repeat\", \"new\")) & \" \" & name"})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/entities/customer/fields", json={
        "key": "avg_x2", "type": "formula", "label": "x2", "result": "decimal", "expression": "average_order_value * 2"})
    assert r.status_code == 201, r.get_json()
    cid = client.post("/api/records/customer", json={"name": "Zhang"}).get_json()["id"]
    assert client.get(f"/api/records/customer/{cid}").get_json()["band"] == "new Zhang"
    for amount in ("3000.25", "2500.10"):
        client.post("/api/records/order_rec", json={"customer": cid, "amount": amount, "status": "paid"})
    got = client.get(f"/api/records/customer/{cid}").get_json()
    assert got["band"] == "high Zhang" and got["total"] == Decimal("5500.35")
    assert got["avg_x2"] == Decimal("5500.35")  # the average 2750.175 (scale 4) doubled, at scale 2
    r = client.get("/api/records/customer?filter[avg_x2][gt]=5000")
    assert [x["id"] for x in r.get_json()["items"]] == [cid]


def test_the_templates_compute_weighted_amount_and_lessons_remaining(platform):
    from crm_platform.bundles import importer, templates
    from crm_platform.runtime.query import ListQuery
    importer.run(platform, templates.load("b2b"), actor="test", sample_data=True)
    with platform.engine.connect() as conn:
        deals = [r for part in platform.records.stream("opportunity", ListQuery(), conn=conn) for r in part]
    priced = [d for d in deals if d["amount"] is not None and d["probability"] is not None]
    assert len(priced) >= 50
    for d in priced:
        exact = Decimal(d["amount"]) * d["probability"] / 100
        assert d["weighted_amount"] == exact.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"), d
    importer.run(platform, templates.load("education"), actor="test", sample_data=True, on_conflict="keep-local")
    with platform.engine.connect() as conn:
        progress = [r for part in platform.records.stream("progress", ListQuery(), conn=conn) for r in part]
        courses = {r["id"]: r for part in platform.records.stream("course", ListQuery(), conn=conn) for r in part}
    checked = [p for p in progress if p["course"] is not None and p["lessons_done"] is not None]
    assert checked
    for p in checked:
        assert p["lessons_remaining"] == courses[p["course"]]["lessons"] - p["lessons_done"], p
