"""Computed field defaults (now, today±N, current_user), quick actions on a record page and the
record's one timeline, on the screens and through GET /api/records/<entity>/<id>/timeline
(SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from crm_platform.clock import utcnow

from test_screens import Pages, text

CUSTOMER = {"key": "customer", "label": {"en": "Customer", "zh": "客户"}, "title_field": "name",
            "require_change_reason": False,
            "fields": [{"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
                       {"key": "stage", "type": "stage", "label": {"en": "Stage", "zh": "阶段"}},
                       {"key": "amount", "type": "decimal", "label": {"en": "Amount", "zh": "金额"}}]}
PERSON = {"key": "person", "label": {"en": "Person", "zh": "联系人"}, "title_field": "name",
          "fields": [{"key": "name", "type": "text", "required": True},
                     {"key": "customer", "type": "reference", "target": "customer"}]}
CALL = {"key": "call", "label": {"en": "Call", "zh": "沟通"}, "title_field": "summary",
        "action_label": {"en": "Log a call", "zh": "记录沟通"},
        "fields": [{"key": "summary", "type": "text", "label": {"en": "Summary", "zh": "要点"}, "required": True},
                   {"key": "at", "type": "datetime", "label": {"en": "At", "zh": "时间"}, "required": True, "default": "now"},
                   {"key": "follow_up", "type": "date", "default": "today+3"},
                   {"key": "logged_by", "type": "text", "default": "current_user"},
                   {"key": "customer", "type": "reference", "target": "customer", "label": {"en": "Customer", "zh": "客户"}},
                   {"key": "person", "type": "reference", "target": "person"}]}
PIPELINE = {"key": "funnel", "label": "Funnel", "entity": "customer", "field": "stage",
            "stages": [{"key": "lead", "label": {"en": "Lead", "zh": "线索"}},
                       {"key": "won", "label": {"en": "Won", "zh": "赢单"}, "category": "won"}]}


@pytest.fixture
def crm(client):
    for doc in (CUSTOMER, PERSON, CALL):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    assert client.post("/api/meta/pipelines", json=PIPELINE).status_code == 201
    return client


# ---- computed defaults -----------------------------------------------------------------------------
@pytest.mark.parametrize("field, message", [
    ({"key": "d", "type": "date", "default": "now"}, "is not a default a date field computes (it computes: today)"),
    ({"key": "n", "type": "integer", "default": "today"}, "is not a default a integer field computes (it computes: none)"),
    ({"key": "d", "type": "date", "default": "today+99999"}, "'today+99999' is out of range"),
    ({"key": "d", "type": "datetime", "default": "tomorrow"}, "must be a date and time"),
])
def test_a_default_the_type_does_not_compute_is_refused_naming_the_field(client, field, message):
    r = client.post("/api/meta/entities", json={"key": "thing", "label": "Thing", "fields": [field]})
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    assert any(e["field"].endswith(f"fields.{field['key']}.default") and message in e["message"] for e in errors), errors


def test_the_api_fills_computed_defaults_of_fields_left_out(crm):
    before = utcnow().replace(microsecond=0)
    r = crm.post("/api/records/call", json={"summary": "called"})
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    at = dt.datetime.fromisoformat(got["at"].replace("Z", "+00:00"))
    assert before <= at <= utcnow()
    assert got["follow_up"] == (utcnow().date() + dt.timedelta(days=3)).isoformat()  # the UTC day
    assert got["logged_by"] == "admin"
    # A value sent, or null sent, wins over the default.
    sent = crm.post("/api/records/call", json={"summary": "x", "at": "2025-01-02T03:04:05Z", "follow_up": None,
                                               "logged_by": "Mei"}).get_json()
    assert (sent["at"], sent["follow_up"], sent["logged_by"]) == ("2025-01-02T03:04:05Z", None, "Mei")


def test_a_new_form_shows_now_and_today_in_the_readers_zone(crm, app):
    pages = Pages(app)
    pages.client.set_cookie("crm_tz", "480")  # UTC+8
    page = text(pages.get("/app/call/new"))
    local = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8)))
    shown = re.search(r'name="f-at"[^>]*value="([^"]*)"', page) or re.search(r'value="([^"]*)"[^>]*name="f-at"', page)
    assert shown and abs(dt.datetime.strptime(shown.group(1), "%Y-%m-%dT%H:%M") - local.replace(tzinfo=None, second=0,
                                                                                                microsecond=0)) <= dt.timedelta(minutes=1)
    assert (local.date() + dt.timedelta(days=3)).isoformat() in page
    assert 'value="admin"' in page


# ---- quick actions ---------------------------------------------------------------------------------
def test_quick_action_opens_the_form_filled_and_returns_to_the_record(crm, app):
    c = crm.post("/api/records/customer", json={"name": "Acme", "stage": "lead"}).get_json()
    p = crm.post("/api/records/person", json={"name": "Wang", "customer": c["id"]}).get_json()
    pages = Pages(app)
    page = text(pages.get(f"/app/customer/{c['id']}"))
    links = dict(re.findall(r'href="([^"]+)" data-quick="(\w+)"', page))
    by_entity = {v: k.replace("&amp;", "&") for k, v in links.items()}
    assert set(by_entity) == {"call", "person"}
    assert "+ Log a call" in page and "+ New Person" in page
    url = urlsplit(by_entity["call"])
    args = parse_qs(url.query)
    # the customer, its only person, and the way back
    assert args == {"prefill[customer]": [str(c["id"])], "prefill[person]": [str(p["id"])],
                    "next": [f"/app/customer/{c['id']}"]}
    form = text(pages.get(by_entity["call"]))
    assert f'value="{c["id"]}"' in form and f'value="{p["id"]}"' in form
    assert 'name="next" value="/app/customer/%d"' % c["id"] in form
    r = pages.post(by_entity["call"], data={"f-summary": "Phoned about the renewal", "f-at": "2026-01-05T10:00",
                                           "f-customer": str(c["id"]), "f-person": str(p["id"]),
                                           "next": f"/app/customer/{c['id']}"})
    assert r.status_code == 303 and r.headers["Location"] == f"/app/customer/{c['id']}"
    # a second person: the contact of the last call is the one filled
    crm.post("/api/records/person", json={"name": "Li", "customer": c["id"]})
    page = text(pages.get(f"/app/customer/{c['id']}"))
    href = re.search(r'href="([^"]+)" data-quick="call"', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query)["prefill[person]"] == [str(p["id"])]
    # a next that leaves the site is ignored
    r = pages.post("/app/call/new", data={"f-summary": "x", "f-at": "2026-01-05T10:00", "next": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["Location"].startswith("/app/call/")


def test_quick_actions_only_for_entities_the_user_may_create(crm, app, platform):
    role = {"key": "viewer", "label": "Viewer", "entities": {"customer": {"read": "all"}, "call": {"read": "all"}}}
    assert crm.post("/api/meta/roles", json=role).status_code == 201
    platform.users.create("viewer1", "viewer-password", roles=["viewer"])
    c = crm.post("/api/records/customer", json={"name": "Acme"}).get_json()
    page = text(Pages(app, "viewer1").get(f"/app/customer/{c['id']}"))
    assert "data-quick" not in page


# ---- timeline --------------------------------------------------------------------------------------
def test_the_timeline_tells_one_story_newest_first_in_the_readers_language(crm, app, platform):
    c = crm.post("/api/records/customer", json={"name": "Acme", "stage": "lead", "amount": "8474244.00"}).get_json()
    crm.patch(f"/api/records/customer/{c['id']}", json={"stage": "won"})
    crm.patch(f"/api/records/customer/{c['id']}", json={"amount": "9000000"}, headers={"X-Change-Reason": "upsell"})
    call = crm.post("/api/records/call", json={"summary": "Phoned", "customer": c["id"]}).get_json()
    from crm_platform import notifications
    with platform.engine.begin() as conn:
        notifications.notify(conn, [platform.users.get_by_name("admin").id], "reminder",
                             {"en": "Follow up Acme", "zh": "跟进 Acme"}, entity="customer", record_id=c["id"])
    r = crm.get(f"/api/records/customer/{c['id']}/timeline", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    kinds = [i["kind"] for i in body["items"]]
    assert kinds[0] in ("notification", "related") and set(kinds[:2]) == {"notification", "related"}
    assert kinds[2:] == ["change", "stage", "change", "stage"], kinds
    related = next(i for i in body["items"] if i["kind"] == "related")
    assert (related["entity"], related["id"], related["title"], related["actor"]) == ("call", call["id"], "Phoned", "admin")
    assert related["summary"] == "新增沟通：Phoned" and related["when"] == "刚刚"
    assert next(i for i in body["items"] if i["kind"] == "notification")["summary"] == "跟进 Acme"
    change = body["items"][2]
    assert change["reason"] == "upsell"
    assert change["changes"] == [{"field": "amount", "label": "金额", "old": "8,474,244.00", "new": "9,000,000.00"}]
    assert body["items"][3]["summary"] == "线索 → 赢单"
    created = body["items"][4]
    assert created["action"] == "create"  # a new record says all it was made with, its stage too
    assert body["items"][5]["summary"] == "进入线索"
    # paged
    first = crm.get(f"/api/records/customer/{c['id']}/timeline?per_page=2").get_json()
    second = crm.get(f"/api/records/customer/{c['id']}/timeline?per_page=2&page=2").get_json()
    assert first["has_more"] and second["has_more"] and [i["kind"] for i in second["items"]] == kinds[2:4]
    assert crm.get(f"/api/records/customer/{c['id']}/timeline?per_page=0").status_code == 400
    assert crm.get(f"/api/records/customer/{c['id']}/timeline?page=abc").status_code == 400
    assert crm.get("/api/records/customer/99999/timeline").status_code == 404
    assert crm.get("/api/records/nothing/1/timeline").status_code == 404
    # the record page shows the same story
    page = re.sub(r"\s+", " ", text(Pages(app).get(f"/app/customer/{c['id']}")))
    story = page[page.index('id="timeline"'):]
    assert story.index('data-kind="related"') < story.index('data-kind="stage"')
    assert "Lead → Won" in story and '<a href="/app/call/%d">Phoned</a>' % call["id"] in story


def test_the_timeline_leaves_out_what_the_reader_may_not_see(crm, app, platform):
    role = {"key": "desk", "label": "Desk", "entities": {
        "customer": {"read": "all", "fields": {"amount": {"read": False}}}}}
    assert crm.post("/api/meta/roles", json=role).status_code == 201
    platform.users.create("desk1", "desk-password", roles=["desk"])
    c = crm.post("/api/records/customer", json={"name": "Acme", "amount": "5"}).get_json()
    crm.post("/api/records/call", json={"summary": "Secret call", "customer": c["id"]})
    page = text(Pages(app, "desk1").get(f"/app/customer/{c['id']}"))
    story = page[page.index('id="timeline"'):]
    assert "Secret call" not in story and "5.00" not in story and 'data-action="create"' in story


def test_a_prefilled_reference_without_a_drop_down_shows_its_title(crm, app, monkeypatch):
    import crm_platform.web.controls as controls
    monkeypatch.setattr(controls, "RECORD_CHOICES", 1)  # more customers than a drop-down takes
    a = crm.post("/api/records/customer", json={"name": "Acme"}).get_json()
    crm.post("/api/records/customer", json={"name": "Other"})
    form = text(Pages(app).get(f"/app/call/new?prefill[customer]={a['id']}&prefill[person]=abc"))
    assert re.search(r'name="f-customer"[^>]*value="%d"' % a["id"], form)
    assert '<p class="picked" data-picked="customer">Acme</p>' in form
    assert 'value="abc"' not in form  # a reference pre-filled with something not an id is left out


def test_prefill_of_fields_a_form_cannot_take_so_is_ignored_not_a_500(client, app):
    doc = {"key": "deal", "label": "Deal", "fields": [
        {"key": "name", "type": "text"}, {"key": "labels", "type": "multi_select", "choices": [{"key": "a", "label": "A"}]},
        {"key": "at", "type": "datetime"}, {"key": "n", "type": "integer"}]}
    assert client.post("/api/meta/entities", json=doc).status_code == 201
    r = Pages(app).get("/app/deal/new?prefill[labels]=a&prefill[at]=garbage&prefill[n]=x&prefill[name]=Acme&next=//evil")
    assert r.status_code == 200
    page = text(r)
    assert 'value="Acme"' in page and 'name="next"' not in page


def test_a_reminder_in_the_timeline_draws_its_bell_without_an_emoji_font(crm, app, platform):
    """The bell beside a reminder is an inline SVG: on a phone without an emoji font 🔔 was a box."""
    from crm_platform import notifications
    from test_screens import Pages
    c = crm.post("/api/records/customer", json={"name": "Acme", "stage": "lead"}).get_json()
    with platform.engine.begin() as conn:
        notifications.notify(conn, [platform.users.get_by_name("admin").id], "reminder",
                             {"en": "Follow up Acme", "zh": "跟进 Acme"}, entity="customer", record_id=c["id"])
    page = Pages(app).get(f"/app/customer/{c['id']}").get_data(as_text=True)
    item = page.split('data-kind="notification"', 1)[1].split("</li>", 1)[0]
    assert '<span class="tl-bell" aria-hidden="true"><svg' in item and "Follow up Acme" in item
    assert "🔔" not in page
