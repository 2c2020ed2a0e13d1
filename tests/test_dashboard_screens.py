"""The home page's dashboard, "my work", and the report builder in /app, over HTTP on both databases.

Oracles: the records the test itself writes (who owns what, which amounts), and the list screen's
own total for each cell's link.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest

from test_screens import Pages, text

DEAL = {"key": "deal", "label": {"en": "Deal", "zh": "商机"}, "plural_label": {"en": "Deals", "zh": "商机"},
        "title_field": "name",
        "fields": [{"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
                   {"key": "source", "type": "select", "label": {"en": "Source", "zh": "来源"},
                    "choices": [{"key": "referral", "label": {"en": "Referral", "zh": "转介绍"}},
                                {"key": "web", "label": {"en": "Website", "zh": "官网"}}]},
                   {"key": "amount", "type": "decimal", "label": {"en": "Amount", "zh": "金额"}, "scale": 2},
                   {"key": "closes_on", "type": "date", "label": {"en": "Closes on", "zh": "成交日期"}}]}
TODO = {"key": "todo", "label": {"en": "To-do", "zh": "待办"}, "plural_label": {"en": "To-dos", "zh": "待办"},
        "title_field": "title",
        "fields": [{"key": "title", "type": "text", "label": "Title", "required": True},
                   {"key": "due_on", "type": "date", "label": {"en": "Due", "zh": "截止日期"}},
                   {"key": "status", "type": "select", "label": "Status",
                    "choices": [{"key": "open", "label": "Open"}, {"key": "done", "label": "Done"}]}],
        "reminders": [{"field": "due_on", "exclude": {"field": "status", "values": ["done"]}}]}
MINE = {"create": "own", "read": "own", "update": "own"}


@pytest.fixture
def crm(app, client, platform):
    """Deals and to-dos; a manager (who may build reports) and two salespeople; a dashboard."""
    for doc in (DEAL, TODO):
        assert client.post("/api/meta/entities", json=doc).status_code == 201
    roles = [{"key": "manager", "label": "Manager", "reports": {"create": True},
              "entities": {"*": {"create": "all", "read": "all", "update": "all", "delete": "all"}}},
             {"key": "sales", "label": "Sales", "entities": {"deal": MINE, "todo": MINE}}]
    for role in roles:
        assert client.post("/api/meta/roles", json=role).status_code == 201, role
    users = {name: platform.users.create(name, "password-1234", roles=[role])
             for name, role in (("mei", "manager"), ("li", "sales"), ("wang", "sales"))}
    deals = [("li", "A", "referral", "100.50"), ("li", "B", "web", "200.00"), ("wang", "C", "referral", "1000.00"),
             ("wang", "D", "referral", "7.25"), ("mei", "E", None, "1.00")]
    for owner, name, source, amount in deals:
        r = client.post("/api/records/deal", json={"name": name, "source": source, "amount": amount,
                                                    "owner_id": users[owner].id})
        assert r.status_code == 201, r.get_json()
    reports = [{"key": "by_source", "label": {"en": "Deals by source", "zh": "按来源"}, "entity": "deal",
                "group_by": ["source"], "measures": ["count", "sum:amount"], "chart": "bar"},
               {"key": "total", "label": {"en": "Total amount", "zh": "总金额"}, "entity": "deal",
                "measures": ["sum:amount"], "chart": "number"}]
    for doc in reports:
        assert client.post("/api/meta/reports", json=doc).status_code == 201, doc
    board = {"key": "main", "label": {"en": "Sales desk", "zh": "销售看板"}, "roles": ["manager", "sales"],
             "widgets": [{"number": "total", "width": 3}, {"report": "by_source", "width": 9}]}
    assert client.post("/api/meta/dashboards", json=board).status_code == 201
    return users


def _number(body: str) -> str:
    m = re.search(r'class="big-number"><a[^>]*>([^<]*)<', body)
    return m.group(1) if m else ""


def _rows(body: str, widget: str) -> dict[str, tuple[str, list[str]]]:
    """The widget's table: first cell text → (its link, the other cells)."""
    part = body.split(f'data-widget="{widget}"', 1)[1].split("</article>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", part, re.S):
        head = re.search(r'<th scope="row">(?:<a href="([^"]*)">)?([^<]*)', row)
        if head:
            out[head.group(2).strip()] = (head.group(1).replace("&amp;", "&") if head.group(1) else None,
                                          [c.strip() for c in re.findall(r'<td class="num">([^<]*)</td>', row)])
    return out


def test_the_manager_lands_on_her_dashboard_with_every_figure_and_the_entities(app, crm):
    r = Pages(app, "mei").get("/app")
    body = text(r)
    assert r.status_code == 200
    assert "<h1>Sales desk</h1>" in body
    assert _number(body) == "1,308.75"
    rows = _rows(body, "by_source")
    assert rows["Referral"][1] == ["3", "1,107.75"]
    assert rows["Website"][1] == ["1", "200.00"]
    assert rows["(empty)"][1] == ["1", "1.00"]
    assert 'href="/app/deal"' in body and 'href="/app/todo"' in body  # the entities stay reachable
    assert "vendor/echarts/echarts.min.js" in body


def test_a_salesperson_sees_the_same_dashboard_counting_only_his_records(app, crm):
    body = text(Pages(app, "li").get("/app"))
    assert _number(body) == "300.50"
    rows = _rows(body, "by_source")
    assert set(rows) == {"Referral", "Website"}
    assert rows["Referral"][1] == ["1", "100.50"]
    body = text(Pages(app, "wang").get("/app"))
    assert _number(body) == "1,007.25"
    assert _rows(body, "by_source")["Referral"][1] == ["2", "1,007.25"]


def test_a_cell_links_to_the_list_of_exactly_its_records(app, crm):
    pages = Pages(app, "mei")
    href, cells = _rows(text(pages.get("/app")), "by_source")["Referral"]
    assert href.startswith("/app/deal?")
    listed = pages.get(href)
    assert listed.status_code == 200
    assert re.search(r'data-total="(\d+)"', text(listed)).group(1) == cells[0] == "3"
    names = set(re.findall(r'<a href="/app/deal/\d+">([A-E])</a>', text(listed)))
    assert names == {"A", "C", "D"}
    # the salesperson's link counts only his own
    href, cells = _rows(text(Pages(app, "wang").get("/app")), "by_source")["Referral"]
    assert re.search(r'data-total="(\d+)"', text(Pages(app, "wang").get(href))).group(1) == "2"


def test_the_dashboard_speaks_chinese(app, crm):
    body = text(Pages(app, "mei").get("/app", headers={"Accept-Language": "zh-CN"}))
    assert "<h1>销售看板</h1>" in body
    rows = _rows(body, "by_source")
    assert set(rows) == {"转介绍", "官网", "（空）"}
    assert "数量" in body and "金额合计" in body and "全部数据" in body


def test_a_widget_whose_entity_the_user_may_not_read_is_left_out(app, client, platform, crm):
    assert client.post("/api/meta/roles", json={"key": "clerk", "label": "Clerk",
                                                 "entities": {"todo": MINE}}).status_code == 201
    assert client.patch("/api/meta/dashboards/main", json={"roles": ["manager", "sales", "clerk"]}).status_code == 200
    platform.users.create("zhao", "password-1234", roles=["clerk"])
    r = Pages(app, "zhao").get("/app")
    assert r.status_code == 200
    assert 'data-widget="by_source"' not in text(r) and "big-number" not in text(r)
    assert "<h1>Sales desk</h1>" in text(r)


def test_a_user_without_a_dashboard_still_gets_the_entities(app, client, platform, crm):
    assert client.post("/api/meta/roles", json={"key": "clerk", "label": "Clerk",
                                                 "entities": {"todo": MINE}}).status_code == 201
    platform.users.create("zhao", "password-1234", roles=["clerk"])
    body = text(Pages(app, "zhao").get("/app"))
    assert "No dashboard is assigned to your roles yet." in body
    assert 'href="/app/todo"' in body and 'href="/app/deal"' not in body


# ---- the report builder ------------------------------------------------------------------------------

BUILT = ("/app/_reports/new?entity=deal&group1=owner_id&group2=created_at:quarter&measure=sum:amount"
         "&chart=bar&filter[source]=referral")


def test_the_builder_previews_a_report_as_the_user_would_see_it(app, crm):
    r = Pages(app, "mei").get(BUILT)
    assert r.status_code == 200, text(r)[:2000]
    body = text(r)
    today = dt.datetime.now(dt.timezone.utc).date()
    quarter = f"{today.year} Q{(today.month - 1) // 3 + 1}"
    cells = re.findall(r'<th scope="row"><a href="[^"]*">([^<]*)</a></th>\s*<td>([^<]*)</td>\s*<td class="num">([^<]*)</td>', body)
    assert sorted(cells) == [("li", quarter, "100.50"), ("wang", quarter, "1,007.25")]
    assert 'data-chart' in body
    partial = Pages(app, "mei").get(BUILT + "&partial=1")
    assert partial.status_code == 200 and text(partial).lstrip().startswith('<div id="preview"')


def test_a_user_without_the_report_right_may_not_build(app, crm):
    r = Pages(app, "li").get(BUILT)
    assert r.status_code == 403
    assert "You may not do this." in text(r)
    assert "New report" not in text(Pages(app, "li").get("/app"))
    assert "New report" in text(Pages(app, "mei").get("/app"))


def test_a_builder_mistake_is_explained_not_a_server_error(app, crm):
    r = Pages(app, "mei").get("/app/_reports/new?entity=deal&group1=name:month&measure=count")
    assert r.status_code == 400
    assert "group_by" in text(r)
    r = Pages(app, "mei").get("/app/_reports/new?entity=nothing")
    assert r.status_code == 404


def test_saving_pinning_and_downloading_a_report(app, client, crm):
    pages = Pages(app, "mei")
    form = {"entity": "deal", "group1": "owner_id", "measure": "sum:amount", "chart": "bar",
            "filter[source]": "referral", "label": "Referral deals per owner"}
    missing = pages.post("/app/_reports/new", data={**form, "label": " "})
    assert missing.status_code == 400 and "Report name" in text(missing)
    assert client.get("/api/meta/reports/referral_deals_per_owner").status_code == 404
    saved = pages.post("/app/_reports/new", data=form)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/app/_reports/referral_deals_per_owner")
    doc = client.get("/api/meta/reports/referral_deals_per_owner").get_json()
    assert (doc["entity"], doc["group_by"], doc["measures"], doc["filters"]) == (
        "deal", ["owner_id"], ["sum:amount"], {"source": {"eq": "referral"}})
    page = pages.get("/app/_reports/referral_deals_per_owner")
    assert page.status_code == 200 and "Referral deals per owner" in text(page)
    pinned = pages.post("/app/_reports/referral_deals_per_owner/pin", data={"dashboard": "main"})
    assert pinned.status_code == 303
    widgets = client.get("/api/meta/dashboards/main").get_json()["widgets"]
    assert widgets[-1] == {"report": "referral_deals_per_owner", "width": 6}
    assert 'data-widget="referral_deals_per_owner"' in text(pages.get("/app"))
    again = pages.post("/app/_reports/referral_deals_per_owner/pin", data={"dashboard": "main"})
    assert again.status_code == 303 and len(client.get("/api/meta/dashboards/main").get_json()["widgets"]) == 3
    xlsx = pages.get("/app/_reports/referral_deals_per_owner.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows()]
    assert rows[0] == ("Owner", "Sum of Amount")
    assert sorted(rows[1:]) == [("li", Decimal("100.5")), ("wang", Decimal("1007.25"))] or \
        sorted(rows[1:]) == [("li", 100.5), ("wang", 1007.25)]
    # a salesperson's download of a report is refused (he may not build reports)
    assert Pages(app, "li").get("/app/_reports/referral_deals_per_owner.xlsx").status_code == 403


def test_pinning_to_a_dashboard_the_user_does_not_see_is_refused(app, client, crm):
    assert client.post("/api/meta/dashboards", json={"key": "secret", "label": "Secret", "roles": ["nobody_role"],
                                                      "widgets": []}).status_code in (201, 422)
    before = client.get("/api/meta/dashboards/main").get_json()["widgets"]
    r = Pages(app, "mei").post("/app/_reports/total/pin", data={"dashboard": "secret"})
    assert r.status_code == 422
    assert client.get("/api/meta/dashboards/main").get_json()["widgets"] == before


# ---- my work -------------------------------------------------------------------------------------

def _todo(client, owner, title, days, status="open"):
    due = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=days)).isoformat()
    r = client.post("/api/records/todo", json={"title": title, "due_on": due, "status": status, "owner_id": owner.id})
    assert r.status_code == 201, r.get_json()


def _work(body: str, part: str) -> tuple[str, str]:
    m = re.search(rf'<p class="work-count {part}"><a href="([^"]*)">[^<]*<strong data-count="{part}">([^<]*)</strong>', body)
    return m.group(1).replace("&amp;", "&"), m.group(2)


def test_my_work_lists_my_own_overdue_and_today_work_not_done(app, client, crm):
    li, wang = crm["li"], crm["wang"]
    _todo(client, li, "call Huaxin back", -3)
    _todo(client, li, "send the quote", -1)
    _todo(client, li, "closed long ago", -5, status="done")
    _todo(client, li, "sign today", 0)
    _todo(client, li, "next week", 7)
    _todo(client, wang, "wang's own", -2)
    pages = Pages(app, "li")
    body = text(pages.get("/app"))
    assert 'data-work="todo"' in body and "<h3>To-dos</h3>" in body
    overdue_href, overdue = _work(body, "overdue")
    today_href, today = _work(body, "today")
    assert (overdue, today) == ("2", "1")
    work = body.split('data-work="todo"', 1)[1].split('data-work="recent"', 1)[0]
    assert "call Huaxin back" in work and "send the quote" in work and "sign today" in work
    assert "closed long ago" not in work and "next week" not in work and "wang&#39;s own" not in body
    # each count is the list screen's own total for the same filters
    for href, n in ((overdue_href, "2"), (today_href, "1")):
        listed = pages.get(href)
        assert listed.status_code == 200 and re.search(r'data-total="(\d+)"', text(listed)).group(1) == n
    # the manager owns no to-dos: her counts are zero, not the team's
    assert _work(text(Pages(app, "mei").get("/app")), "overdue")[1] == "0"
    # recently changed records I own
    assert 'data-work="recent"' in body and "next week" in body.split('data-work="recent"', 1)[1]


def test_this_year_against_last_puts_each_month_beside_the_same_month(app, client, crm):
    for name, day, amount in (("F", "2025-03-10", "10.00"), ("G", "2026-03-02", "30.00"), ("H", "2026-11-20", "5.00")):
        assert client.post("/api/records/deal", json={"name": name, "closes_on": day, "amount": amount}).status_code == 201
    import json
    r = Pages(app, "mei").get("/app/_reports/new?entity=deal&group1=closes_on:year&group2=closes_on:month"
                               "&measure=sum:amount&chart=line&filter[closes_on][gte]=2025-01-01")
    assert r.status_code == 200
    spec = json.loads(re.search(r'<script type="application/json" data-chart-for="fig-preview">(.*?)</script>',
                                text(r), re.S).group(1))
    assert spec["categories"] == ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    by_year = {s["name"]: s["data"] for s in spec["series"]}
    assert by_year["2025"][2] == 10.0 and by_year["2026"][2] == 30.0 and by_year["2026"][10] == 5.0
    assert by_year["2025"][10] is None
    # each point links to the list of exactly its records
    march = next(s for s in spec["series"] if s["name"] == "2026")["links"][2]
    listed = Pages(app, "mei").get(march)
    assert re.search(r'data-total="(\d+)"', text(listed)).group(1) == "1" and ">G</a>" in text(listed)


def test_a_report_over_a_field_the_builder_may_not_read_is_not_saved(app, client, platform, crm):
    assert client.post("/api/meta/roles", json={"key": "analyst", "label": "Analyst", "reports": {"create": True},
                                                 "entities": {"deal": {"read": "all", "fields": {"amount": {"read": False}}}}}
                       ).status_code == 201
    platform.users.create("zhou", "password-1234", roles=["analyst"])
    pages = Pages(app, "zhou")
    assert "sum:amount" not in text(pages.get("/app/_reports/new?entity=deal"))  # not offered
    r = pages.post("/app/_reports/new", data={"entity": "deal", "group1": "source", "measure": "sum:amount",
                                             "chart": "bar", "label": "Hidden sums"})
    assert r.status_code == 400 and "amount" in text(r)
    assert client.get("/api/meta/reports/hidden_sums").status_code == 404


def test_the_funnel_narrows_by_records_that_entered_each_stage_and_leaves_lost_out(app, client, crm):
    """Most deals wait in a late stage, so current counts do not narrow; entries do. Lost is no step."""
    import json
    assert client.post("/api/meta/entities/deal/fields", json={"key": "stage", "type": "stage"}).status_code == 201
    r = client.post("/api/meta/pipelines", json={
        "key": "sales", "label": "Sales", "entity": "deal", "field": "stage", "amount_field": "amount",
        "stages": [{"key": "lead", "label": "Lead"}, {"key": "quote", "label": "Quote"},
                   {"key": "won", "label": "Won", "category": "won"}, {"key": "lost", "label": "Lost", "category": "lost"}]})
    assert r.status_code == 201, r.get_json()
    moves = [["lead"], ["lead", "quote"], ["lead", "quote"], ["lead", "quote"], ["lead", "quote", "won"], ["lead", "lost"]]
    for n, path in enumerate(moves):
        deal = client.post("/api/records/deal", json={"name": f"S{n}", "stage": path[0]}).get_json()
        for stage in path[1:]:
            assert client.patch(f"/api/records/deal/{deal['id']}", json={"stage": stage}).status_code == 200
    assert client.post("/api/meta/reports", json={"key": "funnel", "label": "Funnel", "type": "funnel",
                                                  "pipeline": "sales", "chart": "funnel"}).status_code == 201
    body = text(Pages(app, "mei").get("/app/_reports/funnel"))
    spec = json.loads(re.search(r'<script type="application/json" data-chart-for="[^"]*">(.*?)</script>', body, re.S).group(1))
    assert spec["categories"] == ["Lead", "Quote", "Won"]  # current counts would be 1, 3, 1
    assert spec["series"][0]["data"] == [6.0, 4.0, 1.0] and spec["value"] == "Entered"
    assert ">Lost<" in body  # the table still has every stage
