"""Input at the edges of the REST API (issue 12): owners that do not exist, PATCHes that change
nothing, yes/no flags, bodies that are not JSON objects, error headers, long URLs, decimals as text.

Each test checks what a client sees (status, body, headers) and what the database holds after.
"""
from __future__ import annotations

import sqlalchemy as sa
import pytest

from crm_platform.tables import audit_log
from conftest import ADMIN_PASSWORD, STUDENT

BAD_FLAGS = ["on", "2", "y", "TRUE ", "", "off", "nope"]


def errors_of(response):
    return response.get_json()["errors"]


def fields_named(response):
    return {e["field"] for e in errors_of(response)}


def entity_keys(client):
    return {e["key"] for e in client.get("/api/meta/entities?archived=1").get_json()["items"]}


def audit_rows(platform, entity, record_id):
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(audit_log.c.action, audit_log.c.changes)
                            .where(audit_log.c.entity == entity, audit_log.c.record_id == record_id)
                            .order_by(audit_log.c.id)).all()


def stored(platform, entity, record_id):
    with platform.engine.connect() as conn:
        return dict(conn.execute(sa.text(f"SELECT * FROM ent_{entity} WHERE id = :id"), {"id": record_id}).one()._mapping)


# ---- yes/no flags ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", BAD_FLAGS)
def test_an_unrecognised_dry_run_value_is_400_and_creates_nothing(client, value):
    r = client.post("/api/meta/entities", query_string={"dry_run": value}, json=STUDENT)
    assert r.status_code == 400, r.get_json()
    assert errors_of(r)[0]["field"] == "dry_run" and "yes/no" in errors_of(r)[0]["message"]
    assert "student" not in entity_keys(client)


@pytest.mark.parametrize("value, applied", [("1", False), ("TRUE", False), ("Yes", False), ("true", False),
                                            ("0", True), ("false", True), ("NO", True)])
def test_dry_run_is_read_the_same_way_everywhere(client, value, applied):
    r = client.post(f"/api/meta/entities?dry_run={value}", json=STUDENT)
    assert r.status_code == (201 if applied else 200), r.get_json()
    assert r.get_json()["dry_run"] is (not applied)
    assert ("student" in entity_keys(client)) is applied


def test_a_dry_run_given_twice_with_different_values_is_400(client):
    r = client.post("/api/meta/entities?dry_run=1&dry_run=0", json=STUDENT)
    assert r.status_code == 400 and errors_of(r)[0]["field"] == "dry_run"
    assert "student" not in entity_keys(client)


@pytest.mark.parametrize("url", ["/api/meta/entities/student?dry_run={v}", "/api/meta/taxonomies/tax?dry_run={v}"])
def test_an_unrecognised_dry_run_on_an_archive_archives_nothing(client, student, url):
    client.post("/api/meta/taxonomies", json={"key": "tax", "label": "Tax", "tags": [{"key": "a", "label": "A"}]})
    r = client.delete(url.format(v="on"))
    assert r.status_code == 400 and errors_of(r)[0]["field"] == "dry_run"
    assert client.get("/api/meta/entities/student").get_json()["archived"] is False
    assert client.get("/api/meta/taxonomies/tax").get_json()["archived"] is False


@pytest.mark.parametrize("param", ["archived", "exact_total"])
@pytest.mark.parametrize("value", ["on", "2", "only", "TRUE "])
def test_list_flags_refuse_values_they_do_not_know(client, student, param, value):
    client.post("/api/records/student", json={"name": "Li"})
    r = client.get("/api/records/student", query_string={param: value})
    assert r.status_code == 400 and errors_of(r)[0]["field"] == param


def test_list_flags_accept_their_spellings(client, student):
    live = client.post("/api/records/student", json={"name": "Live"}).get_json()["id"]
    gone = client.post("/api/records/student", json={"name": "Gone"}).get_json()["id"]
    assert client.delete(f"/api/records/student/{gone}").status_code == 204
    for value, ids in [("1", [gone]), ("Yes", [gone]), ("0", [live]), ("false", [live])]:
        r = client.get(f"/api/records/student?archived={value}&exact_total={value}")
        assert r.status_code == 200, r.get_json()
        assert [i["id"] for i in r.get_json()["items"]] == ids
    assert client.get("/api/meta/entities?archived=no").status_code == 200
    r = client.get("/api/meta/entities?archived=maybe")
    assert r.status_code == 400 and errors_of(r)[0]["field"] == "archived"


def test_an_unrecognised_sample_data_flag_loads_nothing(client):
    r = client.post("/api/bundle/templates/education/install?sample_data=on")
    assert r.status_code == 400 and errors_of(r)[0]["field"] == "sample_data"
    assert client.get("/api/bundle/installed").get_json()["items"] == []
    r = client.get("/api/bundle?sample_data=2")
    assert r.status_code == 400 and errors_of(r)[0]["field"] == "sample_data"


def test_the_recycle_bin_screen_refuses_an_unknown_flag_value(app, client, student):
    client.post("/api/records/student", json={"name": "Live"})
    browser = app.test_client()
    no_token = {"Authorization": None}
    r = browser.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}, headers=no_token)
    assert r.status_code == 302
    r = browser.get("/app/student?archived=on", headers=no_token)
    assert r.status_code == 400 and "archived" in r.get_data(as_text=True)
    assert "Live" not in r.get_data(as_text=True)  # not the live list shown as if it were the recycle bin
    r = browser.get("/app/student?archived=0", headers=no_token)
    assert r.status_code == 200 and "Live" in r.get_data(as_text=True)


# ---- owner_id names a user ---------------------------------------------------------------------------

def record_count(platform, entity):
    with platform.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM ent_{entity}")).scalar_one()


@pytest.mark.parametrize("owner", [987654, 2**31, 2**63 - 1, 2**63, 2**64, 10**30])
def test_a_patch_to_an_owner_who_does_not_exist_is_422_and_changes_nothing(client, platform, student, owner):
    created = client.post("/api/records/student", json={"name": "Li"}).get_json()
    r = client.patch(f"/api/records/student/{created['id']}", json={"owner_id": owner})
    assert r.status_code == 422, r.get_json()
    assert fields_named(r) == {"owner_id"}
    row = stored(platform, "student", created["id"])
    assert (row["owner_id"], row["version"]) == (created["owner_id"], 1)
    assert [a.action for a in audit_rows(platform, "student", created["id"])] == ["create"]


@pytest.mark.parametrize("owner", [987654, 2**63])
def test_creating_a_record_for_an_owner_who_does_not_exist_is_422(client, platform, student, owner):
    r = client.post("/api/records/student", json={"name": "Li", "owner_id": owner})
    assert r.status_code == 422, r.get_json()
    assert fields_named(r) == {"owner_id"}
    assert record_count(platform, "student") == 0


def test_a_bulk_create_naming_an_owner_who_does_not_exist_is_422_for_that_row(client, platform, student):
    admin = platform.users.get_by_name("admin")
    r = client.post("/api/records/student/bulk", json={"records": [
        {"name": "A", "owner_id": admin.id}, {"name": "B", "owner_id": 987654}, {"name": "C"}]})
    assert r.status_code == 422, r.get_json()
    assert [(e["field"], e["row"]) for e in errors_of(r)] == [("owner_id", 1)]
    assert "987654" in errors_of(r)[0]["message"]
    assert record_count(platform, "student") == 0


def test_a_record_can_be_handed_to_a_user_who_exists(client, platform, student):
    other = platform.users.create("seller", "seller-password")
    created = client.post("/api/records/student", json={"name": "Li"}).get_json()
    r = client.patch(f"/api/records/student/{created['id']}", json={"owner_id": other.id})
    assert r.status_code == 200 and r.get_json()["owner_id"] == other.id
    assert stored(platform, "student", created["id"])["owner_id"] == other.id
    r = client.post("/api/records/student/bulk", json={"records": [{"name": "B", "owner_id": other.id}]})
    assert r.status_code == 201
    r = client.patch(f"/api/records/student/{created['id']}", json={"owner_id": None})
    assert r.status_code == 200 and r.get_json()["owner_id"] is None


def test_the_record_schema_bounds_owner_id(client, student):
    schema = client.get("/api/meta/entities/student/schema").get_json()
    assert schema["properties"]["owner_id"]["maximum"] == 2**31 - 1  # crm_users.id is an INTEGER


# ---- a PATCH that changes nothing writes nothing --------------------------------------------------

@pytest.fixture
def rich(client, student):
    """A student with a decimal, a multi-choice, a datetime and tags (one set by hand, one by a rule)."""
    client.post("/api/meta/taxonomies", json={"key": "kind", "label": "Kind", "tags": [
        {"key": "vip", "label": "VIP"}, {"key": "new", "label": "New"},
        {"key": "adult", "label": "Adult", "rule": {"entity": "student", "all": [{"field": "age", "op": "gte", "value": 18}]}}]})
    for field in ({"key": "fee", "type": "decimal", "scale": 2},
                  {"key": "hobbies", "type": "multi_select", "choices": [{"key": "chess", "label": "Chess"},
                                                                        {"key": "swim", "label": "Swim"}]},
                  {"key": "seen_at", "type": "datetime"},
                  {"key": "kinds", "type": "tags", "taxonomy": "kind"}):
        r = client.post("/api/meta/entities/student/fields", json=field)
        assert r.status_code == 201, r.get_json()
    r = client.post("/api/records/student", json={
        "name": "Li", "age": 20, "fee": 12.5, "hobbies": ["swim", "chess"], "seen_at": "2024-05-01T09:30:00+08:00",
        "kinds": ["vip"], "enrolled_on": "2024-09-01"})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert record["kinds"] == ["vip", "adult"]
    return record


NO_OPS = [
    {},
    {"version": 1},
    {"id": 12345, "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "created_by": 7,
     "updated_by": 7},
    {"name": "Li", "age": 20, "fee": 12.50, "hobbies": ["swim", "chess"], "enrolled_on": "2024-09-01",
     "seen_at": "2024-05-01T01:30:00Z", "kinds": ["vip"], "email": None, "course": None},
    {"kinds": ["vip"], "_reason": "nothing really"},
]


@pytest.mark.parametrize("body", NO_OPS)
def test_a_patch_that_changes_nothing_answers_the_record_and_writes_nothing(client, platform, rich, body):
    before = stored(platform, "student", rich["id"])
    r = client.patch(f"/api/records/student/{rich['id']}", json=body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == rich
    assert r.headers["ETag"] == '"1"'
    assert stored(platform, "student", rich["id"]) == before  # same version, same updated_at
    assert [a.action for a in audit_rows(platform, "student", rich["id"])] == ["create"]
    assert client.get(f"/api/records/student/{rich['id']}").get_json() == rich


def test_a_patch_that_changes_nothing_still_reports_a_stale_version(client, platform, rich):
    r = client.patch(f"/api/records/student/{rich['id']}", json={}, headers={"If-Match": '"7"'})
    assert r.status_code == 409 and fields_named(r) == {"version"}


def test_a_patch_that_changes_one_value_audits_only_that_one(client, platform, rich):
    r = client.patch(f"/api/records/student/{rich['id']}", json={"name": "Li", "fee": 13, "kinds": ["vip"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == 2
    changes = audit_rows(platform, "student", rich["id"])
    assert [a.action for a in changes] == ["create", "update"]
    assert '"fee"' in changes[1].changes and '"name"' not in changes[1].changes


@pytest.mark.parametrize("body", [b"null", b"[]", b"7", b'"x"'])
def test_a_patch_whose_body_is_not_an_object_is_400_and_changes_nothing(client, platform, rich, body):
    before = stored(platform, "student", rich["id"])
    r = client.patch(f"/api/records/student/{rich['id']}", data=body, content_type="application/json")
    assert r.status_code == 400 and "JSON object" in errors_of(r)[0]["message"]
    assert stored(platform, "student", rich["id"]) == before


# ---- bodies, methods, rate limits and long addresses ----------------------------------------------

NO_AUTH = {"Authorization": None}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/html", None])
def test_a_json_body_sent_as_another_content_type_is_400_and_creates_nothing(client, platform, student, content_type):
    r = client.post("/api/records/student", data=b'{"name": "Li"}', content_type=content_type)
    assert r.status_code == 400, r.get_json()
    assert errors_of(r)[0]["field"] == "Content-Type" and "application/json" in errors_of(r)[0]["message"]
    assert record_count(platform, "student") == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/merge-patch+json"])
def test_json_content_types_are_accepted(client, platform, student, content_type):
    r = client.post("/api/records/student", data=b'{"name": "Li"}', content_type=content_type)
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("url", ["/api/records/student", "/api/meta/entities", "/api/meta/taxonomies"])
def test_a_null_body_where_an_object_is_required_is_400(client, platform, student, url):
    r = client.post(url, data=b"null", content_type="application/json")
    assert r.status_code == 400 and "JSON object" in errors_of(r)[0]["message"]
    assert record_count(platform, "student") == 0
    assert entity_keys(client) == {"student"}


def test_a_method_an_address_does_not_take_is_405_with_allow(client, student):
    r = client.put("/api/records/student/1", json={"name": "Li"})
    assert r.status_code == 405 and errors_of(r)[0]["code"] == "method_not_allowed"
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH", "DELETE"}
    r = client.delete("/api/records/student")
    assert r.status_code == 405 and {"GET", "POST"} <= set(r.headers["Allow"].replace(" ", "").split(","))
    assert r.is_json


def test_a_rate_limited_sign_in_says_when_to_retry(app, client):
    for _ in range(10):
        client.post("/api/auth/token", json={"username": "admin", "password": "wrong-pass"}, headers=NO_AUTH)
    r = client.post("/api/auth/token", json={"username": "admin", "password": "wrong-pass"}, headers=NO_AUTH)
    assert r.status_code == 429 and errors_of(r)[0]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    page = app.test_client()
    for _ in range(10):
        page.post("/login", data={"username": "admin", "password": "wrong-pass"}, headers=NO_AUTH)
    r = page.post("/login", data={"username": "admin", "password": "wrong-pass"}, headers=NO_AUTH)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 61


def test_a_rate_limited_public_form_says_when_to_retry(app, client, platform, student):
    r = client.post("/api/meta/forms", json={"key": "trial", "label": "Trial", "entity": "student", "public": True,
                                             "slug": "trial", "layout": [{"title": "S", "fields": ["name"]}]})
    assert r.status_code == 201, r.get_json()
    app.config["CRM_PUBLIC_FORM_RATE"] = "1 per minute"
    visitor = app.test_client()
    assert visitor.post("/f/trial", data={"f-name": "Li"}, headers=NO_AUTH).status_code == 200
    r = visitor.post("/f/trial", data={"f-name": "Han"}, headers=NO_AUTH)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 61
    assert record_count(platform, "student") == 1


def test_a_too_long_address_is_a_json_414_and_a_long_list_address_is_answered(app, client, student):
    client.post("/api/records/student", json={"name": "Li"})
    limit = app.config["CRM_MAX_URL_BYTES"]
    ids = ",".join(str(n) for n in range(1, 1200))  # a long but reasonable filter: about 5,600 bytes
    r = client.get(f"/api/records/student?filter[id][in]={ids}")
    assert r.status_code == 200, r.get_json()
    assert [i["name"] for i in r.get_json()["items"]] == ["Li"]
    r = client.get("/api/records/student?q=" + "x" * limit)
    assert r.status_code == 414 and r.is_json
    assert errors_of(r)[0]["code"] == "uri_too_long" and str(limit) in errors_of(r)[0]["message"]
    r = client.get("/api/records/student?q=" + "x" * limit, headers=NO_AUTH)
    assert r.status_code == 414 and r.is_json  # answered before sign-in is checked


def test_crm_serve_lets_gunicorn_read_every_address_the_app_answers(app):
    from crm_platform.cli import gunicorn_options
    options = gunicorn_options("127.0.0.1", 5121, 2)
    longest_line = len("DELETE ") + app.config["CRM_MAX_URL_BYTES"] + len(" HTTP/1.1")
    assert options["limit_request_line"] >= longest_line
    from gunicorn.config import Config
    config = Config()
    for name, value in options.items():
        config.set(name, value)
    assert config.limit_request_line == options["limit_request_line"]


# ---- decimals as text -------------------------------------------------------------------------------

@pytest.fixture
def priced(client, student):
    r = client.post("/api/meta/entities/student/fields", json={"key": "fee", "type": "decimal", "scale": 2,
                                                               "min": 0, "max": 100000})
    assert r.status_code == 201, r.get_json()
    return client


def value_in_db(platform, key, record_id):
    """The stored value read through the column's own type (SQLite keeps decimals as scaled integers)."""
    t = platform.runtime.current().entity("student").table
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(t.c[key]).where(t.c.id == record_id)).scalar_one()


@pytest.mark.parametrize("text, exact", [("12.50", "12.50"), ("0", "0"), ("99999.99", "99999.99"),
                                         ("7.100000", "7.10"), ("100000", "100000")])
def test_a_decimal_sent_as_text_is_stored_exactly(priced, platform, text, exact):
    from decimal import Decimal
    r = priced.post("/api/records/student", json={"name": "Li", "fee": text})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["fee"] == Decimal(exact)
    assert value_in_db(platform, "fee", r.get_json()["id"]) == Decimal(exact)


def test_decimals_as_text_are_exact_where_a_float_would_round(priced, platform):
    from decimal import Decimal
    r = priced.post("/api/meta/entities/student/fields", json={"key": "big", "type": "decimal", "scale": 2})
    r = priced.post("/api/records/student", json={"name": "Li", "big": "9999999999999999.99"})
    assert r.status_code == 201, r.get_json()
    assert b"9999999999999999.99" in r.data
    record = r.get_json()
    r = priced.patch(f"/api/records/student/{record['id']}", json={"big": "1234567890123456.78", "fee": "0.10"})
    assert r.status_code == 200 and b"1234567890123456.78" in r.data
    assert value_in_db(platform, "big", record["id"]) == Decimal("1234567890123456.78")
    assert value_in_db(platform, "fee", record["id"]) == Decimal("0.10")


@pytest.mark.parametrize("text, code", [("1e5", "pattern"), ("12.505", "multipleOf"), ("-1", "minimum"),
                                        ("100000.01", "maximum"), (" 12", "pattern"), ("12,50", "pattern"),
                                        ("+5", "pattern"), ("007", "pattern"), ("NaN", "pattern"), ("", "pattern"),
                                        ("１２", "pattern")])
def test_text_that_is_not_an_acceptable_decimal_is_422_naming_the_field(priced, platform, text, code):
    r = priced.post("/api/records/student", json={"name": "Li", "fee": text})
    assert r.status_code == 422, r.get_json()
    assert [(e["field"], e["code"]) for e in errors_of(r)] == [("fee", code)]
    assert record_count(platform, "student") == 0


def test_bulk_rows_take_decimals_as_text(priced, platform):
    from decimal import Decimal
    r = priced.post("/api/records/student/bulk", json={"records": [{"name": "A", "fee": "1.25"}, {"name": "B", "fee": 3}]})
    assert r.status_code == 201, r.get_json()
    items = priced.get("/api/records/student?sort=name").get_json()["items"]
    assert [i["fee"] for i in items] == [Decimal("1.25"), Decimal("3")]
    r = priced.post("/api/records/student/bulk", json={"records": [{"name": "C", "fee": "1.255"}]})
    assert r.status_code == 422 and [(e["field"], e["row"]) for e in errors_of(r)] == [("fee", 0)]


def test_the_record_schema_says_a_decimal_is_a_number_or_decimal_text(priced):
    import re
    schema = priced.get("/api/meta/entities/student/schema").get_json()
    fee = schema["properties"]["fee"]["anyOf"]
    assert [a["type"] for a in fee] == ["number", "string", "null"]
    pattern = fee[1]["pattern"]
    assert re.search(pattern, "12.50") and re.search(pattern, "100000") and re.search(pattern, "0.1")
    assert not any(re.search(pattern, s) for s in ["1e5", "-1", "100000.01", "12.505", "+5", "007"])
    openapi = priced.get("/api/openapi.json").get_json()
    assert openapi["components"]["schemas"]["student"]["properties"]["fee"] == schema["properties"]["fee"]
