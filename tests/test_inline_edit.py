"""A list cell edited in place: which cells may be, the save through the record service with the
version, a stale edit answered with the current value, refusals in the page's language (SQLite and
PostgreSQL)."""
from __future__ import annotations

import html
import json
import re

import pytest

from test_screens import Pages, text

DEAL = {"key": "deal", "label": {"en": "Deal", "zh": "商机"}, "title_field": "name",
        "fields": [{"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
                   {"key": "amount", "type": "decimal", "label": {"en": "Amount", "zh": "金额"}, "min": 0},
                   {"key": "close_on", "type": "date", "label": {"en": "Close on", "zh": "预计签约日期"}},
                   {"key": "kind", "type": "select", "label": "Kind",
                    "choices": [{"key": "new", "label": {"en": "New", "zh": "新客户"}}, {"key": "renewal", "label": "Renewal"}]},
                   {"key": "notes", "type": "long_text"},
                   {"key": "labels", "type": "multi_select", "choices": [{"key": "a", "label": "A"}]}]}


@pytest.fixture
def deals(client):
    assert client.post("/api/meta/entities", json=DEAL).status_code == 201
    return client


def cells(page: str) -> dict:
    return dict(re.findall(r'data-label="([^"]*)" data-inline="(\w+)"', page))


def test_simple_columns_of_a_list_are_editable_in_place_and_the_title_link_is_not(deals, app):
    deals.post("/api/records/deal", json={"name": "Big", "amount": "1200.5", "close_on": "2026-03-01", "kind": "new"})
    page = text(Pages(app).get("/app/deal?columns=name,amount,close_on,kind,notes,labels"))
    assert set(cells(page).values()) == {"amount", "close_on", "kind"}  # not the title, long text or multi choices
    assert 'data-inline="amount" data-value="1200.50"' in page and 'data-inline="close_on" data-value="2026-03-01"' in page
    table = re.search(r'data-inline-edit="([^"]*)"', page).group(1)
    setup = json.loads(html.unescape(table))
    assert setup["controls"]["kind"]["options"] == [["new", "New"], ["renewal", "Renewal"]]
    assert setup["url"] == "/app/deal/" and setup["reason"] is False
    assert re.search(r'<tr data-id="\d+" data-version="1">', page)
    assert "inline_edit.js" in page


def test_a_cell_saves_through_the_record_service_with_its_version(deals, app):
    d = deals.post("/api/records/deal", json={"name": "Big", "amount": "1200.5"}).get_json()
    pages = Pages(app)
    r = pages.post(f"/app/deal/{d['id']}/inline", json={"field": "amount", "value": "8474244", "version": 1})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"id": d["id"], "version": 2, "field": "amount", "text": "8,474,244.00", "value": "8474244.00"}
    assert str(deals.get(f"/api/records/deal/{d['id']}").get_json()["amount"]) == "8474244.00"
    history = deals.get(f"/api/records/deal/{d['id']}/history").get_json()["items"]
    assert [str(v) for v in history[0]["changes"]["amount"]] == ["1200.50", "8474244.00"]
    # emptied
    r = pages.post(f"/app/deal/{d['id']}/inline", json={"field": "amount", "value": "", "version": 2})
    assert r.status_code == 200 and r.get_json()["text"] == ""


def test_a_stale_edit_says_so_and_shows_the_current_value(deals, app):
    d = deals.post("/api/records/deal", json={"name": "Big", "close_on": "2026-03-01"}).get_json()
    deals.patch(f"/api/records/deal/{d['id']}", json={"close_on": "2026-04-01"})  # someone else, meanwhile
    r = Pages(app).post(f"/app/deal/{d['id']}/inline", json={"field": "close_on", "value": "2026-05-01", "version": 1})
    assert r.status_code == 409
    body = r.get_json()
    assert body["current"]["version"] == 2 and body["current"]["value"] == "2026-04-01"
    assert "2026-04-01" in body["errors"][0]["message"] and body["errors"][0]["message"].startswith("Someone else")
    assert deals.get(f"/api/records/deal/{d['id']}").get_json()["close_on"] == "2026-04-01"
    zh = Pages(app)
    zh.client.set_cookie("crm_lang", "zh")
    body = zh.post(f"/app/deal/{d['id']}/inline", json={"field": "close_on", "value": "2026-05-01", "version": 1}).get_json()
    assert body["errors"][0]["message"].startswith("此记录已被他人修改")


def test_bad_values_and_fields_are_refused_naming_the_field(deals, app):
    d = deals.post("/api/records/deal", json={"name": "Big"}).get_json()
    pages = Pages(app)
    pages.client.set_cookie("crm_lang", "zh")
    r = pages.post(f"/app/deal/{d['id']}/inline", json={"field": "amount", "value": "-3", "version": 1})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "amount"
    assert r.get_json()["errors"][0]["label"] == "金额"
    r = pages.post(f"/app/deal/{d['id']}/inline", json={"field": "name", "value": "", "version": 1})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "name"
    for bad in ({"field": "notes", "value": "x"}, {"field": "nope", "value": "x"}, {"value": "x"},
                {"field": "amount", "value": 3}, {"field": "amount", "value": "3", "version": "1"}):
        r = pages.post(f"/app/deal/{d['id']}/inline", json=bad)
        assert r.status_code == 400, bad
    assert pages.post("/app/deal/99999/inline", json={"field": "amount", "value": "1"}).status_code == 404


def test_a_user_who_may_not_write_the_field_gets_no_editable_cell_and_a_refusal(deals, app, platform):
    role = {"key": "desk", "label": "Desk", "entities": {"deal": {"read": "all", "update": "all",
                                                                   "fields": {"amount": {"write": False}}}}}
    assert deals.post("/api/meta/roles", json=role).status_code == 201
    platform.users.create("desk1", "desk-password", roles=["desk"])
    d = deals.post("/api/records/deal", json={"name": "Big", "amount": "5"}).get_json()
    desk = Pages(app, "desk1")
    page = text(desk.get("/app/deal?columns=name,amount,kind"))
    assert set(cells(page).values()) == {"kind"}
    r = desk.post(f"/app/deal/{d['id']}/inline", json={"field": "amount", "value": "6", "version": 1})
    assert r.status_code == 403
