"""Withdrawing an approval request (撤回), and an administrator deciding for an absent approver.

Through the API and the screens as the people involved (the salesperson lin asks, the managers mia
and max approve, 'admin' is the administrator); on SQLite and PostgreSQL.
"""
from __future__ import annotations

import html

import sqlalchemy as sa

from crm_platform.tables import approvals
from test_approvals import audit_rows, bell, moves, people, quote  # noqa: F401  (people is a fixture)


def ask(people, who="lin", discount="30"):
    """A quote of ``who`` held on its way into 'sent' (the managers decide): (record, approval)."""
    q = quote(people, who, discount=discount)
    r = people.call(who, "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"})
    assert r.status_code == 200 and r.get_json()["stage"] == "draft", r.get_json()
    return q, people.call("mia", "GET", "/api/approvals?mine=1").get_json()["items"][0]


def admin_id(platform):
    return platform.users.get_by_name("admin").id


def test_the_requester_withdraws_a_pending_request(people, platform, client):
    q, approval = ask(people)
    n = approval["id"]
    assert people.call("lin", "GET", f"/api/approvals/{n}").get_json()["can_withdraw"] is True
    assert people.call("mia", "GET", f"/api/approvals/{n}").get_json()["can_withdraw"] is False
    assert [x["read"] for x in bell(people, "mia")] == [False]

    r = people.call("lin", "POST", f"/api/approvals/{n}/withdraw", json={"comment": "客户改主意了"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["decided_by"], body["comment"]) == ("withdrawn", people.ids["lin"], "客户改主意了")
    assert body["decided_at"] is not None and body["can_decide"] is False and body["can_withdraw"] is False
    # The record stays where it was, and no move happened.
    assert people.call("lin", "GET", f"/api/records/quote/{q['id']}").get_json()["stage"] == "draft"
    assert moves(platform, q["id"]) == [(None, "draft")]
    # The audit row: an approval step by the requester, with its reason as a message key.
    last = audit_rows(platform, q["id"])[-1]
    assert (last.action, last.actor_id) == ("approval", people.ids["lin"])
    assert last.reason == f"approval {n} withdrawn: 客户改主意了 (stays in stage 'draft')"
    item = client.get(f"/api/records/quote/{q['id']}/history").get_json()["items"][0]
    assert item["reason_key"] == "approval_withdrawn" and item["reason_args"] == {
        "approval": n, "pipeline": "quoting", "from_stage": "draft", "stage": "sent", "comment": "客户改主意了"}
    # Nothing waits for the managers any more: not in their list, not on their page, the bell is settled.
    assert people.call("mia", "GET", "/api/approvals?mine=1").get_json()["total"] == 0
    from test_screens import Pages
    page = Pages(people.client.application, "mia").get("/app/_approvals", headers={"Accept-Language": "zh"})
    assert "星河科技 年度框架" not in page.get_data(as_text=True)
    assert [x["read"] for x in bell(people, "mia")] == [True]
    # An approver can no longer decide it: 409 naming its status.
    r = people.call("mia", "POST", f"/api/approvals/{n}/approve", json={})
    assert r.status_code == 409 and "withdrawn" in r.get_json()["errors"][0]["message"]
    # The stage history lists the step; the stage may move again.
    steps = client.get(f"/api/records/quote/{q['id']}/stage-history").get_json()["items"]
    assert [(s["event"], s.get("actor_id")) for s in steps][1:] == [
        ("approval_requested", people.ids["lin"]), ("withdrawn", people.ids["lin"])]
    assert people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"}).status_code == 200


def test_only_the_requester_or_an_administrator_withdraws_and_only_once(people, platform, client):
    q, approval = ask(people)
    n = approval["id"]
    for who in ("mia", "max"):  # an approver is not the requester
        r = people.call(who, "POST", f"/api/approvals/{n}/withdraw", json={})
        assert r.status_code == 403, r.get_json()
        assert r.get_json()["errors"][0]["code"] == "requester"
    people.add("lee", "sales")  # another salesperson
    assert people.call("lee", "POST", f"/api/approvals/{n}/withdraw").status_code == 403
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(approvals.c.status)).scalar_one() == "pending"

    assert people.call("lin", "POST", f"/api/approvals/{n}/withdraw").status_code == 200
    r = people.call("lin", "POST", f"/api/approvals/{n}/withdraw", json={})
    assert r.status_code == 409
    err = r.get_json()["errors"][0]
    assert err["code"] == "decided" and "withdrawn" in err["message"] and err["status"] == "withdrawn"

    # A decided request cannot be withdrawn either; an administrator withdraws anyone's pending one.
    q2, second = ask(people)
    assert people.call("mia", "POST", f"/api/approvals/{second['id']}/approve", json={}).status_code == 200
    r = people.call("lin", "POST", f"/api/approvals/{second['id']}/withdraw", json={})
    assert r.status_code == 409 and "approved" in r.get_json()["errors"][0]["message"]
    r = people.call("lin", "PATCH", f"/api/records/quote/{q['id']}", json={"stage": "sent"})
    third = people.call("mia", "GET", "/api/approvals?mine=1").get_json()["items"][0]
    r = client.post(f"/api/approvals/{third['id']}/withdraw", json={"comment": "duplicate"})
    assert r.status_code == 200 and r.get_json()["decided_by"] == admin_id(platform)
    last = audit_rows(platform, q["id"])[-1]
    assert last.reason == f"approval {third['id']} withdrawn by administrator admin: duplicate (stays in stage 'draft')"


def test_an_administrator_decides_for_an_absent_approver(people, platform, client, app):
    q, approval = ask(people)
    n = approval["id"]
    # A user who is neither an approver nor an administrator still may not decide.
    people.add("lee", "sales")
    for who in ("lin", "lee"):
        r = people.call(who, "POST", f"/api/approvals/{n}/approve", json={"comment": "me"})
        assert r.status_code == 403 and r.get_json()["errors"][0]["code"] == "approver"
    assert client.get(f"/api/approvals/{n}").get_json()["can_decide"] is True

    r = client.post(f"/api/approvals/{n}/approve", json={"comment": "mia 休假，代批"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "approved" and r.get_json()["decided_by"] == admin_id(platform)
    assert people.call("lin", "GET", f"/api/records/quote/{q['id']}").get_json()["stage"] == "sent"
    moved = audit_rows(platform, q["id"])[-1]
    assert (moved.action, moved.actor_id) == ("update", admin_id(platform))
    assert moved.reason == f"approval {n} approved by administrator admin: mia 休假，代批"
    item = client.get(f"/api/records/quote/{q['id']}/history").get_json()["items"][0]
    assert item["reason_key"] == "approval_approved" and item["reason_args"]["admin"] == "admin"
    # The managers' "approval needed" is settled; the requester hears the decision.
    assert [x["read"] for x in bell(people, "mia")] == [True]
    assert any(x["title"].startswith("已批准") for x in bell(people, "lin"))
    # The timeline says who decided, in the reader's language.
    timeline = people.call("lin", "GET", f"/api/records/quote/{q['id']}/timeline").get_json()["items"]
    step = next(i for i in timeline if i.get("event") == "approved")
    assert step["summary"] == "审批通过（管理员 admin 代为处理）: 草稿 → 已发送" and step["actor"] == "admin"
    english = client.get(f"/api/records/quote/{q['id']}/timeline", headers={"Accept-Language": "en"}).get_json()
    step = next(i for i in english["items"] if i.get("event") == "approved")
    assert step["summary"] == "approved by the administrator admin: Draft → Sent"
    # The audit row's reason, as the screens describe the record's changes, in either language.
    from crm_platform.web.changes import reason_text
    from crm_platform.web.pages import Screen
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert reason_text(Screen("quote"), item) == (
            f"审批 #{n} 已由管理员 admin 代为通过：进入「Quoting」的「已发送」阶段（mia 休假，代批）")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert reason_text(Screen("quote"), item) == (
            f"Approval #{n} approved by the administrator admin: moved to “Sent” of “Quoting” (mia 休假，代批)")

    # Rejecting for an approver named by a field works the same way.
    q2 = quote(people)
    r = people.call("lin", "PATCH", f"/api/records/quote/{q2['id']}", json={"stage": "reviewed",
                                                                            "reviewer": people.ids["max"]})
    second = people.call("max", "GET", "/api/approvals?mine=1").get_json()["items"][0]
    assert people.call("mia", "POST", f"/api/approvals/{second['id']}/reject", json={"comment": "x"}).status_code == 403
    r = client.post(f"/api/approvals/{second['id']}/reject", json={"comment": "复核人离职"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert audit_rows(platform, q2["id"])[-1].reason == (
        f"approval {second['id']} rejected by administrator admin: 复核人离职 (stays in stage 'draft')")


def test_the_banner_withdraws_and_the_timeline_says_it_in_both_languages(people, platform, app):
    from test_screens import Pages
    zh = {"Accept-Language": "zh"}
    lin, mia = Pages(app, "lin"), Pages(app, "mia")
    q, approval = ask(people)
    n = approval["id"]
    back = f"/app/quote/{q['id']}"
    page = lin.get(back, headers=zh).get_data(as_text=True)
    assert "等待审批" in page and ">撤回</button>" in page
    assert f'action="/app/_approvals/{n}/withdraw"' in page and 'name="csrf_token"' in page
    assert ">撤回</button>" not in mia.get(back, headers=zh).get_data(as_text=True)  # the approver decides instead
    assert ">Withdraw</button>" in lin.get(back, headers={"Accept-Language": "en"}).get_data(as_text=True)

    # Someone else posting the form is refused, on the page, in their language.
    r = mia.post(f"/app/_approvals/{n}/withdraw", data={"next": back}, headers=zh)
    assert r.status_code == 303
    assert "只有申请人或管理员可以撤回此审批" in html.unescape(mia.get(back, headers=zh).get_data(as_text=True))

    r = lin.post(f"/app/_approvals/{n}/withdraw", data={"next": back}, headers=zh)
    assert r.status_code == 303 and r.headers["Location"].endswith(back)
    page = html.unescape(lin.get(back, headers=zh).get_data(as_text=True))
    assert "已撤回审批申请，记录保持原阶段。" in page
    assert "等待审批" not in page and 'data-event="withdrawn"' in page
    assert f"审批 #{n} 已撤回：仍在「Quoting」的「草稿」阶段" in page
    page = html.unescape(lin.get(back, headers={"Accept-Language": "en"}).get_data(as_text=True))
    assert f"Approval #{n} withdrawn: stays in “Draft” of “Quoting”" in page

    timeline = people.call("lin", "GET", f"/api/records/quote/{q['id']}/timeline").get_json()["items"]  # zh
    step = next(i for i in timeline if i.get("event") == "withdrawn")
    assert step["summary"] == "审批撤回: 草稿 → 已发送" and step["actor"] == "lin"
    english = people.client.get(f"/api/records/quote/{q['id']}/timeline", headers={"Accept-Language": "en"})
    step = next(i for i in english.get_json()["items"] if i.get("event") == "withdrawn")
    assert step["summary"] == "withdrawn: Draft → Sent"


def test_an_administrator_lists_every_pending_request_and_others_only_theirs(people, platform, client):
    """待我审批 / 全部待审批: an administrator finds a request waiting for managers (to decide for one
    who is away); a salesperson asking for ``?all=1`` still sees only what waits for them."""
    from test_screens import Pages
    q, approval = ask(people)
    app = people.client.application
    admin = Pages(app, "admin")
    mine = admin.get("/app/_approvals", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "星河科技 年度框架" not in mine and "全部待审批" in mine and "暂无待您审批的事项" in mine
    everything = admin.get("/app/_approvals?all=1", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "星河科技 年度框架" in everything and f'data-approval="{approval["id"]}"' in everything
    seller = Pages(app, "lin").get("/app/_approvals?all=1", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "星河科技 年度框架" not in seller and "全部待审批" not in seller
    people.call("lin", "POST", f"/api/approvals/{approval['id']}/withdraw", json={})
    assert "暂无待审批的事项" in admin.get("/app/_approvals?all=1", headers={"Accept-Language": "zh"}).get_data(as_text=True)
