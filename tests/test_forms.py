"""Form definitions: /api/meta/forms, their checks against the entity, and the rules forms enforce."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_platform.errors import Invalid
from crm_platform.metadata.forms import accept, default_form, resolve
from crm_platform.tables import definitions

TRIAL = {
    "key": "trial", "label": {"en": "Trial lesson", "zh": "试听课报名"}, "entity": "student",
    "layout": [{"title": {"en": "Student", "zh": "学员"}, "fields": ["name", "age", "course"]},
               {"title": "Contact", "fields": ["email"]}],
    "overrides": {"age": {"help": "Years", "placeholder": "8"}, "course": {"label": {"en": "Which course?", "zh": "课程"}}},
    "conditions": [{"field": "email", "effect": "require", "when": {"field": "course", "op": "eq", "value": "art"}}],
    "public": True, "slug": "trial-lesson", "success_message": {"en": "See you soon", "zh": "报名成功"},
}


def test_create_read_change_archive_and_restore_a_form(client, student, platform):
    r = client.post("/api/meta/forms", json=TRIAL)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["form"]["slug"] == "trial-lesson"
    assert [f["key"] for f in client.get("/api/meta/forms").get_json()["items"]] == ["trial"]
    assert client.get("/api/meta/forms/trial").get_json()["layout"] == TRIAL["layout"]
    r = client.patch("/api/meta/forms/trial", json={"success_message": "Thanks"})
    assert r.status_code == 200 and r.get_json()["form"]["success_message"] == "Thanks"
    assert client.delete("/api/meta/forms/trial").get_json()["form"]["archived"] is True
    assert client.get("/api/meta/forms").get_json()["items"] == []
    assert client.post("/api/meta/forms/trial/restore").status_code == 200
    with platform.engine.connect() as conn:
        kinds = conn.execute(sa.select(definitions.c.kind).where(definitions.c.key == "trial")).scalars().all()
    assert kinds == ["form"]  # stored like every definition, through the one choke point


def test_dry_run_writes_nothing(client, student):
    r = client.post("/api/meta/forms?dry_run=1", json=TRIAL)
    assert r.status_code == 201 and r.get_json()["dry_run"] is True
    assert client.get("/api/meta/forms/trial").status_code == 404


@pytest.mark.parametrize("change, field, code", [
    ({"entity": "nobody"}, "entity", "invalid"),
    ({"layout": [{"title": "A", "fields": ["name", "shoe_size"]}]}, "layout.0.fields.1", "invalid"),
    ({"layout": [{"title": "A", "fields": ["name"]}, {"title": "B", "fields": ["name"]}]}, "layout.1.fields.0", "unique"),
    ({"overrides": {"shoe_size": {"hidden": True}}}, "overrides.shoe_size", "invalid"),
    ({"overrides": {"age": {"colour": "red"}}}, "overrides.age", "additionalProperties"),
    ({"conditions": [{"field": "email", "effect": "require", "when": {"field": "enrolled_on", "op": "eq", "value": "x"}}]},
     "conditions.0.when.field", "invalid"),
    ({"conditions": [{"field": "email", "effect": "require", "when": {"field": "course", "op": "eq", "value": "dance"}}]},
     "conditions.0.when.value", "enum"),
    ({"conditions": [{"field": "email", "effect": "show", "when": {"field": "age", "op": "in", "value": []}}]},
     "conditions.0.when.value", "type"),
    ({"conditions": [{"field": "email", "effect": "hide", "when": {"field": "age", "op": "eq", "value": 3}}]},
     "conditions.0.effect", "enum"),
    ({"slug": None}, "slug", "required"),
    ({"slug": "Bad Slug"}, "slug", "pattern"),
    ({"layout": [{"title": "A", "fields": ["age"]}], "conditions": []}, "layout", "required"),
    ({"overrides": {"name": {"read_only": True}}}, "layout", "required"),
])
def test_a_form_must_fit_its_entity(client, student, change, field, code):
    doc = {**TRIAL, **change}
    doc = {k: v for k, v in doc.items() if v is not None}
    r = client.post("/api/meta/forms", json=doc)
    assert r.status_code == 422, r.get_json()
    assert (field, code) in [(e["field"], e["code"]) for e in r.get_json()["errors"]], r.get_json()
    assert client.get("/api/meta/forms/trial").status_code == 404


def test_one_slug_per_public_form_and_one_default_form_per_entity(client, student):
    assert client.post("/api/meta/forms", json={**TRIAL, "default": True}).status_code == 201
    r = client.post("/api/meta/forms", json={**TRIAL, "key": "again"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "slug"
    r = client.post("/api/meta/forms", json={**TRIAL, "key": "again", "slug": "other", "default": True})
    assert [(e["field"], e["code"]) for e in r.get_json()["errors"]] == [("default", "unique")]


def test_only_administrators_change_forms(app, client, student):
    users = app.extensions["crm"].users
    token = users.issue_token(users.create("sales1", "sales-password"))
    r = client.post("/api/meta/forms", json=TRIAL, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


# ---- the rules a form enforces (accept) ----------------------------------------------------------
ENTITY = {"key": "student", "fields": [
    {"key": "name", "type": "text", "required": True}, {"key": "age", "type": "integer"},
    {"key": "course", "type": "select", "choices": [{"key": "math", "label": "Math"}, {"key": "art", "label": "Art"}]},
    {"key": "email", "type": "email"}, {"key": "secret", "type": "text"}, {"key": "fixed", "type": "text"}]}
FORM = {"key": "f", "label": "F", "entity": "student",
        "layout": [{"title": "A", "fields": ["name", "age", "course", "email", "secret", "fixed"]}],
        "overrides": {"secret": {"hidden": True}, "fixed": {"read_only": True}},
        "conditions": [{"field": "email", "effect": "require", "when": {"field": "course", "op": "eq", "value": "art"}},
                       {"field": "age", "effect": "show", "when": {"field": "course", "op": "in", "value": ["math"]}}]}


def test_a_condition_requires_a_field_and_names_it():
    form = resolve(FORM, ENTITY)
    with pytest.raises(Invalid) as exc:
        accept(form, {"name": "A", "course": "art", "email": None})
    assert exc.value.errors == [{"field": "email", "code": "required", "message": "is required when Course is Art"}]
    assert accept(form, {"name": "A", "course": "art", "email": "a@b.cn"}) == {"name": "A", "course": "art", "email": "a@b.cn"}


def test_an_edit_is_judged_on_the_stored_values_plus_the_change():
    form = resolve(FORM, ENTITY)
    with pytest.raises(Invalid):
        accept(form, {"email": None}, before={"name": "A", "course": "art", "email": "a@b.cn"})
    assert accept(form, {"course": "math"}, before={"name": "A", "course": "art"}) == {"course": "math"}


def test_hidden_read_only_and_conditionally_hidden_fields_are_not_written():
    form = resolve(FORM, ENTITY)
    sent = {"name": "A", "secret": "x", "fixed": "y", "age": 9, "course": "art", "email": "a@b.cn", "id": 5}
    assert accept(form, sent) == {"name": "A", "course": "art", "email": "a@b.cn"}  # age shows only for math
    assert accept(form, {**sent, "course": "math"})["age"] == 9


def test_a_form_follows_its_entity_and_an_entity_without_a_form_gets_one():
    renamed = {**ENTITY, "fields": [f for f in ENTITY["fields"] if f["key"] != "email"]}
    form = resolve(FORM, renamed)  # email was archived or renamed since the form was written
    assert [f.key for f in form.fields] == ["name", "age", "course", "secret", "fixed"]
    assert form.conditions == [FORM["conditions"][1]]
    default = default_form(ENTITY)
    assert [f.key for f in default.fields] == [f["key"] for f in ENTITY["fields"]]


def test_the_condition_message_uses_labels_in_the_persons_language():
    entity = {**ENTITY, "fields": [{**f, "label": {"en": "Course", "zh": "课程"}, "choices": [
        {"key": "math", "label": {"en": "Math", "zh": "数学"}}, {"key": "art", "label": {"en": "Art", "zh": "美术"}}]}
        if f["key"] == "course" else f for f in ENTITY["fields"]]}
    form = resolve({**FORM, "conditions": [{"field": "email", "effect": "require",
                                            "when": {"field": "course", "op": "in", "value": ["math", "art"]}}]}, entity)
    with pytest.raises(Invalid) as exc:
        accept(form, {"name": "A", "course": "art"}, lang="zh")
    assert exc.value.errors[0]["message"] == "当「课程」为 数学 或 美术 时必填"
    with pytest.raises(Invalid) as exc:
        accept(form, {"name": "A", "course": "art"}, lang="en")
    assert exc.value.errors[0]["message"] == "is required when Course is Math or Art"
