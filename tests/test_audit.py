"""The audit trail: one row per record write with who, when, old and new values and a reason;
required reasons; the history endpoint (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform import jsonutil
from crm_platform.tables import audit_log

from test_pipelines import OPPORTUNITY, SALES, TASK, move, new_opp

DEAL = {
    "key": "deal", "label": "Deal", "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "amount", "type": "decimal", "scale": 2},
        {"key": "seats", "type": "integer"},
        {"key": "note", "type": "text"},
    ],
}


@pytest.fixture
def crm(client):
    r = client.post("/api/meta/entities", json=DEAL)
    assert r.status_code == 201, r.get_json()
    return client


def history(client, record_id, entity="deal", **params):
    r = client.get(f"/api/records/{entity}/{record_id}/history", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def audit_rows(platform, entity="deal"):
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(audit_log).where(audit_log.c.entity == entity).order_by(audit_log.c.id)).all()


def admin_id(platform):
    return platform.users.get_by_name("admin").id


def test_create_update_delete_restore_write_exact_rows(crm, platform):
    started = dt.datetime.now(dt.timezone.utc)
    r = crm.post("/api/records/deal", json={"name": "Acme", "amount": Decimal("1234567890123.45"), "seats": 3})
    assert r.status_code == 201, r.get_json()
    deal = r.get_json()
    rid = deal["id"]
    r = crm.patch(f"/api/records/deal/{rid}", json={"amount": Decimal("0.10"), "note": "bigger", "name": "Acme"},
                  headers={"X-Change-Reason": "customer asked"})
    assert r.status_code == 200, r.get_json()
    assert crm.delete(f"/api/records/deal/{rid}", json={"_reason": "duplicate"}).status_code == 204
    r = crm.post(f"/api/records/deal/{rid}/restore", headers={"X-Change-Reason": "not a duplicate after all"})
    assert r.status_code == 200, r.get_json()

    got = history(crm, rid)
    assert got["total"] == 4 and got["page"] == 1 and got["pages"] == 1
    restore, delete, update, create = got["items"]
    me = admin_id(platform)
    assert [i["action"] for i in got["items"]] == ["restore", "delete", "update", "create"]
    assert all(i["actor_id"] == me and i["actor"] == "admin" and i["entity"] == "deal" and i["record_id"] == rid
               for i in got["items"])

    assert create["reason"] is None
    assert create["changes"] == {"name": [None, "Acme"], "amount": [None, Decimal("1234567890123.45")],
                                 "seats": [None, 3], "owner_id": [None, me]}
    # only what changed ("name" was sent with its old value), decimals exact, reason from the header
    assert update["changes"] == {"amount": [Decimal("1234567890123.45"), Decimal("0.10")], "note": [None, "bigger"]}
    assert str(update["changes"]["amount"][1]) == "0.10"
    assert update["reason"] == "customer asked"
    # delete keeps what the record held; reason from the body's _reason
    assert delete["changes"] == {"name": ["Acme", None], "amount": [Decimal("0.10"), None], "seats": [3, None],
                                 "note": ["bigger", None], "owner_id": [me, None]}
    assert delete["reason"] == "duplicate"
    assert restore["changes"] == {"name": [None, "Acme"], "amount": [None, Decimal("0.10")], "seats": [None, 3],
                                  "note": [None, "bigger"], "owner_id": [None, me]}
    assert restore["reason"] == "not a duplicate after all"

    # stored as JSON text with exact decimal digits, times in UTC
    rows = audit_rows(platform)
    assert len(rows) == 4
    assert '"1234567890123.45"' not in rows[0].changes and "1234567890123.45" in rows[0].changes
    assert jsonutil.loads(rows[1].changes)["amount"] == [Decimal("1234567890123.45"), Decimal("0.10")]
    for row in rows:
        assert row.at.tzinfo is not None and started - dt.timedelta(seconds=5) <= row.at
        assert dt.datetime.fromisoformat(next(i for i in got["items"] if i["id"] == row.id)["at"]
                                         .replace("Z", "+00:00")) == row.at


def test_reason_from_body_on_update_and_header_on_create(crm):
    rid = crm.post("/api/records/deal", json={"name": "A", "_reason": "imported by hand"}).get_json()["id"]
    r = crm.patch(f"/api/records/deal/{rid}", json={"seats": 5, "_reason": "from the body"})
    assert r.status_code == 200 and "_reason" not in r.get_json()
    items = history(crm, rid)["items"]
    assert [(i["action"], i["reason"]) for i in items] == [("update", "from the body"), ("create", "imported by hand")]
    assert items[0]["changes"] == {"seats": [None, 5]}
    # the body wins over the header when both are sent
    crm.patch(f"/api/records/deal/{rid}", json={"seats": 6, "_reason": "body"}, headers={"X-Change-Reason": "header"})
    assert history(crm, rid)["items"][0]["reason"] == "body"


def test_a_failed_write_leaves_no_audit_row(crm, platform):
    rid = crm.post("/api/records/deal", json={"name": "A"}).get_json()["id"]
    assert crm.patch(f"/api/records/deal/{rid}", json={"seats": "many"}).status_code == 422
    assert crm.patch(f"/api/records/deal/{rid}", json={"seats": 1}, headers={"If-Match": '"7"'}).status_code == 409
    assert [r.action for r in audit_rows(platform)] == ["create"]


def test_required_reason_refuses_update_and_delete_without_one(crm, platform):
    r = crm.patch("/api/meta/entities/deal", json={"require_change_reason": True})
    assert r.status_code == 200, r.get_json()
    assert crm.get("/api/meta/entities/deal").get_json()["require_change_reason"] is True
    rid = crm.post("/api/records/deal", json={"name": "A", "amount": Decimal("1.00")}).get_json()["id"]  # create needs none

    for body, headers in (({"amount": Decimal("2.00")}, {}), ({"amount": Decimal("2.00"), "_reason": "  "}, {}),
                          ({"amount": Decimal("2.00")}, {"X-Change-Reason": ""})):
        r = crm.patch(f"/api/records/deal/{rid}", json=body, headers=headers)
        assert r.status_code == 422
        assert [(e["field"], e["code"]) for e in r.get_json()["errors"]] == [("_reason", "required")]
    r = crm.delete(f"/api/records/deal/{rid}")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "_reason"

    # nothing changed: the record is live, unchanged, and only its creation is in the trail
    record = crm.get(f"/api/records/deal/{rid}").get_json()
    assert record["amount"] == Decimal("1.00") and record["version"] == 1
    assert [row.action for row in audit_rows(platform)] == ["create"]

    assert crm.patch(f"/api/records/deal/{rid}", json={"amount": Decimal("2.00")},
                     headers={"X-Change-Reason": "price list"}).status_code == 200
    assert crm.delete(f"/api/records/deal/{rid}", json={"_reason": "lost"}).status_code == 204
    assert [(i["action"], i["reason"]) for i in history(crm, rid)["items"]] == [
        ("delete", "lost"), ("update", "price list"), ("create", None)]

    # the option must be a boolean
    r = crm.patch("/api/meta/entities/deal", json={"require_change_reason": "yes"})
    assert r.status_code == 422


def test_required_reason_through_the_record_service(crm, platform):
    from crm_platform.errors import Invalid
    crm.patch("/api/meta/entities/deal", json={"require_change_reason": True})
    rec = platform.records.create("deal", {"name": "A"})
    with pytest.raises(Invalid):
        platform.records.update("deal", rec["id"], {"seats": 1})
    with pytest.raises(Invalid):
        platform.records.delete("deal", rec["id"])
    platform.records.delete("deal", rec["id"], reason="cleanup", actor_id=None)
    row = audit_rows(platform)[-1]
    assert (row.action, row.reason, row.actor_id) == ("delete", "cleanup", None)


@pytest.fixture
def b2b(client):
    for doc in (OPPORTUNITY, TASK):
        assert client.post("/api/meta/entities", json=doc).status_code == 201
    assert client.post("/api/meta/pipelines", json=SALES).status_code == 201
    return client


def test_stage_moves_show_up(b2b):
    opp = new_opp(b2b, stage="first_contact", amount=Decimal("10.5"))
    assert move(b2b, opp["id"], "needs_analysis").status_code == 200
    r = move(b2b, opp["id"], "signed")  # not allowed: refused, nothing written
    assert r.status_code == 409
    items = history(b2b, opp["id"], "opportunity")["items"]
    assert [i["action"] for i in items] == ["update", "create"]
    assert items[0]["changes"] == {"stage": ["first_contact", "needs_analysis"]}
    assert items[1]["changes"]["stage"] == [None, "first_contact"]
    assert items[1]["changes"]["amount"] == [None, Decimal("10.50")]

    # entering "quote" creates a follow-up task through the record service: audited too, with its reason
    assert move(b2b, opp["id"], "quote").status_code == 200
    task = b2b.get("/api/records/task").get_json()["items"][0]
    got = history(b2b, task["id"], "task")["items"]
    assert [i["action"] for i in got] == ["create"]
    assert got[0]["reason"] == "on entering stage quote of pipeline sales"
    assert got[0]["changes"]["opportunity"] == [None, opp["id"]]


def test_bulk_stage_move_on_archiving_a_stage_is_audited(b2b):
    a = new_opp(b2b, name="A", stage="needs_analysis")
    stages = [dict(s) for s in SALES["stages"]]
    stages[1].update(archived=True, move_to="quote")
    r = b2b.patch("/api/meta/pipelines/sales", json={"stages": stages})
    assert r.status_code == 200, r.get_json()
    top = history(b2b, a["id"], "opportunity")["items"][0]
    assert top["action"] == "stage" and top["changes"] == {"stage": ["needs_analysis", "quote"]}
    assert "needs_analysis" in top["reason"] and "sales" in top["reason"]
    # The reason is the system's: the timeline says it in the reader's language, stages and pipeline by label.
    assert (top["reason_key"], top["reason_args"]) == ("stage_archived", {
        "pipeline": "sales", "from_stage": "needs_analysis", "stage": "quote"})
    items = b2b.get(f"/api/records/opportunity/{a['id']}/timeline", headers={"Accept-Language": "zh"}).get_json()["items"]
    moved = next(i for i in items if i["kind"] == "change" and i["action"] == "stage")
    assert moved["reason"] == "「销售漏斗」的「Needs analysis」阶段已归档，移入「Quote」阶段"


def test_a_stage_follow_ups_reason_is_said_in_the_readers_language(b2b):
    opp = new_opp(b2b, name="A", stage="first_contact")
    assert move(b2b, opp["id"], "needs_analysis").status_code == 200
    assert move(b2b, opp["id"], "quote").status_code == 200
    task = b2b.get("/api/records/task").get_json()["items"][0]
    got = history(b2b, task["id"], "task")["items"][0]
    assert got["reason"] == "on entering stage quote of pipeline sales" and got["reason_key"] == "stage_entered"
    items = b2b.get(f"/api/records/task/{task['id']}/timeline", headers={"Accept-Language": "zh"}).get_json()["items"]
    created = next(i for i in items if i["kind"] == "change" and i["action"] == "create")
    assert created["reason"] == "进入「销售漏斗」的「Quote」阶段后的后续事项"
    items = b2b.get(f"/api/records/task/{task['id']}/timeline", headers={"Accept-Language": "en"}).get_json()["items"]
    assert next(i for i in items if i.get("action") == "create")["reason"] == "Follow-up on entering “Quote” of “Sales funnel”"


def test_history_is_newest_first_and_paged(crm):
    rid = crm.post("/api/records/deal", json={"name": "A", "seats": 0}).get_json()["id"]
    for n in range(1, 8):
        assert crm.patch(f"/api/records/deal/{rid}", json={"seats": n}).status_code == 200
    full = history(crm, rid)
    assert full["total"] == 8 and full["per_page"] == 50
    assert [i["changes"].get("seats") for i in full["items"]] == [[n - 1, n] for n in range(7, 0, -1)] + [[None, 0]]
    ids = [i["id"] for i in full["items"]]
    assert ids == sorted(ids, reverse=True)

    p1 = history(crm, rid, page=1, per_page=3)
    p3 = history(crm, rid, page=3, per_page=3)
    assert (p1["total"], p1["pages"], p1["page"], p1["per_page"]) == (8, 3, 1, 3)
    assert [i["id"] for i in p1["items"]] == ids[:3]
    assert [i["id"] for i in history(crm, rid, page=2, per_page=3)["items"]] == ids[3:6]
    assert [i["id"] for i in p3["items"]] == ids[6:]
    assert history(crm, rid, page=9, per_page=3)["items"] == []
    for bad in ({"page": 0}, {"per_page": 0}, {"per_page": "x"}, {"per_page": 100000}):
        r = crm.get(f"/api/records/deal/{rid}/history", query_string=bad)
        assert r.status_code == 400, bad


def test_history_includes_records_in_the_recycle_bin_and_404s(crm):
    rid = crm.post("/api/records/deal", json={"name": "A"}).get_json()["id"]
    assert crm.delete(f"/api/records/deal/{rid}").status_code == 204
    assert crm.get(f"/api/records/deal/{rid}").status_code == 404
    assert [i["action"] for i in history(crm, rid)["items"]] == ["delete", "create"]

    assert crm.get(f"/api/records/deal/{rid + 1}/history").status_code == 404
    assert crm.get(f"/api/records/nothing/{rid}/history").status_code == 404
    assert crm.get(f"/api/records/deal/{2**63}/history").status_code == 404
    # an archived entity is unknown too
    assert crm.delete("/api/meta/entities/deal").status_code == 200
    assert crm.get(f"/api/records/deal/{rid}/history").status_code == 404


def test_the_trail_is_append_only_through_the_api(crm):
    rid = crm.post("/api/records/deal", json={"name": "A"}).get_json()["id"]
    url = f"/api/records/deal/{rid}/history"
    for method in (crm.post, crm.put, crm.patch, crm.delete):
        assert method(url, json={}).status_code == 405
    item = history(crm, rid)["items"][0]
    for method in (crm.put, crm.patch, crm.delete):
        assert method(f"{url}/{item['id']}", json={}).status_code == 404  # no such address: entries have none
    assert history(crm, rid)["total"] == 1


def test_cascaded_deletes_write_a_row_per_record(client, platform):
    client.post("/api/meta/entities", json={"key": "company", "label": "Company", "fields": [
        {"key": "name", "type": "text"}]})
    client.post("/api/meta/entities", json={"key": "contact", "label": "Contact", "fields": [
        {"key": "name", "type": "text"},
        {"key": "company", "type": "reference", "target": "company", "on_delete": "cascade"}]})
    co = client.post("/api/records/company", json={"name": "Acme"}).get_json()["id"]
    ct = client.post("/api/records/contact", json={"name": "Ann", "company": co}).get_json()["id"]
    assert client.delete(f"/api/records/company/{co}", headers={"X-Change-Reason": "closed"}).status_code == 204
    top = history(client, ct, "contact")["items"][0]
    assert top["action"] == "delete" and top["reason"] == "closed"
    assert top["changes"]["company"] == [co, None]


def test_clearing_references_on_delete_writes_an_update_row_per_record(client, platform):
    """on_delete set_null used to clear the references without a trace in the trail."""
    client.post("/api/meta/entities", json={"key": "company", "label": "Company", "fields": [
        {"key": "name", "type": "text"}]})
    client.post("/api/meta/entities", json={"key": "contact", "label": "Contact", "fields": [
        {"key": "name", "type": "text"},
        {"key": "company", "type": "reference", "target": "company", "on_delete": "set_null"}]})
    co = client.post("/api/records/company", json={"name": "Acme"}).get_json()["id"]
    ids = [client.post("/api/records/contact", json={"name": n, "company": co}).get_json()["id"] for n in ("Ann", "Bo")]
    assert client.delete(f"/api/records/company/{co}").status_code == 204
    for ct in ids:
        top = history(client, ct, "contact")["items"][0]
        assert (top["action"], top["changes"], top["reason"]) == ("update", {"company": [co, None]},
                                                                   f"company {co} was deleted")
        assert top["actor_id"] == admin_id(platform)
        assert client.get(f"/api/records/contact/{ct}").get_json()["version"] == 2


def test_bulk_creates_write_a_create_row_per_record(crm, platform):
    """Bulk creates used to leave no audit rows at all."""
    rows = [{"name": "A", "amount": Decimal("1.50")}, {"name": "B", "seats": 2}]
    assert crm.post("/api/records/deal/bulk", json={"records": rows}).status_code == 201
    got = audit_rows(platform)
    assert [(r.action, r.actor_id, jsonutil.loads(r.changes)) for r in got] == [
        ("create", admin_id(platform), {"name": [None, "A"], "amount": [None, Decimal("1.50")],
                                        "owner_id": [None, admin_id(platform)]}),
        ("create", admin_id(platform), {"name": [None, "B"], "seats": [None, 2], "owner_id": [None, admin_id(platform)]}),
    ]
    ids = [r["id"] for r in crm.get("/api/records/deal?sort=id").get_json()["items"]]
    assert [r.record_id for r in got] == ids
    # Each record's own history names it (ids handed out in the order of the rows), and a record
    # created afterwards, one at a time, gets a new id of its own.
    for record_id, name in zip(ids, ["A", "B"]):
        history = crm.get(f"/api/records/deal/{record_id}/history").get_json()["items"]
        assert history[0]["changes"]["name"] == [None, name]
    later = crm.post("/api/records/deal", json={"name": "C"}).get_json()["id"]
    assert later not in ids
    assert crm.post("/api/records/deal/bulk", json={"records": [{"name": "D"}]}).status_code == 201
    assert len({r["id"] for r in crm.get("/api/records/deal").get_json()["items"]}) == 4
