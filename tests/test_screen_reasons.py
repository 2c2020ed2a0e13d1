"""Entities that ask why a record changes (B2B companies): every screen that writes one asks for the
reason, labelled 变更原因 / "Reason for the change", and a refusal names it by that label, in
Chinese and English. Refusals of board moves name fields and stages by their labels."""
from __future__ import annotations

import re

import pytest

from crm_platform.bundles import importer, templates
from test_screens import Pages, field_error, text

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def b2b(platform, client):
    """The B2B template (company requires a change reason) and one company."""
    importer.run(platform, templates.load("b2b"), actor="test")
    r = client.post("/api/records/company", json={"name": "华为技术", "industry": "it", "size": "xl"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


@pytest.fixture
def pages(app):
    return Pages(app)


def history(client, entity, record_id):
    return client.get(f"/api/records/{entity}/{record_id}/history").get_json()["items"]


def test_the_company_edit_form_asks_for_the_reason_in_chinese_and_saves_with_it(pages, client, b2b):
    form = text(pages.get(f"/app/company/{b2b['id']}/edit", headers=ZH))
    assert re.search(r'<label for="change-reason">变更原因 <span class="req"', form)
    assert 'name="_reason"' in form and 'aria-required="true"' in form
    r = pages.post(f"/app/company/{b2b['id']}/edit", headers=ZH,
                   data={"f-name": "华为技术", "f-industry": "it", "f-size": "l", "version": "1",
                         "_reason": "客户裁员，规模变小"})
    assert r.status_code == 303, text(r)
    after = client.get(f"/api/records/company/{b2b['id']}").get_json()
    assert (after["size"], after["version"]) == ("l", 2)
    assert (history(client, "company", b2b["id"])[0]["reason"]) == "客户裁员，规模变小"


@pytest.mark.parametrize("lang, label, message", [
    (ZH, "变更原因", "此项为必填项：请说明修改原因（记入变更记录）"),
    (EN, "Reason for the change", "is required: say why this record changes (kept in its history)")])
def test_an_edit_without_a_reason_is_refused_naming_the_reason_by_its_label(pages, client, b2b, lang, label, message):
    r = pages.post(f"/app/company/{b2b['id']}/edit", headers=lang,
                   data={"f-name": "华为技术", "f-industry": "it", "f-size": "l", "version": "1", "_reason": "  "})
    assert r.status_code == 422
    assert field_error(r, "_reason") == message
    assert f'<label for="change-reason">{label}' in text(r)
    assert "_reason:" not in text(r) and "X-Change-Reason" not in text(r)
    after = client.get(f"/api/records/company/{b2b['id']}").get_json()
    assert (after["size"], after["version"]) == ("xl", 1)
    assert len(history(client, "company", b2b["id"])) == 1  # the create only


def test_tagging_a_company_through_the_form_takes_the_reason(pages, client, b2b):
    r = pages.post(f"/app/company/{b2b['id']}/edit", headers=ZH,
                   data={"f-name": "华为技术", "f-industry": "it", "f-size": "xl", "version": "1",
                         "f-pain_points": ["budget_tight", "needs_custom"]})
    assert r.status_code == 422 and field_error(r, "_reason").startswith("此项为必填项")
    assert client.get(f"/api/records/company/{b2b['id']}").get_json()["pain_points"] == []
    r = pages.post(f"/app/company/{b2b['id']}/edit", headers=ZH,
                   data={"f-name": "华为技术", "f-industry": "it", "f-size": "xl", "version": "1",
                         "f-pain_points": ["budget_tight", "needs_custom"], "_reason": "拜访后确认痛点"})
    assert r.status_code == 303
    assert client.get(f"/api/records/company/{b2b['id']}").get_json()["pain_points"] == ["budget_tight", "needs_custom"]


def test_an_entity_without_the_rule_takes_an_optional_reason(pages, client, student):
    s = client.post("/api/records/student", json={"name": "A", "age": 8}).get_json()
    form = text(pages.get(f"/app/student/{s['id']}/edit"))
    assert '<label for="change-reason">Reason for the change</label>' in form and 'aria-required' not in form.split(
        'id="change-reason"')[1].split(">")[0]
    assert pages.post(f"/app/student/{s['id']}/edit", data={"f-name": "A", "f-age": "9"}).status_code == 303
    r = pages.post(f"/app/student/{s['id']}/edit", data={"f-name": "A", "f-age": "10", "_reason": "x" * 2001})
    assert r.status_code == 422 and field_error(r, "_reason") == "must be at most 2000 characters"
    assert client.get(f"/api/records/student/{s['id']}").get_json()["age"] == 9
    assert "name=\"_reason\"" not in text(pages.get("/app/student/new"))  # a create needs no reason


@pytest.mark.parametrize("lang, label", [(ZH, "变更原因"), (EN, "Reason for the change")])
def test_deleting_a_company_asks_for_the_reason_by_its_label(pages, client, b2b, lang, label):
    page = text(pages.get(f"/app/company/{b2b['id']}", headers=lang))
    assert re.search(rf'<label>{label} \([^)]+\)\s*<input type="text" name="reason" maxlength="2000" required', page)
    r = pages.post(f"/app/company/{b2b['id']}/delete", headers=lang, data={"reason": ""})
    assert r.status_code == 422 and f"<strong>{label}</strong>: " in text(r) and "X-Change-Reason" not in text(r)
    assert client.get(f"/api/records/company/{b2b['id']}").status_code == 200
    r = pages.post(f"/app/company/{b2b['id']}/delete", headers=lang, data={"reason": "重复录入"})
    assert r.status_code == 303
    assert client.get(f"/api/records/company/{b2b['id']}").status_code == 404
    assert history(client, "company", b2b["id"])[0]["reason"] == "重复录入"


# ---- boards --------------------------------------------------------------------------------------
@pytest.fixture
def deal(client, b2b):
    """A B2B opportunity in "needs analysis" (the sales pipeline), with no amount or contract number."""
    r = client.post("/api/records/opportunity", json={"name": "ERP 项目", "company": b2b["id"], "stage": "first_contact"})
    assert r.status_code == 201, r.get_json()
    r = client.patch(f"/api/records/opportunity/{r.get_json()['id']}", json={"stage": "needs_analysis"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.mark.parametrize("lang, expected", [
    (ZH, ["金额", "进入“报价”阶段前必须填写"]),
    (EN, ["Amount", "is required to enter stage “Quote”"])])
def test_a_refused_move_names_fields_and_stages_by_their_labels(pages, client, deal, lang, expected):
    r = pages.post(f"/app/opportunity/{deal['id']}/stage", headers=lang, json={"stage": "quote", "version": deal["version"]})
    assert r.status_code == 422
    [e] = r.get_json()["errors"]
    assert (e["field"], e["label"], e["message"]) == ("amount", *expected)
    assert client.get(f"/api/records/opportunity/{deal['id']}").get_json()["stage"] == "needs_analysis"


@pytest.mark.parametrize("lang, message", [
    (ZH, "处于“需求分析”阶段的记录不能移到“签约”；可移到：报价、丢单"),
    (EN, "a record in stage “Needs analysis” cannot move to “Signed”; from “Needs analysis” it may move to: Quote, Lost")])
def test_a_move_the_pipeline_forbids_names_the_stages_by_label(pages, client, deal, lang, message):
    r = pages.post(f"/app/opportunity/{deal['id']}/stage", headers=lang, json={"stage": "signed", "version": deal["version"]})
    assert r.status_code == 409
    assert r.get_json()["errors"][0]["message"] == message
    assert "'quote'" not in r.get_data(as_text=True) and "pipeline 'sales'" not in r.get_data(as_text=True)
    assert client.get(f"/api/records/opportunity/{deal['id']}").get_json()["stage"] == "needs_analysis"


@pytest.fixture
def company_board(client, b2b):
    """Companies on a board of their own: the entity requires a reason, so every move needs one."""
    assert client.post("/api/meta/entities/company/fields",
                       json={"key": "phase", "type": "stage", "label": {"en": "Phase", "zh": "阶段"}}).status_code == 201
    r = client.post("/api/meta/pipelines", json={
        "key": "onboarding", "label": {"en": "Onboarding", "zh": "客户导入"}, "entity": "company", "field": "phase",
        "stages": [{"key": "new", "label": {"en": "New", "zh": "新客户"}},
                   {"key": "live", "label": {"en": "Live", "zh": "已上线"}}]})
    assert r.status_code == 201, r.get_json()
    r = client.patch(f"/api/records/company/{b2b['id']}", json={"phase": "new"}, headers={"X-Change-Reason": "start"})
    assert r.status_code == 200
    return r.get_json()


def test_a_board_of_an_entity_that_requires_a_reason_asks_for_it(pages, client, company_board):
    board = text(pages.get("/app/company/board", headers=ZH))
    assert re.search(r'<label for="move-reason">变更原因 <span class="req"', board) and "data-move-reason" in board
    c = company_board
    r = pages.post(f"/app/company/{c['id']}/stage", headers=ZH, json={"stage": "live", "version": c["version"]})
    assert r.status_code == 422
    [e] = r.get_json()["errors"]
    assert (e["field"], e["label"]) == ("_reason", "变更原因") and e["message"].startswith("此项为必填项")
    assert client.get(f"/api/records/company/{c['id']}").get_json()["phase"] == "new"
    r = pages.post(f"/app/company/{c['id']}/stage", headers=ZH,
                   json={"stage": "live", "version": c["version"], "reason": "合同已签，开始实施"})
    assert r.status_code == 200 and r.get_json()["stage"] == "live"
    assert history(client, "company", c["id"])[0]["reason"] == "合同已签，开始实施"
    assert pages.post(f"/app/company/{c['id']}/stage", json={"stage": "new", "reason": 5}).status_code == 400


def test_a_board_of_an_entity_without_the_rule_asks_for_nothing(pages, deal):
    assert "data-move-reason" not in text(pages.get("/app/opportunity/board"))


@pytest.mark.parametrize("lang, label, message", [(ZH, "电子邮箱", "已有其他记录使用了这个值"), (EN, "E-mail", "")])
def test_a_refused_restore_names_the_field_by_its_label(pages, client, student, lang, label, message):
    client.patch("/api/meta/entities/student/fields/email", json={"label": {"en": "E-mail", "zh": "电子邮箱"}})
    a = client.post("/api/records/student", json={"name": "A", "email": "a@example.cn"}).get_json()
    assert client.delete(f"/api/records/student/{a['id']}").status_code == 204
    assert client.post("/api/records/student", json={"name": "B", "email": "a@example.cn"}).status_code == 201
    r = pages.post(f"/app/student/{a['id']}/restore", headers=lang)
    assert r.status_code == 409
    assert f"<strong>{label}</strong>: {message}" in text(r) and "<strong>email</strong>" not in text(r)
    assert client.get(f"/api/records/student/{a['id']}").status_code == 404  # still in the recycle bin
