"""Designer usability in Debian's Chromium (issue 20, item 4): each of these failed before its fix —
a colour is picked with a colour picker, a new form starts empty, and a public form warns before it
exposes a reference, an internal or a hidden field."""
from __future__ import annotations

STUDENT = {"key": "student", "label": {"en": "Student", "zh": "学员"}, "title_field": "name", "fields": [
    {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True},
    {"key": "phone", "type": "text", "label": {"en": "Phone", "zh": "电话"}},
    {"key": "notes", "type": "text", "label": {"en": "Notes", "zh": "内部备注"}},
    {"key": "course", "type": "reference", "target": "course", "label": {"en": "Course", "zh": "课程"}},
]}
COURSE = {"key": "course", "label": {"en": "Course", "zh": "课程"}, "title_field": "title",
          "fields": [{"key": "title", "type": "text", "label": "Title"}]}


def test_a_tag_colour_is_picked_with_a_colour_picker(page, live_server):
    page.goto(f"{live_server.url}/admin/taxonomies/new")
    page.fill("#key", "level")
    page.fill("#label_en", "Level")
    page.fill('[name="tags-0-key"]', "vip")
    page.fill('[name="tags-0-label_en"]', "VIP")
    picker = page.locator('[name="tags-0-color"] + input[type=color]')
    assert picker.count() == 1
    picker.evaluate("el => { el.value = '#ff5722'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
    assert page.input_value('[name="tags-0-color"]') == "#ff5722"
    page.get_by_test_id("preview").click()
    page.get_by_test_id("apply").click()
    page.wait_for_url(lambda url: url.endswith("/admin/taxonomies/"))
    tags = live_server.platform.metadata.state().taxonomies["level"].doc["tags"]
    assert tags[0]["color"] == "#ff5722"


def test_a_new_form_starts_empty_and_a_public_one_warns_before_exposing_fields(page, live_server, screenshot):
    assert live_server.api.post("/api/meta/entities", json=COURSE).status_code == 201
    assert live_server.api.post("/api/meta/entities", json=STUDENT).status_code == 201
    live_server.api.post("/api/meta/roles", json={"key": "teacher", "label": {"en": "Teacher", "zh": "老师"},
                                                  "entities": {"student": {"read": "all",
                                                                           "fields": {"notes": {"read": False}}}}})
    page.goto(f"{live_server.url}/admin/forms/new?entity=student")
    sections = page.locator('select[name$="-section"]')
    assert sections.count() == 4
    assert all(sections.nth(i).input_value() == "" for i in range(4))  # no field placed yet

    page.fill("#key", "signup")
    page.fill("#label_en", "Sign up")
    page.check("#public")
    page.fill("#slug", "signup")
    for n, key in enumerate(["name", "phone", "notes", "course"]):
        page.select_option(f'[name="fields-{n}-section"]', "1")
    page.check('[name="fields-1-hidden"]')
    page.get_by_test_id("preview").click()
    warning = page.get_by_test_id("public-warning")
    text = warning.inner_text()
    assert "Course" in text and "Notes" in text and "Phone" in text and "Name" not in text.split("\n", 1)[1]
    assert page.get_by_test_id("plan").count() == 0  # no plan until the admin says so
    screenshot(page, "admin_public_form_warning")
    page.check("#expose-ok")
    page.get_by_test_id("preview").click()
    page.get_by_test_id("apply").click()
    page.wait_for_url(lambda url: url.endswith("/admin/forms/"))
    assert live_server.platform.metadata.state().of_kind("form")["signup"].doc["public"] is True


DEAL = {"key": "deal", "label": {"en": "Deal", "zh": "商机"}, "title_field": "name",
        "fields": [{"key": "name", "type": "text", "label": "Name"}, {"key": "stage", "type": "stage", "label": "Stage"}]}


def test_pipeline_stages_are_cards_dragged_into_order_with_any_or_a_list_of_next_stages(page, live_server, screenshot):
    assert live_server.api.post("/api/meta/entities", json=DEAL).status_code == 201
    page.goto(f"{live_server.url}/admin/pipelines/new?entity=deal")
    page.fill("#key", "sales")
    page.fill("#label_en", "Sales")
    page.select_option("#field", "stage")
    cards = page.locator("[data-stage-card]")
    assert cards.count() == 2
    # every input is titled on its card (no grid of unlabelled boxes), and no order number to type
    assert page.locator('label[for="stages-0-key"]').is_visible()
    assert page.locator('input[name="stages-0-position"]').get_attribute("type") == "hidden"
    page.fill('[name="stages-0-key"]', "lead")
    page.fill('[name="stages-0-label_en"]', "Lead")
    page.fill('[name="stages-1-key"]', "signed")
    page.fill('[name="stages-1-label_en"]', "Signed")

    # "any stage" is picked for a new stage; picking a next stage switches to "only these", visibly
    assert page.is_checked("#stages-0-next_mode-0")
    page.focus('[name="stages-0-allowed_next"]')
    page.select_option('[name="stages-0-allowed_next"]', "signed")
    assert page.is_checked("#stages-0-next_mode-1") and not page.is_checked("#stages-0-next_mode-0")

    # drag "signed" above "lead" by its handle
    cards.nth(1).locator(".drag-handle").drag_to(cards.nth(0).locator(".card-header"), target_position={"x": 5, "y": 2})
    assert cards.nth(0).locator('[name="stages-1-key"]').count() == 1  # the cards changed places
    screenshot(page, "admin_pipeline_stage_cards")
    page.get_by_test_id("preview").click()
    page.get_by_test_id("apply").click()
    page.wait_for_url(lambda url: url.endswith("/admin/pipelines/"))
    stages = live_server.platform.metadata.state().pipelines["sales"].doc["stages"]
    assert [s["key"] for s in stages] == ["signed", "lead"]
    assert stages[1]["allowed_next"] == ["signed"] and "allowed_next" not in stages[0]


def test_every_grid_of_the_designer_has_column_headers(page, live_server):
    api = live_server.api
    assert api.post("/api/meta/entities", json=COURSE).status_code == 201
    assert api.post("/api/meta/entities", json=STUDENT).status_code == 201
    assert api.post("/api/meta/entities", json=DEAL).status_code == 201
    api.patch("/api/meta/entities/student", json={"fields": STUDENT["fields"][:3]})  # course field archived
    api.post("/api/meta/entities", json={"key": "old", "label": "Old", "fields": [{"key": "a", "type": "text"}]})
    api.delete("/api/meta/entities/old")
    headerless = """() => Array.from(document.querySelectorAll('table'))
        .filter(t => !t.tHead || !t.tHead.textContent.trim())
        .map(t => (t.getAttribute('data-rows') || t.getAttribute('data-testid') || t.className))"""
    for path in ("/admin/entities/", "/admin/entities/student/", "/admin/taxonomies/new", "/admin/forms/new?entity=student",
                 "/admin/pipelines/new?entity=deal", "/admin/history/", "/admin/users/", "/admin/roles/",
                 "/admin/bundles/", "/admin/entities/student/fields/new?type=select"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate(headerless) == [], path


PUPIL = {"key": "pupil", "label": {"en": "Pupil", "zh": "学员"}, "title_field": "name", "fields": [
    {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}},
    {"key": "course", "type": "select", "label": {"en": "Course", "zh": "课程"},
     "choices": [{"key": "math", "label": {"en": "Math", "zh": "数学"}}, {"key": "art", "label": {"en": "Art", "zh": "美术"}}]},
    {"key": "enrolled_on", "type": "date", "label": {"en": "Enrolled on", "zh": "报名日期"}},
    {"key": "lessons", "type": "integer", "label": {"en": "Lessons", "zh": "课时"}},
]}


def test_a_rule_condition_offers_the_entitys_fields_fitting_operators_and_values(page, live_server, screenshot):
    assert live_server.api.post("/api/meta/entities", json=PUPIL).status_code == 201
    page.goto(f"{live_server.url}/admin/taxonomies/new")
    page.fill("#key", "interest")
    page.fill("#label_en", "Interest")
    page.fill('[name="tags-0-key"]', "artist")
    page.fill('[name="tags-0-label_en"]', "Artist")
    page.locator("details").first.locator("summary").click()
    page.select_option('[name="tags-0-rule_entity"]', "pupil")
    row = page.locator('tr:has([name="tags-0-conditions-0-field"])')
    field = row.locator("select.cond-field-picker")
    assert field.locator("option").all_inner_texts() == ["—", "Name (name)", "Course (course)",
                                                          "Enrolled on (enrolled_on)", "Lessons (lessons)"]
    field.select_option("enrolled_on")  # a date: compared with a date picker, windows of days offered
    assert row.locator('[name="tags-0-conditions-0-value"]').get_attribute("type") == "date"
    assert row.locator('select[name="tags-0-conditions-0-op"] option[value="within_days"]').is_enabled()
    field.select_option("course")  # a choice: its choices, and no "greater than"
    assert row.locator('select[name="tags-0-conditions-0-op"] option[value="gt"]').is_disabled()
    page.select_option('[name="tags-0-conditions-0-op"]', "eq")
    value = row.locator("select.cond-value-picker")
    assert value.locator("option").all_inner_texts() == ["—", "Math", "Art"]
    value.select_option("art")
    screenshot(page, "admin_rule_condition_builder")
    page.get_by_test_id("preview").click()
    page.get_by_test_id("apply").click()
    page.wait_for_url(lambda url: url.endswith("/admin/taxonomies/"))
    tag = live_server.platform.metadata.state().taxonomies["interest"].doc["tags"][0]
    assert tag["rule"]["entity"] == "pupil"
    assert tag["rule"]["all"] == [{"field": "course", "op": "eq", "value": "art"}]


def test_a_form_condition_value_fits_the_field_it_tests(page, live_server):
    assert live_server.api.post("/api/meta/entities", json=PUPIL).status_code == 201
    page.goto(f"{live_server.url}/admin/forms/new?entity=pupil")
    page.select_option('[name="conditions-0-when_field"]', "course")
    page.select_option('[name="conditions-0-op"]', "in")
    value = page.locator('[name="conditions-0-value"] + select.cond-value-picker')
    assert value.get_attribute("multiple") is not None
    value.select_option(["math", "art"])
    assert page.input_value('[name="conditions-0-value"]') == "math, art"
    page.select_option('[name="conditions-0-when_field"]', "enrolled_on")
    page.select_option('[name="conditions-0-op"]', "eq")
    assert page.locator('[name="conditions-0-value"]').get_attribute("type") == "date"
