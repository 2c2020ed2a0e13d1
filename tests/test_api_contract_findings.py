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
