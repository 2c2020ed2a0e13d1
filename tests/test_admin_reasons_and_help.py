"""Admin data views: a help text is shown as text wherever it came from (API, bundle, template), and an
entity that requires a change reason gets one asked for by label on edit and delete."""
from __future__ import annotations

import copy
import re

import pytest

from crm_platform.bundles import importer, templates
from crm_platform.bundles.format import seal
from test_admin_records import admin, page_text  # noqa: F401 - the fixture is used by name

SCRIPT = "<script>alert('help')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;help&#39;)&lt;/script&gt;"


def test_a_help_text_with_a_script_is_shown_as_text_on_new_and_edit(admin, client):  # noqa: F811
    r = client.post("/api/meta/entities", json={"key": "lead", "label": "Lead", "fields": [
        {"key": "name", "type": "text", "help": {"en": SCRIPT, "zh": "名字"}},
        {"key": "tier", "type": "select", "help": "<img src=x onerror=alert(2)>", "choices": [{"key": "a", "label": "A"}]}]})
    assert r.status_code == 201, r.get_json()
    lead = client.post("/api/records/lead", json={"name": "Ann"}).get_json()
    for path in ("/admin/records/lead/new/", f"/admin/records/lead/edit/?id={lead['id']}"):
        r = admin.get(path)
        body = r.get_data(as_text=True)
        assert r.status_code == 200, path
        assert SCRIPT not in body and "<img src=x" not in body, path
        assert ESCAPED in body and "&lt;img src=x onerror=alert(2)&gt;" in body, path


def test_a_help_text_brought_by_a_bundle_is_shown_as_text(admin, client, platform):  # noqa: F811
    bundle = copy.deepcopy(templates.load("b2b"))
    bundle["name"] = "b2b-with-help"
    company = next(d for d in bundle["definitions"]["entity"] if d["key"] == "company")
    company["fields"][0]["help"] = {"en": SCRIPT, "zh": SCRIPT}
    importer.run(platform, seal(bundle), actor="test")
    c = client.post("/api/records/company", json={"name": "ACME", "industry": "it", "size": "s"}).get_json()
    for path in ("/admin/records/company/new/", f"/admin/records/company/edit/?id={c['id']}",
                 "/app/company/new", f"/app/company/{c['id']}/edit"):
        body = admin.get(path, headers={"Authorization": None}).get_data(as_text=True)
        assert SCRIPT not in body and ESCAPED in body, path


@pytest.fixture
def company(platform, client):
    importer.run(platform, templates.load("b2b"), actor="test")
    r = client.post("/api/records/company", json={"name": "华为技术", "industry": "it", "size": "xl"})
    assert r.status_code == 201
    return r.get_json()


def test_an_admin_edit_without_a_reason_is_refused_on_the_reason_input_by_its_label(admin, client, company):  # noqa: F811
    form = admin.get(f"/admin/records/company/edit/?id={company['id']}").get_data(as_text=True)
    assert "Reason for the change" in form and re.search(r'<input[^>]*name="Reason"[^>]*required', form)
    r = admin.post(f"/admin/records/company/edit/?id={company['id']}",
                   data={"name": "华为技术", "industry": "it", "size": "l", "Version": "1"})
    assert r.status_code == 200
    text = page_text(r)
    assert "required: say why the record changes" in text
    admin.set_cookie("crm_lang", "zh")  # and in Chinese for a Chinese reader
    r = admin.post(f"/admin/records/company/edit/?id={company['id']}",
                   data={"name": "华为技术", "industry": "it", "size": "l", "Version": "1"})
    assert "此项为必填项：请说明修改原因" in page_text(r) and "变更原因" in page_text(r)
    assert "_reason" not in text and "X-Change-Reason" not in text
    assert client.get(f"/api/records/company/{company['id']}").get_json()["size"] == "xl"


def test_an_admin_deletes_a_company_from_its_details_page_with_a_reason(admin, client, company):  # noqa: F811
    listing = admin.get("/admin/records/company/").get_data(as_text=True)
    assert "/admin/records/company/delete/" not in listing  # the list's button would post no reason
    details = admin.get(f"/admin/records/company/details/?id={company['id']}").get_data(as_text=True)
    assert re.search(r'<label for="delete-reason"[^>]*>Reason for the change \*</label>', details)
    r = admin.post("/admin/records/company/delete/", data={"id": str(company["id"]), "Reason": " "},
                   follow_redirects=True)
    assert "Reason for the change: required: say why the record changes" in page_text(r)
    assert client.get(f"/api/records/company/{company['id']}").status_code == 200
    r = admin.post("/admin/records/company/delete/", data={"id": str(company["id"]), "Reason": "重复录入"})
    assert r.status_code == 302
    assert client.get(f"/api/records/company/{company['id']}").status_code == 404
    trail = client.get(f"/api/records/company/{company['id']}/history").get_json()["items"]
    assert (trail[0]["action"], trail[0]["reason"]) == ("delete", "重复录入")


def test_entities_without_the_rule_keep_the_list_delete_button(admin, client, student):  # noqa: F811
    client.post("/api/records/student", json={"name": "A"})
    assert "/admin/records/student/delete/" in admin.get("/admin/records/student/").get_data(as_text=True)
