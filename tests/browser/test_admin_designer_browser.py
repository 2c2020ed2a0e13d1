"""The admin designer in Debian's Chromium: design an entity with three fields, see each plan, apply
it, and find the fields on the generated end-user form; a change that would break stored rows is
refused with the count; a record created in the admin data view is returned by the REST API."""
from __future__ import annotations

import re

TEACHER = {"key": "teacher", "label": {"en": "Teacher", "zh": "老师"}, "title_field": "name",
           "fields": [{"key": "name", "type": "text", "label": "Name"}]}


def _plan_then_apply(page, expected: str):
    page.get_by_test_id("preview").click()
    plan = page.get_by_test_id("plan")
    assert expected in plan.inner_text()
    page.get_by_test_id("apply").click()
    page.wait_for_url(re.compile(r"/admin/entities/\w+/$"))


def _add_field(page, type_name: str, fill: dict, expected_plan: str):
    page.select_option("#new-field-type", type_name)
    page.get_by_test_id("add-field").click()
    for name, value in fill.items():
        if page.locator(f'select[name="{name}"]').count():
            page.select_option(f'select[name="{name}"]', value)
        else:
            page.fill(f'[name="{name}"]', value)
    _plan_then_apply(page, expected_plan)


def test_an_admin_designs_an_entity_and_the_end_user_form_shows_its_fields(page, live_server, screenshot):
    assert live_server.api.post("/api/meta/entities", json=TEACHER).status_code == 201
    page.goto(f"{live_server.url}/admin/entities/")
    page.get_by_test_id("new-entity").click()
    page.fill("#key", "course")
    page.fill("#label_en", "Course")
    page.fill("#label_zh", "课程")
    page.get_by_test_id("preview").click()
    assert "creates the entity Course with 0 fields" in page.get_by_test_id("plan").inner_text()
    assert "course" not in live_server.platform.metadata.state().entities  # nothing before Apply
    screenshot(page, "admin_plan_create_entity")
    page.get_by_test_id("apply").click()
    page.wait_for_url(re.compile(r"/admin/entities/course/$"))

    _add_field(page, "select", {"key": "course_type", "label_en": "Course type", "label_zh": "课程类型",
                                "choices-0-key": "online", "choices-0-label_en": "Online", "choices-0-label_zh": "线上",
                                "choices-1-key": "offline", "choices-1-label_en": "Offline", "choices-1-label_zh": "线下"},
               "adds the field Course type (Choice) to Course; existing records leave it empty")
    _add_field(page, "decimal", {"key": "price", "label_en": "Price", "label_zh": "价格", "scale": "2"},
               "adds the field Price (Decimal number) to Course")
    _add_field(page, "reference", {"key": "teacher", "label_en": "Teacher", "label_zh": "老师", "target": "teacher"},
               "adds the field Teacher (Reference) to Course")
    rows = page.locator("[data-testid=fields] tbody tr")
    assert [rows.nth(i).get_attribute("data-field") for i in range(rows.count())] == ["course_type", "price", "teacher"]
    screenshot(page, "admin_entity_course")

    page.goto(f"{live_server.url}/app/course/new")
    for label in ("Course type", "Price", "Teacher"):
        assert page.get_by_label(label).count() == 1, label
    assert "Online" in page.get_by_label("Course type").inner_text()  # the choices designed above


def test_a_change_that_would_break_stored_rows_is_refused_with_the_count(page, live_server, screenshot):
    live_server.api.post("/api/meta/entities", json={"key": "student", "label": {"en": "Student", "zh": "学员"},
                                                     "fields": [{"key": "name", "type": "text", "label": "Name"},
                                                                {"key": "phone", "type": "phone", "label": "Phone"}]})
    for n in range(12):
        live_server.api.post("/api/records/student", json={"name": f"Student {n}"})
    before = live_server.platform.metadata.state().entities["student"].doc
    page.goto(f"{live_server.url}/admin/entities/student/fields/phone/edit")
    page.check("#required")
    page.get_by_test_id("preview").click()
    refusal = page.get_by_test_id("refusals").inner_text()
    assert "Phone (Required): 12 existing records have no value" in refusal
    screenshot(page, "admin_refused_required_phone")
    assert page.get_by_test_id("apply").count() == 0  # a refused plan cannot be applied
    assert live_server.platform.metadata.state().entities["student"].doc == before


def test_a_record_created_in_the_admin_data_view_is_returned_by_the_api(page, live_server):
    live_server.api.post("/api/meta/entities", json={"key": "course", "label": "Course", "fields": [
        {"key": "title", "type": "text", "label": "Title", "required": True},
        {"key": "price", "type": "decimal", "label": "Price", "scale": 2}]})
    page.goto(f"{live_server.url}/admin/records/course/new/")
    page.fill("#title", "Calligraphy 书法")
    page.fill("#price", "12.345")
    page.locator("input[type=submit][value=Save]").click()
    assert "must have at most 2 decimal places" in page.content()  # the API's message, nothing written
    assert live_server.api.get("/api/records/course").get_json()["total"] == 0
    page.fill("#price", "128.50")
    page.locator("input[type=submit][value=Save]").click()
    page.wait_for_url(re.compile(r"/admin/records/course/(\?.*)?$"))
    items = live_server.api.get("/api/records/course").get_json()["items"]
    assert [(i["title"], str(i["price"])) for i in items] == [("Calligraphy 书法", "128.50")]
    assert "Calligraphy 书法" in page.content()


def test_a_tag_tree_is_built_row_by_row_in_the_browser(page, live_server, screenshot):
    page.goto(f"{live_server.url}/admin/taxonomies/new")
    page.fill("#key", "customer_type")
    page.fill("#label_en", "Customer type")
    page.fill("#label_zh", "客户类型")
    page.fill('[name="tags-0-key"]', "intended")
    page.fill('[name="tags-0-label_en"]', "Intended")
    page.fill('[name="tags-0-label_zh"]', "意向客户")
    page.fill('[name="tags-0-color"]', "#ff9800")
    page.fill('[name="tags-1-key"]', "hot")
    page.fill('[name="tags-1-label_en"]', "Hot lead")
    page.click('[name="tags-1-parent"]')  # its options are the keys typed above
    page.select_option('[name="tags-1-parent"]', "intended")
    rows = page.locator('table[data-rows="tags"] > tbody > tr')
    before = rows.count()
    page.get_by_role("button", name="+ Add a tag").click()
    assert rows.count() == before + 1
    page.fill(f'[name="tags-{before}-key"]', "lost")
    page.fill(f'[name="tags-{before}-label_en"]', "Lost")
    page.fill(f'[name="tags-{before}-label_zh"]', "流失客户")
    page.get_by_test_id("preview").click()
    assert "creates the taxonomy Customer type" in page.get_by_test_id("plan").inner_text()
    page.get_by_test_id("apply").click()
    page.wait_for_url(re.compile(r"/admin/taxonomies/$"))
    screenshot(page, "admin_tag_tree")
    tags = live_server.platform.metadata.state().taxonomies["customer_type"].doc["tags"]
    assert [(t["key"], t.get("parent"), t.get("color")) for t in tags] == [
        ("intended", None, "#ff9800"), ("hot", "intended", None), ("lost", None, None)]
    assert "Hot lead" in page.get_by_test_id("tag-tree").inner_text()


def test_the_data_view_filters_through_flask_admins_filter_menu(page, live_server):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    live_server.api.post("/api/meta/entities", json={"key": "lead", "label": {"en": "Lead", "zh": "线索"}, "fields": [
        {"key": "name", "type": "text", "label": "Name"},
        {"key": "source", "type": "select", "label": {"en": "Source", "zh": "来源"},
         "choices": [{"key": "web", "label": "Web"}, {"key": "fair", "label": "Trade fair"}]}]})
    for name, source in (("Ann", "web"), ("Bo", "fair"), ("Cy", "web")):
        live_server.api.post("/api/records/lead", json={"name": name, "source": source})
    page.goto(f"{live_server.url}/admin/records/lead/")
    page.get_by_role("link", name="Add Filter").click()
    page.locator(".field-filters a.filter", has_text="Source").first.click()
    page.locator("table.filters select.filter-val").last.select_option("fair", force=True)  # select2 hides it
    page.locator("#filter_form button[type=submit]").click()
    page.wait_for_url(re.compile(r"flt"))
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() == 1 and "Bo" in rows.first.inner_text() and "Trade fair" in rows.first.inner_text()
    assert errors == []
