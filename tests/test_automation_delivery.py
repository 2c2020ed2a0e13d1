"""Automation e-mails and webhooks reach real receivers on loopback — an aiosmtpd SMTP server and an HTTP
server that checks the HMAC signature — through the outbox and `crm worker --once`, after the write
commits; a receiver that is down never fails the user's write (SQLite and PostgreSQL)."""
from __future__ import annotations

import email.header
import hashlib
import hmac
import json

import sqlalchemy as sa

from crm_platform.tables import automation_runs

from test_automation import add_rule, crm  # noqa: F401 - the fixture
from test_outbox_delivery import SECRET, free_port, rows, smtp, webhook, worker  # noqa: F401 - fixtures


def test_a_rule_emails_the_customer_and_calls_a_signed_webhook(crm, platform, smtp, webhook, worker):  # noqa: F811
    url = f"http://127.0.0.1:{webhook.server_port}/crm"
    add_rule(crm, {"key": "welcome", "label": "Welcome", "entity": "customer", "trigger": {"on": "created"},
                   "conditions": [{"field": "email", "op": "is_not_empty"}],
                   "actions": [{"type": "email", "to": ["{email}"], "subject": "欢迎 {name}",
                                "body": "Dear {name}, your level is {level}."},
                               {"type": "webhook", "url": url}]})
    r = crm.post("/api/records/customer", json={"name": "星河科技", "email": "wang@example.com", "level": "vip"})
    assert r.status_code == 201
    crm.post("/api/records/customer", json={"name": "No mail"})
    assert smtp.messages == [] and webhook.received == []  # nothing leaves inside the write
    worker()
    worker()  # nothing twice
    [(recipients, message)] = smtp.messages
    assert recipients == ["wang@example.com"]
    assert str(email.header.make_header(email.header.decode_header(message["Subject"]))) == "欢迎 星河科技"
    assert message.get_payload(decode=True).decode().strip() == "Dear 星河科技, your level is vip."
    [(headers, raw)] = webhook.received
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-CRM-Signature"], expected)
    body = json.loads(raw)
    assert body["automation"] == "welcome" and body["entity"] == "customer"
    assert body["record"]["id"] == r.get_json()["id"] and body["record"]["name"] == "星河科技"
    runs = crm.get("/api/automations/welcome/runs").get_json()["items"]
    assert [a["delivery_status"]["status"] for a in runs[0]["actions"]] == ["sent", "sent"]


def test_a_receiver_that_is_down_never_fails_the_write(crm, platform, worker, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CRM_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", SECRET)
    add_rule(crm, {"key": "tell", "label": "Tell", "entity": "customer", "trigger": {"on": "created"},
                   "actions": [{"type": "email", "to": ["ops@example.com"], "subject": "New {name}", "body": "-"},
                               {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/down"}]})
    r = crm.post("/api/records/customer", json={"name": "Acme"})
    assert r.status_code == 201
    worker()
    assert [(x["kind"], x["status"], x["attempts"]) for x in rows(platform)] == [
        ("email", "pending", 1), ("webhook", "pending", 1)]
    assert all(x["last_error"] for x in rows(platform))
    [run] = crm.get("/api/automations/tell/runs").get_json()["items"]
    assert run["status"] == "ok"
    assert all(a["delivery_status"]["last_error"] for a in run["actions"])
    with platform.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(automation_runs)).scalar_one() == 1
    assert crm.get(f"/api/records/customer/{r.get_json()['id']}").status_code == 200
