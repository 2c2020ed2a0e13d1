"""Behaviours that a deliberately broken product once passed (issue 13): each test here fails on the
broken behaviour named in its docstring and passes on the right one, on SQLite and PostgreSQL.

Every refusal also checks that nothing changed: the row, its history, the definition.
"""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform.bundles import exporter
from test_pipelines import OPPORTUNITY, SALES, TASK


def row(platform, entity: str, record_id: int) -> dict:
    """The record's row as the database holds it (no service in between)."""
    table = platform.runtime.current().entity(entity).table
    with platform.engine.connect() as conn:
        return dict(conn.execute(sa.select(table).where(table.c.id == record_id)).mappings().one())


# ---- 1. update: own does not let a user change someone else's record ----------------------------------

NOTE = {"key": "note", "label": "Note", "title_field": "title",
        "fields": [{"key": "title", "type": "text", "required": True}, {"key": "body", "type": "text"}]}


def test_read_all_update_own_cannot_change_another_users_record(app, client, platform):
    """Broken: ``allows("update")`` consulted the read scope (all), so Bob's PATCH of Alice's note answered 200."""
    assert client.post("/api/meta/entities", json=NOTE).status_code == 201
    role = {"key": "peer", "label": "Peer", "entities": {"note": {"create": "own", "read": "all", "update": "own"}}}
    assert client.post("/api/meta/roles", json=role).status_code == 201
    users = platform.users
    tokens = {n: users.issue_token(users.create(n, f"{n}-password", roles=["peer"])) for n in ("alice", "bob")}

    def as_(name, method, url, **kw):
        return client.open(url, method=method, headers={"Authorization": f"Bearer {tokens[name]}"}, **kw)

    r = as_("alice", "POST", "/api/records/note", json={"title": "Alice's", "body": "mine"})
    assert r.status_code == 201, r.get_json()
    note = r.get_json()
    before = row(platform, "note", note["id"])
    assert as_("bob", "GET", f"/api/records/note/{note['id']}").status_code == 200  # he may read it...
    r = as_("bob", "PATCH", f"/api/records/note/{note['id']}", json={"body": "Bob was here"})
    assert r.status_code == 403, r.get_json()  # ...but not change it
    assert "your own note" in r.get_json()["errors"][0]["message"]
    assert row(platform, "note", note["id"]) == before
    assert as_("bob", "DELETE", f"/api/records/note/{note['id']}").status_code == 403
    assert row(platform, "note", note["id"]) == before
    # Alice may change her own.
    assert as_("alice", "PATCH", f"/api/records/note/{note['id']}", json={"body": "still mine"}).status_code == 200


# ---- 2. an empty allowed_next means "nowhere", not "anywhere" -----------------------------------------

def test_a_terminal_stage_with_no_allowed_next_cannot_be_left(client, platform):
    """Broken: ``allowed_next: []`` treated like ``"any"`` (falsy), so signed → lost answered 200."""
    for doc in (OPPORTUNITY, TASK):
        assert client.post("/api/meta/entities", json=doc).status_code == 201
    assert client.post("/api/meta/pipelines", json=SALES).status_code == 201
    r = client.post("/api/records/opportunity", json={"name": "Acme", "stage": "signed", "contract_no": "C-1"})
    assert r.status_code == 201, r.get_json()
    opp = r.get_json()
    before = row(platform, "opportunity", opp["id"])
    history = client.get(f"/api/records/opportunity/{opp['id']}/stage-history").get_json()["items"]
    for target in ("lost", "first_contact", "quote"):
        r = client.patch(f"/api/records/opportunity/{opp['id']}", json={"stage": target})
        assert r.status_code == 409, r.get_json()
        err = r.get_json()["errors"][0]
        assert (err["field"], err["code"], err["from_stage"], err["to_stage"], err["allowed"]) == (
            "stage", "transition", "signed", target, [])
        assert "allowed from 'signed': none" in err["message"]
    assert row(platform, "opportunity", opp["id"]) == before
    assert client.get(f"/api/records/opportunity/{opp['id']}/stage-history").get_json()["items"] == history


# ---- 3. a lossy retype is refused -----------------------------------------------------------------------

def test_text_holding_a_fraction_cannot_be_retyped_to_integer(client, platform):
    """Broken: "5.5" converted with ``int()`` and stored as 5; the change must be refused, data untouched."""
    entity = {"key": "item", "label": "Item", "title_field": "title",
              "fields": [{"key": "title", "type": "text", "required": True}, {"key": "code", "type": "text"}]}
    assert client.post("/api/meta/entities", json=entity).status_code == 201
    ids = [client.post("/api/records/item", json={"title": t, "code": c}).get_json()["id"]
           for t, c in (("whole", "7"), ("fraction", "5.5"))]
    revisions = client.get("/api/meta/revisions").get_json()["items"]
    r = client.patch("/api/meta/entities/item/fields/code", json={"type": "integer"})
    assert r.status_code == 409, r.get_json()
    assert any(e.get("field", "").endswith("code") or "code" in e["message"] for e in r.get_json()["errors"]), \
        r.get_json()
    assert [row(platform, "item", i)["code"] for i in ids] == ["7", "5.5"]
    assert client.get("/api/meta/entities/item").get_json()["fields"][1]["type"] == "text"
    assert client.get("/api/meta/revisions").get_json()["items"] == revisions
    # Without the fraction the same change is fine, and converts exactly.
    assert client.patch(f"/api/records/item/{ids[1]}", json={"code": "6"}).status_code == 200
    r = client.patch("/api/meta/entities/item/fields/code", json={"type": "integer"})
    assert r.status_code == 200, r.get_json()
    assert [row(platform, "item", i)["code"] for i in ids] == [7, 6]


# ---- 5. related rule tags follow deletes and re-pointing ---------------------------------------------------

REGULAR = {"key": "activity", "label": "Activity", "tags": [
    {"key": "regular", "label": "Regular", "rule": {"entity": "customer", "all": [
        {"related": {"entity": "contact_log", "via": "customer"}, "aggregate": "count", "op": "gte", "value": 2}]}}]}


@pytest.fixture
def logs(client):
    assert client.post("/api/meta/entities", json={"key": "customer", "label": "Customer", "title_field": "name", "fields": [
        {"key": "name", "type": "text", "required": True}]}).status_code == 201
    assert client.post("/api/meta/entities", json={"key": "contact_log", "label": "Contact", "fields": [
        {"key": "customer", "type": "reference", "target": "customer", "on_delete": "cascade"}]}).status_code == 201
    assert client.post("/api/meta/taxonomies", json=REGULAR).status_code == 201
    assert client.post("/api/meta/entities/customer/fields",
                       json={"key": "activity", "type": "tags", "taxonomy": "activity"}).status_code == 201
    return client


def tagged(client) -> dict[str, list]:
    return {c["name"]: c["activity"] for c in client.get("/api/records/customer").get_json()["items"]}


def test_deleting_a_related_record_updates_the_parents_rule_tag(logs):
    """Broken: rules re-evaluated for the written record's new state only; a delete has none, so the tag stayed."""
    a = logs.post("/api/records/customer", json={"name": "A"}).get_json()["id"]
    log_ids = [logs.post("/api/records/contact_log", json={"customer": a}).get_json()["id"] for _ in range(2)]
    assert tagged(logs) == {"A": ["regular"]}
    assert logs.delete(f"/api/records/contact_log/{log_ids[0]}").status_code == 204
    assert tagged(logs) == {"A": []}
    assert logs.post(f"/api/records/contact_log/{log_ids[0]}/restore").status_code == 200
    assert tagged(logs) == {"A": ["regular"]}


def test_re_pointing_a_related_record_updates_old_and_new_parents(logs):
    """Broken: only the new parent (the ``after`` snapshot) was re-evaluated; the old one kept its tag."""
    a = logs.post("/api/records/customer", json={"name": "A"}).get_json()["id"]
    b = logs.post("/api/records/customer", json={"name": "B"}).get_json()["id"]
    moving = [logs.post("/api/records/contact_log", json={"customer": a}).get_json()["id"] for _ in range(2)][0]
    logs.post("/api/records/contact_log", json={"customer": b})
    assert tagged(logs) == {"A": ["regular"], "B": []}
    r = logs.patch(f"/api/records/contact_log/{moving}", json={"customer": b})
    assert r.status_code == 200, r.get_json()
    assert tagged(logs) == {"A": [], "B": ["regular"]}


# ---- 6, 7. decimals at full declared precision, never through a float ---------------------------------------

# (scale, values with DECIMAL_PRECISION = 18 significant digits); a float keeps about 15-17.
FULL_PRECISION = [
    (2, ["9999999999999999.99", "-9999999999999999.99", "1234567890123456.78", "0.01"]),
    (0, ["999999999999999999", "-123456789012345678"]),
    (10, ["99999999.9999999999", "12345678.1234567891", "-0.0000000001"]),
]


@pytest.mark.parametrize("scale, values", FULL_PRECISION, ids=lambda v: str(v) if isinstance(v, int) else None)
def test_decimals_at_full_precision_are_written_and_read_exactly(client, platform, scale, values):
    """Broken: the SQLite column type went through float on write (or on read): 9999999999999999.99
    became 10000000000000000.00."""
    entity = {"key": "money", "label": "Money", "title_field": "title", "fields": [
        {"key": "title", "type": "text", "required": True}, {"key": "amount", "type": "decimal", "scale": scale}]}
    assert client.post("/api/meta/entities", json=entity).status_code == 201
    for text in values:
        r = client.post("/api/records/money", data=f'{{"title": "x", "amount": {text}}}',
                        content_type="application/json")
        assert r.status_code == 201, r.get_json()
        assert json.loads(r.get_data(), parse_float=Decimal)["amount"] == Decimal(text)
        rid = r.get_json()["id"]
        # What the database holds, read without the column type: the scaled integer on SQLite.
        with platform.engine.connect() as conn:
            raw = conn.execute(sa.text("SELECT CAST(amount AS TEXT) FROM ent_money WHERE id = :i"), {"i": rid}).scalar_one()
        expected = Decimal(text)
        if platform.engine.dialect.name == "sqlite":
            assert int(raw) == int(expected.scaleb(scale))
        else:
            assert Decimal(raw) == expected
        # What the service reads back through the column type, and what the API answers.
        assert platform.records.get("money", rid)["amount"] == expected
        assert str(platform.records.get("money", rid)["amount"]) == str(expected.quantize(Decimal(1).scaleb(-scale)))
        body = client.get(f"/api/records/money/{rid}").get_data(as_text=True)
        assert json.loads(body, parse_float=Decimal)["amount"] == expected, body
        # Filtering by the exact value finds it (the comparison is exact too).
        found = client.get(f"/api/records/money?filter[amount][eq]={text}").get_json()["items"]
        assert [x["id"] for x in found] == [rid]


# ---- 8. exported sample data keeps false and 0 -----------------------------------------------------------

def test_exported_sample_data_keeps_false_and_zero(client, platform):
    """Broken: ``if value:`` in the exporter dropped false, 0 and 0.00 from the records."""
    entity = {"key": "flagged", "label": "Flagged", "title_field": "title", "fields": [
        {"key": "title", "type": "text", "required": True}, {"key": "done", "type": "boolean"},
        {"key": "count", "type": "integer"}, {"key": "price", "type": "decimal", "scale": 2},
        {"key": "note", "type": "text"}]}
    assert client.post("/api/meta/entities", json=entity).status_code == 201
    source = [{"title": "zeros", "done": False, "count": 0, "price": Decimal("0.00")},
              {"title": "ones", "done": True, "count": 1, "price": Decimal("1.50"), "note": "n"},
              {"title": "empty"}]
    for rec in source:
        assert client.post("/api/records/flagged", json=rec).status_code == 201
    exported = exporter.export(platform, name="x", sample_data=True)["sample_data"]["flagged"]
    assert [{k: v for k, v in r.items() if k != "_key"} for r in exported] == source
    assert exported[0]["done"] is False and type(exported[0]["count"]) is int
