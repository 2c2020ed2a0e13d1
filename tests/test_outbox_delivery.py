"""The outbox: e-mails reach a real SMTP server and webhooks a real HTTP server, after the write commits.

Both servers run on loopback inside the test (aiosmtpd; http.server). A rolled-back write sends
nothing, a delivery is sent once however often the worker runs, a failing receiver is retried with a
growing delay and then kept as failed, and a delivery claimed by a worker that died is sent by the next.
"""
import datetime as dt
import email
import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from crm_platform import outbox
from crm_platform.cli import main
from crm_platform.jobs import delivery
from crm_platform.tables import outbox as outbox_table

SECRET = "webhook-secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CRM_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("CRM_MAIL_FROM", "crm@example.com")
    yield inbox
    controller.stop()


class Receiver(ThreadingHTTPServer):
    status = 200

    def __init__(self):
        self.received = []
        handler = type("Handler", (BaseHTTPRequestHandler,), {"do_POST": _receive, "log_message": lambda *a: None})
        super().__init__(("127.0.0.1", 0), handler)


def _receive(self):
    body = self.rfile.read(int(self.headers["Content-Length"]))
    self.server.received.append((self.headers, body))  # looked up without regard to case, as HTTP says
    self.send_response(self.server.status)
    self.end_headers()


@pytest.fixture
def webhook(monkeypatch):
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", SECRET)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(platform, database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.sqlite'}")
    monkeypatch.chdir(tmp_path)

    def run_once() -> str:
        result = CliRunner().invoke(main, ["worker", "--once"])
        assert result.exit_code == 0, result.output
        return result.output
    return run_once


def rows(platform):
    with platform.engine.connect() as conn:
        return [r._asdict() for r in conn.execute(sa.select(outbox_table).order_by(outbox_table.c.id))]


def test_an_email_is_sent_once_after_the_write_commits(platform, smtp, worker):
    with platform.engine.begin() as conn:
        sent_id = outbox.add(conn, "email", {"to": ["wang@example.com"], "subject": "请今天确认合同",
                                             "body": "客户 星河科技 今天需要确认合同。"}, origin="test")
    with pytest.raises(RuntimeError):
        with platform.engine.begin() as conn:
            outbox.add(conn, "email", {"to": ["nobody@example.com"], "subject": "rolled back", "body": "-"})
            raise RuntimeError("the write fails after asking for an e-mail")
    assert smtp.messages == []  # nothing is sent inside the write
    worker()
    worker()  # a second run finds nothing more to send
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["wang@example.com"]
    assert str(email.header.make_header(email.header.decode_header(message["Subject"]))) == "请今天确认合同"
    assert message.get_payload(decode=True).decode().strip() == "客户 星河科技 今天需要确认合同。"
    assert message["Message-ID"] == f"<crm-outbox-{sent_id}@example.com>"
    [row] = rows(platform)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)


def test_a_webhook_is_signed_with_the_shared_secret(platform, webhook, worker):
    body = {"automation": "big_order", "entity": "order", "record": {"id": 7, "amount": 12500.5, "customer": "王丽"}}
    with platform.engine.begin() as conn:
        delivery_id = outbox.add(conn, "webhook", {"url": f"http://127.0.0.1:{webhook.server_port}/hook", "body": body})
    worker()
    [(headers, raw)] = webhook.received
    assert json.loads(raw) == body
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-CRM-Signature"], expected)
    assert headers["X-CRM-Delivery"] == str(delivery_id)
    assert headers["Content-Type"] == "application/json"


def test_a_failing_receiver_is_retried_later_then_kept_as_failed(platform, webhook, worker):
    webhook.status = 500
    with platform.engine.begin() as conn:
        outbox.add(conn, "webhook", {"url": f"http://127.0.0.1:{webhook.server_port}/hook", "body": {"n": 1}})
    worker()
    [row] = rows(platform)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "answered 500" in row["last_error"]
    assert row["next_attempt_at"] > dt.datetime.now(dt.timezone.utc)  # not again at once
    worker()
    assert len(webhook.received) == 1
    for attempt in range(2, delivery.MAX_ATTEMPTS + 1):  # time passes: each retry comes due
        with platform.engine.begin() as conn:
            conn.execute(outbox_table.update().values(next_attempt_at=dt.datetime.now(dt.timezone.utc)))
        worker()
    [row] = rows(platform)
    assert (row["status"], row["attempts"]) == ("failed", delivery.MAX_ATTEMPTS)
    assert len(webhook.received) == delivery.MAX_ATTEMPTS
    webhook.status = 200
    assert delivery.retry_failed(platform.engine) == 1
    worker()
    assert rows(platform)[0]["status"] == "sent" and len(webhook.received) == delivery.MAX_ATTEMPTS + 1


def test_an_unreachable_smtp_server_leaves_the_mail_waiting(platform, worker, monkeypatch):
    monkeypatch.setenv("CRM_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    with platform.engine.begin() as conn:
        outbox.add(conn, "email", {"to": ["a@example.com"], "subject": "s", "body": "b"})
    worker()
    [row] = rows(platform)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"].startswith("SMTP 127.0.0.1:")


def test_a_delivery_claimed_by_a_worker_that_died_is_sent_by_the_next(platform, smtp, worker):
    with platform.engine.begin() as conn:
        outbox.add(conn, "email", {"to": ["a@example.com"], "subject": "s", "body": "b"})
        # A worker claimed it and was killed before sending: the claim is older than the lease.
        conn.execute(outbox_table.update().values(
            status="sending", claimed_at=dt.datetime.now(dt.timezone.utc) - outbox.LEASE - dt.timedelta(seconds=1)))
    worker()
    assert len(smtp.messages) == 1 and rows(platform)[0]["status"] == "sent"


def test_a_fresh_claim_is_left_to_the_worker_that_holds_it(platform, smtp, worker):
    with platform.engine.begin() as conn:
        outbox.add(conn, "email", {"to": ["a@example.com"], "subject": "s", "body": "b"})
        conn.execute(outbox_table.update().values(status="sending", claimed_at=dt.datetime.now(dt.timezone.utc)))
    worker()
    assert smtp.messages == [] and rows(platform)[0]["status"] == "sending"


def test_unsigned_webhooks_are_never_sent(platform, webhook, worker, monkeypatch):
    monkeypatch.delenv("CRM_WEBHOOK_SECRET")
    with platform.engine.begin() as conn:
        outbox.add(conn, "webhook", {"url": f"http://127.0.0.1:{webhook.server_port}/hook", "body": {}})
    worker()
    assert webhook.received == [] and "CRM_WEBHOOK_SECRET is not set" in rows(platform)[0]["last_error"]


def test_the_outbox_commands_list_and_retry_failed_deliveries(platform, database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    with platform.engine.begin() as conn:
        failed = outbox.add(conn, "webhook", {"url": "http://127.0.0.1:1/", "body": {}})
        conn.execute(outbox_table.update().values(status="failed", attempts=6, last_error="refused"))
    runner = CliRunner()
    listed = runner.invoke(main, ["outbox", "list", "--status", "failed"]).output
    assert listed.startswith(f"{failed}\twebhook\tfailed\t6\t") and listed.rstrip().endswith("refused")
    assert runner.invoke(main, ["outbox", "retry", str(failed)]).output.strip() == "1 failed deliveries queued again"
    assert rows(platform)[0]["status"] == "pending"
