"""What the system writes as a change's reason (an automation rule, a web form, a deleted record
referred to, a personal-data export) reads in the reader's language on the record's timeline,
naming rules, forms and entities by their labels; the API's ``reason`` keeps the English text."""
from __future__ import annotations

COMPANY = {"key": "company", "label": {"en": "Company", "zh": "公司"}, "title_field": "name",
           "fields": [{"key": "name", "type": "text", "required": True}]}
CONTACT = {"key": "contact", "label": {"en": "Contact", "zh": "联系人"}, "title_field": "name",
           "fields": [{"key": "name", "type": "text", "required": True},
                      {"key": "email", "type": "email", "personal": True},
                      {"key": "level", "type": "select", "choices": [{"key": "new", "label": "New"},
                                                                     {"key": "vip", "label": "VIP"}]},
                      {"key": "company", "type": "reference", "target": "company", "on_delete": "set_null"}]}
RULE = {"key": "welcome", "label": {"en": "Welcome VIPs", "zh": "欢迎贵宾"}, "entity": "contact", "active": True,
        "trigger": {"on": "created"}, "conditions": [{"field": "email", "op": "is_not_empty"}],
        "actions": [{"type": "set_fields", "values": {"level": "vip"}}]}
FORM = {"key": "sign_up", "label": {"en": "Join us", "zh": "加入我们"}, "entity": "contact", "public": True,
        "slug": "join", "layout": [{"title": "You", "fields": ["name"]}]}


def reasons(client, record_id, lang):
    r = client.get(f"/api/records/contact/{record_id}/timeline", headers={"Accept-Language": lang})
    assert r.status_code == 200, r.get_json()
    return [i.get("reason") for i in r.get_json()["items"] if i["kind"] == "change"]


def test_system_reasons_read_in_the_readers_language(client):
    for url, doc in (("/api/meta/entities", COMPANY), ("/api/meta/entities", CONTACT),
                     ("/api/meta/automations", RULE), ("/api/meta/forms", FORM)):
        r = client.post(url, json=doc)
        assert r.status_code == 201, r.get_json()
    acme = client.post("/api/records/company", json={"name": "Acme"}).get_json()
    li = client.post("/api/records/contact", json={"name": "Li", "email": "li@example.com", "company": acme["id"]}).get_json()
    assert client.delete(f"/api/records/company/{acme['id']}").status_code == 204
    assert client.get(f"/api/records/contact/{li['id']}/personal-data").status_code == 200
    zh = reasons(client, li["id"], "zh-CN")
    assert "自动化规则「欢迎贵宾」" in zh
    assert f"公司 #{acme['id']} 已删除" in zh
    assert zh[0] == "导出了个人数据"
    en = reasons(client, li["id"], "en")
    assert "Automation rule “Welcome VIPs”" in en and f"Company #{acme['id']} was deleted" in en
    # the trail itself keeps the English words the API always gave
    history = client.get(f"/api/records/contact/{li['id']}/history").get_json()
    assert f"company {acme['id']} was deleted" in [h["reason"] for h in history["items"]]

    client.post("/f/join", data={"f-name": "Wang"}, headers={"Authorization": None})
    wang = next(r for r in client.get("/api/records/contact?q=Wang").get_json()["items"])
    assert "通过网页表单「加入我们」提交" in reasons(client, wang["id"], "zh-CN")
