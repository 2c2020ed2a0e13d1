"""Tags that rules apply are shown read-only on the screens' forms, never offered for picking (the
record service would refuse them), and an edit keeps them."""
from __future__ import annotations

import re

import pytest

from crm_platform.bundles import importer, templates
from test_screens import Pages, text

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture
def pages(app):
    return Pages(app)


def _enabled_boxes(page: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*name="{name}"[^>]*value="([^"]+)"', page)


@pytest.fixture
def clients(client):
    """A taxonomy with two tags people set and one a rule sets (spend of 100 or more)."""
    r = client.post("/api/meta/taxonomies", json={"key": "kind", "label": {"en": "Kind", "zh": "类别"}, "tags": [
        {"key": "retail", "label": {"en": "Retail", "zh": "零售"}},
        {"key": "online", "label": {"en": "Online", "zh": "线上"}}]})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/meta/entities", json={"key": "buyer", "label": {"en": "Buyer", "zh": "买家"}, "title_field": "name",
                                                "fields": [{"key": "name", "type": "text", "required": True},
                                                           {"key": "spend", "type": "integer"},
                                                           {"key": "kinds", "type": "tags", "taxonomy": "kind",
                                                            "label": {"en": "Kinds", "zh": "类别"}}]})
    assert r.status_code == 201, r.get_json()
    r = client.patch("/api/meta/taxonomies/kind", json={"tags": [
        {"key": "retail", "label": {"en": "Retail", "zh": "零售"}},
        {"key": "online", "label": {"en": "Online", "zh": "线上"}},
        {"key": "big", "label": {"en": "Big spender", "zh": "大买家"},
         "rule": {"entity": "buyer", "all": [{"field": "spend", "op": "gte", "value": 100}]}}]})
    assert r.status_code == 200, r.get_json()


def test_a_rule_tag_is_shown_read_only_on_the_create_form_not_offered(pages, client, clients):
    page = text(pages.get("/app/buyer/new", headers=ZH))
    assert sorted(_enabled_boxes(page, "f-kinds")) == ["online", "retail"]
    assert re.search(r'<input type="checkbox" value="big" disabled> 大买家\s*<span class="badge">由规则自动设置</span>', page)
    r = pages.post("/app/buyer/new", data={"f-name": "Zhao", "f-spend": "150", "f-kinds": ["retail"]})
    assert r.status_code == 303
    [row] = client.get("/api/records/buyer").get_json()["items"]
    assert sorted(row["kinds"]) == ["big", "retail"]  # the rule applied its tag


def test_an_edit_shows_the_rule_tag_held_and_keeps_it(pages, client, clients):
    b = client.post("/api/records/buyer", json={"name": "Qian", "spend": 500, "kinds": ["online"]}).get_json()
    assert sorted(b["kinds"]) == ["big", "online"]
    page = text(pages.get(f"/app/buyer/{b['id']}/edit"))
    assert sorted(_enabled_boxes(page, "f-kinds")) == ["online", "retail"]
    assert re.search(r'<input type="checkbox" value="big" disabled checked> Big spender', page)
    # sent back as shown: nothing changed, nothing written
    r = pages.post(f"/app/buyer/{b['id']}/edit", data={"f-name": "Qian", "f-spend": "500", "f-kinds": ["online"],
                                                       "version": str(b["version"])})
    assert r.status_code == 303
    assert client.get(f"/api/records/buyer/{b['id']}").get_json()["version"] == b["version"]
    r = pages.post(f"/app/buyer/{b['id']}/edit", data={"f-name": "Qian", "f-spend": "500", "f-kinds": ["retail"],
                                                       "version": str(b["version"])})
    assert r.status_code == 303
    after = client.get(f"/api/records/buyer/{b['id']}").get_json()
    assert sorted(after["kinds"]) == ["big", "retail"] and after["version"] == b["version"] + 1


def test_a_tags_field_only_rules_fill_is_read_only_on_the_b2b_company_form(pages, client, platform):
    importer.run(platform, templates.load("b2b"), actor="test")
    c = client.post("/api/records/company", json={"name": "大中华", "industry": "it", "size": "xl",
                                                  "annual_spend": 250000}).get_json()
    assert c["account_level"] == "key_account"
    page = text(pages.get(f"/app/company/{c['id']}/edit", headers=ZH))
    select = re.search(r'<select[^>]*name="f-account_level"[^>]*>(.*?)</select>', page, re.S)
    assert select and "disabled" in select.group(0)
    assert re.search(r'<option disabled selected value="key_account">大客户（年消费≥10万） \(由规则自动设置\)</option>',
                     select.group(1)), select.group(1)
    new = text(pages.get("/app/company/new", headers=ZH))
    options = re.search(r'<select[^>]*name="f-account_level"[^>]*>(.*?)</select>', new, re.S).group(1)
    assert not re.search(r'<option value="key_account"', options)  # never offered for picking
    # an edit of another field (with the reason companies need) keeps the rule's tag
    r = pages.post(f"/app/company/{c['id']}/edit", headers=ZH,
                   data={"f-name": "大中华", "f-industry": "it", "f-size": "l", "f-annual_spend": "250000",
                         "version": "1", "_reason": "规模调整"})
    assert r.status_code == 303, text(r)
    after = client.get(f"/api/records/company/{c['id']}").get_json()
    assert (after["size"], after["account_level"]) == ("l", "key_account")
