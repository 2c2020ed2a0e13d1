"""Approvals and role-limited stages: a quote whose discount exceeds 20 % waits for a manager.

Everything through the API as the people involved, with their own tokens: the salesperson asks,
the manager is told (bell) and decides; the stage history, the audit trail and the funnel are read
back. On SQLite and PostgreSQL.
"""
from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from crm_platform.tables import approvals, audit_log, stage_history

QUOTE = {
    "key": "quote", "label": {"en": "Quote", "zh": "报价单"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
        {"key": "stage", "type": "stage", "label": {"en": "Stage", "zh": "阶段"}},
        {"key": "discount", "type": "percent", "label": {"en": "Discount", "zh": "折扣"}},
        {"key": "reviewer", "type": "integer", "label": {"en": "Reviewer", "zh": "复核人"}},
    ],
}
PIPELINE = {
    "key": "quoting", "label": "Quoting", "entity": "quote", "field": "stage",
    "stages": [
        {"key": "draft", "label": {"en": "Draft", "zh": "草稿"}},
        {"key": "sent", "label": {"en": "Sent", "zh": "已发送"},
         "approval": {"approvers": {"role": "manager"}, "when": [{"field": "discount", "op": "gt", "value": 20}]}},
        {"key": "reviewed", "label": {"en": "Reviewed", "zh": "已复核"}, "approval": {"approvers": {"field": "reviewer"}}},
        {"key": "signed", "label": {"en": "Signed", "zh": "已签约"}, "category": "won", "enter_roles": ["manager"]},
    ],
}
ALL = {"create": "all", "read": "all", "update": "all", "delete": "all"}
ROLES = [
    {"key": "sales", "label": {"en": "Sales", "zh": "销售"}, "entities": {"quote": ALL}},
    {"key": "manager", "label": {"en": "Manager", "zh": "主管"}, "entities": {"quote": ALL}},
]


class People:
    def __init__(self, app, client):
        self.client, self.users = client, app.extensions["crm"].users
        self.ids, self.tokens = {}, {}

    def add(self, name, *roles):
        u = self.users.create(name, f"{name}-password-1", roles=list(roles))
        self.ids[name], self.tokens[name] = u.id, self.users.issue_token(u)

    def call(self, name, method, url, **kw):
        return self.client.open(url, method=method, headers={"Authorization": f"Bearer {self.tokens[name]}",
                                                             "Accept-Language": "zh"}, **kw)


@pytest.fixture
def people(app, client):
    for url, doc in [("/api/meta/entities", QUOTE)] + [("/api/meta/roles", r) for r in ROLES] + [
            ("/api/meta/pipelines", PIPELINE)]:
        r = client.post(url, json=doc)
        assert r.status_code == 201, r.get_json()
    p = People(app, client)
    p.add("lin", "sales")
    p.add("mia", "manager")
    p.add("max", "manager")
    return p


def quote(people, who="lin", **values):
    r = people.call(who, "POST", "/api/records/quote", json={"name": "星河科技 年度框架", "stage": "draft", **values})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def moves(platform, record_id):
    with platform.engine.connect() as conn:
        return [(r.from_stage, r.to_stage) for r in conn.execute(
            sa.select(stage_history).where(stage_history.c.record_id == record_id).order_by(stage_history.c.id))]


def audit_rows(platform, record_id):
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(audit_log).where(audit_log.c.entity == "quote", audit_log.c.record_id == record_id)
                            .order_by(audit_log.c.id)).all()


def bell(people, who):
    r = people.call(who, "GET", "/api/notifications")
    assert r.status_code == 200
    return r.get_json()["items"]


def test_a_role_limited_stage_refuses_others_with_403_naming_stage_and_roles(people, platform):
    q = quote(people)
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "signed"})
    assert r.status_code == 403, r.get_json()
    err = r.get_json()["errors"][0]
    assert err["field"] == "stage" and err["code"] == "enter_roles" and err["roles"] == ["manager"]
    assert "'signed'" in err["message"] and "'manager'" in err["message"]
    r = people.call("mia", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "signed"})
    assert r.status_code == 200 and r.get_json()["stage"] == "signed"
    # The administrator passes every role limit.
    q2 = quote(people)
    assert people.client.patch(f"/api/records/quote/{q2['id']}", json={"stage": "signed"}).status_code == 200


def test_a_small_discount_moves_without_asking(people, platform):
    q = quote(people, discount="15")
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"})
    assert r.status_code == 200 and r.get_json()["stage"] == "sent"
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(approvals)).scalar_one() == 0


def test_approve_path(people, platform, client):
    q = quote(people, discount="15")
    # The discount rises in the same write as the move: judged on the record as it would be.
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent", "discount": "25"},
                    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["stage"] == "draft" and str(r.get_json()["discount"]) == "25.00"  # the rest is written
    with platform.engine.connect() as conn:
        row = conn.execute(sa.select(approvals)).one()
    assert (row.status, row.from_stage, row.to_stage, row.approver_role) == ("pending", "draft", "sent", "manager")

    # Both managers are told, in their language, with a link to the record; the requester is not.
    told = bell(people, "mia")
    assert len(told) == 1 and told[0]["kind"] == "approval" and told[0]["link"] == f"/app/quote/{q['id']}"
    assert told[0]["title"] == "待审批：报价单「星河科技 年度框架」进入「已发送」"
    assert len(bell(people, "max")) == 1 and bell(people, "lin") == []

    mine = people.call("mia", "GET", "/api/approvals?mine=1").get_json()
    assert mine["total"] == 1 and mine["items"][0]["id"] == row.id and mine["items"][0]["can_decide"]
    assert people.call("lin", "GET", "/api/approvals?mine=1").get_json()["total"] == 0
    # While it waits, the stage cannot move.
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "reviewed"})
    assert r.status_code == 409 and r.get_json()["errors"][0]["code"] == "pending_approval"
    # The funnel does not count a move nobody approved.
    figures = client.get("/api/pipelines/quoting/summary").get_json()["stages"]
    assert {s["key"]: s["count"] for s in figures}["sent"] == 0 and moves(platform, q["id"]) == [(None, "draft")]

    # Only an approver decides.
    r = people.call("lin", "POST", f"/api/approvals/{row.id}/approve", json={"comment": "mine"})
    assert r.status_code == 403 and "'manager'" in r.get_json()["errors"][0]["message"]
    r = people.call("mia", "POST", f"/api/approvals/{row.id}/approve", json={"comment": "战略客户，同意"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "approved" and r.get_json()["decided_by"] == people.ids["mia"]
    assert people.call("mia", "GET", f"/api/records/quote/{q['id']}").get_json()["stage"] == "sent"
    # Deciding twice is a conflict, whoever tries.
    for who, verb in [("mia", "approve"), ("max", "reject")]:
        r = people.call(who, "POST", f"/api/approvals/{row.id}/{verb}", json={"comment": "again"})
        assert r.status_code == 409, r.get_json()

    assert moves(platform, q["id"]) == [(None, "draft"), ("draft", "sent")]
    steps = client.get(f"/api/records/quote/{q['id']}/stage-history").get_json()["items"]
    assert [(s["event"], s["to_stage"]) for s in steps] == [
        ("moved", "draft"), ("approval_requested", "sent"), ("approved", "sent"), ("moved", "sent")]
    assert steps[2]["comment"] == "战略客户，同意" and steps[2]["actor_id"] == people.ids["mia"]
    trail = audit_rows(platform, q["id"])
    assert [(a.action, a.actor_id) for a in trail] == [
        ("create", people.ids["lin"]), ("approval", people.ids["lin"]), ("update", people.ids["lin"]),
        ("update", people.ids["mia"])]
    assert trail[1].reason.startswith(f"approval {row.id} requested: move to stage 'sent'")
    assert '"discount"' in trail[2].changes and '"stage"' not in trail[2].changes  # the rest of the write
    assert trail[3].reason == f"approval {row.id} approved: 战略客户，同意" and '"stage": ["draft", "sent"]' in trail[3].changes
    # The requester hears the decision.
    assert any(n["title"].startswith("已批准") for n in bell(people, "lin"))


def test_reject_path(people, platform, client):
    q = quote(people, discount="30")
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"})
    # Only the stage was sent and the move is held: the record is not written (same version, no empty audit row).
    assert r.status_code == 200 and r.get_json()["version"] == q["version"] and r.get_json()["stage"] == "draft"
    approval = people.call("max", "GET", "/api/approvals?mine=1").get_json()["items"][0]
    r = people.call("max", "POST", f"/api/approvals/{approval['id']}/reject", json={})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "comment"
    r = people.call("max", "POST", f"/api/approvals/{approval['id']}/reject", json={"comment": "折扣过高"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert people.call("lin", "GET", f"/api/records/quote/{q['id']}").get_json()["stage"] == "draft"
    assert people.call("mia", "POST", f"/api/approvals/{approval['id']}/approve", json={}).status_code == 409
    assert moves(platform, q["id"]) == [(None, "draft")]
    steps = client.get(f"/api/records/quote/{q['id']}/stage-history").get_json()["items"]
    assert [s["event"] for s in steps] == ["moved", "approval_requested", "rejected"]
    assert steps[-1]["comment"] == "折扣过高"
    trail = audit_rows(platform, q["id"])
    assert [a.action for a in trail] == ["create", "approval", "approval"]
    last = trail[-1]
    assert last.action == "approval" and last.actor_id == people.ids["max"] and "折扣过高" in last.reason
    assert "已驳回：报价单「星河科技 年度框架」进入「已发送」（折扣过高）" in [n["title"] for n in bell(people, "lin")]
    # Nothing waits any more: the record may move again (and ask again).
    assert people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"}).status_code == 200
    assert people.call("mia", "GET", "/api/approvals?mine=1").get_json()["total"] == 1


def test_an_approver_named_by_a_field(people, platform):
    q = quote(people)
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "reviewed"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "reviewer"
    assert r.get_json()["errors"][0]["code"] == "approver_missing"
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "reviewed",
                                                                           "reviewer": people.ids["max"]})
    assert r.status_code == 200 and r.get_json()["stage"] == "draft"
    approval = people.call("max", "GET", "/api/approvals?mine=1").get_json()["items"][0]
    assert approval["approvers"] == {"user_id": people.ids["max"]}
    # Another manager is not this record's reviewer.
    assert people.call("mia", "POST", f"/api/approvals/{approval['id']}/approve", json={}).status_code == 403
    assert people.call("max", "POST", f"/api/approvals/{approval['id']}/approve", json={}).status_code == 200
    assert people.call("lin", "GET", f"/api/records/quote/{q['id']}").get_json()["stage"] == "reviewed"


def test_an_approver_moves_without_asking_and_a_create_cannot_skip_the_approval(people, platform):
    q = quote(people, discount="40")
    r = people.call("mia", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"})
    assert r.status_code == 200 and r.get_json()["stage"] == "sent"
    r = people.call("lin", "POST", "/api/records/quote", json={"name": "x", "stage": "sent", "discount": "40"})
    assert r.status_code == 409 and r.get_json()["errors"][0]["code"] == "approval"


def test_bad_approval_definitions_are_422_naming_the_place(client, people):
    stages = [
        {"key": "a", "label": "A", "enter_roles": ["nobody"]},
        {"key": "b", "label": "B", "approval": {"approvers": {"field": "name"}}},
        {"key": "c", "label": "C", "approval": {"approvers": {"role": "manager"},
                                                "when": [{"field": "nope", "op": "gt", "value": 1}]}}]
    r = client.patch("/api/meta/pipelines/quoting", json={"stages": stages})
    assert r.status_code == 422, r.get_json()
    fields = {e["field"] for e in r.get_json()["errors"]}
    assert {"stages.a.enter_roles", "stages.b.approval.approvers.field", "stages.c.approval.when.0.field"} <= fields


def test_the_b2b_template_asks_a_manager_for_a_quote_over_20_percent_off(platform, client):
    from crm_platform.bundles import importer, templates
    importer.run(platform, templates.load("b2b"), actor="test", sample_data=False)
    users = platform.users
    sally = users.issue_token(users.create("sally", "sally-password", roles=["sales"]))
    manager = users.create("meng", "meng-password", roles=["manager"])
    meng = users.issue_token(manager)
    as_sally = {"Authorization": f"Bearer {sally}"}
    company = client.post("/api/records/company", json={"name": "星河科技", "industry": "it", "size": "s"},
                          headers=as_sally).get_json()
    deals = []
    for discount in ("20", "25"):
        r = client.post("/api/records/opportunity", headers=as_sally, json={
            "name": f"折扣 {discount}%", "company": company["id"], "stage": "needs_analysis", "amount": "100000",
            "discount": discount})
        assert r.status_code == 201, r.get_json()
        deals.append(r.get_json()["id"])
    for deal in deals:
        r = client.patch(f"/api/records/opportunity/{deal}", json={"stage": "quote"}, headers=as_sally)
        assert r.status_code == 200, r.get_json()
    stages = [client.get(f"/api/records/opportunity/{d}").get_json()["stage"] for d in deals]
    assert stages == ["quote", "needs_analysis"]  # 20 % is not more than 20 %
    waiting = client.get("/api/approvals?mine=1", headers={"Authorization": f"Bearer {meng}"}).get_json()["items"]
    assert [(a["record_id"], a["to_stage"]) for a in waiting] == [(deals[1], "quote")]
    r = client.post(f"/api/approvals/{waiting[0]['id']}/approve", json={"comment": "同意"},
                    headers={"Authorization": f"Bearer {meng}"})
    assert r.status_code == 200
    assert client.get(f"/api/records/opportunity/{deals[1]}").get_json()["stage"] == "quote"
    # The quote stage's follow-up task is created when the approved move happens, for the owner.
    tasks = [t for t in client.get(f"/api/records/task?filter[opportunity]={deals[1]}").get_json()["items"]
             if t["content"].startswith("跟进「")]
    assert len(tasks) == 1 and tasks[0]["owner_id"] == users.get_by_name("sally").id


def test_the_screens_hold_a_board_move_show_the_banner_and_decide(people, platform, app):
    from test_screens import Pages
    zh = {"Accept-Language": "zh"}
    lin, mia, maxi = Pages(app, "lin"), Pages(app, "mia"), Pages(app, "max")
    q = quote(people, discount="35")
    r = lin.post(f"/app/quote/{q['id']}/stage", json={"stage": "sent", "version": q["version"]}, headers=zh)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["stage"] == "draft" and r.get_json()["message"] == "已提交审批，批准后进入「已发送」。"
    approval = people.call("mia", "GET", "/api/approvals?mine=1").get_json()["items"][0]

    page = mia.get(f"/app/quote/{q['id']}", headers=zh).get_data(as_text=True)
    assert "等待审批：申请进入「已发送」，申请人 lin。" in page and ">批准</button>" in page and ">驳回</button>" in page
    page = lin.get(f"/app/quote/{q['id']}", headers=zh).get_data(as_text=True)
    assert "等待审批" in page and ">批准</button>" not in page  # the requester sees it, cannot decide
    mine = mia.get("/app/_approvals", headers=zh).get_data(as_text=True)
    assert "星河科技 年度框架" in mine and "lin 申请进入「已发送」" in mine
    assert "我的审批" in mia.get("/app/_notifications", headers=zh).get_data(as_text=True)

    back = f"/app/quote/{q['id']}"
    r = lin.post(f"/app/_approvals/{approval['id']}/decide", data={"decision": "approve", "next": back}, headers=zh)
    assert r.status_code == 303 and r.headers["Location"].endswith(back)
    shown = html.unescape(lin.get(back, headers=zh).get_data(as_text=True))  # the refusal, flashed on the page
    assert "只有审批人可以处理此审批" in shown and "等待审批" in shown
    r = mia.post(f"/app/_approvals/{approval['id']}/decide", data={"decision": "reject", "comment": " ", "next": back})
    assert r.status_code == 303
    assert people.call("mia", "GET", f"/api/approvals/{approval['id']}").get_json()["status"] == "pending"
    r = maxi.post(f"/app/_approvals/{approval['id']}/decide",
                  data={"decision": "reject", "comment": "折扣过高", "next": "https://evil.example/"}, headers=zh)
    assert r.status_code == 303 and r.headers["Location"].endswith("/app/_approvals")  # never off-site
    assert people.call("mia", "GET", f"/api/approvals/{approval['id']}").get_json()["status"] == "rejected"
    page = lin.get(back, headers=zh).get_data(as_text=True)
    assert "等待审批" not in page and 'data-event="rejected"' in page and "折扣过高" in page


@pytest.mark.parametrize("when, values, held", [
    ([{"field": "name", "op": "in", "value": ["A", "B"]}], {"name": "A"}, True),
    ([{"field": "name", "op": "in", "value": ["A", "B"]}], {"name": "C"}, False),
    ([{"field": "reviewer", "op": "is_empty"}], {"name": "A"}, True),
    ([{"field": "reviewer", "op": "is_empty"}], {"name": "A", "reviewer": 7}, False),
    ([{"field": "discount", "op": "ne", "value": 10}], {"name": "A"}, True),  # "not 10" includes no value
    ([{"field": "discount", "op": "lte", "value": 10}, {"field": "name", "op": "eq", "value": "A"}],
     {"name": "A", "discount": "10"}, True),
    ([{"field": "created_at_x", "op": "gt", "value": 1}], None, None),  # refused definition
])
def test_when_speaks_the_rule_tag_condition_language(people, client, when, values, held):
    stages = [dict(s) for s in PIPELINE["stages"]]
    stages[1] = {**stages[1], "approval": {"approvers": {"role": "manager"}, "when": when}}
    r = client.patch("/api/meta/pipelines/quoting", json={"stages": stages})
    if held is None:
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "stages.sent.approval.when.0.field"
        return
    assert r.status_code == 200, r.get_json()
    q = quote(people, **values)
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["stage"] == ("draft" if held else "sent")


def test_a_request_for_a_record_deleted_since_can_still_be_rejected(people, platform):
    q = quote(people, discount="50")
    assert people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"}).status_code == 200
    approval = people.call("mia", "GET", "/api/approvals?mine=1").get_json()["items"][0]
    assert people.call("lin", "DELETE", f"/api/records/quote/{q['id']}").status_code == 204
    r = people.call("mia", "POST", f"/api/approvals/{approval['id']}/approve", json={})
    assert r.status_code == 404  # nothing to move; the request stays open for a rejection
    assert people.call("mia", "GET", f"/api/approvals/{approval['id']}").get_json()["status"] == "pending"
    r = people.call("mia", "POST", f"/api/approvals/{approval['id']}/reject", json={"comment": "已删除"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"


def test_the_timeline_says_the_approval_steps_in_the_readers_language(people, platform, app):
    """The audit rows of an approval's steps keep their English reason for the API, and a message key
    with its arguments: the record page and the timeline API say them in the reader's language, with
    the pipeline's and stages' labels; what a user typed (the requester's reason, the rejection) as typed."""
    from test_screens import Pages
    q = quote(people, discount="30")
    r = people.client.patch(f"/api/records/quote/{q['id']}", json={"stage": "sent"},
                            headers={"Authorization": f"Bearer {people.tokens['lin']}", "X-Change-Reason": "customer asked"})
    assert r.status_code == 200 and r.get_json()["stage"] == "draft", r.get_json()
    approval = people.call("max", "GET", "/api/approvals?mine=1").get_json()["items"][0]
    assert people.call("max", "POST", f"/api/approvals/{approval['id']}/reject",
                       json={"comment": "折扣过高"}).status_code == 200
    n = approval["id"]
    asked_zh = f"提交审批 #{n}：申请进入「Quoting」的「已发送」阶段（customer asked）"
    rejected_zh = f"审批 #{n} 已驳回：仍在「Quoting」的「草稿」阶段（折扣过高）"

    page = html.unescape(Pages(app, "lin").get(f"/app/quote/{q['id']}", headers={"Accept-Language": "zh"})
                         .get_data(as_text=True))
    assert f"原因：{asked_zh}" in page and f"原因：{rejected_zh}" in page
    assert "requested: move to stage" not in page and "stays in stage" not in page and "rejected:" not in page

    timeline = people.call("lin", "GET", f"/api/records/quote/{q['id']}/timeline").get_json()["items"]  # zh caller
    reasons = [i["reason"] for i in timeline if i["kind"] == "change" and i["action"] == "approval"]
    assert reasons == [rejected_zh, asked_zh]
    english = people.client.get(f"/api/records/quote/{q['id']}/timeline", headers={"Accept-Language": "en"}).get_json()
    assert [i["reason"] for i in english["items"] if i["kind"] == "change" and i["action"] == "approval"] == [
        f"Approval #{n} rejected: stays in “Draft” of “Quoting” (折扣过高)",
        f"Approval #{n} requested: move to “Sent” of “Quoting” (customer asked)"]

    # The API's history: the English words as before, and the same as data.
    items = people.client.get(f"/api/records/quote/{q['id']}/history").get_json()["items"]
    rejected, asked = [i for i in items if i["action"] == "approval"]
    assert asked["reason"] == f"approval {n} requested: move to stage 'sent' of pipeline 'quoting' (customer asked)"
    assert asked["reason_key"] == "approval_requested" and asked["reason_args"] == {
        "approval": n, "pipeline": "quoting", "from_stage": "draft", "stage": "sent", "comment": "customer asked"}
    assert rejected["reason"] == f"approval {n} rejected: 折扣过高 (stays in stage 'draft')"
    assert rejected["reason_key"] == "approval_rejected" and rejected["reason_args"]["comment"] == "折扣过高"
    created = next(i for i in items if i["action"] == "create")
    assert created["reason_key"] is None and created["reason_args"] is None


def test_an_approved_moves_audit_row_carries_its_reason_as_data_too(people, platform, app):
    q = quote(people, discount="30")
    assert people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"}).status_code == 200
    approval = people.call("mia", "GET", "/api/approvals?mine=1").get_json()["items"][0]
    assert people.call("mia", "POST", f"/api/approvals/{approval['id']}/approve", json={}).status_code == 200
    moved = audit_rows(platform, q["id"])[-1]
    assert (moved.action, moved.reason, moved.reason_key) == ("update", f"approval {approval['id']} approved",
                                                              "approval_approved")
    # On a page (here: the record's changes as the screens describe them) it is said in Chinese.
    from crm_platform.web.changes import reason_text
    from crm_platform.web.pages import Screen
    item = people.client.get(f"/api/records/quote/{q['id']}/history").get_json()["items"][0]
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert reason_text(Screen("quote"), item) == f"审批 #{approval['id']} 已通过：进入「Quoting」的「已发送」阶段"
