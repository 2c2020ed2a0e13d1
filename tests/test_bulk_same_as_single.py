"""The same records get the same rule tags, stage history and follow-ups whether they are created one
by one (``POST /api/records/<e>``) or in bulk (``POST /api/records/<e>/bulk``), on SQLite and PostgreSQL.

Two sides of the same data live in one database, told apart by a name prefix (``one-`` / ``bulk-``);
everything each side ends with is read back through the API and compared with the prefix removed.
The last test compares every table the platform writes, row by row, for the record service's
``create`` and ``create_many``.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform import jsonutil

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
    {"key": "size", "type": "tags", "taxonomy": "deal_size"},
    {"key": "closes_at", "type": "datetime"}]}
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


def test_a_hook_is_given_a_bulk_create_as_one_batch_of_what_single_creates_give_it(crm, platform):
    """Hooks added later see bulk rows too: one batch holding, for each record, what a single
    create of the same record hands the hook (bookkeeping stamps and ids aside)."""
    seen = []

    def hook(conn, batch):
        seen.append([(w.op, w.entity.key, w.row, w.before, w.id,
                      {k: v for k, v in w.after.items() if k not in ("id", "created_at", "updated_at")})
                     for w in batch])

    platform.records.after_write.append(hook)
    try:
        rows = [{"name": "x", "spend": 2000, "levels": ["manual"]}, {"name": "y"}]
        for row in rows:
            assert crm.post("/api/records/account", json=row).status_code == 201
        r = crm.post("/api/records/account/bulk", json={"records": rows})
        assert r.status_code == 201, r.get_json()
    finally:
        platform.records.after_write.remove(hook)
    ids = sorted(x["id"] for x in crm.get("/api/records/account").get_json()["items"])
    assert len(ids) == 4 and [len(b) for b in seen] == [1, 1, 2]
    singles, bulk = [b[0] for b in seen[:2]], seen[2]
    assert [(op, e, row, before, i) for op, e, row, before, i, _ in singles + bulk] == [
        ("create", "account", None, None, ids[0]), ("create", "account", None, None, ids[1]),
        ("create", "account", 0, None, ids[2]), ("create", "account", 1, None, ids[3])]
    assert [after for *_, after in bulk] == [after for *_, after in singles]
    assert singles[0][-1]["spend"] == Decimal("2000.00") and singles[0][-1]["levels"] == ["manual"]


# ---- every table, row by row ---------------------------------------------------------------------

# Values as a Python caller (an import) hands them over: an integer for a decimal, a datetime with
# an offset, tags in another order than the taxonomy's.
SERVICE_ACCOUNTS = [{"name": "a1", "spend": 1500, "levels": ["manual"]}, {"name": "a2", "spend": "999.9"},
                    {"name": "a3"}, {"name": "a4", "spend": Decimal("1000")}]
SERVICE_DEALS = [{"name": "d1", "amount": 800, "stage": "quote", "closes_at": "2026-03-01T10:30:00+02:00"},
                 {"name": "d2", "amount": "100.5", "stage": "lead"}, {"name": "d3", "stage": "won"},
                 {"name": "d4", "amount": 500, "size": [], "closes_at": "2026-03-02T00:00:00Z"}]


def everything(conn) -> dict[str, list[dict]]:
    """Every row of every table in the database, by table name."""
    meta = sa.MetaData()
    meta.reflect(conn)
    return {name: [dict(r._mapping) for r in conn.execute(t.select())] for name, t in meta.tables.items()}


class Sides:
    """Turns rows of the tables record writes touch into comparable values, and says which side
    (``one-`` or ``bulk-``) wrote each: ids become the record's name without its prefix."""

    PREFIXES = ("one-", "bulk-")

    def __init__(self, model, tables: dict[str, list[dict]]):
        self.model = model
        self.names: dict[tuple[str, int], tuple[str, str]] = {}  # (entity, id) -> (side, name)
        self.by_table = {}
        for entity in model.entities.values():
            self.by_table[entity.table.name] = ("records", entity)
            for link in entity.link_tables.values():
                self.by_table[link.name] = ("links", entity)
            title = entity.doc["title_field"]
            for row in tables.get(entity.table.name, []):
                self.names[(entity.key, row["id"])] = self.split(row[title])

    def split(self, text: str) -> tuple[str, str]:
        for prefix in self.PREFIXES:
            if prefix in text:
                return prefix, text.replace(prefix, "")
        raise AssertionError(f"{text!r} was written by neither side")

    def plain(self, value):
        if isinstance(value, str):
            for prefix in self.PREFIXES:
                value = value.replace(prefix, "")
        return value

    def ref(self, entity_key: str, record_id):
        return None if record_id is None else self.names[(entity_key, record_id)][1]

    def values(self, entity, values: dict) -> dict:
        """Field values with references named and prefixes removed."""
        out = {}
        for k, v in values.items():
            target = entity.references.get(k)
            out[k] = self.ref(target, v) if target else self.plain(v)
        return out

    def row(self, table: str, row: dict) -> tuple[str, object]:
        """(side, comparable row) of a row of ``table``."""
        kind, entity = self.by_table.get(table, (table, None))
        if kind == "records":
            side = self.names[(entity.key, row["id"])][0]
            kept = {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}
            return side, self.values(entity, kept)
        if kind == "links":
            side, name = self.names[(entity.key, row["record_id"])]
            return side, (name, row["tag"])
        if kind == "crm_stage_history":
            side, name = self.names[(row["entity"], row["record_id"])]
            return side, {**{k: v for k, v in row.items() if k not in ("id", "moved_at")}, "record_id": name}
        if kind == "crm_audit":
            side, name = self.names[(row["entity"], row["record_id"])]
            entity = self.model.entities[row["entity"]]
            changes = {k: [self.values(entity, {k: old})[k], self.values(entity, {k: new})[k]]
                       for k, (old, new) in jsonutil.loads(row["changes"]).items()}
            return side, {**{k: v for k, v in row.items() if k not in ("id", "at")}, "record_id": name,
                          "changes": changes}
        if kind == "crm_search":  # the global search index: the same values, folded the same way
            side, name = self.names[(row["entity"], row["record_id"])]
            return side, {"entity": row["entity"], "record_id": name, "field": row["field"],
                          "text": self.plain(row["text"])}
        raise AssertionError(f"a record write changed table {table}")


def test_create_and_create_many_write_the_same_rows_to_every_table(crm, platform):
    """Records, tag links (rule tags included), stage history, follow-up records and audit rows:
    the same, row for row, whichever of ``create`` and ``create_many`` wrote the records."""
    records = platform.records
    admin = platform.users.get_by_name("admin").id
    with platform.engine.connect() as conn:
        before = everything(conn)

    def with_prefix(prefix, rows):
        return [named(prefix, r) for r in rows]

    for entity, rows in (("account", SERVICE_ACCOUNTS), ("deal", SERVICE_DEALS)):
        for row in with_prefix("one-", rows):
            records.create(entity, row, actor_id=admin, reason="import")
    accounts = ids_by_name(crm, "account", "one-")
    for text, account in NOTES:
        records.create("note", {"text": "one-" + text, "account": accounts[account]}, actor_id=admin, reason="import")

    for entity, rows in (("account", SERVICE_ACCOUNTS), ("deal", SERVICE_DEALS)):
        assert records.create_many(entity, with_prefix("bulk-", rows), actor_id=admin, reason="import") == len(rows)
    accounts = ids_by_name(crm, "account", "bulk-")
    assert records.create_many("note", [{"text": "bulk-" + text, "account": accounts[account]}
                                        for text, account in NOTES], actor_id=admin, reason="import") == len(NOTES)

    with platform.engine.connect() as conn:
        after = everything(conn)
    sides = Sides(platform.runtime.current(), after)
    compared = {}
    for table, rows in after.items():
        if rows == before[table] or table.startswith("crm_search_fts"):  # SQLite's FTS5 shadow tables of crm_search
            continue
        assert not before[table] or table in ("crm_audit",), f"{table} held rows before the records were written"
        seen = {prefix: [] for prefix in Sides.PREFIXES}
        for row in rows:
            if row in before[table]:  # the audit rows of the users made before the records
                continue
            side, value = sides.row(table, row)
            seen[side].append(value)
        compared[table] = (sorted(seen["one-"], key=repr), sorted(seen["bulk-"], key=repr))
    # What was written: every record table, both tags tables, the stage history and the audit trail.
    model = platform.runtime.current()
    assert set(compared) == {model.entities[e].table.name for e in ("account", "note", "deal", "todo")} | {
        model.entities["account"].link_tables["levels"].name, model.entities["deal"].link_tables["size"].name,
        "crm_stage_history", "crm_audit", "crm_search"}
    for table, (one, bulk) in compared.items():
        assert one, table
        assert bulk == one, table
    # A few rows read by hand, so that "the same" is not "the same mistake".
    assert len(compared["crm_stage_history"][0]) == 3  # d1 quote, d2 lead, d3 won
    todo = model.entities["todo"].table.name
    assert [r["title"] for r in compared[todo][0]] == ["Chase d1"]
    audit = compared["crm_audit"][0]
    assert {(a["entity"], a["action"], a["reason"]) for a in audit} == {
        ("account", "create", "import"), ("deal", "create", "import"), ("note", "create", "import"),
        ("todo", "create", "on entering stage quote of pipeline funnel")}
    a1 = next(a for a in audit if a["entity"] == "account" and a["record_id"] == "a1")
    assert jsonutil.dumps(a1["changes"]["spend"]) == "[null, 1500.00]"  # as stored, two decimals
