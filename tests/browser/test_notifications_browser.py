"""The bell on a phone, in Chinese: a salesperson's task due tomorrow reminds her; she opens it from the bell."""
from __future__ import annotations

import datetime as dt
import re

from crm_platform.bundles import importer, templates
from crm_platform.jobs.reminders import send_reminders


def test_a_salesperson_opens_her_reminder_from_the_bell_on_a_phone(live_server, sign_in, screenshot):
    platform = live_server.platform
    importer.run(platform, templates.load("b2b"), actor="test")
    mei = platform.users.create("mei", "mei-password-1", roles=["sales"])
    tomorrow = str(dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1))
    task = live_server.api.post("/api/records/task", json={
        "content": "给星河科技发报价", "due_on": tomorrow, "status": "open", "owner_id": mei.id}).get_json()
    live_server.api.post("/api/records/task", json={
        "content": "已完成的任务", "due_on": tomorrow, "status": "done", "owner_id": mei.id})
    assert send_reminders(platform, dt.datetime.now(dt.timezone.utc)) == "1 reminders"

    phone = sign_in("mei", "mei-password-1", locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app")
    bell = phone.get_by_role("link", name="通知，1 条未读")
    assert bell.locator(".badge").inner_text() == "1"
    bell.click()
    phone.wait_for_url(re.compile(r"/app/_notifications$"))
    item = phone.locator(".notifications li.unread")
    assert item.locator(".n-title").inner_text() == f"任务「给星河科技发报价」：截止日期 {tomorrow}"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone, "notifications_phone_zh")
    item.get_by_role("button", name="查看").click()
    phone.wait_for_url(re.compile(rf"/app/task/{task['id']}$"))
    assert "给星河科技发报价" in phone.locator("main").inner_text()
    # Read now: the bell shows no count, and the list shows it read.
    assert phone.get_by_role("link", name="通知", exact=True).locator(".badge").count() == 0
    phone.goto(f"{live_server.url}/app/_notifications")
    assert phone.locator(".notifications li.read").count() == 1
