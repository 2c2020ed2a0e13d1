"""Find duplicates and merge in Chromium on a phone, in Chinese: two spellings of one B2B company, the
duplicate with a contact and an opportunity, merged into the other from the *Find duplicates* page."""
from __future__ import annotations

import re

from crm_platform.bundles import importer, templates

from .conftest import ADMIN_NAME, ADMIN_PASSWORD


def test_a_duplicate_company_is_merged_on_a_phone_in_chinese(live_server, sign_in, screenshot):
    importer.run(live_server.platform, templates.load("b2b"), actor="test")
    api = live_server.api
    keep = api.post("/api/records/company", json={"name": "星辰科技有限公司", "industry": "it", "size": "xl",
                                                  "contact_phone": "021-6552 1234"}).get_json()
    dup = api.post("/api/records/company", json={"name": "星辰科技", "industry": "it", "size": "l",
                                                 "contact_phone": "+86 21 65521234"}).get_json()
    contact = api.post("/api/records/contact", json={"name": "张三", "company": dup["id"],
                                                     "decision_role": "purchaser"})
    assert contact.status_code == 201, contact.get_json()
    phone = sign_in(ADMIN_NAME, ADMIN_PASSWORD, locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app/company?sort=name")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    # the list as a download: the Export disclosure offers CSV and Excel
    phone.locator("details.export summary").click()
    screenshot(phone, "list_export_phone_zh")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    with phone.expect_download() as download:
        phone.get_by_role("link", name="CSV").click()
    data = open(download.value.path(), "rb").read().decode("utf-8")
    assert data.startswith("\ufeff公司名称,")
    assert data.splitlines()[1].startswith("星辰科技,")  # sorted by name, as the list
    phone.get_by_role("link", name="查找重复").click()
    phone.wait_for_url(re.compile(r"/app/company/duplicates"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    group = phone.locator("section.duplicate-group[data-field=name]")
    assert "名称相同：星辰科技" in group.locator("h2").inner_text()
    sizes = group.locator("fieldset[data-choice=size]")
    assert "200-999人" in sizes.inner_text() and "1000人以上" in sizes.inner_text()
    sizes.get_by_label(re.compile("200-999人")).check()
    group.get_by_label(re.compile("变更原因")).fill("重复录入")
    screenshot(phone, "duplicates_merge_phone_zh")
    group.get_by_role("button", name="合并").click()
    phone.wait_for_url(re.compile(rf"/app/company/{keep['id']}$"))
    assert "已将 2 条记录合并到“星辰科技有限公司”。" == phone.locator("[role=status]").inner_text()
    screenshot(phone, "duplicates_merged_record_phone_zh")
    survivor = api.get(f"/api/records/company/{keep['id']}").get_json()
    assert survivor["size"] == "l"
    assert api.get(f"/api/records/contact/{contact.get_json()['id']}").get_json()["company"] == keep["id"]
    assert api.get(f"/api/records/company/{dup['id']}").status_code == 404  # in the recycle bin
    history = api.get(f"/api/records/company/{dup['id']}/history").get_json()["items"]
    assert history[0]["reason"] == f"merged into company #{keep['id']}: 重复录入"
