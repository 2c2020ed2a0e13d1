"""The templates' public web forms let a visitor say who they are and how to reach them (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest

from crm_platform.bundles import importer, templates

NO_TOKEN = {"Authorization": None}


def public_forms(name: str) -> list[dict]:
    return [f for f in templates.load(name)["definitions"].get("form", []) if f.get("public")]


@pytest.mark.parametrize("name", templates.names())
def test_every_public_form_of_a_template_asks_who_the_visitor_is_and_how_to_reach_them(name):
    bundle = templates.load(name)
    entities = {e["key"]: {f["key"]: f for f in e["fields"]} for e in bundle["definitions"]["entity"]}
    for form in public_forms(name):
        fields = [entities[form["entity"]][k] for s in form["layout"] for k in s["fields"]]
        types = {f["type"] for f in fields}
        keys = {f["key"] for f in fields}
        assert "phone" in types or "email" in types, form["key"]
        assert keys & {"name", "contact_name"}, form["key"]


def test_a_visitor_leaves_name_phone_email_and_message_on_the_b2b_contact_form(app, platform, client):
    importer.run(platform, templates.load("b2b"), actor="test")
    visitor = app.test_client()
    page = visitor.get("/f/contact-us", headers={**NO_TOKEN, "Accept-Language": "zh-CN,zh;q=0.9"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for label in ("联系人姓名", "联系电话", "联系邮箱", "留言"):
        assert label in html, label
    r = visitor.post("/f/contact-us", headers=NO_TOKEN, data={
        "f-name": "杭州云图信息技术有限公司", "f-industry": "it", "f-size": "m", "f-region": "华东",
        "f-contact_name": "王芳", "f-contact_phone": "+86 138 1234 5678", "f-contact_email": "wang.fang@example.com",
        "f-message": "想了解 CRM 实施的报价，方便时请来电。", "f-owner_id": "1"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "Thank you, our team will contact you within one working day." in r.get_data(as_text=True)
    [company] = client.get("/api/records/company").get_json()["items"]
    assert {k: company[k] for k in ("name", "industry", "size", "contact_name", "contact_phone", "contact_email",
                                    "message", "owner_id")} == {
        "name": "杭州云图信息技术有限公司", "industry": "it", "size": "m", "contact_name": "王芳",
        "contact_phone": "+86 138 1234 5678", "contact_email": "wang.fang@example.com",
        "message": "想了解 CRM 实施的报价，方便时请来电。", "owner_id": None}


def test_a_bad_e_mail_on_the_b2b_contact_form_is_refused_and_nothing_is_written(app, platform, client):
    importer.run(platform, templates.load("b2b"), actor="test")
    r = app.test_client().post("/f/contact-us", headers=NO_TOKEN, data={
        "f-name": "Acme", "f-industry": "it", "f-size": "s", "f-contact_name": "Ann", "f-contact_email": "not-an-email"})
    assert r.status_code == 422
    assert "contact_email" in r.get_data(as_text=True) or "E-mail" in r.get_data(as_text=True)
    assert client.get("/api/records/company").get_json()["total"] == 0


def test_upgrading_b2b_brings_the_contact_fields_to_a_form_installed_without_them(platform):
    """An instance on the version before (the form had only the company's details) gets the new fields and sections."""
    import copy

    from crm_platform.bundles.format import seal
    new = templates.load("b2b")
    old = copy.deepcopy(new)
    old["version"] = "1.0.1"
    added = {"contact_name", "contact_phone", "contact_email", "message"}
    company = next(d for d in old["definitions"]["entity"] if d["key"] == "company")
    company["fields"] = [f for f in company["fields"] if f["key"] not in added]
    form = old["definitions"]["form"][0]
    form["layout"] = form["layout"][:1]
    importer.run(platform, seal(old), actor="test", sample_data=True)
    plan = importer.run(platform, new, actor="test")
    assert plan["installed_version"] == "1.0.1" and plan["conflicts"] == []
    state = platform.metadata.state()
    assert added <= {f["key"] for f in state.entities["company"].doc["fields"]}
    assert [k for s in state.of_kind("form")["contact_us"].doc["layout"] for k in s["fields"]][-4:] == [
        "contact_name", "contact_phone", "contact_email", "message"]
