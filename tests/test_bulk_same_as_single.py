"""The same records get the same rule tags, stage history and follow-ups whether they are created one
by one (``POST /api/records/<e>``) or in bulk (``POST /api/records/<e>/bulk``), on SQLite and PostgreSQL.

Two sides of the same data live in one database, told apart by a name prefix (``one-`` / ``bulk-``);
everything each side ends with is read back through the API and compared with the prefix removed.
"""
from __future__ import annotations

import pytest

LEVEL = {
    "key": "level", "label": "Level", "tags": [
        {"key": "big", "label": "Big spender",
         "rule": {"entity": "account", "all": [{"field": "spend", "op": "gte", "value": 1000}]}},
        {"key": "busy", "label": "Two notes or more",
         "rule": {"entity": "account", "all": [{"related": {"entity": "note", "via": "account"},
                                                 "aggregate": "count", "op": "gte", "value": 2}]}},
        {"key": "manual", "label": "Set by hand"},
    ]}
DEAL_SIZE = {
    "key": "deal_size", "label": "Deal size", "tags": [
        {"key": "large", "label": "Large",
         "rule": {"entity": "deal", "all": [{"field": "amount", "op": "gte", "value": 500}]}}]}
ACCOUNT = {"key": "account", "label": "Account", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "spend", "type": "decimal", "scale": 2},
    {"key": "levels", "type": "tags", "taxonomy": "level"}]}
NOTE = {"key": "note", "label": "Note", "title_field": "text", "fields": [
    {"key": "text", "type": "text", "required": True},
    {"key": "account", "type": "reference", "target": "account"}]}
DEAL = {"key": "deal", "label": "Deal", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "amount", "type": "decimal", "scale": 2},
    {"key": "stage", "type": "stage"},
    {"key": "size", "type": "tags", "taxonomy": "deal_size"}]}
TODO = {"key": "todo", "label": "To do", "title_field": "title", "fields": [
    {"key": "title", "type": "text", "required": True},
    {"key": "due_on", "type": "date"},
    {"key": "deal", "type": "reference", "target": "deal"}]}
FUNNEL = {"key": "funnel", "label": "Funnel", "entity": "deal", "field": "stage", "stages": [
    {"key": "lead", "label": "Lead"},
    {"key": "quote", "label": "Quote", "on_enter": {"entity": "todo", "values": {"title": "Chase {name}"},
                                                    "due_in_days": 2, "due_field": "due_on",
                                                    "assign_to_owner": True, "link_field": "deal"}},
    {"key": "won", "label": "Won", "category": "won"}]}

ACCOUNTS = [{"name": "a1", "spend": 1500, "levels": ["manual"]}, {"name": "a2", "spend": 999.99},
            {"name": "a3"}, {"name": "a4", "spend": 1000}]
NOTES = [("n1", "a1"), ("n2", "a1"), ("n3", "a2"), ("n4", "a3"), ("n5", "a3"), ("n6", "a3")]
DEALS = [{"name": "d1", "amount": 800, "stage": "quote"}, {"name": "d2", "amount": 100, "stage": "lead"},
         {"name": "d3", "stage": "won"}, {"name": "d4", "amount": 500}]


@pytest.fixture
def crm(client):
    # Taxonomies first without their rules (the rules name entities that do not exist yet).
    for doc in (LEVEL, DEAL_SIZE):
        r = client.post("/api/meta/taxonomies", json={**doc, "tags": [{k: v for k, v in t.items() if k != "rule"}
                                                                      for t in doc["tags"]]})
        assert r.status_code == 201, r.get_json()
    for path, doc in (("entities", ACCOUNT), ("entities", NOTE), ("entities", DEAL), ("entities", TODO),
                      ("pipelines", FUNNEL)):
        r = client.post(f"/api/meta/{path}", json=doc)
        assert r.status_code == 201, r.get_json()
    for doc in (LEVEL, DEAL_SIZE):
        r = client.patch(f"/api/meta/taxonomies/{doc['key']}", json={"tags": doc["tags"]})
        assert r.status_code == 200, r.get_json()
    return client


def named(prefix: str, record: dict) -> dict:
    return {**record, "name": prefix + record["name"]}


def ids_by_name(client, entity: str, prefix: str) -> dict[str, int]:
    r = client.get(f"/api/records/{entity}?per_page=500")
    assert r.status_code == 200, r.get_json()
    return {x["name"][len(prefix):]: x["id"] for x in r.get_json()["items"] if x["name"].startswith(prefix)}


def create_one_by_one(client, prefix: str) -> None:
    for entity, rows in (("account", ACCOUNTS), ("deal", DEALS)):
        for rec in rows:
            r = client.post(f"/api/records/{entity}", json=named(prefix, rec))
            assert r.status_code == 201, r.get_json()
    accounts = ids_by_name(client, "account", prefix)
    for text, account in NOTES:
        r = client.post("/api/records/note", json={"text": prefix + text, "account": accounts[account]})
        assert r.status_code == 201, r.get_json()


def create_in_bulk(client, prefix: str) -> None:
    for entity, rows in (("account", ACCOUNTS), ("deal", DEALS)):
        r = client.post(f"/api/records/{entity}/bulk", json={"records": [named(prefix, rec) for rec in rows]})
        assert (r.status_code, r.get_json()) == (201, {"created": len(rows)})
    accounts = ids_by_name(client, "account", prefix)
    r = client.post("/api/records/note/bulk", json={"records": [
        {"text": prefix + text, "account": accounts[account]} for text, account in NOTES]})
    assert (r.status_code, r.get_json()) == (201, {"created": len(NOTES)})


def outcome(client, prefix: str) -> dict:
    """What a user sees of one side: tags of every account and deal, each deal's stage history, the follow-ups."""
    seen = {}
    for entity, tags_field in (("account", "levels"), ("deal", "size")):
        for name, record_id in ids_by_name(client, entity, prefix).items():
            r = client.get(f"/api/records/{entity}/{record_id}")
            assert r.status_code == 200, r.get_json()
            seen[(entity, name)] = sorted(r.get_json()[tags_field])
    deals = ids_by_name(client, "deal", prefix)
    for name, record_id in deals.items():
        r = client.get(f"/api/records/deal/{record_id}/stage-history")
        assert r.status_code == 200, r.get_json()
        seen[("history", name)] = [(h["from_stage"], h["to_stage"]) for h in r.get_json()["items"]]
    names = {v: k for k, v in deals.items()}
    todos = client.get("/api/records/todo?per_page=500").get_json()["items"]
    seen["todos"] = sorted((t["title"].replace(prefix, ""), names[t["deal"]], t["due_on"] is not None)
                           for t in todos if t["deal"] in names)
    return seen


def test_bulk_created_records_get_the_same_tags_history_and_follow_ups_as_single_ones(crm):
    create_one_by_one(crm, "one-")
    create_in_bulk(crm, "bulk-")
    one, bulk = outcome(crm, "one-"), outcome(crm, "bulk-")
    # The oracle for the single path: the rules read by hand.
    assert one[("account", "a1")] == ["big", "busy", "manual"]
    assert one[("account", "a2")] == []
    assert one[("account", "a3")] == ["busy"]
    assert one[("account", "a4")] == ["big"]
    assert one[("deal", "d1")] == ["large"] and one[("deal", "d4")] == ["large"] and one[("deal", "d2")] == []
    assert one[("history", "d1")] == [(None, "quote")] and one[("history", "d4")] == []
    assert one["todos"] == [("Chase d1", "d1", True)]
    assert bulk == one


def test_bulk_children_retag_their_parents_like_single_children(crm):
    """A rule counting related records (two notes → busy) follows notes created in bulk."""
    r = crm.post("/api/records/account", json={"name": "solo"})
    account = r.get_json()["id"]
    assert r.get_json()["levels"] == []
    r = crm.post("/api/records/note/bulk", json={"records": [{"text": "x", "account": account},
                                                             {"text": "y", "account": account}]})
    assert r.status_code == 201, r.get_json()
    assert crm.get(f"/api/records/account/{account}").get_json()["levels"] == ["busy"]


def test_a_refused_bulk_create_leaves_no_tags_behind(crm, platform):
    r = crm.post("/api/records/account/bulk", json={"records": [{"name": "ok", "spend": 5000}, {"spend": 1}]})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["row"] == 1
    assert crm.get("/api/records/account").get_json()["total"] == 0
    entity = platform.runtime.current().entity("account")
    with platform.engine.connect() as conn:
        assert conn.execute(entity.link_tables["levels"].select()).all() == []


def test_a_hook_without_a_batch_form_sees_each_bulk_record_as_a_single_create(crm, platform):
    """Hooks added later run for bulk rows too: one ``create`` event per record, the record as ``create`` returns it."""
    seen = []
    hook = lambda event: seen.append((event.action, event.entity.key, event.record_id, event.after))  # noqa: E731
    platform.records.after_write.append(hook)
    try:
        r = crm.post("/api/records/account/bulk", json={"records": [{"name": "x", "spend": 2000}, {"name": "y"}]})
        assert r.status_code == 201, r.get_json()
    finally:
        platform.records.after_write.remove(hook)
    ids = sorted(ids_by_name(crm, "account", "").values())
    assert [(a, e, i) for a, e, i, _ in seen] == [("create", "account", ids[0]), ("create", "account", ids[1])]
    assert [crm.get(f"/api/records/account/{i}").get_json() for i in ids] == [after for *_, after in seen]
