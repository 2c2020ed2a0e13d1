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
