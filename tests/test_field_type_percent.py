"""The percent field type: an exact decimal between 0 and 100 (unless the field says otherwise),
shown with a % sign, ordered but not summable. Adding it took one module in field_types/ and these
tests: everything else (meta-schema, API, OpenAPI, filters, sorting, screens) asks the registry."""
from __future__ import annotations

import decimal
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_admin_designer import add_field, admin, text_of  # noqa: F401  (admin is a fixture)
from test_screens import Pages, field_error, text
from test_validator_agrees_with_jsonschema import ENTITY, check_agreement, decimals

from crm_platform.metadata.field_types import REGISTRY

DEAL = {
    "key": "deal", "label": {"en": "Deal", "zh": "商机"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": "Name", "required": True},
        {"key": "probability", "type": "percent", "label": {"en": "Probability", "zh": "赢单率"}},
        {"key": "growth", "type": "percent", "label": "Growth", "min": -100, "max": 1000, "scale": 1},
        {"key": "amount", "type": "decimal", "label": "Amount"},
    ],
}


@pytest.fixture
def deal(client):
    r = client.post("/api/meta/entities", json=DEAL)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["entity"]


def rows(platform):
    """The stored rows, read from the table itself (not through the API)."""
    t = platform.runtime.current().entity("deal").table
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(t.c.name, t.c.probability, t.c.growth).order_by(t.c.id)).all()


def test_a_percent_is_stored_exactly_and_read_back(client, platform, deal):
    r = client.post("/api/records/deal", json={"name": "A", "probability": Decimal("12.5"), "growth": -30})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["probability"], body["growth"]) == (Decimal("12.50"), Decimal("-30.0"))
    assert client.get(f"/api/records/deal/{body['id']}").get_json()["probability"] == Decimal("12.50")
    [(name, probability, growth)] = rows(platform)
    assert (name, probability, growth) == ("A", Decimal("12.50"), Decimal("-30.0"))
    assert (str(probability), str(growth)) == ("12.50", "-30.0")  # exactly, with the field's places


@pytest.mark.parametrize("values, field, code, message", [
    ({"probability": Decimal("100.01")}, "probability", "maximum", "must be at most 100"),
    ({"probability": -1}, "probability", "minimum", "must be at least 0"),
    ({"probability": Decimal("1.005")}, "probability", "multipleOf", "must have at most 2 decimal places"),
    ({"probability": "50%"}, "probability", None, None),  # the API takes numbers; forms and filters read "50%"
    ({"growth": 1001}, "growth", "maximum", "must be at most 1000"),
])
def test_a_percent_outside_its_range_is_refused_and_nothing_is_written(client, platform, deal, values, field, code,
                                                                       message):
    r = client.post("/api/records/deal", json={"name": "A", **values})
    assert r.status_code == 422
    [err] = r.get_json()["errors"]
    assert err["field"] == field, err
    if code is not None:
        assert err["code"] == code and err["message"].startswith(message), err
    assert rows(platform) == []


def test_a_field_may_name_its_own_range(client, deal):
    r = client.post("/api/records/deal", json={"name": "Boom", "growth": 999})
    assert r.status_code == 201 and r.get_json()["growth"] == Decimal("999.0")


@pytest.mark.parametrize("field, where, message", [
    ({"key": "p", "type": "percent", "min": 150}, "fields.p.min", "min (150) must not be greater than max (100)"),
    ({"key": "p", "type": "percent", "max": -5}, "fields.p.max", "min (0) must not be greater than max (-5)"),
])
def test_a_range_that_holds_nothing_is_refused(client, deal, field, where, message):
    r = client.post("/api/meta/entities/deal/fields", json=field)
    assert r.status_code == 422
    assert [(e["field"], e["message"].split(";")[0]) for e in r.get_json()["errors"]] == [(where, message)]
    assert "p" not in {f["key"] for f in client.get("/api/meta/entities/deal").get_json()["fields"]}


def test_filter_and_sort_by_a_percent(client, deal):
    for name, p, g in [("low", 10, -50), ("mid", Decimal("50.5"), 200), ("high", 90, 900), ("none", None, None)]:
        assert client.post("/api/records/deal", json={"name": name, "probability": p, "growth": g}).status_code == 201

    def names(query):
        r = client.get(f"/api/records/deal?{query}")
        assert r.status_code == 200, r.get_json()
        return [item["name"] for item in r.get_json()["items"]]

    assert names("filter[probability][gte]=50.5&sort=probability") == ["mid", "high"]
    assert names("filter[probability][lt]=50%25&sort=-probability") == ["low"]  # "50%" typed with its sign
    assert names("filter[probability]=90") == ["high"]
    assert names("filter[probability][is_empty]") == ["none"]
    # Filter values are compared, not stored: the range rule does not apply to them.
    assert names("filter[probability][lt]=150&sort=probability") == ["low", "mid", "high"]
    assert names("filter[growth][gt]=150&sort=-growth") == ["high", "mid"]
    assert names("sort=-probability,name") == ["high", "mid", "low", "none"] or \
        names("sort=-probability,name") == ["none", "high", "mid", "low"]  # where NULLs sort is the database's
    r = client.get("/api/records/deal?filter[probability][gt]=lots")
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "filter[probability][gt]"


def test_the_published_schema_states_the_range(client, deal):
    schema = client.get("/api/meta/entities/deal/schema").get_json()
    probability, growth = (schema["properties"][k]["anyOf"][0] for k in ("probability", "growth"))  # or null
    assert {k: probability.get(k) for k in ("minimum", "maximum", "multipleOf")} == \
        {"minimum": 0, "maximum": 100, "multipleOf": Decimal("0.01")}
    assert (growth["minimum"], growth["maximum"], growth["multipleOf"]) == (-100, 1000, Decimal("0.1"))
    types = {t["type"]: t for t in client.get("/api/meta/field-types").get_json()["items"]}
    assert "gt" in types["percent"]["operators"]
    assert "percent" in client.get("/api/meta/schemas/entity").get_data(as_text=True)


def test_a_percent_is_no_pipeline_amount(client, deal):
    client.post("/api/meta/entities/deal/fields", json={"key": "stage", "type": "stage"})
    pipeline = {"key": "sales", "label": "Sales", "entity": "deal", "field": "stage", "amount_field": "probability",
                "stages": [{"key": "open", "label": "Open"}]}
    r = client.post("/api/meta/pipelines", json=pipeline)
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "amount_field"
    assert client.get("/api/meta/pipelines/sales").status_code == 404
    assert client.post("/api/meta/pipelines", json={**pipeline, "amount_field": "amount"}).status_code == 201


def test_a_rule_may_compare_a_percent(client, deal):
    taxonomy = {"key": "heat", "label": "Heat", "tags": [
        {"key": "likely", "label": "Likely",
         "rule": {"entity": "deal", "all": [{"field": "probability", "op": "gte", "value": 75}]}}]}
    assert client.post("/api/meta/taxonomies", json=taxonomy).status_code == 201, client.get("/api/meta/taxonomies")
    assert client.post("/api/meta/entities/deal/fields",
                       json={"key": "heat", "type": "tags", "taxonomy": "heat"}).status_code == 201
    hot = client.post("/api/records/deal", json={"name": "hot", "probability": 80}).get_json()
    cold = client.post("/api/records/deal", json={"name": "cold", "probability": 20}).get_json()
    assert client.get(f"/api/records/deal/{hot['id']}").get_json()["heat"] == ["likely"]
    assert client.get(f"/api/records/deal/{cold['id']}").get_json()["heat"] == []


def test_a_percent_becomes_a_decimal_keeping_its_values(client, platform, deal):
    client.post("/api/records/deal", json={"name": "A", "probability": Decimal("33.33")})
    r = client.patch("/api/meta/entities/deal/fields/probability", json={"type": "decimal"})
    assert r.status_code == 200, r.get_json()
    [item] = client.get("/api/records/deal").get_json()["items"]
    assert item["probability"] == Decimal("33.33")
    assert client.post("/api/records/deal", json={"name": "B", "probability": 250}).status_code == 201


def test_the_designer_offers_a_percent_field_with_its_options(admin, client, platform, deal):
    page = admin.get("/admin/entities/deal/fields/new?type=percent").get_data(as_text=True)
    assert "Percentage" in text_of(admin.get("/admin/entities/deal/fields/new?type=percent"))  # the admin's language
    assert 'name="min"' in page and 'name="max"' in page and 'name="scale"' in page
    r = add_field(admin, "deal", "percent", {"key": "discount", "label_en": "Discount", "label_zh": "折扣",
                                             "max": "50", "scale": "1"})
    assert r.status_code == 302, text_of(r)
    [field] = [f for f in client.get("/api/meta/entities/deal").get_json()["fields"] if f["key"] == "discount"]
    assert (field["type"], field["max"], field["scale"]) == ("percent", 50, 1)
    assert "Percentage" in text_of(admin.get("/admin/entities/deal/"))
    assert "百分比" in text_of(admin.get("/admin/entities/deal/", headers={"Accept-Language": "zh-CN"}))


# ---- the screens -------------------------------------------------------------------------------------

def test_the_screens_show_a_percent_with_its_sign(app, client, deal):
    pages = Pages(app)
    r = pages.post("/app/deal/new", data={"f-name": "Typed", "f-probability": "45.5%", "f-growth": ""})
    assert r.status_code == 303, text(r)
    [item] = client.get("/api/records/deal").get_json()["items"]
    assert item["probability"] == Decimal("45.50")
    record_page = text(pages.get(r.headers["Location"]))
    assert "45.50%" in record_page
    assert re.search(r"<td[^>]*>\s*45\.50%\s*</td>", text(pages.get("/app/deal?columns=name,probability")))
    form = text(pages.get(f"/app/deal/{item['id']}/edit"))
    assert re.search(r'name="f-probability"[^>]*value="45.50"|value="45.50"[^>]*name="f-probability"', form)
    assert 'inputmode="decimal"' in form


def test_the_screens_refuse_a_percent_out_of_range_and_write_nothing(app, client, platform, deal):
    r = Pages(app).post("/app/deal/new", data={"f-name": "Typed", "f-probability": "150"})
    assert r.status_code == 422
    assert field_error(r, "probability") == "must be at most 100"
    assert rows(platform) == []


# ---- the compiled validator and the published JSON Schema agree ------------------------------------

@st.composite
def percent_cases(draw):
    field = {"key": "p", "type": "percent"}
    if draw(st.booleans()):
        field["scale"] = draw(st.integers(0, 4))
    bound = st.one_of(st.none(), st.integers(-200, 200), decimals(max_abs_exp=3, max_digits=5))
    lo, hi = draw(bound), draw(bound)
    if lo is not None:
        field["min"] = lo
    if hi is not None:
        field["max"] = hi
    effective = REGISTRY["percent"].bounded(field)
    if effective["min"] > effective["max"]:
        field.pop("min", None)
        field.pop("max", None)
    if draw(st.booleans()):
        field["required"] = True
    edges = [Decimal(0), Decimal(100), Decimal("100.01"), Decimal("-0.01"), Decimal("-0"), Decimal("99.999"),
             Decimal("0.001")] + [Decimal(str(b)) + d for b in (lo, hi) if b is not None
                                  for d in (Decimal(0), Decimal("0.01"), Decimal("-0.01"), Decimal("0.0001"))]
    value = st.one_of(st.sampled_from(edges), decimals(max_abs_exp=4, max_digits=6), st.integers(-300, 300),
                      st.sampled_from([None, True, "50", "50%", [50]]))
    doc = {"key": ENTITY, "label": "Thing", "fields": [field]}
    batch = draw(st.lists(st.tuples(st.fixed_dictionaries({}, optional={"p": value}), st.booleans()),
                          min_size=1, max_size=6))
    return doc, batch


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=percent_cases())
def test_the_validator_and_the_json_schema_agree_on_percent_fields(case):
    doc, batch = case
    with decimal.localcontext() as ctx:
        ctx.prec = 100
        check_agreement(doc, batch)
