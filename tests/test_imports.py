"""Importing CSV and XLSX files into an entity: the B2B template's sample file (Chinese headers, messy
phones), encodings, mapping, de-duplication, refusals row by row, and files refused as a whole."""
from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from crm_platform.tables import audit_log, import_mappings

SAMPLE = Path(__file__).resolve().parents[1] / "templates_library" / "b2b" / "sample_import.csv"
#: The two columns the guess cannot place: 手机 (the field is 联系电话) and 电子邮件 (联系邮箱).
FIXES = {"手机": "contact_phone", "电子邮件": "contact_email"}


@pytest.fixture
def b2b(client):
    r = client.post("/api/bundle/templates/b2b/install")
    assert r.status_code == 200, r.get_json()


def sample_rows() -> list[list[str]]:
    import csv
    return list(csv.reader(io.StringIO(SAMPLE.read_text(encoding="utf-8-sig"))))


def xlsx_of(rows, *, title="客户名单") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def post(client, entity, data: bytes, name: str, **fields):
    form = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v) for k, v in fields.items()}
    form["file"] = (io.BytesIO(data), name)
    return client.post(f"/api/records/{entity}/import", data=form, content_type="multipart/form-data")


def companies(platform) -> dict[str, dict]:
    from crm_platform.runtime.query import ListQuery
    items = platform.records.list("company", ListQuery(per_page=500, count_limit=None))["items"]
    return {r["name"]: r for r in items}


def test_the_b2b_sample_file_imports_with_its_two_columns_mapped_by_hand(client, platform, b2b):
    r = post(client, "company", SAMPLE.read_bytes(), "客户名单.csv", mapping=FIXES, match="contact_phone")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    refused = {(e["row"], e["column"]) for e in body["refused"]}
    # 星河: phone "暂无" and spend "12万"; 蓝天: industry 航天; 钱多多: no company name; 恒通: size 大型
    assert refused == {(8, "手机"), (8, "年度消费额"), (9, "所属行业"), (11, "公司名称"), (12, "公司规模")}, body["refused"]
    assert body["created"] == 6 and body["updated"] == 0
    assert body["skipped"] == 1 and body["skipped_rows"] == [{"row": 7, "message": "repeats row 3"}]
    stored = companies(platform)
    assert set(stored) == {"华东精密制造有限公司", "云帆信息技术有限公司", "鼎盛物流集团", "安康医疗科技",
                           "恒信金融服务有限公司", "博学教育科技"}
    hd = stored["华东精密制造有限公司"]
    assert (hd["industry"], hd["size"], hd["source"], hd["customer_type"]) == ("manufacturing", "l", "exhibition", "intended")
    assert hd["pain_points"] == ["budget_tight", "needs_custom"] and str(hd["annual_spend"]) in ("1200000", "1200000.00")
    assert hd["contact_phone"] == "138 0013 8000" and hd["contact_email"] == "wang.jg@hdjm.example.cn"
    assert stored["安康医疗科技"]["contact_phone"] == "136-0013-6000"  # full-width digits and dashes folded
    bx = stored["博学教育科技"]  # English labels are as good as Chinese ones
    assert (bx["source"], bx["customer_type"], bx["pain_points"]) == ("website", "potential", ["needs_custom"])
    message = next(e["message"] for e in body["refused"] if e["column"] == "所属行业")
    assert "manufacturing" in message and next(e["value"] for e in body["refused"] if e["column"] == "所属行业") == "航天"
    with platform.engine.connect() as conn:
        reasons = conn.execute(sa.select(audit_log.c.reason).where(audit_log.c.entity == "company")).scalars().all()
        saved = conn.execute(sa.select(import_mappings.c.mapping)).scalar_one()
    assert reasons == ["import 客户名单.csv"] * 6
    assert json.loads(saved)["手机"] == "contact_phone"


def test_the_mapping_is_remembered_and_a_second_run_matches_on_phone(client, platform, b2b):
    first = post(client, "company", SAMPLE.read_bytes(), "客户名单.csv", mapping=FIXES, match="contact_phone")
    assert first.get_json()["created"] == 6
    rows = sample_rows()
    rows[2][8] = "360000"  # 云帆's spend changed; its phone written another way this month
    rows[2][6] = "13912345678"
    again = [rows[0], rows[2], rows[3]]
    data = xlsx_of(again)
    skipped = post(client, "company", data, "客户名单.xlsx", match="contact_phone").get_json()
    assert (skipped["created"], skipped["updated"], skipped["skipped"], skipped["refused"]) == (0, 0, 2, [])
    updated = post(client, "company", data, "客户名单.xlsx", match="contact_phone", on_match="update").get_json()
    assert (updated["created"], updated["updated"], updated["skipped"]) == (0, 2, 0), updated
    assert str(companies(platform)["云帆信息技术有限公司"]["annual_spend"]).startswith("360000")
    assert updated["mapping"]["手机"] == "contact_phone"  # remembered from the first run


def test_gb18030_and_bom_and_semicolons_read_alike(client, platform, b2b):
    import csv
    text = SAMPLE.read_text(encoding="utf-8-sig")
    semi = io.StringIO()
    csv.writer(semi, delimiter=";").writerows(sample_rows())
    tabs = io.StringIO()
    csv.writer(tabs, delimiter="\t").writerows(sample_rows())
    for data, name in ((text.encode("gb18030"), "gb.csv"), (text.encode("utf-8"), "plain.csv"),
                       (semi.getvalue().encode("utf-8-sig"), "semi.csv"), (tabs.getvalue().encode("gb18030"), "tabs.txt")):
        r = post(client, "company", data, name, mapping=FIXES, match="contact_phone", dry_run="1")
        body = r.get_json()
        assert r.status_code == 200 and (body["created"], body["skipped"], len(body["refused"])) == (6, 1, 5), (name, body)
    assert companies(platform) == {}  # dry runs write nothing


def test_all_or_nothing_writes_nothing_when_a_row_is_refused(client, platform, b2b):
    body = post(client, "company", SAMPLE.read_bytes(), "客户名单.csv", mapping=FIXES, all_or_nothing="1").get_json()
    assert body["applied"] is False and body["created"] == 0 and body["refused"]
    assert companies(platform) == {}


def test_dates_booleans_references_and_stages_by_their_labels(client, platform, b2b):
    post(client, "company", xlsx_of([["公司名称", "所属行业", "公司规模"], ["华东精密", "制造业", "1-49人"]]), "c.xlsx")
    import datetime as dt
    rows = [["商机名称", "公司", "销售阶段", "预计签约日期", "金额"],
            ["一期项目", "华东精密", "初步接触", "2025年3月5日", 120000],
            ["二期项目", "华东精密", "First contact", dt.datetime(2025, 4, 1), "80,000.50"],
            ["三期项目", "不存在的公司", "初步接触", "2025/5/6", 1],
            ["四期项目", "华东精密", "签约了", "2025-13-01", 1]]
    body = post(client, "opportunity", xlsx_of(rows), "o.xlsx").get_json()
    assert body["created"] == 2, body
    problems = {(e["row"], e["column"]) for e in body["refused"]}
    assert problems == {(4, "公司"), (5, "销售阶段"), (5, "预计签约日期")}
    from crm_platform.runtime.query import ListQuery
    items = {r["name"]: r for r in platform.records.list("opportunity", ListQuery(per_page=50))["items"]}
    assert items["一期项目"]["expected_close_on"] == "2025-03-05" and items["二期项目"]["expected_close_on"] == "2025-04-01"
    assert items["一期项目"]["stage"] == "first_contact" and items["二期项目"]["company"] == items["一期项目"]["company"]
    contacts = [["姓名", "所属公司", "决策链角色", "高优先级"], ["王建国", "华东精密", "审批人", "是"], ["李四", "华东精密", "审批人", "否"]]
    body = post(client, "contact", xlsx_of(contacts), "p.xlsx").get_json()
    assert body["created"] == 2 and body["refused"] == [], body


@pytest.mark.parametrize("data, name, code, status", [
    (b"", "empty.csv", "empty", 400),
    (b"\n\n  \n", "blank.csv", "empty", 400),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "logo.png", "format", 400),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "format", 400),
    (b"PK\x03\x04garbage", "broken.xlsx", "format", 400),
])
def test_files_that_are_not_tables_are_refused_with_a_reason(client, platform, b2b, data, name, code, status):
    r = post(client, "company", data, name)
    assert r.status_code == status and r.get_json()["errors"][0]["code"] == code, r.get_json()
    assert r.get_json()["errors"][0]["field"] == "file"


def test_sheets_the_import_cannot_trust_are_refused_before_anything_is_written(client, platform, b2b):
    ok = [["公司名称", "所属行业", "公司规模"], ["甲公司", "制造业", "1-49人"], ["乙公司", "制造业", "1-49人"]]
    book = openpyxl.Workbook()
    for row in ok:
        book.active.append(row)
    book.active["A3"] = "=A2&\"2\""
    formula = io.BytesIO()
    book.save(formula)
    r = post(client, "company", formula.getvalue(), "f.xlsx")
    assert r.status_code == 400 and r.get_json()["errors"][0]["code"] == "formula" and "A3" in r.get_json()["errors"][0]["message"]
    book = openpyxl.Workbook()
    for row in ok:
        book.active.append(row)
    book.active.merge_cells("B2:B3")
    merged = io.BytesIO()
    book.save(merged)
    r = post(client, "company", merged.getvalue(), "m.xlsx")
    assert r.status_code == 400 and r.get_json()["errors"][0]["code"] == "merged" and "B2" in r.get_json()["errors"][0]["message"]
    wide = [[f"列{n}" for n in range(300)], ["x"] * 300]
    r = post(client, "company", xlsx_of(wide), "w.xlsx")
    assert r.status_code == 400 and "300 columns" in r.get_json()["errors"][0]["message"]
    r = post(client, "company", xlsx_of([["甲公司", 13800138000, 1.5], ["乙公司", 13900139000, 2.5]]), "noheader.xlsx")
    assert r.status_code == 400 and r.get_json()["errors"][0]["code"] == "header", r.get_json()
    r = post(client, "company", xlsx_of([["Foo", "Bar"], ["1", "2"]]), "nothing.xlsx")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "mapping" and "公司名称" in r.get_json()["errors"][0]["message"]
    r = post(client, "company", xlsx_of(ok), "s.xlsx", sheet="Sheet9")
    assert r.status_code == 400 and r.get_json()["errors"][0]["code"] == "sheet"
    assert companies(platform) == {}


def test_a_file_over_the_limit_is_413_and_bad_options_are_422(app, client, platform, b2b):
    app.config["CRM_IMPORT_MAX_BYTES"] = 1000
    r = post(client, "company", b"a," * 1000, "big.csv")
    assert r.status_code == 413 and r.get_json()["errors"][0]["field"] == "file"
    app.config["CRM_IMPORT_MAX_BYTES"] = 50 * 1024 * 1024
    r = post(client, "company", SAMPLE.read_bytes(), "x.csv", on_match="merge")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "on_match"
    r = post(client, "company", SAMPLE.read_bytes(), "x.csv", mapping={"手机": "no_such_field"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "mapping.手机"
    r = post(client, "company", SAMPLE.read_bytes(), "x.csv", match="contact_phone")  # 手机 is not mapped
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "match"
    r = client.post("/api/records/company/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "file"
    assert post(client, "nothing_here", SAMPLE.read_bytes(), "x.csv").status_code == 404
    assert companies(platform) == {}


def test_a_large_file_runs_in_the_background_and_the_poll_ends_with_the_report(app, client, platform, b2b):
    app.config["CRM_IMPORT_SYNC_BYTES"] = 10
    r = post(client, "company", SAMPLE.read_bytes(), "客户名单.csv", mapping=FIXES, match="contact_phone")
    assert r.status_code == 202 and r.headers["Location"].startswith("/api/imports/")
    import time
    for _ in range(200):
        polled = client.get(r.headers["Location"])
        if polled.status_code != 202:
            break
        time.sleep(0.05)
    body = polled.get_json()
    assert polled.status_code == 200 and body["status"] == "done", body
    assert (body["created"], body["updated"], body["skipped"], len(body["refused"])) == (6, 0, 1, 5)
    assert body["processed"] == body["total"] == 11


def test_a_salesperson_imports_as_themself(client, platform, b2b):
    platform.users.create("seller", "seller-password", roles=["sales"])
    token = platform.users.issue_token(platform.users.get_by_name("seller"))
    data = xlsx_of([["公司名称", "所属行业", "公司规模"], ["甲公司", "制造业", "1-49人"]])
    r = client.post("/api/records/company/import", data={"file": (io.BytesIO(data), "a.xlsx")},
                    content_type="multipart/form-data", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json()["created"] == 1, r.get_json()
    seller = platform.users.get_by_name("seller")
    assert companies(platform)["甲公司"]["owner_id"] == seller.id


@pytest.mark.parametrize("template, entity, mapping, created, refused_rows", [
    ("ecommerce", "customer", {"手机号": "phone"}, 3, {6}),
    ("education", "student", {}, 3, {5}),
])
def test_each_template_ships_a_sample_import_file_that_imports(client, platform, template, entity, mapping, created,
                                                                refused_rows):
    assert client.post(f"/api/bundle/templates/{template}/install").status_code == 200
    sample = SAMPLE.parents[1] / template / "sample_import.csv"
    body = post(client, entity, sample.read_bytes(), sample.name, mapping=mapping,
                match="phone").get_json()
    assert body["created"] == created and {e["row"] for e in body["refused"]} == refused_rows, body
    assert body["skipped"] == (1 if template == "ecommerce" else 0)  # 林晓 twice, the phone written two ways


def test_the_command_imports_with_a_mapping_file_and_writes_the_error_sheet(app, client, platform, b2b, database_url,
                                                                           tmp_path):
    from click.testing import CliRunner

    from crm_platform.cli import main
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(FIXES, ensure_ascii=False), encoding="utf-8")
    errors = tmp_path / "refused.xlsx"
    env = {"DATABASE_URL": database_url, "SECRET_KEY": "test"}
    runner = CliRunner()
    dry = runner.invoke(main, ["records", "import", "company", str(SAMPLE), "--mapping", str(mapping),
                               "--match", "contact_phone", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "6 would be created, 0 would be updated, 1 skipped, 4 rows refused" in dry.output
    assert companies(platform) == {}
    done = runner.invoke(main, ["records", "import", "company", str(SAMPLE), "--mapping", str(mapping),
                                "--match", "contact_phone", "--errors", str(errors), "--as", "admin"], env=env)
    assert done.exit_code == 0 and "6 created" in done.output, done.output
    assert "row 9 所属行业: must be one of" in done.output
    rows = list(openpyxl.load_workbook(errors).active.iter_rows(values_only=True))
    assert [r[-2] for r in rows[1:]] == [8, 9, 11, 12]
    admin = platform.users.get_by_name("admin")
    assert {c["owner_id"] for c in companies(platform).values()} == {admin.id}
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    bad = runner.invoke(main, ["records", "import", "company", str(logo)], env=env)
    assert bad.exit_code == 1 and "error: file: logo.png is neither a CSV file" in bad.output, bad.output


def test_a_row_refused_for_a_bad_cell_also_names_its_empty_required_field(client):
    """One pass over the refused sheet fixes the row: both of its problems are reported at once."""
    assert client.post("/api/meta/entities", json={
        "key": "lead", "label": "Lead", "title_field": "name",
        "fields": [{"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True},
                   {"key": "budget", "type": "decimal", "scale": 2, "label": "Budget"}]}).status_code == 201
    csv = "姓名,Budget\n王丽,12.5\n,lots\n".encode("utf-8-sig")
    r = client.post("/api/records/lead/import", data={"file": (io.BytesIO(csv), "leads.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    body = r.get_json()
    assert body["created"] == 1
    assert sorted((e["row"], e["column"], e["code"]) for e in body["refused"]) == [(3, "Budget", "type"),
                                                                                   (3, "姓名", "required")]
