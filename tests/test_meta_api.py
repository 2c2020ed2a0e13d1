"""Entities and fields through the metadata API: live DDL, plans, refusals, archive and restore."""
from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa

from conftest import STUDENT


def errors_of(response):
    return response.get_json()["errors"]


def fields_named(response):
    return {e["field"] for e in errors_of(response)}


def columns(platform, table):
    return {c["name"] for c in sa.inspect(platform.engine).get_columns(table)}


def add_students(client, *records):
    ids = []
    for rec in records:
        r = client.post("/api/records/student", json=rec)
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    return ids


def test_creating_an_entity_creates_its_table_and_a_revision(client, platform):
    r = client.post("/api/meta/entities", json=STUDENT)
    assert r.status_code == 201
    assert r.get_json()["entity"]["key"] == "student"
    assert {"id", "created_at", "updated_at", "created_by", "updated_by", "owner_id", "version", "archived_at",
            "name", "age", "email", "course", "enrolled_on"} <= columns(platform, "ent_student")
    revs = client.get("/api/meta/revisions").get_json()["items"]
    assert [(x["revision"], x["action"], x["key"], x["actor"]) for x in revs] == [(1, "create", "student", "admin")]
    assert revs[0]["after"]["fields"][0]["key"] == "name"
    listed = client.get("/api/meta/entities").get_json()
    assert [e["key"] for e in listed["items"]] == ["student"] and listed["revision"] == 1


def test_dry_run_shows_the_plan_and_changes_nothing(client, platform):
    r = client.post("/api/meta/entities?dry_run=1", json=STUDENT)
    assert r.status_code == 200
    assert r.get_json()["plan"]["operations"][0]["op"] == "create_table"
    assert not sa.inspect(platform.engine).has_table("ent_student")
    assert client.get("/api/meta/revisions").get_json()["items"] == []


@pytest.mark.parametrize("bad_key", ["select", "1abc", "a;drop table x", "Student", "", "x" * 41, "user name", "order"])
def test_bad_entity_keys_are_refused_with_422(client, platform, bad_key):
    r = client.post("/api/meta/entities", json={**STUDENT, "key": bad_key})
    assert r.status_code == 422
    assert "key" in fields_named(r)
    # Nothing but the platform's own tables: no table for the refused entity.
    from crm_platform.tables import platform_metadata
    # (SQLite's search index is an FTS5 table, with its shadow tables, beside crm_search: migration 0016)
    tables = {t for t in sa.inspect(platform.engine).get_table_names() if not t.startswith("crm_search_fts")}
    assert tables == set(platform_metadata.tables) | {"crm_alembic_version"}


@pytest.mark.parametrize("bad_key", ["select", "1abc", "a;drop table x", "id", "version", "created_at"])
def test_bad_field_keys_are_refused_with_422(client, student, bad_key):
    r = client.post("/api/meta/entities/student/fields", json={"key": bad_key, "type": "text"})
    assert r.status_code == 422, r.get_json()
    assert any(f.startswith(f"fields.{bad_key}") or f == "fields" for f in fields_named(r) if f), errors_of(r)


def test_label_with_script_is_kept_as_text(client):
    doc = {**STUDENT, "label": {"en": "<script>alert(1)</script>", "zh": "学员"}}
    r = client.post("/api/meta/entities", json=doc)
    assert r.status_code == 201
    assert r.headers["Content-Type"].startswith("application/json")
    assert client.get("/api/meta/entities/student").get_json()["label"]["en"] == "<script>alert(1)</script>"


def test_label_with_control_characters_is_refused(client):
    r = client.post("/api/meta/entities", json={**STUDENT, "label": "Stu\u0000dent"})
    assert r.status_code == 422 and "label" in fields_named(r)


@pytest.mark.parametrize("change, field", [
    ({"fields": [{"key": "x", "type": "rainbow"}]}, "fields.x.type"),
    ({"fields": [{"key": "x", "type": "text", "max_length": 0}]}, "fields.x.max_length"),
    ({"fields": [{"key": "x", "type": "text", "colour": "red"}]}, "fields.x"),
    ({"fields": [{"key": "x", "type": "integer", "min": 5, "max": 1}]}, "fields.x.min"),
    ({"fields": [{"key": "x", "type": "select", "choices": []}]}, "fields.x.choices"),
    ({"fields": [{"key": "x", "type": "select", "choices": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}]}]},
     "fields.x.choices"),
    ({"fields": [{"key": "x", "type": "reference", "target": "nothing"}]}, "fields.x.target"),
    ({"fields": [{"key": "x", "type": "integer", "default": "five"}]}, "fields.x.default"),
    ({"fields": [{"key": "x", "type": "text"}, {"key": "x", "type": "text"}]}, "fields.x.key"),
    ({"fields": [{"key": "x", "type": "long_text", "unique": True}]}, "fields.x.unique"),
    ({"title_field": "nope", "fields": [{"key": "x", "type": "text"}]}, "title_field"),
    ({"label": ""}, "label"),
    ({"surprise": 1}, None),
])
def test_invalid_definitions_name_the_option_and_the_rule(client, change, field):
    doc = {"key": "thing", "label": "Thing", **change}
    r = client.post("/api/meta/entities", json=doc)
    assert r.status_code == 422, r.get_json()
    assert field in fields_named(r), errors_of(r)
    assert all(e["message"] for e in errors_of(r))


def test_entity_keys_are_unique(client, student):
    r = client.post("/api/meta/entities", json=STUDENT)
    assert r.status_code == 409 and fields_named(r) == {"key"}


def test_unknown_entity_is_404(client):
    assert client.get("/api/meta/entities/nobody").status_code == 404
    assert client.patch("/api/meta/entities/nobody", json={"label": "X"}).status_code == 404
    assert client.post("/api/meta/entities/nobody/fields", json={"key": "a", "type": "text"}).status_code == 404
    assert client.get("/api/meta/entities/nobody/schema").status_code == 404


def test_added_field_keeps_existing_rows_and_is_usable_at_once(client, platform, student):
    (sid,) = add_students(client, {"name": "Li Lei", "age": 12})
    r = client.post("/api/meta/entities/student/fields", json={"key": "phone", "type": "phone", "indexed": True})
    assert r.status_code == 201
    assert r.get_json()["plan"]["operations"][0]["detail"] == "add column phone (phone) to table ent_student, 0 rows affected"
    assert "phone" in columns(platform, "ent_student")
    assert any(i["name"].startswith("ix_ent_student_phone_") for i in sa.inspect(platform.engine).get_indexes("ent_student"))
    got = client.get(f"/api/records/student/{sid}").get_json()
    assert got["name"] == "Li Lei" and got["phone"] is None
    assert client.patch(f"/api/records/student/{sid}", json={"phone": "+86 138 0013 8000"}).status_code == 200


def test_making_a_field_required_is_refused_with_the_count_of_breaking_rows(client, student):
    add_students(client, {"name": "A"}, {"name": "B"}, {"name": "C", "age": 9})
    r = client.patch("/api/meta/entities/student/fields/age", json={"required": True})
    assert r.status_code == 409
    (refusal,) = errors_of(r)
    assert refusal["rows"] == 2 and refusal["field"] == "fields.age.required"
    assert refusal["message"] == "2 existing records have no value for 'age'; fill it in first or keep it optional"
    assert "required" not in next(f for f in client.get("/api/meta/entities/student").get_json()["fields"] if f["key"] == "age")
    assert client.post("/api/records/student", json={"name": "D"}).status_code == 201
    # Two rules at once: each refusal names its own rule and counts its own records.
    r = client.patch("/api/meta/entities/student/fields/age", json={"required": True, "max": 8})
    assert r.status_code == 409
    assert sorted((e["field"], e["rows"]) for e in errors_of(r)) == [("fields.age.max", 1), ("fields.age.required", 3)]


def test_adding_a_required_field_to_a_filled_table_needs_a_default(client, student):
    add_students(client, {"name": "A"}, {"name": "B"})
    r = client.post("/api/meta/entities/student/fields", json={"key": "level", "type": "integer", "required": True})
    assert r.status_code == 409 and errors_of(r)[0]["rows"] == 2
    r = client.post("/api/meta/entities/student/fields", json={"key": "level", "type": "integer", "required": True, "default": 1})
    assert r.status_code == 201 and r.get_json()["plan"]["operations"][0]["rows"] == 2
    assert {x["level"] for x in client.get("/api/records/student").get_json()["items"]} == {1}


def test_tightening_max_length_choices_and_unique_checks_rows(client, student):
    add_students(client, {"name": "A" * 50, "course": "art", "email": "a@x.org"}, {"name": "B", "course": "math"})
    r = client.patch("/api/meta/entities/student/fields/name", json={"max_length": 10})
    assert r.status_code == 409 and errors_of(r)[0]["rows"] == 1
    r = client.patch("/api/meta/entities/student/fields/course", json={"choices": [{"key": "math", "label": "Math"}]})
    assert r.status_code == 409 and errors_of(r)[0]["rows"] == 1
    widened = [{"key": "math", "label": "Math"}, {"key": "art", "label": "Art"}, {"key": "music", "label": "Music"}]
    assert client.patch("/api/meta/entities/student/fields/course", json={"choices": widened}).status_code == 200
    client.post("/api/meta/entities/student/fields", json={"key": "city", "type": "text"})
    for sid in (1, 2):
        client.patch(f"/api/records/student/{sid}", json={"city": "Beijing"})
    r = client.patch("/api/meta/entities/student/fields/city", json={"unique": True})
    assert r.status_code == 409 and errors_of(r)[0]["rows"] == 2


def test_label_change_runs_no_ddl(client, student):
    r = client.patch("/api/meta/entities/student/fields/age", json={"label": {"en": "Age", "zh": "年龄"}})
    assert r.status_code == 200
    assert [o["op"] for o in r.get_json()["plan"]["operations"]] == ["relabel"]


def test_integer_to_decimal_keeps_every_value(client, student):
    add_students(client, {"name": "A", "age": 12}, {"name": "B", "age": 99}, {"name": "C"})
    r = client.patch("/api/meta/entities/student/fields/age", json={"type": "decimal", "scale": 1})
    assert r.status_code == 200, r.get_json()
    ages = [x["age"] for x in client.get("/api/records/student?sort=id").get_json()["items"]]
    assert [str(a) if a is not None else None for a in ages] == ["12.0", "99.0", None]
    assert client.patch("/api/records/student/3", json={"age": 7.5}).status_code == 200


def test_lossy_conversion_is_refused_with_count_and_sample(client, student):
    add_students(client, {"name": "A"})
    client.post("/api/meta/entities/student/fields", json={"key": "code", "type": "text"})
    client.patch("/api/records/student/1", json={"code": "12"})
    add_students(client, {"name": "B"})
    client.patch("/api/records/student/2", json={"code": "twelve"})
    r = client.patch("/api/meta/entities/student/fields/code", json={"type": "integer"})
    assert r.status_code == 409
    assert errors_of(r)[0]["rows"] == 1 and errors_of(r)[0]["sample_ids"] == [2]
    assert client.get("/api/records/student/2").get_json()["code"] == "twelve"
    client.patch("/api/records/student/2", json={"code": "13"})
    assert client.patch("/api/meta/entities/student/fields/code", json={"type": "integer"}).status_code == 200
    assert [x["code"] for x in client.get("/api/records/student?sort=id").get_json()["items"]] == [12, 13]


def test_undeclared_type_change_is_refused_with_the_reason(client, student):
    r = client.patch("/api/meta/entities/student/fields/enrolled_on", json={"type": "boolean"})
    assert r.status_code == 409
    assert "safe conversions from date: datetime, long_text, text" in errors_of(r)[0]["message"]


def test_select_to_text_and_text_to_long_text(client, student):
    add_students(client, {"name": "A", "course": "art"})
    assert client.patch("/api/meta/entities/student/fields/course", json={"type": "text"}).status_code == 200
    assert client.patch("/api/meta/entities/student/fields/name", json={"type": "long_text"}).status_code == 200
    got = client.get("/api/records/student/1").get_json()
    assert got["course"] == "art" and got["name"] == "A"


def test_archived_field_is_hidden_and_restored_with_its_values(client, platform, student):
    add_students(client, {"name": "A", "age": 30})
    r = client.delete("/api/meta/entities/student/fields/age")
    assert r.status_code == 200
    assert "age" in columns(platform, "ent_student")
    rec = client.get("/api/records/student/1").get_json()
    assert "age" not in rec
    r = client.patch("/api/records/student/1", json={"age": 31})
    assert r.status_code == 422 and fields_named(r) == {"age"}
    assert "age" not in client.get("/api/meta/entities/student/schema").get_json()["properties"]
    assert client.post("/api/meta/entities/student/fields", json={"key": "age", "type": "text"}).status_code == 409
    assert client.post("/api/meta/entities/student/fields/age/restore").status_code == 200
    assert client.get("/api/records/student/1").get_json()["age"] == 30


def test_title_field_cannot_be_archived(client, platform, student):
    add_students(client, {"name": "Li"})
    before = client.get("/api/meta/entities/student").get_json()
    revisions = client.get("/api/meta/revisions").get_json()["items"]
    r = client.delete("/api/meta/entities/student/fields/name")
    assert r.status_code == 409
    assert r.get_json()["errors"] == [{"field": "field", "code": "title_field", "message":
                                       "'name' is the title field of 'student': choose another title field first"}]
    # nothing changed: the field, its column and its values are there, and no revision was made
    assert client.get("/api/meta/entities/student").get_json() == before
    assert client.get("/api/meta/revisions").get_json()["items"] == revisions
    assert "name" in {c["name"] for c in sa.inspect(platform.engine).get_columns("ent_student")}
    assert [s["name"] for s in client.get("/api/records/student").get_json()["items"]] == ["Li"]


def test_renaming_a_field_keeps_its_data_and_indexes(client, platform, student):
    add_students(client, {"name": "A", "email": "a@x.org"})
    r = client.post("/api/meta/entities/student/fields/email/rename", json={"new_key": "mail"})
    assert r.status_code == 200
    assert client.get("/api/records/student/1").get_json()["mail"] == "a@x.org"
    assert client.post("/api/records/student", json={"name": "B", "mail": "a@x.org"}).status_code == 409
    assert client.post("/api/meta/entities/student/fields/mail/rename", json={"new_key": "select"}).status_code == 422
    assert client.post("/api/meta/entities/student/fields/mail/rename", json={"new_key": "name"}).status_code == 409
    assert client.post("/api/meta/entities/student/fields/ghost/rename", json={"new_key": "g"}).status_code == 404


def test_archived_entity_keeps_its_rows_and_can_be_restored(client, platform, student):
    add_students(client, {"name": "A"})
    assert client.delete("/api/meta/entities/student").status_code == 200
    assert client.get("/api/records/student").status_code == 404
    assert sa.inspect(platform.engine).has_table("ent_student")
    assert [e["key"] for e in client.get("/api/meta/entities").get_json()["items"]] == []
    assert client.get("/api/meta/entities?archived=1").get_json()["items"][0]["archived"] is True
    assert client.post("/api/meta/entities", json=STUDENT).status_code == 409
    assert client.post("/api/meta/entities/student/restore").status_code == 200
    assert client.get("/api/records/student/1").get_json()["name"] == "A"


def test_entity_referenced_by_another_cannot_be_archived(client, student):
    r = client.post("/api/meta/entities", json={"key": "guardian", "label": "Guardian", "fields": [
        {"key": "name", "type": "text"}, {"key": "child", "type": "reference", "target": "student"}]})
    assert r.status_code == 201
    r = client.delete("/api/meta/entities/student")
    assert r.status_code == 409 and "guardian.child" in errors_of(r)[0]["message"]


def test_record_schema_is_served_and_follows_changes(client, student):
    schema = client.get("/api/meta/entities/student/schema").get_json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["name"]
    assert schema["properties"]["course"]["anyOf"][0]["enum"] == ["math", "art"]
    client.post("/api/meta/entities/student/fields", json={"key": "fee", "type": "decimal", "scale": 2, "min": 0})
    schema = client.get("/api/meta/entities/student/schema").get_json()
    assert schema["properties"]["fee"]["anyOf"][0]["minimum"] == 0


def test_meta_schemas_are_served(client):
    doc = client.get("/api/meta/schemas/entity").get_json()
    assert doc["$id"] == "urn:crm:entity"
    assert client.get("/api/meta/schemas/nothing").status_code == 404
    # Every definition kind's meta-schema, whole: its references to labels resolve inside it.
    from jsonschema import Draft202012Validator
    for kind in ("taxonomy", "pipeline", "role", "form"):
        doc = client.get(f"/api/meta/schemas/{kind}").get_json()
        assert doc["$id"] == f"urn:crm:{kind}"
        Draft202012Validator.check_schema(doc)
    pipeline = client.get("/api/meta/schemas/pipeline").get_json()
    good = {"key": "sales", "label": {"en": "Sales", "zh": "销售"}, "entity": "deal", "field": "stage",
            "stages": [{"key": "lead", "label": "Lead"}]}
    assert Draft202012Validator(pipeline).is_valid(good)
    assert not Draft202012Validator(pipeline).is_valid({**good, "label": {"en": 3}})
    assert client.get("/api/meta/schemas/..%2Fentity").status_code == 404
    types = {t["type"] for t in client.get("/api/meta/field-types").get_json()["items"]}
    assert {"text", "long_text", "integer", "decimal", "boolean", "date", "datetime", "email", "phone", "url",
            "select", "multi_select", "reference"} <= types


def test_patch_entity_replaces_the_field_list_declaratively(client, student):
    doc = client.get("/api/meta/entities/student").get_json()
    fields = [f for f in doc["fields"] if f["key"] != "enrolled_on"] + [{"key": "note", "type": "long_text"}]
    r = client.patch("/api/meta/entities/student", json={"fields": fields, "label": {"en": "Pupil", "zh": "学员"}})
    assert r.status_code == 200
    ops = sorted(o["op"] for o in r.get_json()["plan"]["operations"])
    assert ops == ["add_column", "archive_column", "update_entity"]
    after = r.get_json()["entity"]
    assert [f["key"] for f in after["archived_fields"]] == ["enrolled_on"]
    assert client.patch("/api/meta/entities/student", json={"key": "pupil"}).status_code == 422


def test_a_failed_change_leaves_schema_definition_and_revision_untouched(client, platform, student):
    add_students(client, {"name": "A"})
    before_cols = columns(platform, "ent_student")
    before = copy.deepcopy(client.get("/api/meta/entities/student").get_json())
    revs = len(client.get("/api/meta/revisions").get_json()["items"])
    doc = copy.deepcopy(before)
    doc.pop("archived")
    doc["fields"].append({"key": "fine", "type": "text"})
    doc["fields"].append({"key": "must", "type": "text", "required": True})
    assert client.patch("/api/meta/entities/student", json={"fields": doc["fields"]}).status_code == 409
    assert columns(platform, "ent_student") == before_cols
    assert client.get("/api/meta/entities/student").get_json() == before
    assert len(client.get("/api/meta/revisions").get_json()["items"]) == revs


@pytest.mark.parametrize("doc, field", [
    ({"label": "Student\n"}, "label"),
    ({"label": {"en": "Student\n"}}, "label.en"),
    ({"label": {"en\n": "Student"}}, "label"),
    ({"fields": [{"key": "x", "type": "select", "choices": [{"key": "a\n", "label": "A"}]}]}, "fields.x.choices.0.key"),
    ({"fields": [{"key": "x", "type": "reference", "target": "student\n"}]}, "fields.x.target"),
])
def test_meta_schema_patterns_refuse_a_trailing_newline(client, student, doc, field):
    r = client.post("/api/meta/entities", json={"key": "thing", "label": "Thing", **doc})
    assert r.status_code == 422, r.get_json()
    assert any(f and f.startswith(field.split(".")[0]) for f in fields_named(r)), errors_of(r)
