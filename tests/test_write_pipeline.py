"""The record service's one write pipeline: every operation runs the same stages in the same order
(gate → validate → load → authorise → stored data → before-write hooks → SQL → after-write hooks),
and the hooks are told, per record, the values before and after (SQLite and PostgreSQL).

``test_bulk_same_as_single.py`` holds bulk creates to the same rows as single ones.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform.errors import Conflict, error
from crm_platform.tables import audit_log, stage_history
from test_access import crm  # noqa: F401 - the fixture is used by name
from test_pipelines import b2b, errors_of, tasks  # noqa: F401 - b2b is a fixture

COMPANY = {"key": "company", "label": "Company", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "budget", "type": "decimal", "scale": 2}]}
CONTACT = {"key": "contact", "label": "Contact", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "company", "type": "reference", "target": "company", "on_delete": "set_null"}]}
OFFICE = {"key": "office", "label": "Office", "title_field": "city", "fields": [
    {"key": "city", "type": "text", "required": True},
    {"key": "company", "type": "reference", "target": "company", "on_delete": "cascade"}]}


@pytest.fixture
def firms(client):
    for doc in (COMPANY, CONTACT, OFFICE):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    return client


class Recorder:
    """A before- and an after-write hook that note what each batch tells them."""

    def __init__(self, platform):
        self.platform = platform
        self.seen: list[tuple] = []
        self.refuse: str | None = None  # an op to refuse in the before hook

    def before(self, conn, batch):
        self.seen.append(("before", batch.op, batch.entity.key, batch.reason, batch.actor_id,
                          [(w.id, w.row, _plain(w.before), dict(w.changes)) for w in batch]))
        if batch.op == self.refuse:
            raise Conflict([error(None, "refused", f"no {batch.op} today")])

    def after(self, conn, batch):
        self.seen.append(("after", batch.op, batch.entity.key, batch.reason, batch.actor_id,
                          [(w.id, w.row, _plain(w.before), _plain(w.after)) for w in batch]))

    def __enter__(self):
        self.platform.records.before_write.append(self.before)
        self.platform.records.after_write.append(self.after)
        return self

    def __exit__(self, *exc):
        self.platform.records.before_write.remove(self.before)
        self.platform.records.after_write.remove(self.after)

    def of(self, stage, op, entity=None):
        return [s for s in self.seen if s[0] == stage and s[1] == op and (entity is None or s[2] == entity)]


def _plain(record):
    """The record's own values (no stamps or version), or None."""
    if record is None:
        return None
    return {k: v for k, v in record.items() if k not in ("created_at", "updated_at", "created_by", "updated_by")}


def audit_actions(platform, entity):
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(audit_log.c.action, audit_log.c.record_id)
                            .where(audit_log.c.entity == entity).order_by(audit_log.c.id)).all()


def test_every_operation_hands_its_hooks_the_values_before_and_after(firms, platform):
    admin = platform.users.get_by_name("admin").id
    with Recorder(platform) as rec:
        co = firms.post("/api/records/company", json={"name": "Acme", "budget": 10}).get_json()["id"]
        r = firms.patch(f"/api/records/company/{co}", json={"budget": "12.5"}, headers={"X-Change-Reason": "raise"})
        assert r.status_code == 200 and r.get_json()["budget"] == Decimal("12.50")
        assert firms.delete(f"/api/records/company/{co}").status_code == 204
        assert firms.post(f"/api/records/company/{co}/restore").status_code == 200
        assert firms.post("/api/records/company/bulk", json={"records": [{"name": "B"}, {"name": "C"}]}).status_code == 201

    # create: nothing before, the validated values (a decimal at its scale), then the stored record
    created = {"name": "Acme", "budget": Decimal("10.00")}
    assert rec.of("before", "create")[0] == ("before", "create", "company", None, admin, [(None, None, None, created)])
    (*_, [(i, row, before, after)]) = rec.of("after", "create")[0]
    assert (i, row, before) == (co, None, None)
    assert after == {"id": co, "version": 1, "owner_id": admin, **created}
    # update: the stored record and the fields sent; after the write, the record as stored
    (_, _, _, reason, actor, [(i, row, before, changes)]) = rec.of("before", "update")[0]
    assert (i, row, reason, actor, changes) == (co, None, "raise", admin, {"budget": Decimal("12.50")})
    assert before["budget"] == Decimal("10.00") and before["version"] == 1
    (*_, [(_, _, before, after)]) = rec.of("after", "update")[0]
    assert (before["budget"], after["budget"], after["version"]) == (Decimal("10.00"), Decimal("12.50"), 2)
    # delete: the record before, nothing after; restore: the record in the bin, then restored
    (*_, [(i, _, before, changes)]) = rec.of("before", "delete")[0]
    assert (i, before["budget"], before["version"], changes) == (co, Decimal("12.50"), 2, {})
    (*_, [(_, _, before, after)]) = rec.of("after", "delete")[0]
    assert before["version"] == 2 and after is None
    (*_, [(i, _, before, changes)]) = rec.of("before", "restore")[0]
    assert (i, before["version"], changes) == (co, 3, {})
    (*_, [(_, _, before, after)]) = rec.of("after", "restore")[0]
    assert (before["version"], after["version"], after["budget"]) == (3, 4, Decimal("12.50"))
    # bulk: one batch, each record with its row
    (*_, items) = rec.of("before", "create")[1]
    assert [(i, row, before, changes) for i, row, before, changes in items] == [
        (None, 0, None, {"name": "B"}), (None, 1, None, {"name": "C"})]
    (*_, items) = rec.of("after", "create")[1]
    assert [(row, after["name"]) for _, row, _, after in items] == [(0, "B"), (1, "C")]
    # The order of the stages: each op's before hook ran before its after hook, and audit saw them all.
    assert [(s[0], s[1]) for s in rec.seen] == [
        ("before", "create"), ("after", "create"), ("before", "update"), ("after", "update"),
        ("before", "delete"), ("after", "delete"), ("before", "restore"), ("after", "restore"),
        ("before", "create"), ("after", "create")]
    assert [a for a, _ in audit_actions(platform, "company")] == ["create", "update", "delete", "restore", "create",
                                                                  "create"]


@pytest.mark.parametrize("op", ["create", "update", "delete", "restore"])
def test_a_before_hook_refuses_any_operation_and_nothing_is_written(firms, platform, op):
    co = firms.post("/api/records/company", json={"name": "Acme"}).get_json()["id"]
    if op == "restore":
        assert firms.delete(f"/api/records/company/{co}").status_code == 204
    before = firms.get("/api/records/company?per_page=100").get_json()
    audited = audit_actions(platform, "company")
    calls = {
        "create": lambda: [firms.post("/api/records/company", json={"name": "New"}),
                           firms.post("/api/records/company/bulk", json={"records": [{"name": "N1"}, {"name": "N2"}]})],
        "update": lambda: [firms.patch(f"/api/records/company/{co}", json={"name": "Renamed"})],
        "delete": lambda: [firms.delete(f"/api/records/company/{co}")],
        "restore": lambda: [firms.post(f"/api/records/company/{co}/restore")],
    }
    with Recorder(platform) as rec:
        rec.refuse = op
        for r in calls[op]():
            assert r.status_code == 409 and errors_of(r) == [
                {"field": None, "code": "refused", "message": f"no {op} today"}], r.get_json()
    assert firms.get("/api/records/company?per_page=100").get_json() == before
    assert audit_actions(platform, "company") == audited
    assert rec.of("after", op) == []


def test_a_set_null_and_a_cascade_are_update_and_delete_batches_through_the_hooks(firms, platform):
    co = firms.post("/api/records/company", json={"name": "Acme"}).get_json()["id"]
    people = [firms.post("/api/records/contact", json={"name": n, "company": co}).get_json()["id"] for n in "PQ"]
    office = firms.post("/api/records/office", json={"city": "Wuhan", "company": co}).get_json()["id"]
    with Recorder(platform) as rec:
        assert firms.delete(f"/api/records/company/{co}").status_code == 204
    (_, _, _, reason, _, items) = rec.of("before", "update", "contact")[0]
    assert reason == f"company {co} was deleted"
    assert [(i, before["company"], changes) for i, _, before, changes in items] == [
        (people[0], co, {"company": None}), (people[1], co, {"company": None})]
    (*_, items) = rec.of("after", "update", "contact")[0]
    assert [(i, after["company"], after["version"]) for i, _, _, after in items] == [(people[0], None, 2),
                                                                                    (people[1], None, 2)]
    (*_, items) = rec.of("before", "delete", "office")[0]
    assert [(i, before["city"]) for i, _, before, _ in items] == [(office, "Wuhan")]
    assert [(s[0], s[1], s[2]) for s in rec.seen] == [
        ("before", "delete", "company"), ("before", "update", "contact"), ("after", "update", "contact"),
        ("before", "delete", "office"), ("after", "delete", "office"), ("after", "delete", "company")]
    assert [a for a, _ in audit_actions(platform, "contact")] == ["create", "create", "update", "update"]
    assert firms.get(f"/api/records/office/{office}").status_code == 404


# ---- one order of checks for every operation ------------------------------------------------------

def test_without_the_right_a_caller_learns_nothing_from_validation(crm):  # noqa: F811
    """The gate comes first: 403 whatever the values, for single and bulk creates and updates."""
    deal = crm.admin.post("/api/records/deal", json={"title": "T"}).get_json()["id"]
    for method, url, body in [("POST", "/api/records/customer", {"name": 5, "nope": 1}),
                              ("POST", "/api/records/customer/bulk", {"records": [{"name": 5}, "not an object"]}),
                              ("PATCH", f"/api/records/deal/{deal}", {"title": 5, "nope": 1})]:
        r = crm.as_("clerk", method, url, json=body)
        assert r.status_code == 403 and [e["code"] for e in errors_of(r)] == ["forbidden"], (url, r.get_json())
    # A field the caller may not read is refused before its value is judged, on create and update.
    r = crm.as_("ann", "PATCH", f"/api/records/deal/{deal}", json={"amount": "not a number"})
    assert r.status_code == 403 and errors_of(r)[0]["field"] == "amount", r.get_json()
    r = crm.as_("mia", "POST", "/api/records/deal", json={"title": 5})
    assert r.status_code == 422 and errors_of(r)[0]["field"] == "title"  # with the right: the value's error


def test_update_checks_values_before_the_record_and_the_record_before_references(crm):  # noqa: F811
    alices = crm.as_("alice", "POST", "/api/records/customer", json={"name": "A"}).get_json()["id"]
    bobs = crm.as_("bob", "POST", "/api/records/customer", json={"name": "B"}).get_json()["id"]
    deal = crm.as_("bob", "POST", "/api/records/deal", json={"title": "Bob's"}).get_json()["id"]
    # a bad value: 422 whoever owns the record (it says nothing about the record)
    r = crm.as_("alice", "PATCH", f"/api/records/deal/{deal}", json={"title": None})
    assert r.status_code == 422 and errors_of(r)[0]["field"] == "title"
    # a good value for a record alice may not see: 404, before her reference is judged
    r = crm.as_("alice", "PATCH", f"/api/records/deal/{deal}", json={"customer": alices})
    assert r.status_code == 404
    # her own record, a customer she may not see: 422 naming the reference, as for one that does not exist
    mine = crm.as_("alice", "POST", "/api/records/deal", json={"title": "Mine"}).get_json()["id"]
    r = crm.as_("alice", "PATCH", f"/api/records/deal/{mine}", json={"customer": bobs})
    assert r.status_code == 422 and errors_of(r)[0]["code"] == "reference"
    r = crm.as_("alice", "POST", "/api/records/deal/bulk", json={"records": [{"title": "x", "customer": alices},
                                                                             {"title": "y", "customer": bobs}]})
    assert r.status_code == 422 and [(e["row"], e["code"]) for e in errors_of(r)] == [(1, "reference")]


# ---- pipelines in bulk ----------------------------------------------------------------------------

def test_bulk_stage_entries_write_history_in_one_batch_and_follow_ups_through_create_many(b2b, platform):  # noqa: F811
    with Recorder(platform) as rec:
        r = b2b.post("/api/records/opportunity/bulk", json={"records": [
            {"name": "A", "stage": "quote"}, {"name": "B"}, {"name": "C", "stage": "quote"}]})
        assert r.status_code == 201, r.get_json()
    # the follow-ups are one create batch of two tasks, made inside the opportunities' batch
    assert [(s[0], s[2], len(s[-1])) for s in rec.seen] == [
        ("before", "opportunity", 3), ("before", "task", 2), ("after", "task", 2), ("after", "opportunity", 3)]
    assert sorted(t["title"] for t in tasks(b2b)) == ["Follow up A", "Follow up C"]
    with platform.engine.connect() as conn:
        moved = conn.execute(sa.select(stage_history.c.to_stage, stage_history.c.moved_at)).all()
    assert [m.to_stage for m in moved] == ["quote", "quote"] and moved[0].moved_at == moved[1].moved_at


def test_a_follow_up_that_cannot_be_created_names_the_row_that_entered_the_stage(b2b, platform):  # noqa: F811
    long = "x" * 195  # "Follow up " + 195 characters is longer than a task title may be
    r = b2b.post("/api/records/opportunity/bulk", json={"records": [
        {"name": "A", "stage": "quote"}, {"name": "B"}, {"name": long, "stage": "quote"}]})
    assert r.status_code == 422, r.get_json()
    assert [(e["row"], e["field"]) for e in errors_of(r)] == [(2, "on_enter.title")]
    assert "the follow-up task of stage 'quote' could not be created" in errors_of(r)[0]["message"]
    assert b2b.get("/api/records/opportunity").get_json()["total"] == 0 and tasks(b2b) == []
    # A single create says the same without a row.
    r = b2b.post("/api/records/opportunity", json={"name": long, "stage": "quote"})
    assert r.status_code == 422 and "row" not in errors_of(r)[0] and errors_of(r)[0]["field"] == "on_enter.title"
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(stage_history)).scalar_one() == 0


def test_bulk_entries_report_every_row_missing_a_required_field(b2b):  # noqa: F811
    r = b2b.post("/api/records/opportunity/bulk", json={"records": [
        {"name": "A", "stage": "signed"}, {"name": "B", "stage": "signed", "contract_no": "C-1"},
        {"name": "C", "stage": "signed", "contract_no": ""}]})
    assert r.status_code == 422
    assert [(e["row"], e["field"], e["code"]) for e in errors_of(r)] == [(0, "contract_no", "required"),
                                                                        (2, "contract_no", "required")]
    assert b2b.get("/api/records/opportunity").get_json()["total"] == 0
