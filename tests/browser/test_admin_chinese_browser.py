"""The school owner's scenario in Debian's Chromium, in Chinese (issue 20): she signs in, follows 管理
from the app's menu, adds 意向等级 to 学员 of the education template by its Chinese label alone (the
key is proposed as pinyin), reads the plan as sentences naming labels and counts, and applies it."""
from __future__ import annotations

import re

from crm_platform.bundles import importer
from crm_platform.bundles import templates


def test_the_school_owner_adds_an_intent_level_in_chinese(browser, live_server, screenshot, sign_in):
    platform = live_server.platform
    importer.run(platform, templates.load("education"), actor="test", sample_data=True)
    students = live_server.api.get("/api/records/student?per_page=1").get_json()["total"]
    assert students > 0

    page = sign_in("admin", "admin-password", locale="zh-CN")  # her browser asks for Chinese
    page.goto(f"{live_server.url}/app")
    page.locator("#nav summary").click()
    page.get_by_test_id("menu-admin").click()
    page.wait_for_url(re.compile(r"/admin/?$"))
    assert "新建实体" in page.inner_text("body") and "返回客户管理" in page.inner_text("body")

    page.get_by_role("link", name="设计").and_(page.locator('[href$="/entities/student/"]')).click()
    assert "学员" in page.inner_text("h5")
    page.select_option("#new-field-type", "select")
    page.get_by_test_id("add-field").click()
    assert "为「学员」新增单选字段" in page.inner_text("h5")

    page.fill("#label_zh", "意向等级")
    page.locator("#label_zh").blur()
    page.wait_for_function("document.querySelector('#key').value === 'yi_xiang_deng_ji'")  # proposed, editable
    for i, (key, label) in enumerate([("high", "高"), ("medium", "中"), ("low", "低")]):
        page.fill(f'[name="choices-{i}-key"]', key)
        page.fill(f'[name="choices-{i}-label_zh"]', label)
    page.check("#required")
    page.fill("#default", "medium")
    page.get_by_test_id("preview").click()

    plan = page.get_by_test_id("plan-sentences").inner_text()
    assert f"为「学员」添加字段「意向等级」（单选）；现有的 {students:,} 条记录取默认值「中」" in plan
    assert "add_column" not in page.get_by_test_id("plan").inner_text()  # the JSON is folded away
    page.get_by_test_id("plan-json").locator("summary").click()
    assert '"op": "add_column"' in page.get_by_test_id("plan-json").inner_text()  # one click away
    screenshot(page, "admin_zh_plan_intent_level")
    assert "yi_xiang_deng_ji" not in {f["key"] for f in platform.metadata.state().entities["student"].fields}

    page.get_by_test_id("apply").click()
    page.wait_for_url(re.compile(r"/admin/entities/student/$"))
    assert "已应用" in page.inner_text("body")
    field = {f["key"]: f for f in platform.metadata.state().entities["student"].fields}["yi_xiang_deng_ji"]
    assert field["label"] == {"zh": "意向等级"} and field["required"] and field["default"] == "medium"
    sample = live_server.api.get("/api/records/student?per_page=1").get_json()["items"][0]
    assert sample["yi_xiang_deng_ji"] == "medium"

    page.goto(f"{live_server.url}/admin/history/")
    assert "为「学员」添加字段「意向等级」" in page.get_by_test_id("revision-sentences").first.inner_text()
    screenshot(page, "admin_zh_history")
