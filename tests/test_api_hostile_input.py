"""Input an API fuzzer (or an attacker) sends: NUL bytes, lone surrogates, ids no column can hold.

Each was a 500 on PostgreSQL (and some on SQLite too); each must be a 4xx naming what is wrong,
with nothing written. The served schemas must describe what the API really answers and accepts,
so records, refusals and bulk rows are checked against them.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator

from conftest import ADMIN_PASSWORD

NUL = "a\x00b"
SURROGATE_JSON = '"x\\ud800y"'  # JSON text of a string holding an unpaired surrogate
HUGE = "99999999999999999999999"
BEYOND_BIGINT = str(2**63)
BEYOND_INT4 = str(2**31)


def errors_of(r) -> list[dict]:
    return r.get_json()["errors"]


def fields_of(r) -> list:
    return [e["field"] for e in errors_of(r)]


@pytest.fixture
def anonymous(app):
    return app.test_client()


@pytest.fixture
def signed_in(app):
    """A browser: a session from /login (the API token is not sent)."""
    browser = app.test_client()
    r = browser.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD},
                     headers={"Authorization": None})
    assert r.status_code == 302
    return browser


@pytest.fixture
def one_student(client, student):
    r = client.post("/api/records/student", json={"name": "Li Lei", "age": 9})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def count(platform, table: str) -> int:
    with platform.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def record_audit(platform) -> int:
    """Audit rows of records (those of users, made before the test, left out)."""
    with platform.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM crm_audit WHERE entity <> '_user'")).scalar()


# ---- NUL bytes and lone surrogates in text ---------------------------------------------------------
def test_sign_in_with_a_nul_in_the_user_name_is_refused_naming_it(anonymous):
    r = anonymous.post("/api/auth/token", json={"username": NUL, "password": "x"}, headers={"Authorization": None})
    assert r.status_code == 422
    assert errors_of(r) == [{"field": "username", "code": "pattern", "message": "must not contain NUL characters"}]


def test_sign_in_with_a_lone_surrogate_is_refused_naming_it(anonymous):
    r = anonymous.post("/api/auth/token", data='{"username": ' + SURROGATE_JSON + ', "password": "x"}',
                       content_type="application/json", headers={"Authorization": None})
    assert r.status_code == 422
    assert fields_of(r) == ["username"] and errors_of(r)[0]["code"] == "unicode"


def test_login_page_with_a_nul_in_the_user_name_is_refused_and_signs_nobody_in(anonymous):
    r = anonymous.post("/login", data={"username": NUL, "password": "x"}, headers={"Authorization": None})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "<strong>username</strong>: the field must not contain NUL characters" in page
    assert anonymous.get("/app", headers={"Authorization": None}).status_code == 302  # still signed out


def test_search_and_contains_filter_with_a_nul_are_400_naming_the_parameter(client, one_student):
    r = client.get("/api/records/student?q=a%00b")
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "q", "code": "pattern", "message": "the parameter must not contain NUL characters"}]
    r = client.get("/api/records/student?filter[name][contains]=a%00b")
    assert r.status_code == 400 and fields_of(r) == ["filter[name][contains]"]
    assert client.get("/api/records/student?q=Li").get_json()["total"] == 1


def test_list_and_lookup_screens_with_a_nul_in_q_are_400_pages(signed_in, one_student):
    for url in ("/app/student?q=a%00b", "/app/student/lookup?q=a%00b"):
        r = signed_in.get(url, headers={"Authorization": None})
        assert r.status_code == 400, url
        assert "<strong>q</strong>: the parameter must not contain NUL characters" in r.get_data(as_text=True)
    r = signed_in.get("/app/student?q=a%00b", headers={"Authorization": None, "Accept-Language": "zh"})
    assert r.status_code == 400 and "<strong>q</strong>: 格式不正确" in r.get_data(as_text=True)


def test_a_change_reason_with_a_nul_is_refused_and_nothing_changes(client, platform, one_student):
    r = client.patch("/api/records/student/1", json={"age": 10, "_reason": NUL})
    assert r.status_code == 422
    assert errors_of(r) == [{"field": "_reason", "code": "pattern", "message": "must not contain NUL characters"}]
    r = client.patch("/api/records/student/1", json={"age": 10}, headers={"X-Change-Reason": NUL})
    assert r.status_code == 400 and fields_of(r) == ["_reason"]
    r = client.patch("/api/records/student/1", json={"age": 10, "_reason": "fine"}, headers={"X-Change-Reason": "x" * 2001})
    assert r.status_code == 400 and fields_of(r) == ["_reason"]  # a bad header is bad even when the body says why
    assert client.get("/api/records/student/1").get_json()["age"] == 9
    assert record_audit(platform) == 1  # the create only


def test_a_lone_surrogate_in_a_record_value_or_key_is_422_and_nothing_is_written(client, platform, student):
    r = client.post("/api/records/student", data='{"name": ' + SURROGATE_JSON + "}", content_type="application/json")
    assert r.status_code == 422
    assert errors_of(r) == [{"field": "name", "code": "unicode",
                             "message": "must be valid Unicode text: it holds an unpaired surrogate (\\ud800-\\udfff)"}]
    r = client.post("/api/records/student/bulk", content_type="application/json",
                    data='{"records": [{"name": "ok"}, {"name": "fine", "\\udc00": 1}]}')
    assert r.status_code == 422 and fields_of(r) == ["records.1.\\udc00"]
    r = client.post("/api/records/student", data='{"name": "x", "_reason": ' + SURROGATE_JSON + "}",
                    content_type="application/json")
    assert r.status_code == 422 and fields_of(r) == ["_reason"]
    assert client.get("/api/records/student").get_json()["total"] == 0
    assert record_audit(platform) == 0


def test_a_user_name_with_a_nul_is_refused_and_no_user_is_made(client, platform):
    r = client.post("/api/users", json={"username": NUL, "password": "long enough"})
    assert r.status_code == 422 and fields_of(r) == ["username"]
    assert [u["username"] for u in client.get("/api/users").get_json()["items"]] == ["admin"]


def test_a_definition_with_a_lone_surrogate_in_a_label_is_refused(client):
    r = client.post("/api/meta/entities", content_type="application/json",
                    data='{"key": "pupil", "label": ' + SURROGATE_JSON + ', "fields": [{"key": "name", "type": "text"}]}')
    assert r.status_code == 422 and fields_of(r) == ["label"]
    assert client.get("/api/meta/entities/pupil").status_code == 404


def test_a_bundle_with_a_lone_surrogate_is_refused(client, student):
    bundle = client.get("/api/bundle").get_data(as_text=True)
    assert '"label": "Student"' not in bundle
    r = client.post("/api/bundle", data=bundle.replace('"en": "Student"', '"en": ' + SURROGATE_JSON),
                    content_type="application/json")
    assert r.status_code == 422 and fields_of(r) == ["definitions.entity.0.label.en"]


# ---- ids and numbers out of range ------------------------------------------------------------------
@pytest.mark.parametrize("user_id", [HUGE, BEYOND_BIGINT, BEYOND_INT4])
def test_a_user_id_no_column_holds_is_404(client, user_id):
    for r in (client.get(f"/api/users/{user_id}"), client.patch(f"/api/users/{user_id}", json={"active": False})):
        assert r.status_code == 404
        assert errors_of(r)[0]["code"] == "not_found"
    assert client.get("/api/users/1").status_code == 200


@pytest.mark.parametrize("path", ["", "/history", "/stage-history"])
def test_a_record_id_no_column_holds_is_404(client, one_student, path):
    for record_id in (HUGE, BEYOND_BIGINT):
        r = client.get(f"/api/records/student/{record_id}{path}")
        assert r.status_code == 404 and errors_of(r)[0]["code"] == "not_found"
    r = client.patch(f"/api/records/student/{BEYOND_BIGINT}", json={"age": 10})
    assert r.status_code == 404


def test_revisions_before_a_number_no_revision_can_have_is_400_naming_it(client, student):
    for before in (HUGE, BEYOND_INT4, "-1"):
        r = client.get(f"/api/meta/revisions?before={before}")
        assert r.status_code == 400
        assert errors_of(r) == [{"field": "before", "code": "range",
                                 "message": "'before' must be between 0 and 2147483647"}]
    assert [i["revision"] for i in client.get("/api/meta/revisions?before=2").get_json()["items"]] == [1]


def test_a_record_page_with_an_id_no_column_holds_is_404(signed_in, one_student):
    for record_id in (BEYOND_BIGINT, HUGE):
        for url in (f"/app/student/{record_id}", f"/app/student/{record_id}/edit"):
            assert signed_in.get(url, headers={"Authorization": None}).status_code == 404, url
    assert signed_in.get("/app/student/1", headers={"Authorization": None}).status_code == 200


def test_admin_details_of_an_id_no_column_holds_is_404(signed_in, one_student):
    """An id no column holds is no record (404, as in the API); one that could exist but does not is
    Flask-Admin's usual answer: back to the list with a message."""
    for record_id in (HUGE, BEYOND_BIGINT, "abc"):
        r = signed_in.get(f"/admin/records/student/details/?id={record_id}", headers={"Authorization": None})
        assert r.status_code == 404, record_id
    r = signed_in.get("/admin/records/student/details/?id=999", headers={"Authorization": None})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/records/student/")
    page = signed_in.get("/admin/records/student/", headers={"Authorization": None}).get_data(as_text=True)
    assert "Record does not exist." in page
    r = signed_in.get("/admin/records/student/details/?id=1", headers={"Authorization": None})
    assert r.status_code == 200 and "Li Lei" in r.get_data(as_text=True)


def test_admin_history_before_a_huge_number_is_400(signed_in, student):
    r = signed_in.get(f"/admin/history/?before={HUGE}", headers={"Authorization": None})
    assert r.status_code == 400


# ---- the served schemas describe what the API answers and accepts ----------------------------------
LEVEL = {"key": "level", "label": "Level", "tags": [
    {"key": "big", "label": "Big spender",
     "rule": {"entity": "student", "all": [{"field": "age", "op": "gte", "value": 10}]}}]}
INTERESTS = {"key": "interests", "label": "Interests", "tags": [
    {"key": "music", "label": "Music"},
    {"key": "senior", "label": "Senior", "rule": {"entity": "student", "all": [{"field": "age", "op": "gte", "value": 12}]}}]}


def openapi_validator(client, name: str) -> Draft202012Validator:
    """A validator of one component schema of the served OpenAPI document (its $refs resolve inside it)."""
    doc = client.get("/api/openapi.json").get_json()
    return Draft202012Validator({**doc, "$ref": f"#/components/schemas/{name}"})


def problems(validator: Draft202012Validator, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.fixture
def tagged(client, student):
    """Students with a rule-only taxonomy (single tag) and a mixed one (a hand-set and a rule tag)."""
    for taxonomy in (LEVEL, INTERESTS):
        assert client.post("/api/meta/taxonomies", json=taxonomy).status_code == 201
    for field in ({"key": "level", "type": "tags", "taxonomy": "level", "multiple": False},
                  {"key": "interests", "type": "tags", "taxonomy": "interests"}):
        r = client.post("/api/meta/entities/student/fields", json=field)
        assert r.status_code == 201, r.get_json()
    r = client.post("/api/records/student", json={"name": "Han Meimei", "age": 13, "interests": ["music"]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_records_carrying_rule_tags_validate_against_the_served_schemas(client, tagged):
    assert tagged["level"] == "big" and tagged["interests"] == ["music", "senior"]
    served = Draft202012Validator(client.get("/api/meta/entities/student/schema").get_json())
    answered = openapi_validator(client, "student")
    for record in (tagged, client.get("/api/records/student/1").get_json(),
                   *client.get("/api/records/student").get_json()["items"]):
        assert problems(served, record) == []
        assert problems(answered, record) == []
    assert problems(openapi_validator(client, "student.list"), client.get("/api/records/student").get_json()) == []


def test_what_a_write_may_send_leaves_rule_tags_out_as_the_api_does(client, tagged):
    new, patch = openapi_validator(client, "student.new"), openapi_validator(client, "student.patch")
    assert problems(new, {"name": "Lucy", "interests": ["music"], "_reason": "walk-in"}) == []
    for body in ({"name": "Lucy", "interests": ["senior"]}, {"name": "Lucy", "level": "big"}):
        assert problems(new, body) != []
        assert problems(patch, {k: v for k, v in body.items() if k != "name"}) != []
        r = client.post("/api/records/student", json=body)
        assert r.status_code == 422 and "applied by a rule" in errors_of(r)[0]["message"]
    served = client.get("/api/meta/entities/student/schema").get_json()
    assert served["properties"]["level"]["anyOf"][0]["readOnly"] is True  # a rule-only field: never {"enum": []}
    assert served["properties"]["level"]["anyOf"][0]["enum"] == ["big"]


def test_bulk_rows_are_described_without_a_reason_as_the_api_takes_them(client, student):
    row = openapi_validator(client, "student.row")
    assert problems(row, {"name": "A"}) == []
    assert problems(row, {"name": "A", "_reason": "import"}) != []
    r = client.post("/api/records/student/bulk", json={"records": [{"name": "A", "_reason": "import"}]})
    assert r.status_code == 422 and fields_of(r) == ["_reason"]
    r = client.post("/api/records/student/bulk", json={"records": [{"name": "A"}]})
    assert r.status_code == 201
    assert problems(openapi_validator(client, "student.new"), {"name": "B", "_reason": "walk-in"}) == []
    r = client.post("/api/records/student", json={"name": "B", "_reason": "walk-in"})
    assert r.status_code == 201
    assert problems(openapi_validator(client, "student.new"), {"name": "C", "_reason": None}) == []  # null: no reason
    assert client.post("/api/records/student", json={"name": "C", "_reason": None}).status_code == 201


def test_a_refused_metadata_change_validates_against_the_errors_schema(client, student):
    """A refusal without a row count (a role names the field) leaves ``rows`` out rather than null."""
    r = client.post("/api/meta/roles", json={"key": "teacher", "label": "Teacher",
                                            "entities": {"student": {"read": "all", "fields": {"age": {"write": False}}}}})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/entities/student/fields/age/rename", json={"new_key": "years"})
    assert r.status_code == 409
    assert all("rows" not in e for e in errors_of(r))
    assert problems(openapi_validator(client, "crm.Errors"), r.get_json()) == []
    client.post("/api/records/student", json={"name": "No age"})
    r = client.patch("/api/meta/entities/student/fields/age", json={"required": True})
    assert r.status_code == 409 and errors_of(r)[0]["rows"] == 1
    assert problems(openapi_validator(client, "crm.Errors"), r.get_json()) == []


def test_text_in_the_served_document_says_nul_is_refused(client, student):
    doc = client.get("/api/openapi.json").get_json()
    token = doc["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert not Draft202012Validator(token).is_valid({"username": NUL, "password": "x"})
    q = next(p for p in doc["paths"]["/api/records/student"]["get"]["parameters"] if p["name"] == "q")
    assert not Draft202012Validator(q["schema"]).is_valid(NUL)
    record_id = doc["paths"]["/api/records/student/{id}"]["parameters"][0]["schema"]
    assert record_id["maximum"] == 2**63 - 1
    assert doc["paths"]["/api/users/{id}"]["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    patch = doc["paths"]["/api/meta/entities/{key}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    free_form = Draft202012Validator({**doc, **patch})  # its $refs resolve in the document
    assert free_form.is_valid({"label": {"en": "Pupil"}})
    assert not free_form.is_valid({"label": {"en": NUL}}) and not free_form.is_valid({NUL: 1})
    r = client.patch("/api/meta/entities/student", json={"label": {"en": NUL}})
    assert r.status_code == 422 and fields_of(r) == ["label.en"]
    paging = {p["name"]: p["schema"] for p in doc["paths"]["/api/records/student"]["get"]["parameters"]}
    assert paging["per_page"]["maximum"] == 500 and paging["page"]["maximum"] == 10_000_000
    assert client.get("/api/records/student?per_page=500&page=10000000").status_code == 200
    assert client.get("/api/records/student?per_page=501").status_code == 400
    r = client.get("/api/records/student/1/history?page=10000001")
    assert r.status_code == 400 and fields_of(r) == ["page"]  # histories and lists share the bound
    entity_key = doc["components"]["schemas"]["crm.Entity"]["properties"]["key"]
    assert not Draft202012Validator(entity_key).is_valid("Not A Key")
    if_match = doc["paths"]["/api/records/student/{id}"]["patch"]["parameters"][0]
    assert if_match["name"] == "If-Match" and Draft202012Validator(if_match["schema"]).is_valid('"3"')
    assert not Draft202012Validator(if_match["schema"]).is_valid("three")



def test_the_refusals_of_sign_in_and_user_changes_are_documented(client):
    """A client reading the document knows every status these answer (an outside fuzzer found two missing)."""
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "422" in paths["/api/auth/token"]["post"]["responses"]
    assert "409" in paths["/api/users/{id}"]["patch"]["responses"]
    r = client.patch("/api/users/1", json={"is_admin": False})  # the only administrator
    assert r.status_code == 409 and r.get_json()["errors"][0]["code"] == "last_administrator"
