"""Bulk e-mail to a segment (the documents' batch outreach): one message per selected record, its
``{field}`` values filled in, through the outbox to a real SMTP server on loopback; a record that
asked not to be e-mailed, or has no address, is refused and named (SQLite and PostgreSQL)."""
from __future__ import annotations

import email.header

import pytest

from test_outbox_delivery import rows, smtp, worker  # noqa: F401 - fixtures

LEAD = {"key": "lead", "label": "Lead", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "email", "type": "email", "label": "E-mail"},
    {"key": "city", "type": "text", "label": "City"},
    {"key": "no_mail", "type": "boolean", "label": "Unsubscribed"},
]}
MAIL = {"to": "email", "subject": "{name}，上海站活动邀请", "body": "您好 {name}：{city} 的客户专场下周举行。", "unless": "no_mail"}


@pytest.fixture
def leads(client):
    assert client.post("/api/meta/entities", json=LEAD).status_code == 201
    ids = {}
    for name, address, city, no_mail in [("王芳", "wang@example.com", "上海", False), ("李雷", "li@example.com", "上海", True),
                                         ("张伟", None, "上海", False), ("赵敏", "zhao@example.com", "北京", False)]:
        r = client.post("/api/records/lead", json={"name": name, "email": address, "city": city, "no_mail": no_mail})
        ids[name] = r.get_json()["id"]
    return ids


def test_a_segment_is_emailed_once_each_and_the_unsubscribed_are_left_out(client, platform, leads, smtp, worker):  # noqa: F811
    r = client.post("/api/records/lead/bulk-update", json={"filter": {"city": "上海"}, "email": MAIL})
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert (answer["updated"], answer["queued"]) == (1, 1)
    refused = {x["id"]: x["errors"][0] for x in answer["refused"]}
    assert refused[leads["李雷"]]["code"] == "unsubscribed" and refused[leads["李雷"]]["field"] == "no_mail"
    assert refused[leads["张伟"]]["code"] == "no_address" and refused[leads["张伟"]]["field"] == "email"
    assert smtp.messages == []  # queued: the worker sends it
    worker()
    worker()  # never twice
    [(recipients, message)] = smtp.messages
    assert recipients == ["wang@example.com"]
    assert str(email.header.make_header(email.header.decode_header(message["Subject"]))) == "王芳，上海站活动邀请"
    assert message.get_payload(decode=True).decode().strip() == "您好 王芳：上海 的客户专场下周举行。"
    assert [(x["kind"], x["status"], x["origin"]) for x in rows(platform)] == [("email", "sent", "bulk:lead")]
    # No record changed: e-mailing is not an edit.
    assert client.get(f"/api/records/lead/{leads['王芳']}").get_json()["version"] == 1


@pytest.mark.parametrize("mail, field", [
    ({**MAIL, "to": "phone"}, "email.to"),
    ({**MAIL, "subject": "Hi {nickname}"}, "email.subject"),
    ({**MAIL, "unless": "opted_out"}, "email.unless"),
])
def test_an_email_naming_an_unknown_field_is_422_naming_the_place(client, platform, leads, mail, field):
    r = client.post("/api/records/lead/bulk-update", json={"ids": list(leads.values()), "email": mail})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == field
    assert rows(platform) == []


def test_an_email_is_alone_and_complete(client, leads):
    ids = list(leads.values())
    r = client.post("/api/records/lead/bulk-update", json={"ids": ids, "email": MAIL, "set": {"city": "杭州"}})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "email"
    r = client.post("/api/records/lead/bulk-update", json={"ids": ids, "email": {"to": "email", "subject": ""}})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "email.subject"
