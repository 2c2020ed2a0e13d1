"""The generated screens in Debian's Chromium: forms, errors, filters, kanban, public forms, live metadata."""
from __future__ import annotations

import re
from decimal import Decimal

CUSTOMER = {
    "key": "customer", "label": {"en": "Customer", "zh": "客户"}, "plural_label": {"en": "Customers", "zh": "客户"},
    "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True, "max_length": 100},
        {"key": "age", "type": "integer", "label": {"en": "Age", "zh": "年龄"}, "min": 0, "max": 120},
        {"key": "region", "type": "select", "label": {"en": "Region", "zh": "地区"},
         "choices": [{"key": "north", "label": {"en": "North", "zh": "华北"}},
                     {"key": "south", "label": {"en": "South", "zh": "华南"}}]},
    ],
}
OPPORTUNITY = {
    "key": "opportunity", "label": {"en": "Opportunity", "zh": "商机"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": "Name", "required": True},
        {"key": "amount", "type": "decimal", "label": "Amount", "scale": 2},
        {"key": "contract_no", "type": "text", "label": {"en": "Contract number", "zh": "合同编号"}},
        {"key": "stage", "type": "stage", "label": "Stage"},
    ],
}
SALES = {
    "key": "sales", "label": {"en": "Sales funnel", "zh": "销售漏斗"}, "entity": "opportunity", "field": "stage",
    "amount_field": "amount",
    "stages": [
        {"key": "quote", "label": {"en": "Quote", "zh": "报价"}, "allowed_next": ["signed"]},
        {"key": "signed", "label": {"en": "Signed", "zh": "签约"}, "category": "won", "required_fields": ["contract_no"]},
    ],
}


def _define(live, *docs):
    for doc in docs:
        r = live.api.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()


def test_create_a_record_through_the_generated_form(page, live_server, screenshot):
    _define(live_server, CUSTOMER)
    page.goto(f"{live_server.url}/app/customer/new")
    page.get_by_label("Name").fill("张三 Zhang")
    page.get_by_label("Age").fill("42")
    page.get_by_label("Region").select_option("south")
    screenshot(page, "form_new_customer")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/app/customer/\d+$"))
    assert page.locator("[role=status]").inner_text() == "Created."
    assert page.locator("[data-field=region] dd").inner_text() == "South"
    items = live_server.api.get("/api/records/customer").get_json()["items"]
    assert [(r["name"], r["age"], r["region"]) for r in items] == [("张三 Zhang", 42, "south")]


def test_a_bad_value_shows_an_error_next_to_its_field_and_nothing_is_written(page, live_server):
    _define(live_server, CUSTOMER)
    page.goto(f"{live_server.url}/app/customer/new")
    page.get_by_label("Name").fill("Li")
    page.get_by_label("Age").fill("200")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#error-age").inner_text() == "must be at most 120"
    assert page.get_by_label("Name").input_value() == "Li"  # what was typed is kept
    assert live_server.api.get("/api/records/customer").get_json()["total"] == 0


def test_filter_a_list_by_region_and_age(page, live_server, screenshot):
    _define(live_server, CUSTOMER)
    for name, age, region in [("Wang", 30, "north"), ("Zhao", 50, "south"), ("Sun", 61, "south"), ("Qian", 20, "south")]:
        live_server.api.post("/api/records/customer", json={"name": name, "age": age, "region": region})
    page.goto(f"{live_server.url}/app/customer")
    assert page.locator(".count").inner_text() == "4 records"
    page.locator("details.filters summary").click()
    page.locator("#flt-region").select_option("south")
    page.get_by_label("Age from").fill("40")
    page.get_by_role("button", name="Apply").first.click()
    page.wait_for_url(re.compile(r"filter"))
    assert page.locator(".count").inner_text() == "2 records"
    # the first column after the bulk actions' row checkbox
    names = page.locator("table.records tbody tr td.pick + td").all_inner_texts()
    assert sorted(n.strip() for n in names) == ["Sun", "Zhao"]
    assert page.locator("table.records thead th:not(.pick)").all_inner_texts() == ["Name", "Age", "Region"]  # columns kept
    assert "filter[age][lte]" not in page.url  # empty inputs stay out of the address
    screenshot(page, "list_customers_filtered")


def test_drag_a_kanban_card_refused_then_allowed(page, live_server, screenshot):
    _define(live_server, OPPORTUNITY)
    assert live_server.api.post("/api/meta/pipelines", json=SALES).status_code == 201
    r = live_server.api.post("/api/records/opportunity", json={"name": "Big deal", "amount": Decimal("1200.50"), "stage": "quote"})
    assert r.status_code == 201, r.get_json()
    deal = r.get_json()
    page.goto(f"{live_server.url}/app/opportunity/board")
    quote, signed = page.locator("section[data-stage=quote]"), page.locator("section[data-stage=signed]")
    assert quote.locator("[data-count]").inner_text() == "1"
    assert quote.locator("[data-amount]").inner_text() == "1,200.50"  # as the lists show amounts
    card = page.locator(f".kcard[data-id='{deal['id']}']")
    card.drag_to(signed)
    error = card.locator(".card-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "Contract number: is required to enter stage “Signed”"  # labels, not keys
    assert quote.locator(f".kcard[data-id='{deal['id']}']").count() == 1  # the card stays where it was
    screenshot(page, "board_refused_move")
    assert live_server.api.get(f"/api/records/opportunity/{deal['id']}").get_json()["stage"] == "quote"

    live_server.api.patch(f"/api/records/opportunity/{deal['id']}", json={"contract_no": "HT-2025-001"})
    page.reload()
    page.locator(f".kcard[data-id='{deal['id']}']").drag_to(page.locator("section[data-stage=signed]"))
    page.locator(f"section[data-stage=signed] .kcard[data-id='{deal['id']}']").wait_for()
    assert page.locator("section[data-stage=signed] [data-count]").inner_text() == "1"
    assert live_server.api.get(f"/api/records/opportunity/{deal['id']}").get_json()["stage"] == "signed"


def test_submit_a_public_form_on_a_phone_and_find_the_record(browser, live_server, screenshot):
    student = {"key": "student", "label": {"en": "Student", "zh": "学员"}, "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "学员姓名"}, "required": True},
        {"key": "age", "type": "integer", "label": {"en": "Age", "zh": "年龄"}},
        {"key": "guardian_phone", "type": "phone", "label": {"en": "Guardian phone", "zh": "家长电话"}},
        {"key": "notes", "type": "long_text", "label": "Notes"}]}
    _define(live_server, student)
    form = {"key": "trial", "label": {"en": "Trial lesson", "zh": "试听课报名"}, "entity": "student", "public": True,
            "slug": "trial", "success_message": {"en": "See you soon!", "zh": "报名成功，我们会尽快联系您！"},
            "layout": [{"title": {"en": "Student", "zh": "学员信息"}, "fields": ["name", "age", "guardian_phone"]}],
            "conditions": [{"field": "guardian_phone", "effect": "require",
                            "when": {"field": "age", "op": "in", "value": [5, 6, 7, 8]}}]}
    assert live_server.api.post("/api/meta/forms", json=form).status_code == 201
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}/f/trial")  # no sign-in
        assert phone.locator("h1").inner_text() == "试听课报名"
        assert phone.locator("input[name=f-notes]").count() == 0  # not on the form
        phone.get_by_label("学员姓名").fill("小明")
        phone.get_by_label("年龄").fill("6")
        phone.get_by_role("button", name="提交").click()
        assert phone.locator("#error-guardian_phone").inner_text() == "当「年龄」为 5、6、7 或 8 时必填"
        phone.get_by_label("家长电话").fill("13800000000")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
        screenshot(phone, "public_form_phone")
        phone.get_by_role("button", name="提交").click()
        assert phone.locator("[role=status]").inner_text() == "报名成功，我们会尽快联系您！"
    finally:
        context.close()
    items = live_server.api.get("/api/records/student").get_json()["items"]
    assert [(r["name"], r["age"], r["guardian_phone"], r["notes"]) for r in items] == [("小明", 6, "13800000000", None)]


def test_a_field_added_through_the_api_is_on_the_form_after_a_reload(page, live_server):
    _define(live_server, CUSTOMER)
    page.goto(f"{live_server.url}/app/customer/new")
    assert page.locator("input[name=f-wechat]").count() == 0
    r = live_server.api.post("/api/meta/entities/customer/fields",
                             json={"key": "wechat", "type": "text", "label": {"en": "WeChat ID", "zh": "微信号"}})
    assert r.status_code == 201, r.get_json()
    page.reload()
    page.get_by_label("Name").fill("Zhou")
    page.get_by_label("WeChat ID").fill("zhou_88")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/app/customer/\d+$"))
    assert live_server.api.get("/api/records/customer").get_json()["items"][0]["wechat"] == "zhou_88"


def test_a_label_with_a_script_tag_shows_as_text(page, live_server):
    evil = {**CUSTOMER, "label": {"en": "<script>window.pwned=1</script>Clients"},
            "plural_label": {"en": "<script>window.pwned=1</script>Clients"},
            "fields": CUSTOMER["fields"] + [{"key": "note", "type": "text", "label": "<img src=x onerror=window.pwned=2>",
                                             "help": "<img src=x onerror=window.pwned=4>"}]}
    _define(live_server, evil)
    live_server.api.post("/api/records/customer", json={"name": "<b>bold</b>", "note": "<script>window.pwned=3</script>"})
    dialogs = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    for path in ("/admin/records/customer/new/", "/admin/records/customer/edit/?id=1", "/app", "/app/customer",
                 "/app/customer/1", "/app/customer/1/edit", "/app/customer/new"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("window.pwned") is None, path
        assert page.locator("img[src=x]").count() == 0, path
    assert "<script>window.pwned=1</script>Clients" in page.locator("nav").text_content()
    assert page.get_by_label("<img src=x onerror=window.pwned=2>").count() == 1
    page.goto(f"{live_server.url}/app/customer/1")
    assert page.locator("h1").inner_text() == "<b>bold</b>"
    assert not dialogs


def test_language_switch_and_accept_language(browser, live_server, page):
    _define(live_server, CUSTOMER)
    page.goto(f"{live_server.url}/app/customer")
    assert page.locator("h1").inner_text() == "Customers"
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "客户"
    assert page.locator("text=+ 新增").count() == 1


def test_lists_and_boards_work_on_a_phone(browser, live_server, screenshot):
    _define(live_server, CUSTOMER, OPPORTUNITY)
    assert live_server.api.post("/api/meta/pipelines", json=SALES).status_code == 201
    for i in range(3):
        live_server.api.post("/api/records/customer", json={"name": f"客户 {i} with a rather long name", "age": 30 + i})
    deal = live_server.api.post("/api/records/opportunity",
                                json={"name": "Phone deal", "contract_no": "HT-9", "stage": "quote"}).get_json()
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}/login")
        phone.fill("#username", "admin")
        phone.fill("#password", "admin-password")
        phone.click("button[type=submit]")
        phone.goto(f"{live_server.url}/app/customer")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        assert phone.locator("table.records tbody tr").count() == 3
        screenshot(phone, "list_customers_phone")
        for path in ("/app/customer/1", "/app/customer/new", "/app/customer/1/edit"):
            phone.goto(f"{live_server.url}{path}")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 375, path
        screenshot(phone, "form_edit_customer_phone")
        phone.locator("summary", has_text="CRM").click()  # the menu
        phone.get_by_role("link", name="Opportunity").click()
        phone.wait_for_url(re.compile(r"/app/opportunity$"))
        phone.goto(f"{live_server.url}/app/opportunity/board")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # columns scroll inside the board
        phone.locator(f".kcard[data-id='{deal['id']}'] select[data-move]").select_option("signed")
        phone.locator(f"section[data-stage=signed] .kcard[data-id='{deal['id']}']").wait_for()
        screenshot(phone, "board_phone")
    finally:
        context.close()
    assert live_server.api.get(f"/api/records/opportunity/{deal['id']}").get_json()["stage"] == "signed"


def test_a_reference_picker_searches_by_name(page, live_server, monkeypatch):
    from crm_platform.web import controls
    monkeypatch.setattr(controls, "RECORD_CHOICES", 1)  # more customers than a drop-down shows
    _define(live_server, CUSTOMER, {"key": "visit", "label": "Visit", "fields": [
        {"key": "note", "type": "text", "label": "Note"},
        {"key": "customer", "type": "reference", "target": "customer", "label": "Customer"}]})
    ids = [live_server.api.post("/api/records/customer", json={"name": n}).get_json()["id"] for n in ("张伟", "李娜")]
    page.goto(f"{live_server.url}/app/visit/new")
    page.get_by_label("Note").fill("First call")
    page.get_by_label("Customer").fill("张")
    page.wait_for_function("document.querySelectorAll('#lookup-customer option').length === 1")
    assert page.locator("#lookup-customer option").get_attribute("label") == "张伟"
    page.get_by_label("Customer").fill(str(ids[0]))
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/app/visit/\d+$"))
    assert page.locator("[data-field=customer] a").inner_text() == "张伟"


def test_delete_a_record_from_its_page_with_a_reason(page, live_server):
    _define(live_server, CUSTOMER)
    record = live_server.api.post("/api/records/customer", json={"name": "Duplicate Zhang"}).get_json()
    page.goto(f"{live_server.url}/app/customer/{record['id']}")
    page.get_by_text("Delete…").click()
    page.get_by_role("textbox", name="Reason for the change", exact=True).fill("entered twice")
    page.get_by_role("button", name="Move to the recycle bin").click()
    page.wait_for_url(re.compile(r"/app/customer$"))
    assert page.locator("[role=status]").inner_text() == "“Duplicate Zhang” was moved to the recycle bin."
    assert live_server.api.get(f"/api/records/customer/{record['id']}").status_code == 404
    history = live_server.api.get(f"/api/records/customer/{record['id']}/history").get_json()["items"]
    assert (history[0]["action"], history[0]["reason"]) == ("delete", "entered twice")
