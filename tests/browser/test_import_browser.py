"""The import page in Chromium, on a phone in Chinese: the B2B sample list (saved as .xlsx) is uploaded,
the two columns the guess could not place are mapped by hand, the import runs in the background, and
the sheet of refused rows is downloaded with what was wrong in each."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl

from crm_platform.bundles import importer, templates

from .conftest import ADMIN_NAME, ADMIN_PASSWORD

SAMPLE = Path(__file__).resolve().parents[2] / "templates_library" / "b2b" / "sample_import.csv"


def test_a_sales_lead_imports_the_customer_list_on_a_phone_in_chinese(live_server, sign_in, screenshot, tmp_path):
    importer.run(live_server.platform, templates.load("b2b"), actor="test")
    book = openpyxl.Workbook()
    for row in csv.reader(io.StringIO(SAMPLE.read_text(encoding="utf-8-sig"))):
        book.active.append(row)
    upload = tmp_path / "客户名单.xlsx"
    book.save(upload)

    phone = sign_in(ADMIN_NAME, ADMIN_PASSWORD, locale="zh-CN", viewport={"width": 375, "height": 740},
                    is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/app/company")
    phone.get_by_role("link", name="导入", exact=True).click()
    phone.get_by_label("CSV 或 Excel 文件").set_input_files(str(upload))
    phone.get_by_role("button", name="下一步：匹配字段").click()
    phone.wait_for_url(re.compile(r"/app/company/import/\d+$"))

    column = lambda header: phone.locator(f"select[data-column='{header}']")  # noqa: E731
    # guessed by label: 公司名称 → 公司名称; not guessed: 手机, 电子邮件
    assert column("公司名称").input_value() == "name"
    assert column("手机").input_value() == ""
    column("手机").select_option("contact_phone")
    column("电子邮件").select_option("contact_email")
    phone.get_by_role("button", name="刷新预览").click()
    bad = phone.locator("td.bad")
    assert bad.count() >= 4  # 暂无, 12万, 航天, 大型 (and 钱多多's missing name on its row)
    assert "格式不正确" in phone.locator("td.bad", has_text="暂无").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # the preview scrolls inside its box
    screenshot(phone, "import_mapping_phone_zh")

    phone.locator("input[name=match][value=contact_phone]").check()
    phone.get_by_role("button", name="开始导入").click()
    phone.locator("[data-count=created]").wait_for(timeout=30_000)
    counts = {k: phone.locator(f"[data-count={k}]").inner_text() for k in ("created", "updated", "skipped", "refused")}
    assert counts == {"created": "6", "updated": "0", "skipped": "1", "refused": "4"}
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone, "import_report_phone_zh")

    with phone.expect_download() as got:
        phone.get_by_role("link", name="下载被拒绝的行（Excel）").click()
    assert got.value.suggested_filename == "客户名单-refused.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(Path(got.value.path()).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-2:] == ("原文件行号", "问题") and rows[0][0] == "公司名称"
    assert [r[-2] for r in rows[1:]] == [8, 9, 11, 12]
    assert "手机" in rows[1][-1] and rows[1][0] == "星河零售连锁"

    names = {r["name"] for r in live_server.api.get("/api/records/company?per_page=50").get_json()["items"]}
    assert "华东精密制造有限公司" in names and len(names) == 6
