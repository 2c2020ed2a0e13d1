"""The admin designer under /admin: only administrators, plan before apply, refusals change nothing,
entities and fields of every kind of option, reordering, archive and restore, taxonomies, pipelines,
history (SQLite and PostgreSQL)."""
from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest

from conftest import ADMIN_PASSWORD


def sign_in(client, username="admin", password=ADMIN_PASSWORD):
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code == 302, r.data
    return client


@pytest.fixture
def admin(client):
    return sign_in(client)


def text_of(r) -> str:
    """The page as text (tags removed, entities decoded), for asserting what a person reads."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.get_data(as_text=True))))


def entity(platform, key):
    return platform.metadata.state().entities[key]


# ---- access ------------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_sign_in(app):
    anonymous = app.test_client()
    for path in ("/admin/", "/admin/entities/", "/admin/records/student/", "/admin/history/"):
        r = anonymous.get(path, headers={"Authorization": None})
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


def test_only_administrators_reach_the_designer(app, platform):
    platform.users.create("clerk", "clerk-password", is_admin=False)
    clerk = sign_in(app.test_client(), "clerk", "clerk-password")
    for path in ("/admin/", "/admin/entities/", "/admin/entities/new", "/admin/taxonomies/", "/admin/history/"):
        assert clerk.get(path).status_code == 403, path
    r = clerk.post("/admin/entities/new", data={"key": "sneaky", "label_en": "Sneaky", "_confirm": "1"})
    assert r.status_code == 403
    assert "sneaky" not in platform.metadata.state().entities


def test_designer_posts_need_the_csrf_token(database_url):
    from conftest import make_app
    app = make_app(database_url)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
        r = client.post("/admin/entities/new", data={"key": "course", "label_en": "Course", "_confirm": "1"})
        assert r.status_code == 400
        assert "course" not in app.extensions["crm"].metadata.state().entities
        form = client.get("/admin/entities/new").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        r = client.post("/admin/entities/new", data={"key": "course", "label_en": "Course", "_confirm": "1",
                                                     "csrf_token": token})
        assert r.status_code == 302
        assert "course" in app.extensions["crm"].metadata.state().entities
    finally:
        app.extensions["crm"].engine.dispose()


# ---- entities and fields: plan, then apply -----------------------------------------------------

def test_creating_an_entity_shows_the_plan_first_and_applies_on_confirm(admin, platform):
    form = {"key": "course", "label_en": "Course", "label_zh": "课程", "plural_label_en": "Courses"}
    revision = platform.metadata.state().revision
    r = admin.post("/admin/entities/new", data=form)
    assert r.status_code == 200
    page = text_of(r)
    assert "create table ent_course" in page and "Apply" in page
    assert "course" not in platform.metadata.state().entities  # a preview changes nothing
    assert platform.metadata.state().revision == revision

    r = admin.post("/admin/entities/new", data={**form, "_confirm": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/entities/course/")
    doc = entity(platform, "course").doc
    assert doc["label"] == {"en": "Course", "zh": "课程"} and doc["plural_label"] == {"en": "Courses"}
    assert platform.metadata.revisions(limit=1)[0]["actor"] == "admin"


def test_an_invalid_entity_comes_back_with_the_rule_named_and_nothing_created(admin, platform):
    r = admin.post("/admin/entities/new", data={"key": "Bad Key", "label_en": "Bad", "_confirm": "1"})
    assert r.status_code == 422
    page = text_of(r)
    assert "Nothing was changed" in page and "Key: 'Bad Key' does not match" in page  # named by its label
    assert 'class="form-control is-invalid"' in r.get_data(as_text=True)  # shown next to the key input
    assert platform.metadata.state().entities == {}


def add_field(admin, entity_key, type_name, data, confirm=True):
    body = {"type": type_name, **data}
    if confirm:
        body["_confirm"] = "1"
    return admin.post(f"/admin/entities/{entity_key}/fields/new?type={type_name}", data=body)


def test_fields_of_different_types_get_their_own_inputs_and_plans(admin, platform, client):
    admin.post("/admin/entities/new", data={"key": "teacher", "label_en": "Teacher", "label_zh": "老师", "_confirm": "1"})
    admin.post("/admin/entities/new", data={"key": "course", "label_en": "Course", "label_zh": "课程", "_confirm": "1"})

    page = admin.get("/admin/entities/course/fields/new?type=select").get_data(as_text=True)
    assert 'name="choices-0-key"' in page and 'name="choices-0-label_zh"' in page
    page = admin.get("/admin/entities/course/fields/new?type=reference").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="target"', page) and 'value="teacher"' in page
    page = admin.get("/admin/entities/course/fields/new?type=decimal").get_data(as_text=True)
    assert 'name="scale"' in page and 'name="choices-0-key"' not in page

    choices = {"choices-0-key": "online", "choices-0-label_en": "Online", "choices-0-label_zh": "线上",
               "choices-1-key": "offline", "choices-1-label_en": "Offline", "choices-1-label_zh": "线下",
               "choices-2-key": "", "choices-2-label_en": ""}
    preview = add_field(admin, "course", "select", {"key": "course_type", "label_en": "Course type",
                                                    "label_zh": "课程类型", **choices}, confirm=False)
    assert preview.status_code == 200
    assert "add column course_type (select) to table ent_course, 0 rows affected" in text_of(preview)
    assert [f["key"] for f in entity(platform, "course").fields] == []

    assert add_field(admin, "course", "select", {"key": "course_type", "label_en": "Course type",
                                                 "label_zh": "课程类型", **choices}).status_code == 302
    assert add_field(admin, "course", "decimal", {"key": "price", "label_en": "Price", "label_zh": "价格",
                                                  "scale": "2", "min": "0"}).status_code == 302
    assert add_field(admin, "course", "reference", {"key": "teacher", "label_en": "Teacher", "target": "teacher",
                                                    "on_delete": "set_null"}).status_code == 302
    fields = {f["key"]: f for f in entity(platform, "course").fields}
    assert fields["course_type"]["choices"] == [{"key": "online", "label": {"en": "Online", "zh": "线上"}},
                                                {"key": "offline", "label": {"en": "Offline", "zh": "线下"}}]
    assert fields["price"]["scale"] == 2 and fields["price"]["min"] == 0
    assert fields["teacher"] == {"key": "teacher", "type": "reference", "label": {"en": "Teacher"},
                                 "target": "teacher", "on_delete": "set_null"}
    # The API sees the new column at once.
    r = client.post("/api/records/course", json={"course_type": "online", "price": -1})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "price"  # min 0
    r = client.post("/api/records/course", json={"course_type": "online", "price": "12.50"})
    assert r.status_code == 201 and r.get_json()["price"] == Decimal("12.50")


def test_a_bad_option_is_named_next_to_its_input(admin, platform, student):
    r = add_field(admin, "student", "decimal", {"key": "fee", "scale": "11"})
    assert r.status_code == 422
    assert "scale" in text_of(r)
    assert "fee" not in {f["key"] for f in entity(platform, "student").fields}
    r = add_field(admin, "student", "select", {"key": "level"})
    assert r.status_code == 422 and "at least one choice" in text_of(r)
    r = add_field(admin, "student", "integer", {"key": "age"})
    assert r.status_code == 409 and "Key: age is taken already" in text_of(r)


def test_making_a_field_required_is_refused_with_the_count_of_records_without_it(admin, platform, client, student):
    for n in range(12):
        assert client.post("/api/records/student", json={"name": f"S{n}"}).status_code == 201
    client.post("/api/records/student", json={"name": "With mail", "email": "a@example.com"})
    before = entity(platform, "student").doc
    r = admin.post("/admin/entities/student/fields/email/edit",
                   data={"key": "email", "type": "email", "label_en": "E-mail", "required": "y", "unique": "y"})
    assert r.status_code == 409
    page = text_of(r)
    assert "12 existing records have no value for 'email'" in page and "Refused" in page
    # next to the checkbox that asked for it
    assert re.search(r'id="required"[^>]*>.{0,400}12 existing records have no value', r.get_data(as_text=True), re.S)
    assert entity(platform, "student").doc == before
    # Confirming a refused change is refused the same way: nothing is applied behind the admin's back.
    r = admin.post("/admin/entities/student/fields/email/edit",
                   data={"key": "email", "type": "email", "required": "y", "unique": "y", "_confirm": "1"})
    assert r.status_code == 409 and entity(platform, "student").doc == before


def test_editing_a_field_changes_labels_and_choices_and_offers_only_safe_types(admin, platform, student):
    page = admin.get("/admin/entities/student/fields/course/edit").get_data(as_text=True)
    offered = re.findall(r'<option[^>]*value="([a-z_]+)"', page.split('name="type"')[1].split("</select>")[0])
    assert offered[0] == "select" and set(offered) == {"select", "text", "long_text", "multi_select"}
    assert 'value="美术"' in page  # stored Chinese labels are shown for editing
    data = {"key": "course", "type": "select", "label_en": "Course", "label_zh": "课程类型",
            "choices-0-key": "math", "choices-0-label_en": "Math", "choices-0-label_zh": "数学",
            "choices-1-key": "art", "choices-1-label_en": "Art", "choices-1-label_zh": "美术",
            "choices-2-key": "music", "choices-2-label_en": "Music", "choices-2-label_zh": "音乐", "_confirm": "1"}
    assert admin.post("/admin/entities/student/fields/course/edit", data=data).status_code == 302
    course = next(f for f in entity(platform, "student").fields if f["key"] == "course")
    assert [c["key"] for c in course["choices"]] == ["math", "art", "music"]
    assert course["choices"][0]["label"] == {"en": "Math", "zh": "数学"}


def test_fields_are_reordered_through_a_plan(admin, platform, student):
    r = admin.post("/admin/entities/student/move", data={"field": "age", "direction": "up"})
    assert r.status_code == 200 and "reorder fields (no DDL)" in text_of(r)
    assert [f["key"] for f in entity(platform, "student").fields][:2] == ["name", "age"]
    r = admin.post("/admin/entities/student/move", data={"field": "age", "direction": "up", "_confirm": "1"})
    assert r.status_code == 302
    assert [f["key"] for f in entity(platform, "student").fields][:2] == ["age", "name"]


def test_fields_are_renamed_archived_and_restored_with_their_values(admin, platform, client, student):
    client.post("/api/records/student", json={"name": "Li", "age": 9})
    r = admin.post("/admin/entities/student/fields/age/rename", data={"new_key": "years", "_confirm": "1"})
    assert r.status_code == 302
    r = admin.post("/admin/entities/student/fields/years/archive")
    assert r.status_code == 200 and "archive field years" in text_of(r)
    assert admin.post("/admin/entities/student/fields/years/archive", data={"_confirm": "1"}).status_code == 302
    assert "years" not in {f["key"] for f in entity(platform, "student").fields}
    page = admin.get("/admin/history/").get_data(as_text=True)
    assert "student.years" in html.unescape(page)
    r = admin.post("/admin/history/restore", data={"kind": "field", "key": "student", "field": "years", "_confirm": "1"})
    assert r.status_code == 302
    assert client.get("/api/records/student").get_json()["items"][0]["years"] == 9


def test_the_title_field_cannot_be_archived_and_the_page_says_why(admin, platform, student):
    r = admin.post("/admin/entities/student/fields/name/archive", data={"_confirm": "1"})
    assert r.status_code == 409 and "choose another title field first" in text_of(r)
    assert "name" in {f["key"] for f in entity(platform, "student").fields}


def test_entities_are_archived_and_restored(admin, platform, student):
    assert admin.post("/admin/entities/student/archive", data={"_confirm": "1"}).status_code == 302
    assert entity(platform, "student").archived
    assert admin.get("/admin/records/student/").status_code == 404
    assert admin.post("/admin/history/restore", data={"kind": "entity", "key": "student", "_confirm": "1"}).status_code == 302
    assert not entity(platform, "student").archived


def test_entity_settings_are_edited_side_by_side_in_both_languages(admin, platform, student):
    page = admin.get("/admin/entities/student/edit").get_data(as_text=True)
    assert 'value="学员"' in page and 'name="label_zh"' in page
    r = admin.post("/admin/entities/student/edit", data={"label_en": "Pupil", "label_zh": "学生", "title_field": "email",
                                                         "description_zh": "报名的学生", "require_change_reason": "y",
                                                         "_confirm": "1"})
    assert r.status_code == 302
    doc = entity(platform, "student").doc
    assert doc["label"] == {"en": "Pupil", "zh": "学生"} and doc["title_field"] == "email"
    assert doc["require_change_reason"] is True and "plural_label" not in doc
    assert doc["description"] == {"zh": "报名的学生"}


# ---- taxonomies and pipelines ------------------------------------------------------------------

def test_a_tag_tree_with_colours_parents_and_a_rule_is_designed_without_json(admin, platform, client):
    client.post("/api/meta/entities", json={"key": "customer", "label": "Customer", "fields": [
        {"key": "name", "type": "text"}, {"key": "last_purchase_at", "type": "date"}]})
    form = {"key": "customer_type", "label_en": "Customer type", "label_zh": "客户类型",
            "tags-0-key": "intended", "tags-0-label_en": "Intended", "tags-0-label_zh": "意向客户", "tags-0-color": "#ff9800",
            "tags-1-key": "hot", "tags-1-label_en": "Hot lead", "tags-1-label_zh": "高意向", "tags-1-parent": "intended",
            "tags-2-key": "active", "tags-2-label_en": "Active", "tags-2-label_zh": "活跃客户",
            "tags-2-rule_entity": "customer", "tags-2-conditions-0-field": "last_purchase_at",
            "tags-2-conditions-0-op": "within_days", "tags-2-conditions-0-value": "30",
            "tags-3-key": "", "tags-3-label_en": ""}
    r = admin.post("/admin/taxonomies/new", data=form)
    assert r.status_code == 200 and "create taxonomy customer_type" in text_of(r)
    assert admin.post("/admin/taxonomies/new", data={**form, "_confirm": "1"}).status_code == 302
    doc = platform.metadata.state().taxonomies["customer_type"].doc
    assert doc["tags"] == [
        {"key": "intended", "label": {"en": "Intended", "zh": "意向客户"}, "color": "#ff9800"},
        {"key": "hot", "label": {"en": "Hot lead", "zh": "高意向"}, "parent": "intended"},
        {"key": "active", "label": {"en": "Active", "zh": "活跃客户"},
         "rule": {"entity": "customer", "all": [{"field": "last_purchase_at", "op": "within_days", "value": 30}]}}]
    page = text_of(admin.get("/admin/taxonomies/"))
    assert "Hot lead" in page and "rule on customer" in page
    edit = admin.get("/admin/taxonomies/customer_type/edit").get_data(as_text=True)
    assert 'value="高意向"' in edit and 'value="30"' in edit

    # A parent that does not exist is named next to that tag's row; nothing changes.
    bad = {**form, "tags-1-parent": "nobody", "_confirm": "1"}
    r = admin.post("/admin/taxonomies/customer_type/edit", data=bad)
    assert r.status_code == 422 and "no tag 'nobody' to be the parent" in text_of(r)
    assert platform.metadata.state().taxonomies["customer_type"].doc == doc


SALES_ENTITY = {"key": "deal", "label": "Deal", "fields": [
    {"key": "name", "type": "text"}, {"key": "amount", "type": "decimal", "scale": 2},
    {"key": "contract_no", "type": "text"}, {"key": "stage", "type": "stage"}]}


def test_pipeline_stages_are_ordered_with_requirements_and_next_stages(admin, platform, client):
    client.post("/api/meta/entities", json=SALES_ENTITY)
    page = admin.get("/admin/pipelines/new?entity=deal").get_data(as_text=True)
    assert 'name="stages-0-required_fields"' in page and 'value="contract_no"' in page
    form = {"entity": "deal", "key": "sales", "label_en": "Sales", "label_zh": "销售漏斗", "field": "stage",
            "amount_field": "amount",
            "stages-0-position": "2", "stages-0-key": "signed", "stages-0-label_en": "Signed", "stages-0-label_zh": "签约",
            "stages-0-probability": "100", "stages-0-category": "won", "stages-0-required_fields": "contract_no",
            "stages-1-position": "1", "stages-1-key": "lead", "stages-1-label_en": "Lead", "stages-1-probability": "10",
            "stages-0-next_mode": "list", "stages-1-next_mode": "any",
            "stages-2-key": ""}
    r = admin.post("/admin/pipelines/new", data=form)
    assert r.status_code == 200 and "create pipeline sales" in text_of(r)
    assert admin.post("/admin/pipelines/new", data={**form, "_confirm": "1"}).status_code == 302
    doc = platform.metadata.state().pipelines["sales"].doc
    assert [s["key"] for s in doc["stages"]] == ["lead", "signed"]
    assert doc["stages"][1] == {"key": "signed", "label": {"en": "Signed", "zh": "签约"}, "probability": 100,
                                "category": "won", "required_fields": ["contract_no"], "allowed_next": []}
    assert "allowed_next" not in doc["stages"][0]
    # The rule is live: entering "signed" without a contract number is refused by the API.
    r = client.post("/api/records/deal", json={"name": "Big", "stage": "signed"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "contract_no"

    # Editing keeps the order shown and the follow-up written as lines, not JSON.
    edit = admin.get("/admin/pipelines/sales/edit").get_data(as_text=True)
    assert edit.index('value="lead"') < edit.index('value="signed"')
    r = admin.post("/admin/pipelines/sales/edit", data={**form, "stages-0-probability": "101", "_confirm": "1"})
    assert r.status_code == 422 and "100" in text_of(r)
    assert platform.metadata.state().pipelines["sales"].doc == doc


def test_a_stage_designed_with_roles_and_an_approval_keeps_them_when_edited(admin, platform, client):
    client.post("/api/meta/entities", json=SALES_ENTITY)
    assert client.post("/api/meta/roles", json={"key": "manager", "label": "Manager"}).status_code == 201
    form = {"entity": "deal", "key": "sales", "label_en": "Sales", "field": "stage",
            "stages-0-key": "lead", "stages-0-label_en": "Lead", "stages-0-any_next": "y",
            "stages-1-key": "quote", "stages-1-label_en": "Quote", "stages-1-any_next": "y",
            "stages-1-enter_roles": "manager", "stages-1-approval_role": "manager",
            "stages-1-approval_when": '[{"field": "amount", "op": "gt", "value": 1000}]'}
    assert admin.post("/admin/pipelines/new", data={**form, "_confirm": "1"}).status_code == 302
    doc = platform.metadata.state().pipelines["sales"].doc
    assert doc["stages"][1]["enter_roles"] == ["manager"]
    assert doc["stages"][1]["approval"] == {"approvers": {"role": "manager"},
                                            "when": [{"field": "amount", "op": "gt", "value": 1000}]}
    edit = admin.get("/admin/pipelines/sales/edit").get_data(as_text=True)
    assert "角色与审批" in edit or "Roles and approval" in edit
    assert '"amount"' in html.unescape(edit.split("stages-1-approval_when")[-1])[:300], edit[edit.find("stages-1-approval_when") - 200:][:600]
    # Saving the page unchanged changes nothing: what the designer shows, it posts back.
    shown = {m.group(1): html.unescape(m.group(2)) for m in re.finditer(
        r'name="(stages-1-approval_field|stages-1-approval_when)"[^>]*>([^<]*)<', edit)}
    assert shown.get("stages-1-approval_when", "").strip().startswith("[")
    assert admin.post("/admin/pipelines/sales/edit", data={**form, "_confirm": "1"}).status_code in (200, 302)
    assert platform.metadata.state().pipelines["sales"].doc == doc
    # Conditions that are not JSON, or name no field, are refused and change nothing.
    for when in ("[{", '[{"field": "nope", "op": "gt", "value": 1}]'):
        r = admin.post("/admin/pipelines/sales/edit", data={**form, "stages-1-approval_when": when, "_confirm": "1"})
        assert r.status_code == 422, when
    assert platform.metadata.state().pipelines["sales"].doc == doc


# ---- history -----------------------------------------------------------------------------------

def test_history_lists_revisions_with_a_readable_diff(admin, platform, student):
    admin.post("/admin/entities/student/edit", data={"label_en": "Pupil", "label_zh": "学员", "title_field": "name",
                                                     "_confirm": "1"})
    page = text_of(admin.get("/admin/history/"))
    assert "label.en: Student → Pupil" in page
    assert "update entity student" in page and "create entity student" in page
    assert "+ fields.name:" in page


def test_the_diff_matches_list_items_by_key():
    from admin.diff import diff_lines
    before = {"fields": [{"key": "a", "type": "text"}, {"key": "b", "type": "integer", "max": 5}]}
    after = {"fields": [{"key": "b", "type": "integer", "max": 9}, {"key": "a", "type": "text"},
                        {"key": "c", "type": "date"}]}
    assert diff_lines(before, after) == [("~", "fields.b.max: 5 → 9"), ("+", 'fields.c: {"key": "c", "type": "date"}'),
                                         ("↕", "fields: order a, b → b, a")]


# ---- forms -------------------------------------------------------------------------------------

def test_a_form_is_laid_out_in_sections_with_overrides_and_conditions(admin, platform, client, student):
    page = admin.get("/admin/forms/new?entity=student").get_data(as_text=True)
    assert 'name="fields-0-section"' in page and 'value="Details"' in page  # starts with one empty section
    keys = [f["key"] for f in entity(platform, "student").fields]  # name, age, email, course, enrolled_on
    form = {"entity": "student", "key": "trial", "label_en": "Trial lesson", "label_zh": "试听报名",
            "public": "y", "slug": "trial", "success_message_en": "Thank you!", "success_message_zh": "提交成功",
            "sections-0-title_en": "You", "sections-0-title_zh": "学员", "sections-1-title_en": "Contact",
            "sections-2-title_en": ""}
    placement = {"name": ("1", "2"), "age": ("1", "1"), "email": ("2", "1"), "course": ("1", "3"), "enrolled_on": ("", "")}
    for n, key in enumerate(keys):
        form[f"fields-{n}-key"] = key
        form[f"fields-{n}-section"], form[f"fields-{n}-position"] = placement[key]
    form["fields-1-help_en"] = "Years"
    form["fields-1-placeholder_en"] = "8"
    form.update({"conditions-0-field": "email", "conditions-0-effect": "require", "conditions-0-when_field": "age",
                 "conditions-0-op": "in", "conditions-0-value": "3, 4, 5"})
    r = admin.post("/admin/forms/new", data=form)
    assert r.status_code == 200 and "create form trial" in text_of(r)
    assert admin.post("/admin/forms/new", data={**form, "_confirm": "1"}).status_code == 302
    doc = platform.metadata.state().of_kind("form")["trial"].doc
    assert doc["layout"] == [{"title": {"en": "You", "zh": "学员"}, "fields": ["age", "name", "course"]},
                             {"title": {"en": "Contact"}, "fields": ["email"]}]
    assert doc["overrides"] == {"age": {"help": {"en": "Years"}, "placeholder": {"en": "8"}}}
    assert doc["conditions"] == [{"field": "email", "effect": "require",
                                  "when": {"field": "age", "op": "in", "value": [3, 4, 5]}}]
    assert doc["public"] is True and doc["slug"] == "trial"

    # A public form must let people fill in every required field: refused, nothing changed.
    r = admin.post("/admin/forms/trial/edit", data={**form, "fields-0-section": "", "_confirm": "1"})
    assert r.status_code == 422 and "'name' is required by student" in text_of(r)
    assert platform.metadata.state().of_kind("form")["trial"].doc == doc
    edit = admin.get("/admin/forms/trial/edit").get_data(as_text=True)
    assert 'value="3, 4, 5"' in edit and 'value="学员"' in edit


def test_bad_option_values_and_defaults_are_refused_on_the_form(admin, platform, student):
    r = add_field(admin, "student", "integer", {"key": "grade", "max": "ten"})
    assert r.status_code == 422 and "Not a valid integer value" in text_of(r)
    r = add_field(admin, "student", "integer", {"key": "grade", "default": "ten"})
    assert r.status_code == 422 and "the default must be a whole number" in text_of(r)
    r = add_field(admin, "student", "integer", {"key": "grade", "min": "1", "max": "12", "default": "3"})
    assert r.status_code == 302
    grade = next(f for f in entity(platform, "student").fields if f["key"] == "grade")
    assert grade == {"key": "grade", "type": "integer", "min": 1, "max": 12, "default": 3}


def test_unknown_things_in_the_designer_are_404(admin, student):
    for path in ("/admin/entities/nothing/", "/admin/entities/nothing/edit", "/admin/entities/student/fields/nothing/edit",
                 "/admin/entities/student/fields/new?type=nothing", "/admin/taxonomies/nothing/edit",
                 "/admin/pipelines/nothing/edit", "/admin/forms/nothing/edit"):
        assert admin.get(path).status_code == 404, path
    assert admin.post("/admin/history/restore", data={"kind": "nothing", "key": "x"}).status_code == 404
    r = admin.post("/admin/history/restore", data={"kind": "entity", "key": "student", "_confirm": "1"})
    assert r.status_code == 409 and "is not archived" in text_of(r)
    assert admin.get("/admin/history/?before=abc").status_code == 400


def test_taxonomies_pipelines_and_forms_are_archived_through_a_plan_and_restored(admin, platform, client, student):
    client.post("/api/meta/entities", json=SALES_ENTITY)
    assert client.post("/api/meta/taxonomies", json={"key": "level", "label": "Level",
                                                     "tags": [{"key": "vip", "label": "VIP"}]}).status_code == 201
    assert client.post("/api/meta/pipelines", json={"key": "sales", "label": "Sales", "entity": "deal", "field": "stage",
                                                    "stages": [{"key": "lead", "label": "Lead"}]}).status_code == 201
    assert client.post("/api/meta/forms", json={"key": "signup", "entity": "student", "label": "Sign up",
                                                "layout": [{"title": "You", "fields": ["name"]}]}).status_code == 201
    for kind, key in (("taxonomy", "level"), ("pipeline", "sales"), ("form", "signup")):
        base = {"taxonomy": "/admin/taxonomies", "pipeline": "/admin/pipelines", "form": "/admin/forms"}[kind]
        r = admin.post(f"{base}/{key}/archive")  # the plan first, nothing archived yet
        label = {"level": "Level", "sales": "Sales", "signup": "Sign up"}[key]
        assert r.status_code == 200 and f"Archive {kind} {label}" in text_of(r), kind
        assert not platform.metadata.state().of_kind(kind)[key].archived
        assert admin.post(f"{base}/{key}/archive", data={"_confirm": "1"}).status_code == 302
        assert platform.metadata.state().of_kind(kind)[key].archived
        assert admin.get(f"{base}/{key}/edit").status_code == 404  # archived: restored from history, not edited
        r = admin.post("/admin/history/restore", data={"kind": kind, "key": key, "_confirm": "1"})
        assert r.status_code == 302, kind
        assert not platform.metadata.state().of_kind(kind)[key].archived
        assert admin.get(f"{base}/{key}/edit").status_code == 200


def test_a_role_marked_admin_opens_the_designer_and_other_roles_do_not(app, platform, client):
    assert client.post("/api/meta/roles", json={"key": "designers", "label": "Designers", "admin": True}).status_code == 201
    assert client.post("/api/meta/roles", json={"key": "sales", "label": "Sales"}).status_code == 201
    platform.users.create("mei", "mei-password", roles=["designers"])
    platform.users.create("bo", "bo-password", roles=["sales"])
    assert sign_in(app.test_client(), "mei", "mei-password").get("/admin/entities/").status_code == 200
    assert sign_in(app.test_client(), "bo", "bo-password").get("/admin/entities/").status_code == 403


def test_a_number_input_holding_text_is_refused_rather_than_dropped(admin, platform, client):
    client.post("/api/meta/entities", json=SALES_ENTITY)
    r = admin.post("/admin/pipelines/new", data={"entity": "deal", "key": "sales", "label_en": "Sales", "field": "stage",
                                                 "stages-0-key": "lead", "stages-0-label_en": "Lead",
                                                 "stages-0-probability": "ten", "stages-0-next_mode": "any", "_confirm": "1"})
    assert r.status_code == 422 and "Not a valid integer value" in text_of(r)
    assert "sales" not in platform.metadata.state().pipelines
