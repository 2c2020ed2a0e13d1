"""The B2B template in Chromium on a phone, in Chinese: a company (which needs a change reason) is
edited through the screen, the reason asked for by its label and kept in the record's history."""
from __future__ import annotations

import re

from crm_platform.bundles import importer, templates

from .conftest import ADMIN_NAME, ADMIN_PASSWORD


def test_a_salesperson_edits_a_b2b_company_with_a_reason_on_a_phone_in_chinese(live_server, sign_in, screenshot):
    importer.run(live_server.platform, templates.load("b2b"), actor="test")
    company = live_server.api.post("/api/records/company", json={"name": "华为技术", "industry": "it", "size": "xl"}).get_json()
    phone = sign_in(ADMIN_NAME, ADMIN_PASSWORD, locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app/company/{company['id']}/edit")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.get_by_label("公司规模").select_option("l")
    phone.get_by_role("button", name="保存").click()
    # refused without a reason: the message sits by the input and names nothing by its key
    error = phone.locator("#error-_reason")
    error.wait_for()
    assert error.inner_text() == "此项为必填项：请说明修改原因（记入变更记录）"
    assert "_reason" not in phone.locator("main").inner_text()
    assert live_server.api.get(f"/api/records/company/{company['id']}").get_json()["size"] == "xl"
    phone.get_by_label("公司规模").select_option("l")
    phone.get_by_label("变更原因").fill("客户裁员，规模变小")
    screenshot(phone, "form_edit_company_reason_phone_zh")
    phone.get_by_role("button", name="保存").click()
    phone.wait_for_url(re.compile(rf"/app/company/{company['id']}$"))
    assert phone.locator("[role=status]").inner_text() == "已保存。"
    assert "客户裁员，规模变小" in phone.locator("#changes").inner_text()
    after = live_server.api.get(f"/api/records/company/{company['id']}").get_json()
    assert (after["size"], after["version"]) == ("l", 2)
    history = live_server.api.get(f"/api/records/company/{company['id']}/history").get_json()["items"]
    assert (history[0]["reason"], history[0]["changes"]) == ("客户裁员，规模变小", {"size": ["xl", "l"]})


def test_a_board_move_of_a_company_is_made_with_the_reason_typed_above_the_columns(live_server, sign_in, screenshot):
    importer.run(live_server.platform, templates.load("b2b"), actor="test")
    api = live_server.api
    assert api.post("/api/meta/entities/company/fields",
                    json={"key": "phase", "type": "stage", "label": {"en": "Phase", "zh": "阶段"}}).status_code == 201
    assert api.post("/api/meta/pipelines", json={
        "key": "onboarding", "label": {"en": "Onboarding", "zh": "客户导入"}, "entity": "company", "field": "phase",
        "stages": [{"key": "new", "label": {"en": "New", "zh": "新客户"}},
                   {"key": "live", "label": {"en": "Live", "zh": "已上线"}},
                   {"key": "done", "label": {"en": "Done", "zh": "已完成"}}]}).status_code == 201
    company = api.post("/api/records/company", json={"name": "华为技术", "industry": "it", "size": "xl", "phase": "new"}).get_json()
    assert api.post("/api/records/company", json={"name": "中兴通讯", "industry": "it", "size": "xl", "phase": "done"},
                    headers={"X-Change-Reason": "test"}).status_code == 201
    phone = sign_in(ADMIN_NAME, ADMIN_PASSWORD, locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app/company/board")
    card = phone.locator(f".kcard[data-id='{company['id']}']")
    card.locator("select[data-move]").select_option("live")
    error = card.locator(".card-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "变更原因: 此项为必填项：请说明修改原因（记入变更记录）"
    assert api.get(f"/api/records/company/{company['id']}").get_json()["phase"] == "new"
    phone.get_by_label("变更原因").fill("合同已签，开始实施")
    card.locator("select[data-move]").select_option("live")
    phone.locator(f"section[data-stage=live] .kcard[data-id='{company['id']}']").wait_for()
    screenshot(phone, "board_company_reason_phone_zh")
    # A card in a column off to the right stays inside the board's own scroll, not the page's.
    phone.reload()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    assert api.get(f"/api/records/company/{company['id']}").get_json()["phase"] == "live"
    history = api.get(f"/api/records/company/{company['id']}/history").get_json()["items"]
    assert (history[0]["reason"], history[0]["changes"]) == ("合同已签，开始实施", {"phase": ["new", "live"]})
