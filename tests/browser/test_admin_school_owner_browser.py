"""The school owner's scenario end to end in Debian's Chromium, in Chinese (issue 20): she signs in,
follows 管理 from the app's menu, installs the education template with its sample data from the
gallery after reading its plan, makes a 老师 role in the role editor, creates two teachers with it,
and hands 40 students over to one of them — who then sees exactly those 40. And the admin fits a
phone: lists, plans, history and users at 375 px without a page wider than the screen."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from crm_platform.bundles import importer, templates

PHONE = {"width": 375, "height": 812}


def _temporary_password(page) -> str:
    return page.get_by_test_id("password").inner_text().strip()


def test_the_school_owner_installs_the_template_adds_teachers_and_hands_students_over(live_server, screenshot,
                                                                                     sign_in):
    platform = live_server.platform
    page = sign_in("admin", "admin-password", locale="zh-CN")
    page.goto(f"{live_server.url}/app")
    page.locator("#nav summary").click()
    page.get_by_test_id("menu-admin").click()
    page.wait_for_url(re.compile(r"/admin/?$"))

    # the template gallery: what education brings, installed with its sample data after the plan
    page.get_by_role("link", name="模板").first.click()
    card = page.locator('[data-template="education"]')
    assert "教育培训" in card.inner_text() and "学员" in card.inner_text() and "条示例数据" in card.inner_text()
    card.get_by_label("同时导入示例数据").check()
    page.get_by_test_id("install-education").click()
    plan = page.get_by_test_id("plan").inner_text()
    assert "新建 实体「学员」" in plan and "示例数据" in plan
    assert "student" not in platform.metadata.state().entities
    screenshot(page, "admin_zh_template_plan")
    page.get_by_test_id("apply").click()
    assert "已安装 education" in page.inner_text("body")
    assert page.get_by_test_id("demo-users").is_visible()
    students = live_server.api.get("/api/records/student?per_page=1").get_json()["total"]
    assert students == 160

    # a 老师 role: reads and changes the students they own
    page.goto(f"{live_server.url}/admin/roles/")
    page.get_by_test_id("new-role").click()
    page.fill("#label_zh", "老师")
    page.fill("#key", "teacher")
    page.select_option('[name="op-student-read"]', "own")
    page.select_option('[name="op-student-update"]', "own")
    page.get_by_test_id("preview").click()
    assert "老师" in page.get_by_test_id("plan").inner_text()
    page.get_by_test_id("apply").click()
    page.wait_for_url(re.compile(r"/admin/roles/$"))
    assert platform.metadata.state().roles["teacher"].doc["entities"]["student"] == {"read": "own", "update": "own"}

    # two teachers, each with a temporary password shown once
    passwords = {}
    for name in ("teacher_li", "teacher_wang"):
        page.goto(f"{live_server.url}/admin/users/")
        page.fill("#username", name)
        page.get_by_label("老师").check()
        page.get_by_test_id("create-user").click()
        assert "临时密码只在此刻显示" in page.inner_text("body")
        passwords[name] = _temporary_password(page)
    teachers = {u["username"]: u for u in platform.users.list() if u["username"].startswith("teacher_")}
    assert all(u["roles"] == ["teacher"] for u in teachers.values()) and len(teachers) == 2
    screenshot(page, "admin_zh_user_created")

    # 40 students of the demo salesperson who owns most, handed over to 李老师
    owners = Counter(s["owner_id"] for s in live_server.api.get("/api/records/student?per_page=200").get_json()["items"])
    giver, owned = owners.most_common(1)[0]
    assert owned >= 40
    page.goto(f"{live_server.url}/admin/users/")
    page.get_by_test_id("handover-link").click()
    page.select_option("#entity", "student")
    page.select_option("#from_user", str(giver))
    page.fill("#count", "40")
    page.get_by_test_id("handover-preview").click()
    assert "已选 40 条数据" in page.get_by_test_id("handover-chosen").inner_text()
    page.select_option("#to_user", str(teachers["teacher_li"]["id"]))
    page.fill("#reason", "分配给李老师的班级")
    page.get_by_test_id("handover-submit").click()
    assert "已将 40 条数据移交给 teacher_li" in page.inner_text("body")
    screenshot(page, "admin_zh_handover_done")

    # 李老师 signs in with the temporary password and sees her 40 students, and only those
    teacher = sign_in("teacher_li", passwords["teacher_li"], locale="zh-CN")
    token = platform.users.issue_token(platform.users.get_by_name("teacher_li"))
    mine = live_server.app.test_client().get("/api/records/student?per_page=1",
                                             headers={"Authorization": f"Bearer {token}"}).get_json()
    assert mine["total"] == 40
    assert teacher.goto(f"{live_server.url}/admin/users/").status == 403  # the admin stays the owner's


@pytest.mark.parametrize("path, name", [
    ("/admin/", "home"), ("/admin/users/", "users"), ("/admin/roles/", "roles"), ("/admin/roles/manager/edit", "role"),
    ("/admin/history/", "history"), ("/admin/bundles/", "templates"), ("/admin/records/student/", "records"),
    ("/admin/entities/student/", "entity"),
])
def test_the_admin_fits_a_phone(browser, live_server, screenshot, path, name):
    platform = live_server.platform
    importer.run(platform, templates.load("education"), actor="test", sample_data=True)
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.fill("#username", "admin")
        page.fill("#password", "admin-password")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, f"admin_phone_{name}")
        assert width <= PHONE["width"], f"{path} is {width}px wide on a {PHONE['width']}px phone"
    finally:
        context.close()


def test_a_template_plan_fits_a_phone(browser, live_server, screenshot):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.fill("#username", "admin")
        page.fill("#password", "admin-password")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{live_server.url}/admin/bundles/")
        page.get_by_test_id("install-education").click()
        assert page.get_by_test_id("plan").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, "admin_phone_template_plan")
        assert width <= PHONE["width"]
    finally:
        context.close()


TABLET = {"width": 768, "height": 1024}


@pytest.mark.parametrize("path, name", [
    ("/admin/entities/student/fields/new?type=select", "field_form"), ("/admin/pipelines/enrolment/edit", "pipeline"),
    ("/admin/forms/new?entity=student", "form"), ("/admin/taxonomies/student_tags/edit", "taxonomy"),
    ("/admin/roles/manager/edit", "role"), ("/admin/users/handover", "handover"),
])
def test_the_designer_stays_usable_for_editing_at_tablet_width(browser, live_server, screenshot, path, name):
    importer.run(live_server.platform, templates.load("education"), actor="test")
    context = browser.new_context(viewport=TABLET, locale="zh-CN", has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.fill("#username", "admin")
        page.fill("#password", "admin-password")
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, f"admin_tablet_{name}")
        assert width <= TABLET["width"], f"{path} is {width}px wide on a {TABLET['width']}px tablet"
        assert page.locator("button[type=submit]").first.is_visible()
    finally:
        context.close()
