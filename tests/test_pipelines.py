"""Stage pipelines: definitions, moves through the record PATCH, history, follow-ups, funnel figures,
live changes to stages, and bad definitions (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform.tables import stage_history

OPPORTUNITY = {
    "key": "opportunity", "label": {"en": "Opportunity", "zh": "商机"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "amount", "type": "decimal", "scale": 2},
        {"key": "seats", "type": "integer"},
        {"key": "contract_no", "type": "text"},
        {"key": "stage", "type": "stage", "label": {"en": "Stage", "zh": "阶段"}},
        {"key": "note", "type": "text"},
    ],
}
TASK = {
    "key": "task", "label": "Task", "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "required": True, "max_length": 200},
        {"key": "due_on", "type": "date"},
        {"key": "opportunity", "type": "reference", "target": "opportunity"},
    ],
}
SALES = {
    "key": "sales", "label": {"en": "Sales funnel", "zh": "销售漏斗"}, "entity": "opportunity", "field": "stage",
    "amount_field": "amount",
    "stages": [
        {"key": "first_contact", "label": {"en": "First contact", "zh": "初次接触"}, "probability": 10,
         "category": "open", "allowed_next": ["needs_analysis", "lost"]},
        {"key": "needs_analysis", "label": "Needs analysis", "probability": 30, "category": "open",
         "allowed_next": ["quote", "lost"]},
        {"key": "quote", "label": "Quote", "probability": 60, "category": "open", "allowed_next": ["signed", "lost"],
         "on_enter": {"entity": "task", "values": {"title": "Follow up {name}"}, "due_in_days": 2,
                      "due_field": "due_on", "assign_to_owner": True, "link_field": "opportunity"}},
        {"key": "signed", "label": "Signed", "probability": 100, "category": "won", "required_fields": ["contract_no"],
         "allowed_next": []},
        {"key": "lost", "label": "Lost", "probability": 0, "category": "lost", "allowed_next": ["first_contact"]},
    ],
}


def errors_of(r):
    return r.get_json()["errors"]


@pytest.fixture
def b2b(client):
    for doc in (OPPORTUNITY, TASK):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/pipelines", json=SALES)
    assert r.status_code == 201, r.get_json()
    return client


def new_opp(client, **values):
    r = client.post("/api/records/opportunity", json={"name": "Acme", **values})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def move(client, record_id, stage, **more):
    return client.patch(f"/api/records/opportunity/{record_id}", json={"stage": stage, **more})


def history(client, record_id, entity="opportunity"):
    r = client.get(f"/api/records/{entity}/{record_id}/stage-history")
    assert r.status_code == 200, r.get_json()
    return [(h["from_stage"], h["to_stage"]) for h in r.get_json()["items"]]


def tasks(client):
    return client.get("/api/records/task").get_json()["items"]


# ---- definitions ------------------------------------------------------------------------------

def test_pipeline_definition_is_served_and_binds_the_stage_field(b2b):
    r = b2b.get("/api/meta/pipelines")
    assert [p["key"] for p in r.get_json()["items"]] == ["sales"]
    got = b2b.get("/api/meta/pipelines/sales").get_json()
    assert got["entity"] == "opportunity" and got["archived"] is False
    assert [s["key"] for s in got["stages"]] == ["first_contact", "needs_analysis", "quote", "signed", "lost"]
    schema = b2b.get("/api/meta/entities/opportunity/schema").get_json()
    assert schema["properties"]["stage"]["anyOf"][0] == {
        "type": "string", "enum": ["first_contact", "needs_analysis", "quote", "signed", "lost"]}
    assert b2b.get("/api/meta/pipelines/nope").status_code == 404


def test_stage_field_without_pipeline_accepts_no_value(client):
    client.post("/api/meta/entities", json=OPPORTUNITY)
    r = client.post("/api/records/opportunity", json={"name": "A", "stage": "quote"})
    assert r.status_code == 422
    assert errors_of(r)[0]["field"] == "stage" and "no pipeline" in errors_of(r)[0]["message"]
    assert client.post("/api/records/opportunity", json={"name": "A"}).status_code == 201


def test_unknown_stage_is_refused_and_stage_filters_work(b2b):
    r = b2b.post("/api/records/opportunity", json={"name": "A", "stage": "won_big"})
    assert r.status_code == 422 and errors_of(r)[0]["field"] == "stage" and errors_of(r)[0]["code"] == "enum"
    new_opp(b2b, name="A", stage="first_contact")
    new_opp(b2b, name="B", stage="needs_analysis")
    new_opp(b2b, name="C")
    names = lambda q: sorted(x["name"] for x in b2b.get(f"/api/records/opportunity?{q}").get_json()["items"])  # noqa: E731
    assert names("filter[stage]=first_contact") == ["A"]
    assert names("filter[stage][ne]=first_contact") == ["B", "C"]
    assert names("filter[stage][in]=first_contact,needs_analysis") == ["A", "B"]
    assert names("filter[stage][not_in]=first_contact") == ["B", "C"]
    assert b2b.get("/api/records/opportunity?filter[stage]=nope").status_code == 400
    assert b2b.get("/api/records/opportunity?filter[stage][gt]=quote").status_code == 400


# ---- moves -------------------------------------------------------------------------------------

def test_allowed_moves_record_history_and_refused_moves_name_the_stages(b2b):
    opp = new_opp(b2b, stage="first_contact")
    assert move(b2b, opp["id"], "needs_analysis").status_code == 200
    r = move(b2b, opp["id"], "signed")
    assert r.status_code == 409
    err = errors_of(r)[0]
    assert err["field"] == "stage" and err["from_stage"] == "needs_analysis" and err["to_stage"] == "signed"
    assert err["allowed"] == ["quote", "lost"]
    assert "needs_analysis" in err["message"] and "signed" in err["message"] and "quote, lost" in err["message"]
    assert b2b.get(f"/api/records/opportunity/{opp['id']}").get_json()["stage"] == "needs_analysis"
    assert move(b2b, opp["id"], "lost").status_code == 200
    assert move(b2b, opp["id"], "first_contact").status_code == 200
    assert history(b2b, opp["id"]) == [(None, "first_contact"), ("first_contact", "needs_analysis"),
                                       ("needs_analysis", "lost"), ("lost", "first_contact")]
    item = b2b.get(f"/api/records/opportunity/{opp['id']}/stage-history").get_json()["items"][0]
    assert item["pipeline"] == "sales" and item["moved_at"].endswith("Z") and "actor_id" in item


def test_patch_without_stage_change_writes_no_history(b2b):
    opp = new_opp(b2b, stage="first_contact")
    assert b2b.patch(f"/api/records/opportunity/{opp['id']}", json={"note": "x"}).status_code == 200
    assert move(b2b, opp["id"], "first_contact").status_code == 200  # same stage: not a move
    assert history(b2b, opp["id"]) == [(None, "first_contact")]
    plain = new_opp(b2b)
    assert history(b2b, plain["id"]) == []


def test_entry_requirements_name_each_missing_field(b2b, client):
    b2b.patch("/api/meta/pipelines/sales", json={"stages": [
        {**s, "required_fields": ["contract_no", "seats"]} if s["key"] == "signed" else s for s in SALES["stages"]]})
    opp = new_opp(b2b, stage="quote")
    r = move(b2b, opp["id"], "signed")
    assert r.status_code == 422
    assert sorted(e["field"] for e in errors_of(r)) == ["contract_no", "seats"]
    assert all("signed" in e["message"] and e["code"] == "required" for e in errors_of(r))
    # the merged record counts: a value stored earlier plus one sent with the move
    assert b2b.patch(f"/api/records/opportunity/{opp['id']}", json={"seats": 5}).status_code == 200
    r = move(b2b, opp["id"], "signed")
    assert r.status_code == 422 and [e["field"] for e in errors_of(r)] == ["contract_no"]
    r = move(b2b, opp["id"], "signed", contract_no="")
    assert r.status_code == 422 and [e["field"] for e in errors_of(r)] == ["contract_no"]
    r = move(b2b, opp["id"], "signed", contract_no="C-2024-001")
    assert r.status_code == 200 and r.get_json()["stage"] == "signed"
    # entering by creation checks the requirements too
    r = b2b.post("/api/records/opportunity", json={"name": "B", "stage": "signed"})
    assert r.status_code == 422 and sorted(e["field"] for e in errors_of(r)) == ["contract_no", "seats"]
    assert history(b2b, opp["id"])[-1] == ("quote", "signed")


def test_entering_quote_creates_the_follow_up_task_in_the_same_transaction(b2b, platform):
    seller = platform.users.create("seller", "seller-password")  # owner_id names a user that exists
    opp = new_opp(b2b, name="Acme Corp", stage="needs_analysis", owner_id=seller.id)
    assert tasks(b2b) == []
    r = move(b2b, opp["id"], "quote")
    assert r.status_code == 200, r.get_json()
    [task] = tasks(b2b)
    assert task["title"] == "Follow up Acme Corp"
    assert task["opportunity"] == opp["id"] and task["owner_id"] == seller.id
    today = dt.datetime.now(dt.timezone.utc).date()
    assert task["due_on"] in {(today + dt.timedelta(days=2)).isoformat(), (today + dt.timedelta(days=3)).isoformat()}
    # a created record entering quote also gets its task
    new_opp(b2b, name="Beta", stage="quote")
    assert sorted(t["title"] for t in tasks(b2b)) == ["Follow up Acme Corp", "Follow up Beta"]


def test_failed_follow_up_rolls_back_the_move_and_its_history(b2b):
    opp = new_opp(b2b, name="N" * 195, stage="needs_analysis")  # "Follow up " + 195 chars > task title max 200
    r = move(b2b, opp["id"], "quote")
    assert r.status_code == 422
    assert errors_of(r)[0]["field"] == "on_enter.title" and "follow-up task" in errors_of(r)[0]["message"]
    assert b2b.get(f"/api/records/opportunity/{opp['id']}").get_json()["stage"] == "needs_analysis"
    assert history(b2b, opp["id"]) == [(None, "needs_analysis")]
    assert tasks(b2b) == []


def test_refused_move_creates_no_task(b2b):
    opp = new_opp(b2b, stage="first_contact")
    assert move(b2b, opp["id"], "quote").status_code == 409  # quote is not next to first_contact
    assert tasks(b2b) == [] and history(b2b, opp["id"]) == [(None, "first_contact")]


def test_stage_history_of_unknown_record_or_entity_is_404(b2b):
    assert b2b.get("/api/records/opportunity/99/stage-history").status_code == 404
    assert b2b.get("/api/records/nothing/1/stage-history").status_code == 404


# ---- summary -----------------------------------------------------------------------------------

def _set_history_times(platform, record_id, days_ago: list[float], now: dt.datetime):
    h = stage_history
    with platform.engine.begin() as conn:
        ids = conn.execute(sa.select(h.c.id).where(h.c.entity == "opportunity", h.c.record_id == record_id)
                           .order_by(h.c.id)).scalars().all()
        assert len(ids) == len(days_ago)
        for row_id, ago in zip(ids, days_ago):
            conn.execute(h.update().where(h.c.id == row_id).values(moved_at=now - dt.timedelta(days=ago)))


def test_summary_figures_on_a_small_data_set(b2b, platform):
    now = dt.datetime.now(dt.timezone.utc)
    a = new_opp(b2b, name="A", amount=Decimal("1000.10"), seats=1, stage="first_contact")
    b = new_opp(b2b, name="B", amount=Decimal("200.05"), seats=2, stage="first_contact")
    c = new_opp(b2b, name="C", amount=Decimal("0.01"), seats=3, stage="first_contact")
    d = new_opp(b2b, name="D", amount=50, seats=4, stage="first_contact")
    for rid in (a["id"], b["id"], c["id"]):
        assert move(b2b, rid, "needs_analysis").status_code == 200
    assert move(b2b, a["id"], "quote").status_code == 200
    assert move(b2b, a["id"], "signed", contract_no="K1").status_code == 200
    assert move(b2b, b["id"], "lost").status_code == 200
    # A: first_contact 10 days, needs_analysis 4, quote 2, then signed (still, 1 day so far)
    _set_history_times(platform, a["id"], [17, 7, 3, 1], now)
    # B: first_contact 6 days, needs_analysis 2 days, then lost
    _set_history_times(platform, b["id"], [10, 4, 2], now)
    # C: first_contact 2 days, needs_analysis 4 days so far
    _set_history_times(platform, c["id"], [6, 4], now)
    # D: first_contact 8 days so far
    _set_history_times(platform, d["id"], [8], now)

    r = b2b.get("/api/pipelines/sales/summary")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["amount_field"] == "amount"
    s = {x["key"]: x for x in body["stages"]}
    assert [x["key"] for x in body["stages"]] == ["first_contact", "needs_analysis", "quote", "signed", "lost"]
    assert {k: v["count"] for k, v in s.items()} == {"first_contact": 1, "needs_analysis": 1, "quote": 0,
                                                      "signed": 1, "lost": 1}
    assert s["first_contact"]["amount"] == Decimal("50.00")
    assert s["needs_analysis"]["amount"] == Decimal("0.01")
    assert s["signed"]["amount"] == Decimal("1000.10") and s["lost"]["amount"] == Decimal("200.05")
    assert s["quote"]["amount"] == 0
    assert b'"amount": 1000.10' in r.data  # exact, digit for digit
    assert {k: v["entered"] for k, v in s.items()} == {"first_contact": 4, "needs_analysis": 3, "quote": 1,
                                                        "signed": 1, "lost": 1}
    assert s["first_contact"]["next_stage"] == "needs_analysis" and s["first_contact"]["conversion"] == Decimal("0.75")
    assert s["needs_analysis"]["conversion"] == Decimal("0.3333")
    assert s["quote"]["next_stage"] == "signed" and s["quote"]["conversion"] == 1
    assert s["signed"]["conversion"] is None and s["lost"]["conversion"] is None
    # average days: first_contact (10 + 6 + 2 + 8) / 4; needs_analysis (4 + 2 + 4) / 3; quote 2
    assert s["first_contact"]["avg_days"] == Decimal("6.50")
    assert s["needs_analysis"]["avg_days"] == Decimal("3.33")
    assert s["quote"]["avg_days"] == Decimal("2.00")
    assert s["signed"]["avg_days"] == Decimal("1.00") and s["lost"]["avg_days"] == Decimal("2.00")

    by_seats = b2b.get("/api/pipelines/sales/summary?amount=seats").get_json()
    assert {x["key"]: x["amount"] for x in by_seats["stages"]} == {
        "first_contact": 4, "needs_analysis": 3, "quote": 0, "signed": 1, "lost": 2}
    assert b2b.get("/api/pipelines/sales/summary?amount=name").status_code == 400
    assert b2b.get("/api/pipelines/nope/summary").status_code == 404
    # a record in the recycle bin leaves the counts, not the history
    assert b2b.delete(f"/api/records/opportunity/{d['id']}").status_code == 204
    s2 = {x["key"]: x for x in b2b.get("/api/pipelines/sales/summary").get_json()["stages"]}
    assert s2["first_contact"]["count"] == 0 and s2["first_contact"]["entered"] == 4


# ---- changing a live pipeline ------------------------------------------------------------------

def stages_of(client):
    return client.get("/api/meta/pipelines/sales").get_json()["stages"]


def test_rename_reorder_and_add_stages_keep_records(b2b):
    opp = new_opp(b2b, stage="quote")
    stages = [dict(s) for s in SALES["stages"]]
    stages[2]["label"] = {"en": "Proposal", "zh": "报价"}
    stages[0], stages[1] = stages[1], stages[0]
    stages.insert(3, {"key": "negotiation", "label": "Negotiation", "probability": 80, "category": "open"})
    stages[2]["allowed_next"] = ["negotiation", "signed", "lost"]
    r = b2b.patch("/api/meta/pipelines/sales", json={"stages": stages})
    assert r.status_code == 200, r.get_json()
    got = stages_of(b2b)
    assert [s["key"] for s in got] == ["needs_analysis", "first_contact", "quote", "negotiation", "signed", "lost"]
    assert got[2]["label"] == {"en": "Proposal", "zh": "报价"}
    assert b2b.get(f"/api/records/opportunity/{opp['id']}").get_json()["stage"] == "quote"
    assert move(b2b, opp["id"], "negotiation").status_code == 200
    summary = b2b.get("/api/pipelines/sales/summary").get_json()
    assert [x["key"] for x in summary["stages"]][:2] == ["needs_analysis", "first_contact"]


def test_archiving_a_stage_with_records_needs_move_to(b2b):
    a = new_opp(b2b, name="A", stage="needs_analysis")
    b = new_opp(b2b, name="B", stage="needs_analysis")
    new_opp(b2b, name="C", stage="first_contact")
    stages = [dict(s) for s in SALES["stages"]]
    stages[1]["archived"] = True
    r = b2b.patch("/api/meta/pipelines/sales", json={"stages": stages})
    assert r.status_code == 409
    err = errors_of(r)[0]
    assert err["field"] == "stages.needs_analysis" and err["rows"] == 2 and "2 records" in err["message"]
    assert stages_of(b2b)[1].get("archived") is None
    # leaving the stage out of the list is archiving it too: refused the same way
    r = b2b.patch("/api/meta/pipelines/sales", json={"stages": [s for s in SALES["stages"] if s["key"] != "needs_analysis"]})
    assert r.status_code == 409 and errors_of(r)[0]["rows"] == 2
    # move_to must name an active stage
    stages[1]["move_to"] = "needs_analysis"
    assert b2b.patch("/api/meta/pipelines/sales", json={"stages": stages}).status_code == 422
    stages[1]["move_to"] = "quote"
    dry = b2b.patch("/api/meta/pipelines/sales?dry_run=1", json={"stages": stages})
    assert dry.status_code == 200 and dry.get_json()["plan"]["operations"][-1]["rows"] == 2
    assert b2b.get(f"/api/records/opportunity/{a['id']}").get_json()["stage"] == "needs_analysis"
    r = b2b.patch("/api/meta/pipelines/sales", json={"stages": stages})
    assert r.status_code == 200, r.get_json()
    got = stages_of(b2b)
    assert got[1]["key"] == "needs_analysis" and got[1]["archived"] is True and "move_to" not in got[1]
    for rec in (a, b):
        after = b2b.get(f"/api/records/opportunity/{rec['id']}").get_json()
        assert after["stage"] == "quote" and after["version"] == 2
        assert history(b2b, rec["id"]) == [(None, "needs_analysis"), ("needs_analysis", "quote")]
    summary = b2b.get("/api/pipelines/sales/summary").get_json()
    assert "needs_analysis" not in [x["key"] for x in summary["stages"]]


def test_archiving_an_empty_stage_and_moving_into_an_archived_stage(b2b):
    opp = new_opp(b2b, stage="first_contact")
    stages = [dict(s) for s in SALES["stages"]]
    stages[1]["archived"] = True
    r = b2b.patch("/api/meta/pipelines/sales", json={"stages": stages})
    assert r.status_code == 200, r.get_json()
    r = move(b2b, opp["id"], "needs_analysis")
    assert r.status_code == 422
    assert errors_of(r)[0]["field"] == "stage" and "archived" in errors_of(r)[0]["message"]
    assert b2b.post("/api/records/opportunity", json={"name": "X", "stage": "needs_analysis"}).status_code == 422
    # restoring the stage makes it usable again
    stages[1]["archived"] = False
    assert b2b.patch("/api/meta/pipelines/sales", json={"stages": stages}).status_code == 200
    assert move(b2b, opp["id"], "needs_analysis").status_code == 200


def test_entity_and_field_of_a_live_pipeline_cannot_change(b2b):
    b2b.post("/api/meta/entities/opportunity/fields", json={"key": "stage2", "type": "stage"})
    r = b2b.patch("/api/meta/pipelines/sales", json={"field": "stage2"})
    assert r.status_code == 409 and errors_of(r)[0]["field"] == "field"


def test_archive_and_restore_a_pipeline(b2b):
    opp = new_opp(b2b, stage="first_contact")
    assert b2b.delete("/api/meta/pipelines/sales").status_code == 200
    assert b2b.get("/api/pipelines/sales/summary").status_code == 404
    assert b2b.get(f"/api/records/opportunity/{opp['id']}").get_json()["stage"] == "first_contact"
    assert b2b.post("/api/meta/pipelines/sales/restore").status_code == 200
    assert move(b2b, opp["id"], "needs_analysis").status_code == 200


# ---- bad definitions ---------------------------------------------------------------------------

def _bad(**changes):
    doc = {**SALES, "stages": [dict(s) for s in SALES["stages"]]}
    for k, v in changes.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    return doc


def _stage(n, **changes):
    stages = [dict(s) for s in SALES["stages"]]
    stages[n] = {**stages[n], **changes}
    return stages


@pytest.mark.parametrize("doc, field", [
    (_bad(entity="nothing"), "entity"),
    (_bad(field="missing"), "field"),
    (_bad(field="name"), "field"),
    (_bad(field=None), "field"),
    (_bad(stages=_stage(1, key="first_contact")), "stages.first_contact.key"),
    (_bad(stages=_stage(0, allowed_next=["needs_analysis", "nowhere"])), "stages.first_contact.allowed_next"),
    (_bad(stages=_stage(0, probability=101)), "stages.first_contact.probability"),
    (_bad(stages=_stage(0, probability=-1)), "stages.first_contact.probability"),
    (_bad(stages=_stage(3, required_fields=["contract_no", "ghost"])), "stages.signed.required_fields"),
    (_bad(stages=_stage(0, category="maybe")), "stages.first_contact.category"),
    (_bad(stages=[]), "stages"),
    (_bad(amount_field="name"), "amount_field"),
    (_bad(amount_field="ghost"), "amount_field"),
    (_bad(stages=_stage(2, on_enter={"entity": "nothing"})), "stages.quote.on_enter.entity"),
    (_bad(stages=_stage(2, on_enter={"entity": "task", "values": {"ghost": "x"}})), "stages.quote.on_enter.values.ghost"),
    (_bad(stages=_stage(2, on_enter={"entity": "task", "values": {"title": "Hi {ghost}"}})),
     "stages.quote.on_enter.values.title"),
    (_bad(stages=_stage(2, on_enter={"entity": "task", "due_in_days": 2, "due_field": "title"})),
     "stages.quote.on_enter.due_field"),
    (_bad(stages=_stage(2, on_enter={"entity": "task", "link_field": "title"})), "stages.quote.on_enter.link_field"),
    (_bad(stages=_stage(0, move_to="quote")), "stages.first_contact.move_to"),
    (_bad(key="Bad Key"), "key"),
    (_bad(label=None), "label"),
])
def test_bad_definitions_are_refused_with_the_reason(client, doc, field):
    for entity in (OPPORTUNITY, TASK):
        assert client.post("/api/meta/entities", json=entity).status_code == 201
    r = client.post("/api/meta/pipelines", json=doc)
    assert r.status_code == 422, r.get_json()
    named = {e["field"] for e in errors_of(r)} | {f"'{e['message'].split(chr(39))[1]}'" for e in errors_of(r)
                                                 if e["code"] == "required"}
    assert field in named or f"'{field}'" in named, errors_of(r)
    assert client.get("/api/meta/pipelines").get_json()["items"] == []


def test_a_stage_field_is_bound_by_one_pipeline_only(b2b):
    r = b2b.post("/api/meta/pipelines", json={**SALES, "key": "sales2"})
    assert r.status_code == 422 and errors_of(r)[0]["field"] == "field" and "sales" in errors_of(r)[0]["message"]
    assert b2b.post("/api/meta/pipelines", json=SALES).status_code == 409  # same key


def test_bulk_create_runs_the_pipeline_checks_history_and_follow_ups(b2b):
    r = b2b.post("/api/records/opportunity/bulk", json={"records": [
        {"name": "A", "stage": "first_contact"}, {"name": "B", "stage": "quote"}, {"name": "C"}]})
    assert r.status_code == 201 and r.get_json() == {"created": 3}, r.get_json()
    ids = {x["name"]: x["id"] for x in b2b.get("/api/records/opportunity").get_json()["items"]}
    assert history(b2b, ids["A"]) == [(None, "first_contact")] and history(b2b, ids["C"]) == []
    assert [t["title"] for t in tasks(b2b)] == ["Follow up B"]
    r = b2b.post("/api/records/opportunity/bulk", json={"records": [
        {"name": "D", "stage": "first_contact"}, {"name": "E", "stage": "signed"}]})
    assert r.status_code == 422 and errors_of(r)[0]["field"] == "contract_no" and errors_of(r)[0]["row"] == 1
    assert b2b.get("/api/records/opportunity").get_json()["total"] == 3  # all or nothing


def test_a_pipeline_whose_stage_field_was_archived_cannot_be_restored(b2b):
    # The field cannot be archived under an active pipeline, but it can while the pipeline is archived.
    assert b2b.delete("/api/meta/pipelines/sales").status_code == 200
    assert b2b.delete("/api/meta/entities/opportunity/fields/stage").status_code == 200
    r = b2b.post("/api/meta/pipelines/sales/restore")
    assert r.status_code == 409 and errors_of(r)[0]["field"] == "field"
    assert b2b.get("/api/meta/pipelines/sales").get_json()["archived"] is True


def test_restoring_a_pipeline_whose_field_another_pipeline_took_is_refused(b2b):
    assert b2b.delete("/api/meta/pipelines/sales").status_code == 200
    assert b2b.post("/api/meta/pipelines", json={**SALES, "key": "sales2"}).status_code == 201
    r = b2b.post("/api/meta/pipelines/sales/restore")
    assert r.status_code == 409 and "sales2" in errors_of(r)[0]["message"]


def test_a_stage_field_in_use_cannot_be_archived_renamed_or_retyped(b2b):
    field = SALES["field"]
    for call in (lambda: b2b.delete(f"/api/meta/entities/opportunity/fields/{field}"),
                 lambda: b2b.post(f"/api/meta/entities/opportunity/fields/{field}/rename", json={"new_key": "phase"}),
                 lambda: b2b.patch(f"/api/meta/entities/opportunity/fields/{field}", json={"type": "text"})):
        r = call()
        assert r.status_code == 409, r.get_json()
        assert "archive the pipeline first" in " ".join(e["message"] for e in errors_of(r))
    assert b2b.delete(f"/api/meta/pipelines/{SALES['key']}").status_code == 200
    assert b2b.delete(f"/api/meta/entities/opportunity/fields/{field}").status_code == 200
