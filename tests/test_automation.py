"""Automation rules: the definition kind and its refusals, event triggers run in the write's
transaction (single and bulk writes), every action, chain limits and the run log (SQLite and PostgreSQL)."""
from __future__ import annotations

import sqlalchemy as sa

import pytest

from crm_platform import jsonutil
from crm_platform.tables import automation_runs, notifications, outbox

CUSTOMER = {
    "key": "customer", "label": {"en": "Customer", "zh": "客户"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "email", "type": "email"},
        {"key": "level", "type": "select", "choices": [{"key": "normal", "label": "Normal"},
                                                       {"key": "vip", "label": "VIP"}]},
        {"key": "spent", "type": "decimal", "scale": 2},
        {"key": "last_contact_on", "type": "date"},
        {"key": "flags", "type": "tags", "taxonomy": "flags"},
    ],
}
FLAGS = {"key": "flags", "label": "Flags", "tags": [{"key": "vip", "label": "VIP"}, {"key": "watch", "label": "Watch"}]}
REQUEST = {
    "key": "request", "label": "Service request", "title_field": "subject",
    "fields": [
        {"key": "subject", "type": "text", "required": True},
        {"key": "priority", "type": "select", "choices": [{"key": "low", "label": "Low"},
                                                          {"key": "high", "label": "High"}]},
        {"key": "customer", "type": "reference", "target": "customer"},
        {"key": "note", "type": "text"},
    ],
}
TASK = {
    "key": "task", "label": "Task", "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "required": True, "max_length": 200},
        {"key": "due_on", "type": "date"},
        {"key": "customer", "type": "reference", "target": "customer"},
    ],
}
SERVICE = {"key": "service", "label": "Service", "entities": {"*": {"create": "all", "read": "all", "update": "all"}}}


@pytest.fixture
def crm(client, app):
    assert client.post("/api/meta/taxonomies", json=FLAGS).status_code == 201
    for doc in (CUSTOMER, REQUEST, TASK):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/roles", json=SERVICE)
    assert r.status_code == 201, r.get_json()
    return client


def rule(key="big_spender", **more):
    doc = {"key": key, "label": "Big spender", "entity": "customer", "active": True,
           "trigger": {"on": "created"}, "conditions": [{"field": "spent", "op": "gte", "value": "1000"}],
           "actions": [{"type": "add_tags", "field": "flags", "tags": ["vip"]}]}
    doc.update(more)
    return doc


def add_rule(client, doc):
    r = client.post("/api/meta/automations", json=doc)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def runs(platform, key):
    with platform.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(automation_runs).where(automation_runs.c.automation == key).order_by(automation_runs.c.id))]


def fields_of(r):
    return {e["field"] for e in r.get_json()["errors"]}


# ---- the definition kind -------------------------------------------------------------------

def test_an_automation_is_a_revisioned_definition(crm):
    body = add_rule(crm, rule())
    assert body["automation"]["key"] == "big_spender"
    listed = crm.get("/api/meta/automations").get_json()["items"]
    assert [a["key"] for a in listed] == ["big_spender"]
    r = crm.patch("/api/meta/automations/big_spender", json={"active": False})
    assert r.status_code == 200 and r.get_json()["automation"]["active"] is False
    revisions = crm.get("/api/meta/revisions").get_json()["items"]
    assert [(x["kind"], x["action"]) for x in revisions[:2]] == [("automation", "update"), ("automation", "create")]
    assert crm.get("/api/meta/schemas/automation").status_code == 200


@pytest.mark.parametrize("change, place", [
    ({"entity": "nope"}, "entity"),
    ({"conditions": [{"field": "nope", "op": "eq", "value": 1}]}, "conditions.0.field"),
    ({"trigger": {"on": "updated", "fields": ["nope"]}}, "trigger.fields"),
    ({"trigger": {"on": "schedule", "cron": "61 * * * *"}}, "trigger.cron"),
    ({"trigger": {"on": "schedule", "cron": "0 8 * * *", "timezone": "Mars/Olympus"}}, "trigger.timezone"),
    ({"trigger": {"on": "date", "field": "name"}}, "trigger.field"),
    ({"trigger": {"on": "stage_entered", "stage": "quote"}}, "trigger.stage"),
    ({"trigger": {"on": "created", "cron": "* * * * *"}}, "trigger.cron"),
    ({"actions": [{"type": "set_fields", "values": {"nope": 1}}]}, "actions.0.values.nope"),
    ({"actions": [{"type": "set_fields", "values": {"level": "gold"}}]}, "actions.0.values.level"),
    ({"actions": [{"type": "email", "to": ["{email}"], "subject": "Hi {nmae}", "body": "x"}]}, "actions.0.subject"),
    ({"actions": [{"type": "email", "to": ["not an address"], "subject": "Hi", "body": "x"}]}, "actions.0.to.0"),
    ({"actions": [{"type": "webhook", "url": "ftp://example.com/x"}]}, "actions.0.url"),
    ({"actions": [{"type": "webhook", "url": "javascript:alert(1)"}]}, "actions.0.url"),
    ({"actions": [{"type": "assign", "to": "round_robin", "role": "nobody"}]}, "actions.0.role"),
    ({"actions": [{"type": "assign", "to": "user", "user": "ghost"}]}, "actions.0.user"),
    ({"actions": [{"type": "notify", "users": ["ghost"], "message": "hi"}]}, "actions.0.users"),
    ({"actions": [{"type": "notify", "roles": ["nobody"], "message": "hi"}]}, "actions.0.roles"),
    ({"actions": [{"type": "add_tags", "field": "flags", "tags": ["nope"]}]}, "actions.0.tags"),
    ({"actions": [{"type": "create_record", "entity": "task", "values": {"title": "{nope}"}}]},
     "actions.0.values.title"),
    ({"actions": [{"type": "frobnicate"}]}, "actions.0.type"),
])
def test_a_bad_definition_is_refused_naming_the_place(crm, change, place):
    r = crm.post("/api/meta/automations", json=rule(**change))
    assert r.status_code == 422, r.get_json()
    assert place in fields_of(r), r.get_json()


# ---- event triggers and actions ---------------------------------------------------------------

def test_created_rule_tags_matching_records_single_and_bulk(crm, platform):
    add_rule(crm, rule())
    big = crm.post("/api/records/customer", json={"name": "Big", "spent": "5000"}).get_json()
    small = crm.post("/api/records/customer", json={"name": "Small", "spent": "10"}).get_json()
    assert crm.get(f"/api/records/customer/{big['id']}").get_json()["flags"] == ["vip"]
    assert crm.get(f"/api/records/customer/{small['id']}").get_json()["flags"] == []
    ids = []
    platform.records.create_many("customer", [{"name": f"c{i}", "spent": str(i * 600)} for i in range(4)],
                                 created_ids=ids)
    flags = [crm.get(f"/api/records/customer/{i}").get_json()["flags"] for i in ids]
    assert flags == [[], [], ["vip"], ["vip"]]
    logged = runs(platform, "big_spender")
    assert [r["record_id"] for r in logged] == [big["id"], ids[2], ids[3]]
    assert all(r["status"] == "ok" for r in logged)
    assert jsonutil.loads(logged[0]["actions"]) == [{"type": "add_tags", "outcome": "added vip"}]
    history = crm.get(f"/api/records/customer/{big['id']}/history").get_json()["items"]
    assert any(h.get("reason") == "automation 'big_spender'" for h in history)


def test_updated_rule_fires_only_when_the_field_changes_to_the_value(crm, platform):
    add_rule(crm, rule("became_vip", trigger={"on": "updated", "fields": ["level"], "to": "vip"}, conditions=[],
                       actions=[{"type": "notify", "owner": True, "message": {"en": "{name} is VIP now",
                                                                              "zh": "{name} 成为VIP"}},
                                {"type": "set_fields", "values": {"spent": "1"}}]))
    c = crm.post("/api/records/customer", json={"name": "Acme", "level": "normal"}).get_json()
    crm.patch(f"/api/records/customer/{c['id']}", json={"spent": "3"})
    assert runs(platform, "became_vip") == []
    crm.patch(f"/api/records/customer/{c['id']}", json={"level": "vip"})
    assert len(runs(platform, "became_vip")) == 1
    assert str(crm.get(f"/api/records/customer/{c['id']}").get_json()["spent"]) == "1.00"
    with platform.engine.connect() as conn:
        titles = conn.execute(sa.select(notifications.c.title)).scalars().all()
    assert len(titles) == 1 and "Acme is VIP now" in titles[0]


def test_high_priority_request_round_robin_email_and_webhook_in_the_outbox(crm, platform):
    users = platform.users
    a = users.create("ann", "pw-long-enough-1", roles=["service"])
    b = users.create("bob", "pw-long-enough-2", roles=["service"])
    add_rule(crm, {"key": "route", "label": "Route", "entity": "request", "trigger": {"on": "created"},
                   "conditions": [{"field": "priority", "op": "eq", "value": "high"}],
                   "actions": [{"type": "assign", "to": "round_robin", "role": "service"},
                               {"type": "notify", "owner": True, "message": "New request {subject}"},
                               {"type": "email", "to": ["help@example.com"], "subject": "Request {subject}",
                                "body": "Priority {priority}"},
                               {"type": "webhook", "url": "http://127.0.0.1:9/hook"}]})
    owners = []
    for n in range(3):
        r = crm.post("/api/records/request", json={"subject": f"S{n}", "priority": "high"})
        owners.append(crm.get(f"/api/records/request/{r.get_json()['id']}").get_json()["owner_id"])
    assert owners == [a.id, b.id, a.id]
    with platform.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.kind, outbox.c.payload).order_by(outbox.c.id)).all()
    assert [k for k, _ in rows] == ["email", "webhook"] * 3
    assert jsonutil.loads(rows[0].payload)["subject"] == "Request S0"
    hook = jsonutil.loads(rows[1].payload)["body"]
    assert hook["automation"] == "route" and hook["entity"] == "request" and hook["record"]["subject"] == "S0"


def test_a_failing_action_is_logged_and_the_write_stands(crm, platform):
    add_rule(crm, rule("no_one", conditions=[], actions=[{"type": "assign", "to": "least_loaded", "role": "service"},
                                                         {"type": "add_tags", "field": "flags", "tags": ["watch"]}]))
    r = crm.post("/api/records/customer", json={"name": "Acme"})
    assert r.status_code == 201
    assert crm.get(f"/api/records/customer/{r.get_json()['id']}").get_json()["flags"] == ["watch"]
    [run] = runs(platform, "no_one")
    assert run["status"] == "error" and "service" in run["error"]


def test_a_rule_never_fires_on_its_own_write(crm, platform):
    add_rule(crm, rule("bump", trigger={"on": "updated"}, conditions=[],
                       actions=[{"type": "set_fields", "values": {"name": "{name}!"}}]))
    c = crm.post("/api/records/customer", json={"name": "Acme"}).get_json()
    crm.patch(f"/api/records/customer/{c['id']}", json={"spent": "2"})
    assert crm.get(f"/api/records/customer/{c['id']}").get_json()["name"] == "Acme!"
    assert len(runs(platform, "bump")) == 1


def test_a_chain_back_to_the_first_rule_is_a_logged_loop(crm, platform):
    add_rule(crm, {"key": "one", "label": "One", "entity": "request", "trigger": {"on": "updated", "fields": ["subject"]},
                   "actions": [{"type": "set_fields", "values": {"note": "{note}a"}}]})
    add_rule(crm, {"key": "two", "label": "Two", "entity": "request", "trigger": {"on": "updated", "fields": ["note"]},
                   "actions": [{"type": "set_fields", "values": {"subject": "{subject}b"}}]})
    c = crm.post("/api/records/request", json={"subject": "S", "note": ""}).get_json()
    r = crm.patch(f"/api/records/request/{c['id']}", json={"subject": "T"})
    assert r.status_code == 200
    # subject → one sets note → two sets subject → one again: stopped there and logged as a loop
    assert crm.get(f"/api/records/request/{c['id']}").get_json()["subject"] == "Tb"
    by_status = {x["status"]: x for x in runs(platform, "one")}
    assert sorted(by_status) == ["loop", "ok"] and "one → two → one" in by_status["loop"]["error"]
    assert [x["status"] for x in runs(platform, "two")] == ["ok"]


# ---- dry run and run log ----------------------------------------------------------------------

def test_a_dry_run_says_how_many_records_the_rule_would_act_on_and_writes_nothing(crm, platform):
    for n, spent in enumerate(["5000", "20", "1500"]):
        crm.post("/api/records/customer", json={"name": f"C{n}", "spent": spent})
    r = crm.post("/api/meta/automations?dry_run=1", json=rule())
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["dry_run"] is True and body["matches"]["count"] == 2
    assert [s["title"] for s in body["matches"]["sample"]] == ["C0", "C2"]
    assert crm.get("/api/meta/automations/big_spender").status_code == 404
    assert runs(platform, "big_spender") == []
    # A time trigger: what the worker's next run would do.
    r = crm.post("/api/meta/automations?dry_run=1", json=rule(trigger={"on": "schedule", "cron": "* * * * *"}))
    assert r.get_json()["matches"]["count"] == 2


def test_the_run_log_api_lists_runs_newest_first_for_administrators(crm, platform, app):
    add_rule(crm, rule(actions=[{"type": "add_tags", "field": "flags", "tags": ["vip"]},
                                {"type": "webhook", "url": "http://127.0.0.1:9/hook"}]))
    ids = [crm.post("/api/records/customer", json={"name": f"C{n}", "spent": "2000"}).get_json()["id"]
           for n in range(3)]
    r = crm.get("/api/automations/big_spender/runs?limit=2")
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [i["record_id"] for i in items] == [ids[2], ids[1]]
    assert items[0]["trigger"] == "created" and items[0]["status"] == "ok" and items[0]["attempt"] == 1
    hook = items[0]["actions"][1]
    assert hook["type"] == "webhook" and hook["outcome"] == "queued"
    assert hook["delivery_status"]["status"] == "pending"
    older = crm.get(f"/api/automations/big_spender/runs?before={items[1]['id']}").get_json()["items"]
    assert [i["record_id"] for i in older] == [ids[0]]
    assert crm.get("/api/automations/big_spender/runs?status=bad").status_code == 400
    users = platform.users
    token = users.issue_token(users.create("clerk", "clerk-password-1"))
    r = crm.get("/api/automations/big_spender/runs", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


# ---- the admin ----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, words", [("en", ("Automation rules", "1 ok", "It would act on 1 records now.")),
                                         ("zh", ("自动化规则", "成功 1", "现在会作用于 1 条记录。"))])
def test_the_admin_lists_rules_with_their_runs_and_dry_runs_one(crm, platform, app, lang, words):
    add_rule(crm, rule())
    crm.post("/api/records/customer", json={"name": "Big", "spent": "5000"})
    from test_admin_designer import sign_in
    crm = sign_in(app.test_client())
    crm.set_cookie("crm_lang", lang)
    page = crm.get("/admin/automations/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert words[0] in html and words[1] in html and "big_spender" in html
    detail = crm.post("/admin/automations/big_spender")
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200 and words[2] in html and 'data-run="' in html and "Big" in html
    assert crm.get("/admin/automations/nothing").status_code == 404


def test_a_rule_whose_field_was_archived_stops_instead_of_failing_writes(crm, platform):
    add_rule(crm, rule())
    assert crm.delete("/api/meta/entities/customer/fields/spent").status_code == 200
    r = crm.post("/api/records/customer", json={"name": "Still works"})
    assert r.status_code == 201
    assert runs(platform, "big_spender") == []


def test_the_admin_writes_a_rule_as_json_plan_first_then_applied(crm, app):
    from test_admin_designer import sign_in
    admin = sign_in(app.test_client())
    assert "New automation rule" in admin.get("/admin/automations/new").get_data(as_text=True)
    bad = admin.post("/admin/automations/new", data={"definition": "{not json"})
    assert bad.status_code == 400 and "not JSON" in bad.get_data(as_text=True)
    wrong = admin.post("/admin/automations/new", data={"definition": jsonutil.dumps(
        rule(actions=[{"type": "webhook", "url": "ftp://x"}]))})
    assert wrong.status_code == 422 and "actions.0.url" in wrong.get_data(as_text=True)
    text = jsonutil.dumps(rule())
    shown = admin.post("/admin/automations/new", data={"definition": text})
    assert shown.status_code == 200 and 'data-testid="apply"' in shown.get_data(as_text=True)
    assert crm.get("/api/meta/automations/big_spender").status_code == 404  # a plan only
    done = admin.post("/admin/automations/new", data={"definition": text, "_confirm": "1"})
    assert done.status_code == 302
    assert crm.get("/api/meta/automations/big_spender").get_json()["conditions"]
    # Editing: the JSON is the whole rule, so leaving the conditions out removes them.
    edited = {k: v for k, v in rule().items() if k != "conditions"}
    r = admin.post("/admin/automations/big_spender/edit", data={"definition": jsonutil.dumps(edited), "_confirm": "1"})
    assert r.status_code == 302
    assert "conditions" not in crm.get("/api/meta/automations/big_spender").get_json()
