"""The admin data views: one Flask-Admin view over the record service serves every entity, including
one created after the app served its first request; list, search, filters, sort, create, edit,
details and delete give the API's validation and messages (SQLite and PostgreSQL)."""
from __future__ import annotations

import html
import re

import pytest

from conftest import ADMIN_PASSWORD


def page_text(r) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.get_data(as_text=True))))


@pytest.fixture
def admin(client):
    r = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 302
    return client


@pytest.fixture
def students(client, student):
    rows = [{"name": "Zhang Wei", "age": 9, "course": "math", "email": "zw@example.com"},
            {"name": "Li Na", "age": 12, "course": "art"},
            {"name": "Wang Fang", "age": 15, "course": "math"}]
    ids = []
    for row in rows:
        r = client.post("/api/records/student", json=row)
        assert r.status_code == 201
        ids.append(r.get_json()["id"])
    return ids


def test_an_entity_created_after_start_up_is_browsable_without_a_restart(admin, client):
    assert admin.get("/admin/").status_code == 200  # the app has served requests: no new routes possible
    r = client.post("/api/meta/entities", json={"key": "course", "label": {"en": "Course", "zh": "课程"},
                                                "fields": [{"key": "title", "type": "text", "label": "Title"}]})
    assert r.status_code == 201
    r = admin.get("/admin/records/course/")
    assert r.status_code == 200 and "Course" in page_text(r)
    r = admin.post("/admin/records/course/new/", data={"title": "Calligraphy"})
    assert r.status_code == 302
    items = client.get("/api/records/course").get_json()["items"]
    assert [i["title"] for i in items] == ["Calligraphy"] and items[0]["created_by"] is not None


def test_unknown_and_archived_entities_are_404(admin, client, student):
    assert admin.get("/admin/records/nothing/").status_code == 404
    client.delete("/api/meta/entities/student")
    assert admin.get("/admin/records/student/").status_code == 404


def test_the_list_searches_filters_sorts_and_pages_through_the_record_service(admin, students):
    r = admin.get("/admin/records/student/")
    text = page_text(r)
    assert r.status_code == 200 and "Zhang Wei" in text and "Li Na" in text
    assert "Course" in text and "课程类型" not in text and "Math" in text  # labels in the admin's language
    admin.set_cookie("crm_lang", "zh")
    text = page_text(admin.get("/admin/records/student/"))
    assert "课程类型" in text and "学员" in text and "等于" in text and "搜索" in text  # and in Chinese
    body = admin.get("/admin/records/student/?flt0_course_equals=art").get_data(as_text=True)
    assert "Li Na" in body and "Wang Fang" not in body  # filter links do not depend on the language
    admin.set_cookie("crm_lang", "en")

    text = page_text(admin.get("/admin/records/student/?search=li+na"))
    assert "Li Na" in text and "Zhang Wei" not in text

    body = admin.get("/admin/records/student/?flt0_course_equals=art").get_data(as_text=True)
    assert "Li Na" in body and "Wang Fang" not in body
    body = admin.get("/admin/records/student/?flt0_age_at_least=12").get_data(as_text=True)
    assert "Li Na" in body and "Wang Fang" in body and "Zhang Wei" not in body

    page = admin.get("/admin/records/student/").get_data(as_text=True)
    columns = re.findall(r'sort=(\d+)', page)
    assert columns  # sortable headers
    age_column = ["id", "name", "age"].index("age")
    body = admin.get(f"/admin/records/student/?sort={age_column}&desc=1").get_data(as_text=True)
    assert body.index("Wang Fang") < body.index("Li Na") < body.index("Zhang Wei")

    body = page_text(admin.get("/admin/records/student/?page_size=20&page=1"))
    assert "Zhang Wei" not in body  # page 2 (0-based 1) of three records is empty


def test_a_bad_filter_value_says_what_is_wrong_instead_of_failing(admin, students):
    r = admin.get("/admin/records/student/?flt0_age_at_least=old")
    assert r.status_code == 200
    assert "must be a whole number" in page_text(r)


def test_create_shows_the_api_messages_next_to_the_inputs_and_writes_nothing(admin, client, students):
    form = admin.get("/admin/records/student/new/").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="course"', form) and 'value="art"' in form
    r = admin.post("/admin/records/student/new/", data={"name": "", "age": "200", "email": "not-mail"})
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    api = client.post("/api/records/student", json={"age": 200, "email": "not-mail"}).get_json()["errors"]
    for e in api:  # the very messages of the API, each shown by its input
        assert html.escape(e["message"], quote=False) in body or e["message"] in page_text(r), e
    assert client.get("/api/records/student").get_json()["total"] == 3


def test_a_unique_clash_is_reported_on_the_field(admin, client, students):
    r = admin.post("/admin/records/student/new/", data={"name": "Copy", "email": "zw@example.com"})
    assert r.status_code == 200 and "another record" in page_text(r)
    assert client.get("/api/records/student").get_json()["total"] == 3


def test_edit_details_and_delete_go_through_the_record_service(admin, client, students):
    first = students[0]
    form = admin.get(f"/admin/records/student/edit/?id={first}").get_data(as_text=True)
    assert 'value="Zhang Wei"' in form
    r = admin.post(f"/admin/records/student/edit/?id={first}",
                   data={"name": "Zhang Wei", "age": "10", "course": "art", "email": "zw@example.com"})
    assert r.status_code == 302
    record = client.get(f"/api/records/student/{first}").get_json()
    assert record["age"] == 10 and record["course"] == "art" and record["version"] == 2
    history = client.get(f"/api/records/student/{first}/history").get_json()["items"]
    assert history[0]["changes"] == {"age": [9, 10], "course": ["math", "art"]}  # only what changed

    r = admin.post(f"/admin/records/student/edit/?id={first}", data={"name": "Zhang Wei", "age": "abc"})
    assert r.status_code == 200 and "must be a whole number" in page_text(r)
    assert client.get(f"/api/records/student/{first}").get_json()["age"] == 10

    details = page_text(admin.get(f"/admin/records/student/details/?id={first}"))
    assert "Zhang Wei" in details and "Version" in details
    # its changes, newest first, with who made them
    trail = details[details.index("Changes (2)"):]
    assert re.search(r"admin changed +age ?: 9 → 10 +course ?: math → art", trail), trail[:400]
    assert trail.index(" changed ") < trail.index(" created ")
    admin.set_cookie("crm_lang", "zh")
    assert "变更记录 (2)" in page_text(admin.get(f"/admin/records/student/details/?id={first}"))
    admin.set_cookie("crm_lang", "en")

    assert admin.get("/admin/records/student/edit/?id=999999").status_code == 302  # "Record does not exist."
    assert admin.get("/admin/records/student/edit/?id=abc").status_code == 404  # no id at all, as in the API

    r = admin.post("/admin/records/student/delete/", data={"id": str(first)})
    assert r.status_code == 302
    assert client.get(f"/api/records/student/{first}").status_code == 404
    assert client.get("/api/records/student?archived=1").get_json()["items"][0]["id"] == first


def test_an_entity_that_requires_a_reason_refuses_an_edit_without_one(admin, client, students):
    client.patch("/api/meta/entities/student", json={"require_change_reason": True})
    first = students[0]
    r = admin.post(f"/admin/records/student/edit/?id={first}", data={"name": "Zhang Wei", "age": "11"})
    assert r.status_code == 200 and "required: say why the record changes" in page_text(r)
    assert "_reason" not in page_text(r)
    assert client.get(f"/api/records/student/{first}").get_json()["age"] == 9
    r = admin.post(f"/admin/records/student/edit/?id={first}", data={"name": "Zhang Wei", "age": "11",
                                                                     "Reason": "birthday"})
    assert r.status_code == 302
    assert client.get(f"/api/records/student/{first}/history").get_json()["items"][0]["reason"] == "birthday"


def test_references_tags_and_stages_get_their_own_controls(admin, client):
    client.post("/api/meta/entities", json={"key": "teacher", "label": "Teacher", "title_field": "name",
                                            "fields": [{"key": "name", "type": "text"}]})
    teacher = client.post("/api/records/teacher", json={"name": "Ms Chen"}).get_json()["id"]
    client.post("/api/meta/taxonomies", json={"key": "level", "label": "Level", "tags": [
        {"key": "beginner", "label": {"en": "Beginner", "zh": "初级"}},
        {"key": "advanced", "label": "Advanced"}]})
    client.post("/api/meta/entities", json={"key": "course", "label": "Course", "fields": [
        {"key": "title", "type": "text"}, {"key": "teacher", "type": "reference", "target": "teacher"},
        {"key": "levels", "type": "tags", "taxonomy": "level", "multiple": True},
        {"key": "open", "type": "boolean"}]})
    form = admin.get("/admin/records/course/new/").get_data(as_text=True)
    assert f'value="{teacher}"' in form and "Ms Chen" in form
    assert re.search(r'<select[^>]*multiple[^>]*name="levels"|<select[^>]*name="levels"[^>]*multiple', form)
    r = admin.post("/admin/records/course/new/", data={"title": "Ink", "teacher": str(teacher),
                                                       "levels": ["beginner", "advanced"], "open": "true"})
    assert r.status_code == 302
    item = client.get("/api/records/course").get_json()["items"][0]
    assert item["teacher"] == teacher and sorted(item["levels"]) == ["advanced", "beginner"] and item["open"] is True
    listing = page_text(admin.get("/admin/records/course/"))
    # A reference reads as its record's title, by the screens' rule (it read "#<id>" before).
    assert "Beginner" in listing and "Ms Chen" in listing and f"#{teacher}" not in listing


def test_saving_a_form_filled_from_an_older_version_is_refused(admin, client, students):
    first = students[0]
    form = admin.get(f"/admin/records/student/edit/?id={first}").get_data(as_text=True)
    assert re.search(r'name="Version"[^>]*value="1"|value="1"[^>]*name="Version"', form)
    client.patch(f"/api/records/student/{first}", json={"age": 11})  # someone else, meanwhile
    r = admin.post(f"/admin/records/student/edit/?id={first}",
                   data={"Version": "1", "name": "Zhang Wei", "age": "10"})
    assert r.status_code == 200 and "changed by someone else" in page_text(r)
    assert client.get(f"/api/records/student/{first}").get_json()["age"] == 11
    r = admin.post(f"/admin/records/student/edit/?id={first}", data={"Version": "2", "name": "Zhang Wei", "age": "10"})
    assert r.status_code == 302 and client.get(f"/api/records/student/{first}").get_json()["age"] == 10


def test_a_stage_move_the_pipeline_forbids_is_refused_with_its_reason(admin, client):
    client.post("/api/meta/entities", json={"key": "deal", "label": "Deal", "fields": [
        {"key": "name", "type": "text"}, {"key": "contract_no", "type": "text"}, {"key": "stage", "type": "stage"}]})
    client.post("/api/meta/pipelines", json={"key": "sales", "label": "Sales", "entity": "deal", "field": "stage",
                                             "stages": [{"key": "lead", "label": "Lead", "allowed_next": ["quote"]},
                                                        {"key": "quote", "label": "Quote"},
                                                        {"key": "won", "label": "Won", "required_fields": ["contract_no"]}]})
    deal = client.post("/api/records/deal", json={"name": "Big", "stage": "lead"}).get_json()["id"]
    form = admin.get(f"/admin/records/deal/edit/?id={deal}").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="stage"', form) and 'value="quote"' in form
    r = admin.post(f"/admin/records/deal/edit/?id={deal}", data={"name": "Big", "stage": "won"})
    assert r.status_code == 200
    assert "a record in stage 'lead' cannot move to 'won' in pipeline 'sales'; allowed from 'lead': quote" in page_text(r)
    assert client.get(f"/api/records/deal/{deal}").get_json()["stage"] == "lead"
    r = admin.post(f"/admin/records/deal/edit/?id={deal}", data={"name": "Big", "stage": "quote"})
    assert r.status_code == 302 and client.get(f"/api/records/deal/{deal}").get_json()["stage"] == "quote"
