"""Records through the REST API: CRUD, lists, filters, concurrency, references and bad input."""
from __future__ import annotations

import json

import pytest


def errors_of(response):
    return response.get_json()["errors"]


def fields_named(response):
    return {e["field"] for e in errors_of(response)}


@pytest.fixture
def crm(client, student):
    client.post("/api/meta/entities/student/fields", json={"key": "fee", "type": "decimal", "scale": 2})
    client.post("/api/meta/entities/student/fields", json={"key": "interests", "type": "multi_select", "choices": [
        {"key": "music", "label": "Music"}, {"key": "chess", "label": "Chess"}, {"key": "swim", "label": "Swimming"}]})
    client.post("/api/meta/entities/student/fields", json={"key": "last_contact_at", "type": "datetime"})
    client.post("/api/meta/entities/student/fields", json={"key": "vip", "type": "boolean"})
    rows = [
        {"name": "Li Lei", "age": 12, "email": "lilei@example.com", "course": "math", "fee": 1200.50,
         "interests": ["music", "chess"], "vip": True, "enrolled_on": "2024-09-01"},
        {"name": "Han Meimei", "age": 11, "email": "han@example.com", "course": "art", "fee": 800,
         "interests": ["swim"], "vip": False, "enrolled_on": "2024-10-15"},
        {"name": "张伟", "age": 15, "course": "math", "interests": [], "last_contact_at": "2024-05-01T09:30:00+08:00"},
        {"name": "Lucy", "age": 9},
    ]
    for row in rows:
        r = client.post("/api/records/student", json=row)
        assert r.status_code == 201, r.get_json()
    return client


def names(client, query):
    r = client.get(f"/api/records/student?{query}")
    assert r.status_code == 200, r.get_json()
    return [x["name"] for x in r.get_json()["items"]]


def test_create_returns_the_record_with_system_fields(client, student):
    r = client.post("/api/records/student", json={"name": "Li Lei", "age": 12, "email": "LiLei@Example.com"})
    assert r.status_code == 201
    body = r.get_json()
    assert body["id"] == 1 and body["version"] == 1 and body["email"] == "lilei@example.com"
    assert body["created_at"].endswith("Z") and body["created_at"] == body["updated_at"]
    assert r.headers["Location"] == "/api/records/student/1"
    assert client.get("/api/records/student/1").get_json() == body


def test_decimals_are_exact_and_datetimes_are_utc_with_offset(crm):
    r = crm.post("/api/records/student", data='{"name": "X", "fee": 0.10}', content_type="application/json")
    assert r.status_code == 201
    assert b'"fee": 0.10' in r.data
    third = crm.get("/api/records/student/3").get_json()
    assert third["last_contact_at"] == "2024-05-01T01:30:00Z"
    r = crm.post("/api/records/student", json={"name": "Y", "fee": "1e5"})  # text is a decimal, not an exponent
    assert r.status_code == 422 and fields_named(r) == {"fee"}
    r = crm.post("/api/records/student", data='{"name": "Y", "fee": 1.005}', content_type="application/json")
    assert r.status_code == 422 and errors_of(r)[0]["code"] == "multipleOf"
    r = crm.post("/api/records/student", json={"name": "Y", "last_contact_at": "2024-05-01T09:30:00"})
    assert r.status_code == 422 and fields_named(r) == {"last_contact_at"}


@pytest.mark.parametrize("payload, field, code", [
    ({"name": 5}, "name", "type"),
    ({"name": "A" * 101}, "name", "maxLength"),
    ({"name": ""}, "name", "minLength"),
    ({"name": None}, "name", "required"),
    ({}, "name", "required"),
    ({"name": "A", "age": "12"}, "age", "type"),
    ({"name": "A", "age": 12.5}, "age", "type"),
    ({"name": "A", "age": True}, "age", "type"),
    ({"name": "A", "age": 2}, "age", "minimum"),
    ({"name": "A", "age": 10**30}, "age", "maximum"),
    ({"name": "A", "email": "not-an-email"}, "email", "pattern"),
    ({"name": "A", "course": "cooking"}, "course", "enum"),
    ({"name": "A", "enrolled_on": "2024-02-30"}, "enrolled_on", "format"),
    ({"name": "A", "enrolled_on": "01/02/2024"}, "enrolled_on", "pattern"),
    ({"name": "A\u0000B"}, "name", "pattern"),
    ({"name": "A", "nickname": "Lei"}, "nickname", "additionalProperties"),
    ({"name": "A", "id": "seven"}, "id", "type"),
    ({"name": "A", "owner_id": 0}, "owner_id", "minimum"),
])
def test_invalid_values_get_422_naming_the_field_and_rule(client, student, payload, field, code):
    r = client.post("/api/records/student", json=payload)
    assert r.status_code == 422, r.get_json()
    assert (field, code) in {(e["field"], e["code"]) for e in errors_of(r)}
    assert client.get("/api/records/student").get_json()["total"] == 0


def test_multi_select_rules(crm):
    r = crm.post("/api/records/student", json={"name": "Z", "interests": ["music", "music"]})
    assert r.status_code == 422 and errors_of(r)[0]["code"] == "uniqueItems"
    r = crm.post("/api/records/student", json={"name": "Z", "interests": "music"})
    assert r.status_code == 422 and errors_of(r)[0]["code"] == "type"
    r = crm.post("/api/records/student", json={"name": "Z", "interests": ["golf"]})
    assert r.status_code == 422 and errors_of(r)[0]["code"] == "enum"


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'"text"', "application/json"),
    (b"\xff\xfe", "application/json"),
    (b'{"name": NaN}', "application/json"),
    (b'{"name": "A", "age": 1' + b"0" * 5000 + b"}", "application/json"),
    (b"[" * 100000 + b"]" * 100000, "application/json"),
    (b"name=A", "application/x-www-form-urlencoded"),
])
def test_malformed_bodies_get_400(client, student, body, content_type):
    r = client.post("/api/records/student", data=body, content_type=content_type)
    assert r.status_code == 400, (r.status_code, r.data[:200])
    assert errors_of(r)[0]["message"]


def test_huge_payload_gets_413(client, student):
    r = client.post("/api/records/student", data=json.dumps({"name": "A" * (3 * 1024 * 1024)}),
                    content_type="application/json")
    assert r.status_code == 413
    assert "larger than" in errors_of(r)[0]["message"]


def test_unknown_entity_or_record_is_404(client, student):
    assert client.get("/api/records/nothing").status_code == 404
    assert client.post("/api/records/nothing", json={"a": 1}).status_code == 404
    assert client.get("/api/records/student/99").status_code == 404
    assert client.get(f"/api/records/student/{2**70}").status_code == 404
    assert client.patch("/api/records/student/99", json={"name": "B"}).status_code == 404
    assert client.delete("/api/records/student/99").status_code == 404
    assert client.get("/api/records/student/abc").status_code == 404


def test_unique_clash_is_409_naming_the_field(client, student):
    client.post("/api/records/student", json={"name": "A", "email": "a@x.org"})
    r = client.post("/api/records/student", json={"name": "B", "email": "A@X.org"})
    assert r.status_code == 409 and fields_named(r) == {"email"}
    r = client.post("/api/records/student", json={"name": "B", "email": "b@x.org"})
    r = client.patch(f"/api/records/student/{r.get_json()['id']}", json={"email": "a@x.org"})
    assert r.status_code == 409 and fields_named(r) == {"email"}
    assert client.get("/api/records/student").get_json()["total"] == 2


def test_stale_version_is_409_and_changes_nothing(client, student):
    rec = client.post("/api/records/student", json={"name": "A"}).get_json()
    assert client.patch("/api/records/student/1", json={"name": "B", "version": 1}).status_code == 200
    r = client.patch("/api/records/student/1", json={"name": "C", "version": 1})
    assert r.status_code == 409 and r.get_json()["current"]["name"] == "B"
    r = client.patch("/api/records/student/1", json={"name": "C"}, headers={"If-Match": '"1"'})
    assert r.status_code == 409
    got = client.get("/api/records/student/1").get_json()
    assert got["name"] == "B" and got["version"] == 2 and got["created_at"] == rec["created_at"]


def test_patch_is_partial_but_required_stays_required(client, student):
    client.post("/api/records/student", json={"name": "A", "age": 10})
    r = client.patch("/api/records/student/1", json={"age": 11})
    assert r.status_code == 200 and r.get_json()["name"] == "A" and r.get_json()["age"] == 11
    r = client.patch("/api/records/student/1", json={"name": None})
    assert r.status_code == 422 and fields_named(r) == {"name"}
    r = client.patch("/api/records/student/1", json={"age": None})
    assert r.status_code == 200 and r.get_json()["age"] is None


def test_delete_moves_to_recycle_bin_and_restore_brings_it_back(client, student):
    client.post("/api/records/student", json={"name": "A", "email": "a@x.org"})
    assert client.delete("/api/records/student/1").status_code == 204
    assert client.get("/api/records/student/1").status_code == 404
    assert client.get("/api/records/student").get_json()["total"] == 0
    assert [x["name"] for x in client.get("/api/records/student?archived=1").get_json()["items"]] == ["A"]
    assert client.post("/api/records/student", json={"name": "B", "email": "a@x.org"}).status_code == 201
    assert client.post("/api/records/student/1/restore").status_code == 409
    client.patch("/api/records/student/2", json={"email": "b@x.org"})
    r = client.post("/api/records/student/1/restore")
    assert r.status_code == 200 and r.get_json()["email"] == "a@x.org"


def test_lists_page_sort_and_count(crm):
    r = crm.get("/api/records/student?per_page=2&page=2&sort=age")
    body = r.get_json()
    assert body["total"] == 4 and body["pages"] == 2 and [x["name"] for x in body["items"]] == ["Li Lei", "张伟"]
    assert names(crm, "sort=-age") == ["张伟", "Li Lei", "Han Meimei", "Lucy"]
    assert names(crm, "sort=course,name") == ["Han Meimei", "Li Lei", "张伟", "Lucy"]


@pytest.mark.parametrize("query, expected", [
    ("filter[age][gte]=12", {"Li Lei", "张伟"}),
    ("filter[age][lt]=12", {"Han Meimei", "Lucy"}),
    ("filter[age]=11", {"Han Meimei"}),
    ("filter[age][ne]=11", {"Li Lei", "张伟", "Lucy"}),
    ("filter[age][in]=9,15", {"张伟", "Lucy"}),
    ("filter[age][in]=9&filter[age][in]=15", {"张伟", "Lucy"}),
    ("filter[course]=math", {"Li Lei", "张伟"}),
    ("filter[course][ne]=math", {"Han Meimei", "Lucy"}),
    ("filter[course][is_empty]", {"Lucy"}),
    ("filter[email][is_not_empty]", {"Li Lei", "Han Meimei"}),
    ("filter[name][contains]=mei", {"Han Meimei"}),
    ("filter[name][starts_with]=li", {"Li Lei"}),
    ("filter[name][contains]=%", set()),
    ("filter[name][contains]=张", {"张伟"}),
    ("filter[fee][gt]=1000", {"Li Lei"}),
    ("filter[fee]=800.00", {"Han Meimei"}),
    ("filter[vip]=true", {"Li Lei"}),
    ("filter[vip]=no", {"Han Meimei"}),
    ("filter[enrolled_on][gte]=2024-10-01", {"Han Meimei"}),
    ("filter[last_contact_at][lt]=2024-05-01T02:00:00Z", {"张伟"}),
    ("filter[interests][has_any]=chess,swim", {"Li Lei", "Han Meimei"}),
    ("filter[interests][has_all]=music,chess", {"Li Lei"}),
    ("filter[interests][has_none]=music", {"Han Meimei", "张伟", "Lucy"}),
    ("filter[interests][is_empty]", {"张伟", "Lucy"}),
    ("q=han", {"Han Meimei"}),
    ("q=example.com", {"Li Lei", "Han Meimei"}),
    ("filter[id][lte]=2", {"Li Lei", "Han Meimei"}),
    ("filter[age][gte]=10&filter[course]=math&q=li", {"Li Lei"}),
])
def test_filters(crm, query, expected):
    assert set(names(crm, query)) == expected


@pytest.mark.parametrize("query, param", [
    ("filter[nope]=1", "filter[nope]"),
    ("filter[age][like]=1", "filter[age][like]"),
    ("filter[age][gt]=old", "filter[age][gt]"),
    ("filter[course]=cooking", "filter[course]"),
    ("filter[enrolled_on][gt]=yesterday", "filter[enrolled_on][gt]"),
    ("filter[age][gt]=1&filter[age][gt]=2", "filter[age][gt]"),
    ("sort=nope", "sort"),
    ("sort=interests", "sort"),
    ("page=0", "page"),
    ("per_page=100000", "per_page"),
    ("page=abc", "page"),
    ("age=12", "age"),
    ("filter[age][gt]=1;drop table ent_student", "filter[age][gt]"),
    ("sort=name;drop table ent_student", "sort"),
])
def test_bad_list_parameters_are_400_naming_the_parameter(crm, query, param):
    r = crm.get(f"/api/records/student?{query}")
    assert r.status_code == 400, r.get_json()
    assert fields_named(r) == {param}
    assert crm.get("/api/records/student").get_json()["total"] == 4


def test_injection_through_filter_values_is_just_data(crm):
    assert names(crm, "filter[name]=x' OR '1'='1") == []
    assert names(crm, "q=%' OR 1=1 --") == []
    assert crm.get("/api/records/student").get_json()["total"] == 4


@pytest.fixture
def guardians(client, student):
    r = client.post("/api/meta/entities", json={"key": "guardian", "label": {"en": "Guardian", "zh": "家长"}, "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "child", "type": "reference", "target": "student", "on_delete": "restrict"},
        {"key": "also_child", "type": "reference", "target": "student", "on_delete": "set_null"},
    ]})
    assert r.status_code == 201, r.get_json()
    client.post("/api/records/student", json={"name": "Kid"})
    client.post("/api/records/student", json={"name": "Other"})
    return client


def test_references_must_point_at_live_records(guardians):
    r = guardians.post("/api/records/guardian", json={"name": "Mum", "child": 99})
    assert r.status_code == 422 and errors_of(r)[0]["code"] == "reference" and fields_named(r) == {"child"}
    r = guardians.post("/api/records/guardian", json={"name": "Mum", "child": 1, "also_child": 2})
    assert r.status_code == 201
    assert set(names(guardians.application.test_client(), "")) == {"Kid", "Other"}
    assert [x["name"] for x in guardians.get("/api/records/guardian?filter[child]=1").get_json()["items"]] == ["Mum"]


def test_on_delete_restrict_and_set_null(guardians):
    guardians.post("/api/records/guardian", json={"name": "Mum", "child": 1, "also_child": 2})
    r = guardians.delete("/api/records/student/1")
    assert r.status_code == 409 and "guardian" in errors_of(r)[0]["message"]
    assert guardians.get("/api/records/student/1").status_code == 200
    assert guardians.delete("/api/records/student/2").status_code == 204
    assert guardians.get("/api/records/guardian/1").get_json()["also_child"] is None


def test_bulk_create_is_all_or_nothing_with_row_numbers(client, student):
    r = client.post("/api/records/student/bulk", json={"records": [{"name": "A"}, {"name": "B", "age": 1}, {"age": 5}]})
    assert r.status_code == 422
    assert {(e["row"], e["field"]) for e in errors_of(r)} == {(1, "age"), (2, "name")}
    assert client.get("/api/records/student").get_json()["total"] == 0
    r = client.post("/api/records/student/bulk", json={"records": [{"name": "A"}, {"name": "B", "age": 10}]})
    assert r.status_code == 201 and r.get_json() == {"created": 2}
    assert client.post("/api/records/student/bulk", json={"rows": []}).status_code == 400


def test_unicode_round_trips(client, student):
    r = client.post("/api/records/student", json={"name": "王小明 🎓 Ünïcödé"})
    assert client.get(f"/api/records/student/{r.get_json()['id']}").get_json()["name"] == "王小明 🎓 Ünïcödé"


def test_no_stack_trace_reaches_the_client(client, student, monkeypatch):
    from crm_platform.runtime.records import RecordService

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(RecordService, "get", boom)
    r = client.get("/api/records/student/1")
    assert r.status_code == 500
    assert b"secret" not in r.data and b"Traceback" not in r.data
    assert errors_of(r)[0]["code"] == "internal"


def test_totals_are_exact_up_to_the_count_limit(app, client, student):
    client.post("/api/records/student/bulk", json={"records": [{"name": f"S{i}"} for i in range(30)]})
    app.config["CRM_COUNT_LIMIT"] = 10
    body = client.get("/api/records/student?per_page=5").get_json()
    assert (body["total"], body["total_exact"], body["pages"], len(body["items"])) == (10, False, 2, 5)
    body = client.get("/api/records/student?per_page=5&exact_total=1").get_json()
    assert (body["total"], body["total_exact"], body["pages"]) == (30, True, 6)
    body = client.get("/api/records/student?filter[name][starts_with]=S1").get_json()
    assert (body["total"], body["total_exact"]) == (10, False)
    body = client.get("/api/records/student?filter[name]=S1").get_json()
    assert (body["total"], body["total_exact"]) == (1, True)
    assert client.get("/api/records/student?page=4&per_page=5").get_json()["items"][0]["name"] == "S14"
