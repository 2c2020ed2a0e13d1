"""The board at any size over HTTP: cards a page per column and the next pages on demand, owner and
amount on each card, a move refused for required fields answered with those fields and retried
with their values in one update (SQLite and PostgreSQL)."""
from __future__ import annotations

import re

import pytest

from test_screens import Pages, text

DEAL = {"key": "deal", "label": "Deal", "title_field": "name",
        "fields": [{"key": "name", "type": "text", "required": True},
                   {"key": "stage", "type": "stage", "label": {"en": "Stage", "zh": "阶段"}},
                   {"key": "amount", "type": "decimal", "label": {"en": "Amount", "zh": "金额"}},
                   {"key": "contract_no", "type": "text", "label": {"en": "Contract no.", "zh": "合同编号"}},
                   {"key": "signed_on", "type": "date", "label": {"en": "Signed on", "zh": "签约日期"}}]}
SALES = {"key": "sales", "label": "Sales", "entity": "deal", "field": "stage", "amount_field": "amount",
         "stages": [{"key": "open", "label": "Open"},
                    {"key": "won", "label": {"en": "Won", "zh": "赢单"}, "category": "won",
                     "required_fields": ["contract_no", "signed_on"]}]}


@pytest.fixture
def board(client):
    assert client.post("/api/meta/entities", json=DEAL).status_code == 201
    assert client.post("/api/meta/pipelines", json=SALES).status_code == 201
    return client


def test_a_column_shows_a_page_of_cards_and_hands_out_the_next_ones(board, app):
    board.post("/api/records/deal/bulk", json={"records": [{"name": f"D{i:03}", "stage": "open", "amount": "1234.5"}
                                                           for i in range(45)]})
    pages = Pages(app)
    page = text(pages.get("/app/deal/board"))
    assert page.count('class="kcard"') == 20
    assert 'data-more' in page and "(25)" in page
    # owner and amount on each card, the amount as people read it
    assert '<span class="owner" data-owner>admin</span>' in page
    assert '<span class="amount" data-card-amount>1,234.50</span>' in page
    seen = set(re.findall(r'data-id="(\d+)"', page))
    for n, expected_more in ((2, True), (3, False)):
        r = pages.get(f"/app/deal/board/cards?stage=open&page={n}")
        assert r.status_code == 200
        body = r.get_json()
        ids = set(re.findall(r'data-id="(\d+)"', body["html"]))
        assert body["has_more"] is expected_more and not ids & seen
        seen |= ids
    assert len(seen) == 45
    assert pages.get("/app/deal/board/cards?stage=nope").status_code == 400
    assert pages.get("/app/deal/board/cards?stage=open&page=0").status_code == 400


def test_a_move_refused_for_required_fields_names_them_and_a_retry_with_their_values_moves(board, app):
    d = board.post("/api/records/deal", json={"name": "Big", "stage": "open"}).get_json()
    pages = Pages(app)
    pages.client.set_cookie("crm_lang", "zh")
    r = pages.post(f"/app/deal/{d['id']}/stage", json={"stage": "won", "version": d["version"]})
    assert r.status_code == 422
    fill = r.get_json()["fill"]
    assert [(f["field"], f["label"], f["control"]) for f in fill] == [("contract_no", "合同编号", "text"),
                                                                       ("signed_on", "签约日期", "date")]
    # half filled: refused again, the value sent kept in the form
    r = pages.post(f"/app/deal/{d['id']}/stage", json={"stage": "won", "version": d["version"],
                                                       "values": {"contract_no": "HT-1"}})
    assert r.status_code == 422 and [f["field"] for f in r.get_json()["fill"]] == ["signed_on"]
    assert board.get(f"/api/records/deal/{d['id']}").get_json()["contract_no"] is None  # nothing written
    r = pages.post(f"/app/deal/{d['id']}/stage", json={"stage": "won", "version": d["version"],
                                                       "values": {"contract_no": "HT-1", "signed_on": "2026-03-01"}})
    assert r.status_code == 200, r.get_json()
    got = board.get(f"/api/records/deal/{d['id']}").get_json()
    assert (got["stage"], got["contract_no"], got["signed_on"], got["version"]) == ("won", "HT-1", "2026-03-01", 2)
    # one update: one audit row with the three fields
    history = board.get(f"/api/records/deal/{d['id']}/history").get_json()["items"]
    assert set(history[0]["changes"]) == {"stage", "contract_no", "signed_on"}


@pytest.mark.parametrize("values", [["x"], {"contract_no": 5}, {"nope": "x"}, {"stage": "won"}])
def test_bad_values_of_a_retried_move_are_a_400(board, app, values):
    d = board.post("/api/records/deal", json={"name": "Big", "stage": "open"}).get_json()
    r = Pages(app).post(f"/app/deal/{d['id']}/stage", json={"stage": "won", "values": values})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "values"
