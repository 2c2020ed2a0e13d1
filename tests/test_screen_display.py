"""The display and form layers (``web/display.py``, ``web/controls.py``) as people see them: amounts
grouped by thousands and times in the reader's zone on lists and record pages (the API and exports
stay raw), one rule for reference titles on screens and in the admin, and forms compiled once per
revision that still follow a definition changed a moment ago."""
from __future__ import annotations

import re

import pytest

from test_admin_designer import sign_in
from test_screens import Pages, text

DEAL = {"key": "deal", "label": {"en": "Deal", "zh": "商机"}, "plural_label": {"en": "Deals", "zh": "商机"},
        "fields": [{"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}},
                   {"key": "amount", "type": "decimal", "label": {"en": "Amount", "zh": "金额"}, "scale": 2},
                   {"key": "share", "type": "percent", "label": "Share"},
                   {"key": "seats", "type": "integer", "label": "Seats"},
                   {"key": "closes_at", "type": "datetime", "label": "Closes"},
                   {"key": "company", "type": "reference", "target": "company", "label": "Company"}]}


@pytest.fixture
def deal(client):
    assert client.post("/api/meta/entities", json={"key": "company", "label": "Company",
                                                   "fields": [{"key": "title", "type": "text"}]}).status_code == 201
    company = client.post("/api/records/company", json={"title": "Acme Ltd"}).get_json()["id"]
    assert client.post("/api/meta/entities", json=DEAL).status_code == 201
    r = client.post("/api/records/deal", json={"name": "Big", "amount": "8474244.00", "share": "12.5", "seats": 2026,
                                               "closes_at": "2026-09-08T01:00:00Z", "company": company})
    assert r.status_code == 201
    return r.get_json()["id"], company


def shanghai(pages: Pages) -> Pages:
    pages.client.set_cookie("crm_tz", "480")  # what the page's script sets in UTC+8
    return pages


def test_lists_and_record_pages_group_amounts_and_show_local_times(app, client, deal):
    deal_id, _company = deal
    pages = shanghai(Pages(app))
    listing = text(pages.get("/app/deal?columns=name,amount,share,seats,closes_at,company"))
    cells = re.findall(r'<td data-label="[^"]*"[^>]*>(.*?)</td>', listing)  # editable cells carry their value too
    assert cells == [f'<a href="/app/deal/{deal_id}">Big</a>', "8,474,244.00", "12.50%", "2026",
                     "2026-09-08 09:00", "Acme Ltd"]
    page = text(pages.get(f"/app/deal/{deal_id}"))
    assert "8,474,244.00" in page and '<time datetime="2026-09-08T01:00:00Z">2026-09-08 09:00</time>' in page
    # Without the cookie (no script ran yet) times are UTC, as the API's are.
    assert "2026-09-08 01:00" in text(Pages(app).get("/app/deal?columns=closes_at"))


def test_the_api_and_exports_keep_values_raw(client, deal):
    deal_id, _company = deal
    record = client.get(f"/api/records/deal/{deal_id}").get_json()
    assert str(record["amount"]) == "8474244.00" and record["closes_at"] == "2026-09-08T01:00:00Z"
    bundle = client.get("/api/bundle?sample_data=1&only=deal,company").get_data(as_text=True)
    assert "8474244.00" in bundle and "8,474,244" not in bundle


def test_a_form_shows_an_amount_as_typed_and_saves_it_exactly(app, client, deal):
    deal_id, _company = deal
    pages = Pages(app)
    form = text(pages.get(f"/app/deal/{deal_id}/edit"))
    assert 'value="8474244.00"' in form  # a control holds the value, not its display text
    r = pages.post(f"/app/deal/{deal_id}/edit", data={"f-amount": "1,234.50", "version": "1"})
    assert r.status_code == 303
    assert str(client.get(f"/api/records/deal/{deal_id}").get_json()["amount"]) == "1234.50"


def test_the_admin_names_references_by_the_screens_title_rule(app, client, deal):
    admin = sign_in(client)
    listing = admin.get("/admin/records/deal/").get_data(as_text=True)
    assert "Acme Ltd" in listing and "8,474,244.00" in listing
    form = admin.get("/admin/records/deal/new/").get_data(as_text=True)
    assert re.search(r'<option value="\d+">Acme Ltd</option>', form)
    # The same label rule as the screens, in the admin's language (English without a choice; docs/admin.md).
    assert re.search(r'<label[^>]*for="amount"[^>]*>\s*Amount\b', form) and "金额" not in form


def test_a_form_compiled_for_a_revision_follows_a_field_added_since(app, client, deal):
    pages = Pages(app)
    assert 'name="f-stage_note"' not in text(pages.get("/app/deal/new"))
    r = client.patch("/api/meta/entities/deal", json={"fields": DEAL["fields"] + [
        {"key": "stage_note", "type": "text", "label": {"en": "Stage note", "zh": "阶段备注"}}]})
    assert r.status_code == 200, r.get_json()
    page = text(pages.get("/app/deal/new", headers={"Accept-Language": "zh"}))
    assert 'name="f-stage_note"' in page and "阶段备注" in page and "金额" in page
    assert "Stage note" in text(pages.get("/app/deal/new"))  # English readers get their own compiled form


def test_public_and_screen_forms_write_the_same_control(app, client, deal):
    assert client.post("/api/meta/forms", json={
        "key": "quote", "label": "Quote", "entity": "deal", "public": True, "slug": "quote",
        "layout": [{"title": "You", "fields": ["name", "amount"]}]}).status_code == 201
    public = text(app.test_client().get("/f/quote", headers={"Authorization": None}))
    screen = text(Pages(app).get("/app/deal/new?form=quote"))
    control = re.compile(r'<input[^>]*name="f-amount"[^>]*>')
    assert control.search(public).group(0) == control.search(screen).group(0)
    assert 'inputmode="decimal"' in control.search(public).group(0)
