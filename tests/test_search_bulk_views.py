"""Global search, bulk actions and saved views (issue 19): the API contracts, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

CUSTOMER = {
    "key": "customer", "label": {"en": "Customer", "zh": "客户"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
        {"key": "phone", "type": "phone", "label": {"en": "Phone", "zh": "电话"}},
        {"key": "email", "type": "email", "label": {"en": "E-mail", "zh": "邮箱"}},
        {"key": "notes", "type": "long_text", "label": {"en": "Notes", "zh": "备注"}},
        {"key": "tags", "type": "multi_select", "label": "Tags",
         "choices": [{"key": "vip", "label": "VIP"}, {"key": "cold", "label": "Cold"}]},
    ],
}
DEAL = {
    "key": "deal", "label": {"en": "Opportunity", "zh": "销售机会"}, "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "label": "Title", "required": True},
        {"key": "amount", "type": "decimal", "label": "Amount", "scale": 2},
        {"key": "close_date", "type": "date", "label": "Expected close"},
        {"key": "stage", "type": "stage", "label": "Stage"},
    ],
}
PIPELINE = {
    "key": "sales", "label": "Sales", "entity": "deal", "field": "stage", "amount_field": "amount",
    "stages": [{"key": "lead", "label": "Lead"},
               {"key": "quote", "label": "Quote", "required_fields": ["amount"]},
               {"key": "won", "label": "Won", "category": "won"}],
}
OWN = {"create": "own", "read": "own", "update": "own", "delete": "own"}
ROLES = [
    {"key": "sales", "label": "Salesperson", "entities": {"customer": OWN, "deal": OWN}},
    {"key": "manager", "label": "Manager",
     "entities": {"*": {"create": "all", "read": "all", "update": "all", "delete": "all"}}},
    {"key": "assistant", "label": "Assistant",
     "entities": {"customer": {"read": "all", "fields": {"phone": {"read": False}}}}},
]


class Crm:
    def __init__(self, app, client):
        self.app, self.admin = app, client
        self.users = app.extensions["crm"].users
        self.ids, self.tokens = {}, {}

    def user(self, name, *roles):
        u = self.users.create(name, f"{name}-password", roles=list(roles))
        self.ids[name] = u.id
        self.tokens[name] = self.users.issue_token(u)
        return u.id

    def as_(self, name, method, url, **kw):
        return self.admin.open(url, method=method, headers={"Authorization": f"Bearer {self.tokens[name]}"}, **kw)


@pytest.fixture
def crm(app, client):
    for url, doc in [("/api/meta/entities", CUSTOMER), ("/api/meta/entities", DEAL), ("/api/meta/pipelines", PIPELINE)]:
        r = client.post(url, json=doc)
        assert r.status_code == 201, r.get_json()
    for role in ROLES:
        assert client.post("/api/meta/roles", json=role).status_code == 201
    c = Crm(app, client)
    c.user("alice", "sales")
    c.user("bob", "sales")
    c.user("mia", "manager")
    c.user("asst", "assistant")
    return c


def _found(r):
    assert r.status_code == 200, r.get_json()
    return {(x["entity"], x["id"]) for x in r.get_json()["results"]}


# ---- search -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["155 1565 1234", "155-1565-1234", "+86 155 1565 1234", "+8615515651234",
                                   "1551565", "0086 15515651234"])
def test_search_finds_a_phone_however_it_is_typed(crm, typed):
    stored = crm.admin.post("/api/records/customer", json={"name": "梅小姐", "phone": "+86 155-1565-1234"}).get_json()
    crm.admin.post("/api/records/customer", json={"name": "Other", "phone": "139 0000 0000"})
    r = crm.admin.get("/api/search", query_string={"q": typed})
    assert _found(r) == {("customer", stored["id"])}
    hit = r.get_json()["results"][0]
    assert hit["title"] == "梅小姐" and hit["matches"][0]["field"] == "phone"


def test_search_text_email_chinese_substring_and_updates(crm):
    a = crm.admin.post("/api/records/customer", json={"name": "上海星辰科技有限公司", "email": "Mei.Li@Example.com",
                                                    "notes": "prefers WeChat"}).get_json()
    d = crm.admin.post("/api/records/deal", json={"title": "星辰 renewal"}).get_json()
    assert _found(crm.admin.get("/api/search?q=星辰")) == {("customer", a["id"]), ("deal", d["id"])}
    assert _found(crm.admin.get("/api/search?q=辰科")) == {("customer", a["id"])}
    assert _found(crm.admin.get("/api/search?q=mei.li@example")) == {("customer", a["id"])}
    assert _found(crm.admin.get("/api/search?q=WECHAT")) == {("customer", a["id"])}
    # an update re-indexes; a deleted record is not found; restored, it is again
    crm.admin.patch(f"/api/records/customer/{a['id']}", json={"notes": "prefers phone"})
    assert _found(crm.admin.get("/api/search?q=wechat")) == set()
    crm.admin.delete(f"/api/records/deal/{d['id']}")
    assert _found(crm.admin.get("/api/search?q=renewal")) == set()
    crm.admin.post(f"/api/records/deal/{d['id']}/restore")
    assert _found(crm.admin.get("/api/search?q=renewal")) == {("deal", d["id"])}


def test_search_is_scoped_to_what_the_user_may_read(crm):
    mine = crm.as_("alice", "POST", "/api/records/customer", json={"name": "Alice's client", "phone": "13800138000"})
    theirs = crm.as_("bob", "POST", "/api/records/customer", json={"name": "Bob's client", "phone": "13800138001"})
    mine, theirs = mine.get_json()["id"], theirs.get_json()["id"]
    assert _found(crm.as_("alice", "GET", "/api/search?q=client")) == {("customer", mine)}
    assert _found(crm.as_("alice", "GET", "/api/search?q=138 0013 8001")) == set()
    assert _found(crm.as_("bob", "GET", "/api/search?q=13800138")) == {("customer", theirs)}
    assert _found(crm.as_("mia", "GET", "/api/search?q=client")) == {("customer", mine), ("customer", theirs)}
    # a field hidden from the reader is never matched (the assistant may not read phones)
    assert _found(crm.as_("asst", "GET", "/api/search?q=13800138001")) == set()
    assert _found(crm.as_("asst", "GET", "/api/search?q=Bob")) == {("customer", theirs)}
    # handing the record over moves it into bob's results
    r = crm.as_("mia", "POST", "/api/records/customer/bulk-update",
                json={"ids": [mine], "set": {"owner_id": crm.ids["bob"]}})
    assert r.get_json() == {"updated": 1, "refused": []}
    assert _found(crm.as_("alice", "GET", "/api/search?q=client")) == set()


def test_search_refuses_bad_queries(crm):
    assert crm.admin.get("/api/search").status_code == 400
    r = crm.admin.get("/api/search?q=x&limit=0")
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "limit"
    assert crm.admin.get("/api/search?q=" + "x" * 101).status_code == 400
    assert crm.admin.get("/api/search?q=%25_%5C").get_json() == {"results": []}


def test_rebuild_indexes_records_written_before_search(crm):
    from crm_platform.runtime import search
    from crm_platform.tables import search_index
    a = crm.admin.post("/api/records/customer", json={"name": "Zed", "phone": "020-1234 5678"}).get_json()
    platform = crm.app.extensions["crm"]
    with platform.engine.begin() as conn:
        conn.execute(search_index.delete())
    assert _found(crm.admin.get("/api/search?q=zed")) == set()
    with platform.engine.begin() as conn:
        assert search.rebuild(conn, platform.runtime.current(conn)) == 2
    assert _found(crm.admin.get("/api/search?q=zed")) == {("customer", a["id"])}
    assert _found(crm.admin.get("/api/search?q=12345678")) == {("customer", a["id"])}


def test_a_large_batch_is_indexed_by_the_worker_or_the_next_search_and_never_missed(crm):
    """A batch over ``INLINE_LIMIT`` records leaves its indexing to the worker (``crm_search_pending``,
    written in the batch's transaction); a search before the worker ran indexes them first; a small
    write is indexed in its own transaction as before."""
    import sqlalchemy as sa
    from crm_platform.jobs.tasks import index_search
    from crm_platform.runtime import search
    from crm_platform.tables import search_index, search_pending
    platform = crm.app.extensions["crm"]

    def counts():
        with platform.engine.connect() as conn:
            return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                         for t in (search_index, search_pending))

    n = search.INLINE_LIMIT + 1
    r = crm.admin.post("/api/records/customer/bulk", json={"records": [{"name": f"Bulk {i:03}"} for i in range(n)]})
    assert r.status_code == 201, r.get_json()
    assert counts() == (0, n)
    found = crm.admin.get("/api/search?q=Bulk 007").get_json()["results"]
    assert [x["title"] for x in found] == ["Bulk 007"]
    assert counts() == (n, 0)
    # the worker's periodic job does the same, when nobody searched first
    r = crm.admin.post("/api/records/customer/bulk", json={"records": [{"name": f"More {i:03}"} for i in range(n)]})
    assert counts() == (n, n)
    assert index_search(platform, None) == f"{n} records indexed for search"
    assert counts() == (2 * n, 0) and index_search(platform, None) == "nothing pending"
    one = crm.admin.post("/api/records/customer", json={"name": "Single"}).get_json()
    assert counts() == (2 * n + 1, 0)
    assert _found(crm.admin.get("/api/search?q=single")) == {("customer", one["id"])}


# ---- bulk actions -----------------------------------------------------------------------------------
def test_bulk_update_lists_refusals_and_updates_the_rest(crm):
    ids = [crm.admin.post("/api/records/deal", json={"title": f"D{i}", "stage": "lead",
                                                     **({"amount": "10.00"} if i % 2 else {})}).get_json()["id"]
           for i in range(4)]
    r = crm.admin.post("/api/records/deal/bulk-update", json={"ids": ids, "set": {"stage": "quote"}})
    assert r.status_code == 200
    body = r.get_json()
    assert body["updated"] == 2
    assert [x["id"] for x in body["refused"]] == [ids[0], ids[2]]
    assert body["refused"][0]["errors"][0]["field"] == "amount"
    stages = {i: crm.admin.get(f"/api/records/deal/{i}").get_json()["stage"] for i in ids}
    assert stages == {ids[0]: "lead", ids[1]: "quote", ids[2]: "lead", ids[3]: "quote"}
    # the same reason on every record's audit row
    r = crm.admin.post("/api/records/deal/bulk-update",
                       json={"ids": [ids[1]], "set": {"close_date": "2026-12-01"}, "_reason": "quarter plan"})
    assert r.get_json()["updated"] == 1
    history = crm.admin.get(f"/api/records/deal/{ids[1]}/history").get_json()
    assert any(h.get("reason") == "quarter plan" for h in history["items"])


def test_bulk_update_by_filter_only_touches_readable_records(crm):
    for who in ("alice", "alice", "bob"):
        crm.as_(who, "POST", "/api/records/customer", json={"name": f"{who} co", "notes": "batch"})
    r = crm.as_("alice", "POST", "/api/records/customer/bulk-update",
                json={"filter": {"notes": "batch"}, "add_tags": {"tags": ["vip"]}})
    assert r.get_json() == {"updated": 2, "refused": []}
    rows = crm.admin.get("/api/records/customer?sort=id").get_json()["items"]
    assert [r["tags"] for r in rows] == [["vip"], ["vip"], None]
    r = crm.admin.post("/api/records/customer/bulk-update",
                       json={"filter": {"q": "co", "tags": {"has_any": "vip"}}, "remove_tags": {"tags": ["vip"]},
                             "add_tags": {"tags": ["cold"]}})
    assert r.get_json()["updated"] == 2
    assert [r["tags"] for r in crm.admin.get("/api/records/customer?sort=id").get_json()["items"]] == \
        [["cold"], ["cold"], None]
    # another's record by id: refused as not found, the own one deleted to the recycle bin
    bob_id = rows[2]["id"]
    r = crm.as_("alice", "POST", "/api/records/customer/bulk-update",
                json={"ids": [rows[0]["id"], bob_id], "delete": True})
    body = r.get_json()
    assert body["deleted"] == 1 and body["refused"][0]["id"] == bob_id and body["refused"][0]["status"] == 404
    assert crm.admin.get(f"/api/records/customer/{rows[0]['id']}").status_code == 404


@pytest.mark.parametrize("body,field,status", [
    ({"set": {"title": "x"}}, "ids", 400),
    ({"ids": [1], "filter": {}, "set": {"title": "x"}}, "ids", 400),
    ({"ids": "1", "set": {"title": "x"}}, "ids", 400),
    ({"ids": [1]}, "set", 400),
    ({"ids": [1], "set": []}, "set", 400),
    ({"ids": [1], "delete": True, "set": {"title": "x"}}, "delete", 400),
    ({"ids": [1], "frobnicate": 1}, "frobnicate", 400),
    ({"filter": {"nope": 1}, "set": {"title": "x"}}, "filter.filter[nope]", 400),
    ({"ids": [1], "add_tags": {"title": ["a"]}}, "add_tags.title", 422),
])
def test_bulk_update_refuses_bad_bodies(crm, body, field, status):
    r = crm.admin.post("/api/records/deal/bulk-update", json=body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["errors"][0]["field"] == field


def test_bulk_update_of_an_unknown_entity_is_404(crm):
    assert crm.admin.post("/api/records/nope/bulk-update", json={"ids": [1], "set": {"a": 1}}).status_code == 404


# ---- saved views ------------------------------------------------------------------------------------
def test_saved_views_crud_and_sharing(crm):
    q = "filter[stage]=lead&sort=-amount&columns=title,amount&per_page=50"
    r = crm.as_("alice", "POST", "/api/views", json={"entity": "deal", "name": "My leads", "query": q})
    assert r.status_code == 201, r.get_json()
    view = r.get_json()
    assert view["query"] == q and view["role"] is None and view["mine"]
    assert crm.as_("bob", "GET", "/api/views?entity=deal").get_json()["views"] == []
    assert crm.as_("bob", "GET", f"/api/views/{view['id']}").status_code == 404
    r = crm.as_("alice", "PATCH", f"/api/views/{view['id']}", json={"role": "sales", "name": "Team leads"})
    assert r.status_code == 200 and r.get_json()["role"] == "sales"
    shared = crm.as_("bob", "GET", "/api/views?entity=deal").get_json()["views"]
    assert [(v["name"], v["mine"]) for v in shared] == [("Team leads", False)]
    assert crm.as_("bob", "PATCH", f"/api/views/{view['id']}", json={"name": "mine now"}).status_code == 403
    assert crm.as_("bob", "DELETE", f"/api/views/{view['id']}").status_code == 403
    assert crm.as_("mia", "GET", "/api/views?entity=deal").get_json()["views"] == []
    # a role alice does not hold
    r = crm.as_("alice", "PATCH", f"/api/views/{view['id']}", json={"role": "manager"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "role"
    assert crm.as_("alice", "DELETE", f"/api/views/{view['id']}").status_code == 204
    assert crm.as_("bob", "GET", "/api/views?entity=deal").get_json()["views"] == []


@pytest.mark.parametrize("body,field", [
    ({"entity": "deal", "name": "", "query": ""}, "name"),
    ({"entity": "deal", "name": "x", "query": "filter[nope]=1"}, "query"),
    ({"entity": "deal", "name": "x", "query": "columns=title,nope"}, "query"),
    ({"entity": "deal", "name": "x", "query": "per_page=100000"}, "query"),
    ({"entity": "deal", "name": "x", "query": "", "role": "ghost"}, "role"),
    ({"entity": "deal", "name": "x", "query": "", "colour": "red"}, "colour"),
])
def test_saved_views_refuse_bad_input(crm, body, field):
    r = crm.admin.post("/api/views", json=body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["field"] == field


def test_saved_views_of_unknown_entity_or_missing_view(crm):
    assert crm.admin.post("/api/views", json={"entity": "nope", "name": "x", "query": ""}).status_code == 404
    assert crm.admin.get("/api/views").status_code == 400
    assert crm.admin.get("/api/views/999").status_code == 404


# ---- default columns and the remembered list -----------------------------------------------------------
def test_list_columns_default_and_follow_renames_and_archives(crm):
    r = crm.admin.patch("/api/meta/entities/customer", json={"list_columns": ["email", "name"]})
    assert r.status_code == 200, r.get_json()
    r = crm.admin.patch("/api/meta/entities/customer", json={"list_columns": ["nope"]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "list_columns.0"
    r = crm.admin.post("/api/meta/entities/customer/fields/email/rename", json={"new_key": "mail"})
    assert r.status_code in (200, 201), r.get_json()
    assert crm.admin.get("/api/meta/entities/customer").get_json()["list_columns"] == ["mail", "name"]
    assert crm.admin.delete("/api/meta/entities/customer/fields/mail").status_code in (200, 204)
    assert crm.admin.get("/api/meta/entities/customer").get_json()["list_columns"] == ["name"]


def _pages(crm, name):
    from test_screens import Pages
    return Pages(crm.app, name)


def _header_cells(html: str) -> list[str]:
    import re
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    return [re.sub(r"<[^>]+>|[▲▼]", "", c).strip() for c in re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", head, re.S)]


def test_a_list_reopens_as_left_and_new_default_fields_join_it(crm):
    crm.as_("alice", "POST", "/api/records/customer", json={"name": "Mei", "email": "mei@example.com"})
    alice = _pages(crm, "alice")
    r = alice.get("/app/customer?columns=name&sort=-name")
    assert r.status_code == 200 and _header_cells(r.get_data(as_text=True))[1:] == ["Name"]
    r = alice.get("/app/customer")
    assert r.status_code == 302 and "columns=name" in r.headers["Location"] and "sort=-name" in r.headers["Location"]
    # the admin adds a field and names it among the default columns: it joins alice's remembered list
    assert crm.admin.post("/api/meta/entities/customer/fields", json={"key": "city", "type": "text",
                                                                     "label": "City"}).status_code == 201
    assert crm.admin.patch("/api/meta/entities/customer", json={"list_columns": ["name", "city"]}).status_code == 200
    r = alice.get("/app/customer")
    assert r.status_code == 302 and "columns=name%2Ccity" in r.headers["Location"]
    assert _header_cells(alice.get(r.headers["Location"]).get_data(as_text=True))[1:] == ["Name", "City"]
    # "All" shows the entity's default columns
    assert _header_cells(alice.get("/app/customer?view=all").get_data(as_text=True))[1:] == ["Name", "City"]


def test_views_as_tabs_and_bulk_from_the_list_screen(crm):
    ids = [crm.admin.post("/api/records/deal", json={"title": f"Deal {i}", "stage": "lead",
                                                     **({"amount": "5"} if i else {})}).get_json()["id"]
           for i in range(3)]
    mia = _pages(crm, "mia")
    r = mia.post("/app/deal/_views", data={"name": "Open leads", "query": "filter[stage]=lead&columns=title", "role": ""})
    assert r.status_code == 302 and "view=" in r.headers["Location"]
    html = mia.get(r.headers["Location"]).get_data(as_text=True)
    assert 'aria-current="page">Open leads' in html and 'data-testid="bulk-bar"' in html
    # move every matching record: the one without an amount is refused and named
    r = mia.post("/app/deal/_bulk", data={"action": "stage", "stage": "stage:quote", "all_matching": "1",
                                          "query": "filter[stage]=lead&view=1"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "2 records changed, 1 refused." in page and "Deal 0" in page
    r = mia.post("/app/deal/_bulk", data={"action": "assign", "owner_id": str(crm.ids["alice"]),
                                          "ids": [str(ids[1]), str(ids[2])]})
    assert "2 records changed, 0 refused." in r.get_data(as_text=True)
    assert {crm.admin.get(f"/api/records/deal/{i}").get_json()["owner_id"] for i in ids[1:]} == {crm.ids["alice"]}
    zh = mia.post("/app/deal/_bulk", data={"action": "delete", "ids": [str(ids[0])]}, headers={"Accept-Language": "zh-CN,zh"})
    assert "已修改 1 条，0 条被拒绝。" in zh.get_data(as_text=True)


def test_the_search_page_groups_and_marks_matches(crm):
    crm.admin.post("/api/records/customer", json={"name": "星辰科技", "email": "info@xingchen.cn", "phone": "021-5555 0000"})
    crm.admin.post("/api/records/deal", json={"title": "星辰 renewal"})
    html = _pages(crm, "admin").get("/app/_search?q=星辰").get_data(as_text=True)
    assert html.index('data-entity="customer"') < html.index('data-entity="deal"')
    assert "<mark>星辰</mark>科技" in html and "<mark>星辰</mark> renewal" in html
    html = _pages(crm, "admin").get("/app/_search?q=55550000").get_data(as_text=True)
    assert "<mark>021-5555 0000</mark>" in html
    assert 'data-testid="search-empty"' in _pages(crm, "alice").get("/app/_search?q=星辰").get_data(as_text=True)


def test_search_follows_field_renames_and_type_changes(crm):
    a = crm.admin.post("/api/records/customer", json={"name": "Ana", "email": "ana@example.com"}).get_json()
    r = crm.admin.post("/api/meta/entities/customer/fields/email/rename", json={"new_key": "mail"})
    assert r.status_code in (200, 201), r.get_json()
    hit = crm.admin.get("/api/search?q=ana@example").get_json()["results"]
    assert [(h["id"], h["matches"][0]["field"]) for h in hit] == [(a["id"], "mail")]
    # a field becoming searchable by a type change is indexed with its converted values
    assert crm.admin.post("/api/meta/entities/customer/fields", json={"key": "code", "type": "integer"}).status_code == 201
    crm.admin.patch(f"/api/records/customer/{a['id']}", json={"code": 987654})
    assert _found(crm.admin.get("/api/search?q=987654")) == set()
    r = crm.admin.patch("/api/meta/entities/customer/fields/code", json={"type": "text"})
    assert r.status_code == 200, r.get_json()
    assert _found(crm.admin.get("/api/search?q=987654")) == {("customer", a["id"])}
