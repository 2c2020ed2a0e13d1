"""Export of a list view: GET /api/records/<entity>/export and the screens' Export button."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from test_screens import Pages

KIND = {"key": "kind", "label": {"en": "Kind", "zh": "类型"},
        "tags": [{"key": "vip", "label": {"en": "VIP", "zh": "贵宾"}},
                 {"key": "school", "label": {"en": "School", "zh": "学校"}}]}
COMPANY = {
    "key": "company", "label": {"en": "Company", "zh": "公司"}, "plural_label": {"en": "Companies", "zh": "公司"},
    "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
        {"key": "size", "type": "select", "label": {"en": "Size", "zh": "规模"},
         "choices": [{"key": "small", "label": {"en": "Small", "zh": "小型"}},
                     {"key": "large", "label": {"en": "Large", "zh": "大型"}}]},
        {"key": "active", "type": "boolean", "label": {"en": "Active", "zh": "活跃"}},
        {"key": "since", "type": "datetime", "label": {"en": "Customer since", "zh": "成为客户时间"}},
        {"key": "revenue", "type": "decimal", "scale": 2, "label": {"en": "Revenue", "zh": "营收"}},
        {"key": "kinds", "type": "tags", "taxonomy": "kind", "label": {"en": "Kinds", "zh": "类别"}},
        {"key": "secret", "type": "text", "label": {"en": "Secret", "zh": "机密"}},
    ],
}
CONTACT = {
    "key": "contact", "label": {"en": "Contact", "zh": "联系人"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True},
        {"key": "company", "type": "reference", "target": "company", "label": {"en": "Company", "zh": "公司"}},
        {"key": "phone", "type": "phone", "label": {"en": "Phone", "zh": "电话"}},
    ],
}
ROLES = [
    {"key": "sales", "label": "Sales",
     "entities": {"company": {"read": "own", "create": "own", "fields": {"secret": {"read": False}}},
                  "contact": {"read": "own", "create": "own"}}},
]


@pytest.fixture
def crm(app, client):
    assert client.post("/api/meta/taxonomies", json=KIND).status_code == 201
    for doc in (COMPANY, CONTACT):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    for role in ROLES:
        assert client.post("/api/meta/roles", json=role).status_code == 201
    return client


def add(client, entity, **values):
    r = client.post(f"/api/records/{entity}", json=values)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def rows_of(response):
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff"), "a BOM, so that Excel reads UTF-8"
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_has_labels_in_the_reader_language_and_values_as_screens_show_them(crm):
    acme = add(crm, "company", name="星辰科技", size="large", active=True, since="2025-03-01T01:30:00Z",
               revenue="1234.50", kinds=["vip", "school"], secret="x")
    add(crm, "company", name="Acme", size="small", active=False)
    add(crm, "contact", name="张三", company=acme, phone="+86 138 0013 8000")
    r = crm.get("/api/records/company/export?format=csv&sort=name&tz=Asia/Shanghai",
                headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert r.status_code == 200
    assert r.mimetype == "text/csv" and r.mimetype_params["charset"] == "utf-8"
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not twice
    assert "attachment" in r.headers["Content-Disposition"]
    rows = rows_of(r)
    assert rows[0] == ["名称", "规模", "活跃", "成为客户时间", "营收", "类别", "机密"]
    assert rows[1] == ["Acme", "小型", "否", "", "", "", ""]
    assert rows[2] == ["星辰科技", "大型", "是", "2025-03-01 09:30:00", "1,234.50", "贵宾, 学校", "x"]
    r = crm.get("/api/records/contact/export", headers={"Accept-Language": "en"})
    assert rows_of(r) == [["Name", "Company", "Phone"], ["张三", "星辰科技", "+86 138 0013 8000"]]


def test_export_takes_the_list_filters_search_sort_and_columns(crm):
    for n in range(5):
        add(crm, "company", name=f"C{n}", size="large" if n % 2 else "small")
    r = crm.get("/api/records/company/export?filter[size]=small&sort=-name&columns=id,name,size")
    rows = rows_of(r)
    assert rows[0] == ["ID", "Name", "Size"]
    assert [row[1:] for row in rows[1:]] == [["C4", "Small"], ["C2", "Small"], ["C0", "Small"]]
    r = crm.get("/api/records/company/export?q=C3&columns=name")
    assert rows_of(r) == [["Name"], ["C3"]]


def test_a_reader_gets_only_their_records_and_never_a_hidden_field(app, crm):
    users = app.extensions["crm"].users
    alice = users.create("alice", "alice-password", roles=["sales"])
    token = users.issue_token(alice)
    as_alice = {"Authorization": f"Bearer {token}"}
    add(crm, "company", name="Not hers", secret="s1")
    r = crm.post("/api/records/company", json={"name": "Hers", "secret": "s2"}, headers=as_alice)
    assert r.status_code == 403  # alice may not write secret
    assert crm.post("/api/records/company", json={"name": "Hers"}, headers=as_alice).status_code == 201
    r = crm.get("/api/records/company/export?columns=name,secret", headers=as_alice)
    assert rows_of(r) == [["Name"], ["Hers"]]
    r = crm.get("/api/records/company/export", headers=as_alice)
    assert "Secret" not in rows_of(r)[0] and len(rows_of(r)) == 2
    r = crm.get("/api/records/company/export?sort=secret", headers=as_alice)
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "secret"


def test_references_to_records_the_reader_may_not_read_show_only_their_id(app, crm):
    users = app.extensions["crm"].users
    alice = users.create("alice", "alice-password", roles=["sales"])
    as_alice = {"Authorization": f"Bearer {users.issue_token(alice)}"}
    other = add(crm, "company", name="Someone else's")
    mine = crm.post("/api/records/contact", json={"name": "Li", "company": other}, headers=as_alice)
    assert mine.status_code == 422  # she may not link it herself
    cid = add(crm, "contact", name="Li", company=other)
    crm.patch(f"/api/records/contact/{cid}", json={"owner_id": alice.id})
    r = crm.get("/api/records/contact/export", headers=as_alice)
    assert rows_of(r)[1] == ["Li", f"#{other}", ""]


def test_formulas_are_defused_and_phone_numbers_are_not(crm):
    add(crm, "contact", name="=HYPERLINK(\"http://x\")", phone="+86 138 0013 8000")
    add(crm, "contact", name="@SUM(A1)")
    add(crm, "contact", name="-2+3")
    add(crm, "contact", name="-5")
    rows = rows_of(crm.get("/api/records/contact/export?sort=id"))
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "", "+86 138 0013 8000"]
    assert [r[0] for r in rows[2:]] == ["'@SUM(A1)", "'-2+3", "-5"]


def test_xlsx_holds_the_same_cells(crm):
    add(crm, "company", name="星辰科技", size="large", kinds=["vip"])
    add(crm, "company", name="=1+1")
    r = crm.get("/api/records/company/export?format=xlsx&sort=name&columns=name,size,kinds",
                headers={"Accept-Language": "zh"})
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(r.get_data())).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values == [["名称", "规模", "类别"], ["=1+1", None, None], ["星辰科技", "大型", "贵宾"]]
    assert sheet["A2"].data_type == "s"  # text, not a formula


@pytest.mark.parametrize("query, field", [
    ("format=pdf", "format"), ("columns=nope", "columns"), ("tz=Mars/Base", "tz"),
    ("filter[size]=huge", "filter[size]"), ("sort=nope", "sort"),
])
def test_a_bad_export_request_is_400_naming_the_parameter(crm, query, field):
    r = crm.get(f"/api/records/company/export?{query}")
    assert r.status_code == 400, r.get_data()
    assert r.get_json()["errors"][0]["field"] == field


def test_export_needs_a_token_and_an_existing_entity(crm):
    assert crm.get("/api/records/company/export", headers={"Authorization": None}).status_code == 401
    assert crm.get("/api/records/nothing/export").status_code == 404


def test_the_list_screen_exports_what_it_shows(app, crm):
    add(crm, "company", name="B", size="small")
    add(crm, "company", name="A", size="large")
    web = Pages(app)
    page = web.get("/app/company?sort=name&columns=name,size")
    html = page.get_data(as_text=True)
    assert "/app/company/export?" in html and "format=xlsx" in html
    r = web.get("/app/company/export?format=csv&sort=name&columns=name,size", headers={"Accept-Language": "zh"})
    assert r.status_code == 200
    assert rows_of(r) == [["名称", "规模"], ["A", "大型"], ["B", "小型"]]
    r = web.get("/app/company/export?format=csv")  # no columns chosen: the list's default columns
    assert rows_of(r)[0] == ["Name", "Size", "Active", "Customer since", "Revenue", "Kinds"]


def test_crm_serve_can_give_a_long_export_more_than_gunicorns_30_seconds():
    from click.testing import CliRunner
    from gunicorn.config import Config

    from crm_platform.cli import gunicorn_options, main
    config = Config()
    for name, value in gunicorn_options("127.0.0.1", 5151, 2, 600).items():
        config.set(name, value)
    assert config.timeout == 600
    assert gunicorn_options("127.0.0.1", 5151, 2)["timeout"] == 30
    assert "--timeout" in CliRunner().invoke(main, ["serve", "--help"]).output
