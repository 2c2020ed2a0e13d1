"""Sending the outbox: e-mails over SMTP (``CRM_SMTP_URL``) and signed webhooks (``CRM_WEBHOOK_SECRET``).

Each delivery is claimed by one conditional UPDATE (so two workers never send the same row at once),
sent outside any database transaction, then recorded as sent, or retried with a growing delay, or,
after ``MAX_ATTEMPTS``, kept as failed with its last error for an administrator to re-run.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from .. import faults, jsonutil, outbox
from ..clock import utcnow
from ..db import writing
from ..tables import outbox as outbox_table

MAX_ATTEMPTS = 6
WEBHOOK_TIMEOUT = float(os.environ.get("CRM_WEBHOOK_TIMEOUT", "10"))


class DeliveryError(Exception):
    """The receiver refused or could not be reached; the message says which, for the run log."""


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8, 16 minutes after the 1st … 5th failed attempt."""
    return dt.timedelta(minutes=2 ** (attempts - 1))


# --- e-mail ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    ssl: bool
    starttls: bool
    username: str | None
    password: str | None
    sender: str

    @classmethod
    def from_env(cls) -> "SmtpSettings":
        url = os.environ.get("CRM_SMTP_URL")
        if not url:
            raise DeliveryError("CRM_SMTP_URL is not set: no SMTP server to send e-mail through")
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise DeliveryError(f"CRM_SMTP_URL must be smtp://host:port or smtps://host:port, not {url!r}")
        return cls(host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 25),
                   ssl=parts.scheme == "smtps", starttls="starttls=1" in (parts.query or ""),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   sender=os.environ.get("CRM_MAIL_FROM", "crm@localhost"))


def send_email(payload: dict, delivery_id: int) -> None:
    """``payload``: ``{"to": [addresses], "subject": str, "body": str}`` (plain text, UTF-8)."""
    settings = SmtpSettings.from_env()
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(payload["to"])
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<crm-outbox-{delivery_id}@{settings.sender.rpartition('@')[2] or 'localhost'}>"
    message.set_content(payload["body"])
    smtp_class = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
    try:
        with smtp_class(settings.host, settings.port, timeout=30) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {settings.host}:{settings.port}: {exc}") from exc


# --- webhooks -------------------------------------------------------------------------------------

def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(payload: dict, delivery_id: int) -> None:
    """``payload``: ``{"url": "http(s)://…", "body": {…}}``; POSTs the body as JSON, signed."""
    secret = os.environ.get("CRM_WEBHOOK_SECRET")
    if not secret:
        raise DeliveryError("CRM_WEBHOOK_SECRET is not set: webhooks are signed with it and none is sent unsigned")
    body = jsonutil.dumps(payload["body"], sort_keys=True).encode()
    request = urllib.request.Request(payload["url"], data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "crm-platform-webhook",
        "X-CRM-Signature": signature(body, secret), "X-CRM-Delivery": str(delivery_id)})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{payload['url']} answered {exc.code}") from exc
    except (OSError, ValueError) as exc:  # refused, timed out, unreachable, a malformed address
        raise DeliveryError(f"{payload['url']}: {getattr(exc, 'reason', exc)}") from exc


SENDERS = {"email": send_email, "webhook": send_webhook}


# --- the loop -------------------------------------------------------------------------------------

def _claim_next(engine: sa.Engine, now: dt.datetime):
    with writing(engine) as conn:
        for row in conn.execute(sa.select(outbox_table).where(outbox.due(now)).order_by(outbox_table.c.id).limit(20)):
            won = conn.execute(outbox_table.update().where(outbox_table.c.id == row.id, outbox.due(now))
                               .values(status="sending", claimed_at=now)).rowcount
            if won:
                return row
    return None


def deliver_due(engine: sa.Engine, senders: dict | None = None, now=None) -> dict[str, int]:
    """Send every delivery due now; counts of ``sent``, ``retrying`` and ``failed``."""
    senders = senders or SENDERS
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    while True:
        at = now or utcnow()
        row = _claim_next(engine, at)
        if row is None:
            return counts
        attempts = row.attempts + 1
        try:
            faults.reach("outbox.before_send")
            senders[row.kind](jsonutil.loads(row.payload), row.id)
            faults.reach("outbox.after_send")
        except Exception as exc:  # noqa: BLE001 - any failure of the outside world is recorded, never raised
            error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            final = attempts >= MAX_ATTEMPTS
            values = {"status": "failed" if final else "pending", "attempts": attempts, "last_error": error[:2000],
                      "next_attempt_at": at + backoff(attempts), "claimed_at": None}
            counts["failed" if final else "retrying"] += 1
        else:
            values = {"status": "sent", "attempts": attempts, "sent_at": utcnow(),
                      "claimed_at": None, "last_error": None}
            counts["sent"] += 1
        with writing(engine) as conn:
            conn.execute(outbox_table.update().where(outbox_table.c.id == row.id).values(**values))


def retry_failed(engine: sa.Engine, ids: list[int] | None = None) -> int:
    """Put failed deliveries back on the queue (all, or those of ``ids``); how many."""
    query = outbox_table.update().where(outbox_table.c.status == "failed")
    if ids is not None:
        query = query.where(outbox_table.c.id.in_(ids))
    with writing(engine) as conn:
        return conn.execute(query.values(status="pending", attempts=0,
                                         next_attempt_at=utcnow())).rowcount
