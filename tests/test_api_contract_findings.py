"""What schemathesis (tests/test_api_schemathesis.py) found, each kept as a plain regression test:
the answer an endpoint gives is valid against the schema /api/openapi.json documents for it."""
from __future__ import annotations

from jsonschema import Draft202012Validator


def documented_answer_errors(doc: dict, path: str, method: str, status: int, body) -> list[str]:
    """What is wrong with ``body`` against the document's schema of that answer (empty: nothing)."""
    content = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    schema = {**content, "components": doc["components"]}
    return [e.message for e in Draft202012Validator(schema).iter_errors(body)]


def test_a_merge_answer_matches_its_documented_schema(client, student):
    """It answered the survivor with `_merge`, documented as allOf(record, {_merge}); the record
    schema admits no other property, so no answer could ever match it."""
    first = client.post("/api/records/student", json={"name": "Ann"}).get_json()
    second = client.post("/api/records/student", json={"name": "Ann"}).get_json()
    r = client.post("/api/records/student/merge", json={"survivor": first["id"], "others": [second["id"]]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["_merge"]["merged"] == [second["id"]]
    doc = client.get("/api/openapi.json").get_json()
    assert documented_answer_errors(doc, "/api/records/student/merge", "post", 200, r.get_json()) == []


def test_an_import_id_beyond_its_column_is_404_not_a_server_error(client):
    """GET /api/imports/36327761645350 was a 500 on PostgreSQL: the route took 64-bit ids, the
    column (and the document's `maximum`) is 32-bit."""
    for job_id in (36327761645350, 2**31, 2**31 - 1):
        r = client.get(f"/api/imports/{job_id}")
        assert r.status_code == 404 and r.get_json()["errors"][0]["code"] == "not_found", (job_id, r.get_json())
