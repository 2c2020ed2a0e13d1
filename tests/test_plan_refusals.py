"""What a refused rule change tells the administrator (metadata/plan.py), found untested by a mutation
check (docs/testing.md): the path of the one rule that changed, the code, the count of rows, at
most ten sample ids, and empty values that only a `required` rule cares about. Also: a reference
field is indexed without asking. SQLite and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa

from conftest import STUDENT


def errors_of(r):
    return r.get_json()["errors"]


def test_a_tightened_rule_names_the_option_counts_rows_and_samples_ten(client, student):
    r = client.post("/api/records/student/bulk", json={"records": [{"name": f"S{n}", "age": 20 + n} for n in range(12)]
                                                       + [{"name": "no age"}]})
    assert r.status_code == 201, r.get_json()
    before = client.get("/api/meta/entities/student").get_json()
    r = client.patch("/api/meta/entities/student/fields/age", json={"max": 19})
    assert r.status_code == 409, r.get_json()
    # the record without an age breaks nothing: empty is only a problem for `required`
    assert errors_of(r) == [{"field": "fields.age.max", "code": "existing_rows", "rows": 12,
                             "sample_ids": list(range(1, 11)),
                             "message": "12 existing records break the new rule for 'age'; fix them first"}]
    # two options changed at once: the field is named, not one option
    r = client.patch("/api/meta/entities/student/fields/age", json={"max": 19, "min": 4})
    assert r.status_code == 409 and errors_of(r)[0]["field"] == "fields.age"
    # newly required: the empty one is counted, under `required`
    r = client.patch("/api/meta/entities/student/fields/age", json={"required": True})
    assert r.status_code == 409
    assert errors_of(r) == [{"field": "fields.age.required", "code": "existing_rows", "rows": 1, "sample_ids": [13],
                             "message": "1 existing records have no value for 'age'; fill it in first or keep it optional"}]
    assert client.get("/api/meta/entities/student").get_json() == before


def test_a_reference_field_is_indexed_without_asking(client, platform, student):
    r = client.post("/api/meta/entities", json={**STUDENT, "key": "guardian", "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "child", "type": "reference", "target": "student", "on_delete": "set_null"}]})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/entities/guardian/fields", json={"key": "sibling", "type": "reference", "target": "student",
                                                               "on_delete": "set_null"})
    assert r.status_code == 201, r.get_json()
    indexed = {tuple(ix["column_names"]) for ix in sa.inspect(platform.engine).get_indexes("ent_guardian")}
    assert {("child",), ("sibling",)} <= indexed
    # asking for an index and then not: a reference keeps its index all the same
    for flag in (True, False):
        r = client.patch("/api/meta/entities/guardian/fields/sibling", json={"indexed": flag})
        assert r.status_code == 200, r.get_json()
    indexed = {tuple(ix["column_names"]) for ix in sa.inspect(platform.engine).get_indexes("ent_guardian")}
    assert {("child",), ("sibling",)} <= indexed
