"""An approval on a phone, in Chinese: a quote with 30 % off waits; the manager finds it from the bell's
page, opens the opportunity and approves it there with a comment, at 375 px."""
from __future__ import annotations

import re

from crm_platform.bundles import importer, templates


def test_a_manager_approves_a_big_discount_from_the_record_page_on_a_phone(live_server, sign_in, screenshot):
    platform, api = live_server.platform, live_server.api
    importer.run(platform, templates.load("b2b"), actor="test")
    sally = platform.users.create("sally", "sally-password-1", roles=["sales"])
    platform.users.create("meng", "meng-password-1", roles=["manager"])
    as_sally = {"Authorization": f"Bearer {platform.users.issue_token(sally)}"}
    company = api.post("/api/records/company", json={"name": "星河科技", "industry": "it", "size": "s"},
                       headers=as_sally).get_json()
    deal = api.post("/api/records/opportunity", headers=as_sally, json={
        "name": "星河科技 年度运维", "company": company["id"], "stage": "needs_analysis", "amount": "300000",
        "discount": "30"}).get_json()
    r = api.patch(f"/api/records/opportunity/{deal['id']}", json={"stage": "quote"}, headers=as_sally)
    assert r.status_code == 200 and r.get_json()["stage"] == "needs_analysis"

    phone = sign_in("meng", "meng-password-1", locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app/_notifications")
    assert "待审批：商机「星河科技 年度运维」进入「报价」" in phone.locator(".notifications").inner_text()
    phone.get_by_role("link", name="我的审批").click()
    phone.wait_for_url(re.compile(r"/app/_approvals$"))
    item = phone.locator(f".approvals li[data-approval]")
    assert item.count() == 1 and "sally 申请进入「报价」" in item.inner_text()
    item.get_by_role("link", name="查看").click()
    phone.wait_for_url(re.compile(rf"/app/opportunity/{deal['id']}$"))
    banner = phone.locator(".approval-banner")
    assert "等待审批：申请进入「报价」，申请人 sally。" in banner.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    box = banner.get_by_role("button", name="批准").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    screenshot(phone, "approval_banner_phone_zh")
    banner.get_by_label("审批意见").fill("战略客户，同意 30% 折扣")
    banner.get_by_role("button", name="批准").click()
    phone.wait_for_url(re.compile(rf"/app/opportunity/{deal['id']}$"))
    assert "已批准，记录已进入该阶段。" in phone.locator(".flash").inner_text()
    assert phone.locator(".approval-banner").count() == 0
    assert phone.locator("[data-field=stage] dd").inner_text().strip() == "报价"
    history = phone.locator("ol.history").first
    assert history.locator("li[data-event=approved]").count() == 1
    assert "战略客户，同意 30% 折扣" in history.locator("li[data-event=approved]").inner_text()
    assert "meng" in history.locator("li[data-event=approved]").inner_text()
    # The record really moved, through the record service: the API agrees, and the approval is closed.
    assert api.get(f"/api/records/opportunity/{deal['id']}").get_json()["stage"] == "quote"
    assert api.get("/api/approvals?status=approved").get_json()["total"] == 1


def test_a_salesperson_withdraws_her_request_from_the_record_page_on_a_phone(live_server, sign_in):
    platform, api = live_server.platform, live_server.api
    importer.run(platform, templates.load("b2b"), actor="test")
    sally = platform.users.create("sally", "sally-password-1", roles=["sales"])
    platform.users.create("meng", "meng-password-1", roles=["manager"])
    as_sally = {"Authorization": f"Bearer {platform.users.issue_token(sally)}"}
    company = api.post("/api/records/company", json={"name": "星河科技", "industry": "it", "size": "s"},
                       headers=as_sally).get_json()
    deal = api.post("/api/records/opportunity", headers=as_sally, json={
        "name": "星河科技 年度运维", "company": company["id"], "stage": "needs_analysis", "amount": "300000",
        "discount": "30"}).get_json()
    assert api.patch(f"/api/records/opportunity/{deal['id']}", json={"stage": "quote"},
                     headers=as_sally).get_json()["stage"] == "needs_analysis"

    phone = sign_in("sally", "sally-password-1", locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app/opportunity/{deal['id']}")
    banner = phone.locator(".approval-banner")
    assert banner.get_by_role("button", name="批准").count() == 0
    box = banner.get_by_role("button", name="撤回").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    banner.get_by_role("button", name="撤回").click()
    phone.wait_for_url(re.compile(rf"/app/opportunity/{deal['id']}$"))
    assert "已撤回审批申请，记录保持原阶段。" in phone.locator(".flash").inner_text()
    assert phone.locator(".approval-banner").count() == 0
    assert phone.locator("ol.history").first.locator("li[data-event=withdrawn]").count() == 1
    assert api.get(f"/api/records/opportunity/{deal['id']}").get_json()["stage"] == "needs_analysis"
    assert api.get("/api/approvals?status=withdrawn").get_json()["total"] == 1
