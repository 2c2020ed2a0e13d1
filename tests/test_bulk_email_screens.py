"""*Send e-mail* from a list's bulk bar: the ticked records, or every record matching the list's
filter, each get one outbox e-mail with its values filled in (the same runtime path as the API);
the summary counts what was queued and names the records refused; bad input shows the e-mail again
with errors naming the input, nothing queued; only users who may change the records are offered it
(SQLite and PostgreSQL)."""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from crm_platform.tables import outbox as outbox_table
from test_screens import Pages

ZH = {"Accept-Language": "zh-CN,zh"}
CUSTOMER = {
    "key": "customer", "label": {"en": "Customer", "zh": "客户"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
        {"key": "email", "type": "email", "label": {"en": "E-mail", "zh": "邮箱"}},
        {"key": "work_email", "type": "email", "label": {"en": "Work e-mail", "zh": "工作邮箱"}},
        {"key": "city", "type": "text", "label": {"en": "City", "zh": "城市"}},
        {"key": "no_mail", "type": "boolean", "label": {"en": "Unsubscribed", "zh": "已退订"}},
        {"key": "secret", "type": "text", "label": {"en": "Secret", "zh": "内部备注"}},
    ],
}
ALL = {"create": "all", "read": "all", "update": "all", "delete": "all"}
ROLES = [
    {"key": "manager", "label": "Manager", "entities": {"customer": {**ALL, "fields": {"secret": {"read": False}}}}},
    {"key": "cleaner", "label": "Cleaner", "entities": {"customer": {"read": "all", "delete": "all"}}},
]


@pytest.fixture
def crm(app, client):
    assert client.post("/api/meta/entities", json=CUSTOMER).status_code == 201
    for role in ROLES:
        assert client.post("/api/meta/roles", json=role).status_code == 201
    users = app.extensions["crm"].users
    users.create("mia", "mia-password", roles=["manager"])
    users.create("cleo", "cleo-password", roles=["cleaner"])
    ids = {}
    for name, address, work, city, no_mail in [
            ("王芳", "wang@example.com", "wang@work.example.com", "上海", False),
            ("李雷", "li@example.com", None, "上海", True),
            ("张伟", None, "zhang@work.example.com", "上海", False),
            ("赵敏", "zhao@example.com", None, "北京", False)]:
        r = client.post("/api/records/customer", json={"name": name, "email": address, "work_email": work,
                                                       "city": city, "no_mail": no_mail, "secret": "x"})
        assert r.status_code == 201, r.get_json()
        ids[name] = r.get_json()["id"]
    return ids


def outbox_rows(platform) -> list[dict]:
    with platform.engine.connect() as conn:
        found = conn.execute(sa.select(outbox_table).order_by(outbox_table.c.id)).all()
    return [{"kind": r.kind, "origin": r.origin, **json.loads(r.payload)} for r in found]


def text(r) -> str:
    return r.get_data(as_text=True)


MAIL = {"action": "email", "email_to": "email", "email_subject": "{name}，上海站活动邀请",
        "email_body": "您好 {name}：{city} 的客户专场下周举行。", "email_unless": "no_mail"}


def test_the_bar_offers_an_email_with_its_fields_and_placeholders_in_chinese(app, crm):
    page = text(Pages(app, "mia").get("/app/customer?view=all", headers=ZH))
    assert '<option value="email">发送邮件</option>' in page
    bar = page.split('data-testid="bulk-email"', 1)[1].split("</span>\n", 1)[0]
    assert re.findall(r'<option value="(\w+)"\s*>([^<]+)</option>', bar) == [
        ("email", "邮箱"), ("work_email", "工作邮箱"), ("no_mail", "已退订")]
    assert "按每条记录填入" in bar and "名称 → <code>{name}</code>" in bar and "城市 → <code>{city}</code>" in bar
    assert "{secret}" not in bar and "内部备注" not in bar  # a field mia may not read is no placeholder


def test_ticked_records_are_emailed_and_the_refused_named_in_chinese(app, platform, client, crm):
    ids = [crm[n] for n in ("王芳", "李雷", "张伟")]
    r = Pages(app, "mia").post("/app/customer/_bulk", headers=ZH, data={**MAIL, "ids": [str(i) for i in ids],
                                                                       "query": "view=all"})
    page = text(r)
    assert r.status_code == 200, page
    assert "已将 1 封邮件加入发送队列，2 条记录被拒绝。" in page
    assert re.search(r">张伟</a>:\s*<strong>邮箱</strong> 为空，未发送邮件", page)
    assert re.search(r">李雷</a>:\s*<strong>已退订</strong> 已勾选，未发送邮件", page)
    assert outbox_rows(platform) == [{"kind": "email", "origin": "bulk:customer", "to": ["wang@example.com"],
                                      "subject": "王芳，上海站活动邀请", "body": "您好 王芳：上海 的客户专场下周举行。"}]
    # e-mailing changes no record
    assert client.get(f"/api/records/customer/{crm['王芳']}").get_json()["version"] == 1


def test_every_record_matching_the_filter_to_the_chosen_field_in_english(app, platform, crm):
    r = Pages(app, "mia").post("/app/customer/_bulk", data={
        "action": "email", "email_to": "work_email", "email_subject": "Invitation, {name}",
        "email_body": "Dear {name} (#{id})", "email_unless": "", "all_matching": "1",
        "query": "filter[city]=上海&view=all&columns=name"})
    page = text(r)
    assert r.status_code == 200, page
    assert "2 e-mails queued for sending, 1 records refused." in page
    assert re.search(r">李雷</a>:\s*<strong>Work e-mail</strong> is empty: no e-mail sent", page)
    assert sorted((m["to"], m["subject"], m["body"]) for m in outbox_rows(platform)) == [
        (["wang@work.example.com"], "Invitation, 王芳", f"Dear 王芳 (#{crm['王芳']})"),
        (["zhang@work.example.com"], "Invitation, 张伟", f"Dear 张伟 (#{crm['张伟']})")]


@pytest.mark.parametrize("change, field, says", [
    ({"email_subject": "  "}, "email_subject", "“主题”不能为空，请填写邮件主题。"),
    ({"email_body": ""}, "email_body", "“正文”不能为空，请填写邮件正文。"),
    ({"email_body": "您好 {nickname}"}, "email_body", "“正文”中的 {nickname} 不是可用的字段"),
    ({"email_subject": "{secret}"}, "email_subject", "“主题”中的 {secret} 不是可用的字段"),  # mia may not read it
    ({"email_to": "city"}, "email_to", "“收件地址”：请从列表中选择一个邮箱字段。"),
    ({"email_unless": "city"}, "email_unless", "“跳过勾选了此项的记录”：请从列表中选择一个是否字段。"),
])
def test_bad_input_shows_the_email_again_naming_the_input(app, platform, crm, change, field, says):
    ids = [str(crm["王芳"]), str(crm["赵敏"])]
    r = Pages(app, "mia").post("/app/customer/_bulk", headers=ZH, data={**MAIL, **change, "ids": ids})
    page = text(r)
    assert r.status_code == 422, page
    assert "邮件未发送。请修改后重新发送。" in page and says in page
    assert outbox_rows(platform) == []
    # the e-mail comes back as typed, for the same records, to correct and send
    assert page.count('name="ids"') == 2 and 'name="action" value="email"' in page
    if field == "email_subject":
        assert f'id="error-email_subject" role="alert">{says}' in page
    if "email_body" not in change:
        assert "您好 {name}：{city} 的客户专场下周举行。</textarea>" in page


def test_only_users_who_may_change_records_are_offered_the_email(app, platform, client, crm):
    cleo = Pages(app, "cleo")  # may read and delete customers, not change them
    page = text(cleo.get("/app/customer?view=all"))
    assert 'data-testid="bulk-bar"' in page and 'value="delete"' in page
    assert '<option value="email">' not in page and 'data-testid="bulk-email"' not in page
    r = cleo.post("/app/customer/_bulk", data={**MAIL, "ids": [str(crm["王芳"])]})
    assert r.status_code == 403
    assert outbox_rows(platform) == []
    # an entity without an e-mail field offers none either
    assert client.post("/api/meta/entities", json={"key": "note", "label": "Note", "title_field": "title", "fields": [
        {"key": "title", "type": "text", "label": "Title"}]}).status_code == 201
    assert client.post("/api/records/note", json={"title": "call back"}).status_code == 201
    page = text(Pages(app, "admin").get("/app/note?view=all"))
    assert 'data-testid="bulk-bar"' in page and '<option value="email">' not in page
