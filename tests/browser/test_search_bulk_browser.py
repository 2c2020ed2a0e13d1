"""Search from the top bar, select rows and reassign them at desktop size; the same pages at 375 px,
and e-mail selected contacts from the phone in Chinese."""
from __future__ import annotations

import re

from crm_platform.bundles import importer, templates


def _widest(page) -> int:
    """The widest element's right edge (px): nothing may stick out of a phone's screen."""
    return page.evaluate("""() => Math.max(document.documentElement.scrollWidth,
        ...Array.from(document.querySelectorAll('body *')).map(e => Math.ceil(e.getBoundingClientRect().right)))""")


def test_search_select_rows_and_reassign_then_the_same_on_a_phone(live_server, page, sign_in, screenshot):
    platform = live_server.platform
    importer.run(platform, templates.load("b2b"), actor="test", sample_data=True)
    mei = platform.users.create("mei", "mei-password-1", roles=["sales"])
    company = live_server.api.get("/api/records/company?per_page=1").get_json()["items"][0]
    contact = live_server.api.post("/api/records/contact", json={
        "name": "梅晓", "phone": "+86 155-1565-1234", "company": company["id"], "decision_role": "approver"}).get_json()
    assert "id" in contact, contact

    # Desktop: the top bar's search finds the contact by a part of the number typed with spaces.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/app")
    page.get_by_test_id("global-search").fill("155 1565")
    page.get_by_test_id("global-search").press("Enter")
    page.wait_for_url(re.compile(r"/app/_search\?q="))
    group = page.locator('section.search-group[data-entity="contact"]')
    assert group.locator("a", has_text="梅晓").count() == 1
    assert group.locator("mark").first.inner_text() == "+86 155-1565-1234"
    group.locator("a", has_text="梅晓").click()
    page.wait_for_url(re.compile(rf"/app/contact/{contact['id']}$"))

    # The company list: tick three rows and hand them to mei.
    page.goto(f"{live_server.url}/app/company?sort=id")
    picks = page.locator("input[data-pick]")
    ids = [int(picks.nth(i).get_attribute("value")) for i in range(3)]
    for i in range(3):
        picks.nth(i).check()
    assert page.locator(".bulk-count").inner_text() == "3 selected"
    page.get_by_test_id("bulk-action").select_option("assign")
    page.get_by_test_id("bulk-owner").select_option(label="mei")
    page.locator("#bulk-form input[name=_reason]").fill("territory change")
    page.get_by_test_id("bulk-apply").click()
    summary = page.get_by_test_id("bulk-summary")
    assert summary.locator("[role=status]").inner_text() == "3 records changed, 0 refused."
    for record_id in ids:
        assert live_server.api.get(f"/api/records/company/{record_id}").get_json()["owner_id"] == mei.id
    # Ticking the page offers every record matching the filter.
    page.goto(f"{live_server.url}/app/company?sort=id")
    page.locator("input[data-select-page]").check()
    assert page.get_by_test_id("select-matching").is_visible()
    screenshot(page, "bulk_bar_desktop")

    # A phone, in Chinese: mei finds her own contact record only, and nothing sticks out.
    phone = sign_in("mei", "mei-password-1", locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app")
    phone.get_by_test_id("global-search").fill(live_server.api.get(f"/api/records/company/{ids[0]}").get_json()["name"])
    phone.get_by_test_id("global-search").press("Enter")
    phone.wait_for_url(re.compile(r"/app/_search\?q="))
    assert phone.locator('section.search-group[data-entity="company"] li').count() >= 1
    assert _widest(phone) <= 375
    screenshot(phone, "search_phone_zh")
    phone.goto(f"{live_server.url}/app/company")
    assert phone.locator("input[data-pick]").count() >= 3
    assert _widest(phone) <= 375, _widest(phone)
    screenshot(phone, "list_bulk_phone_zh")

    # Still on the phone: mei e-mails two of her contacts; the one without an address is named.
    for name, address in (("钱多多", "qian@example.com"), ("孙小美", None)):
        assert "id" in live_server.api.post("/api/records/contact", json={
            "name": name, "company": company["id"], "decision_role": "user", "email": address,
            "owner_id": mei.id}).get_json()
    phone.goto(f"{live_server.url}/app/contact?view=all&sort=-id")
    picks = phone.locator("input[data-pick]")
    picks.nth(0).check()
    picks.nth(1).check()
    phone.get_by_test_id("bulk-action").select_option("email")
    assert "姓名 → {name}" in phone.get_by_test_id("bulk-email-hint").inner_text()
    phone.get_by_test_id("bulk-email-subject").fill("{name}，新品发布会邀请")
    phone.get_by_test_id("bulk-email-body").fill("您好 {name}，诚邀您参加下周的发布会。")
    assert _widest(phone) <= 375, _widest(phone)
    screenshot(phone, "bulk_email_phone_zh")
    phone.get_by_test_id("bulk-apply").click()
    summary = phone.get_by_test_id("bulk-summary")
    assert summary.locator("[role=status]").inner_text() == "已将 1 封邮件加入发送队列，1 条记录被拒绝。"
    assert "孙小美" in summary.inner_text() and "为空，未发送邮件" in summary.inner_text()
    assert _widest(phone) <= 375, _widest(phone)
