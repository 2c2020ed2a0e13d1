"""Crash safety: real server and worker processes killed with SIGKILL in the middle of their work.

Each test runs the product as separate processes (``crm serve``, ``crm template install``,
``crm worker --once``) on a database file or a PostgreSQL database, and has one of them killed at a
named point (``crm_platform/faults.py``: ``CRM_FAULT=<point>:<marker>``, once) — no clean-up, as an
OOM kill or a power cut would leave it. Then it looks at the database and goes on as a user would:

* ``metadata.after_ddl`` — a new entity's table created, its definition not yet saved: nothing of it
  is left (no definition, no table, no revision), and sending the same definition again works.
* ``bundle.before_sample_data`` — a template's definitions and tables made, its sample data not yet
  loaded: nothing is left; installing again gives the whole template with its sample data.
* ``import.after_batch`` — a background import killed after its first batch committed: the job
  shows exactly the committed rows; once its heartbeat is old, the next poll takes it over and it
  ends with every row imported once, one audit row per record, and the report of the whole file.
* ``outbox.before_send`` / ``outbox.after_send`` — a worker killed holding a webhook delivery: sent
  after the lease expires, never lost; killed after sending, it is sent once more with the same
  ``X-CRM-Delivery`` id (delivery is at least once; receivers drop repeats by that id, docs/operations.md).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from crm_platform.clock import utcnow
from crm_platform.config import normalise_database_url
from crm_platform.metadata.keys import table_name
from crm_platform.tables import import_jobs, outbox as outbox_table

CRM = [sys.executable, "-m", "crm_platform.cli"]
LEAD = {"key": "lead", "label": "Lead", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "email", "type": "email", "label": "E-mail"},
    {"key": "score", "type": "integer", "label": "Score"},
]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, method: str = "GET", body=None, token: str | None = None, raw: bytes | None = None,
         content_type: str = "application/json") -> tuple[int, dict, dict]:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=30) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def multipart(filename: str, data: bytes, fields: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f'Content-Type: text/csv\r\n\r\n'.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Instance:
    """One instance of the product on ``database_url``: its commands, its server, its database."""

    def __init__(self, database_url: str, folder):
        self.url, self.folder = database_url, folder
        self.marker = folder / "fault-happened"
        self.env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "crash-tests",
                    "CRM_QUEUE_URL": f"sqlite:///{folder / 'queue.sqlite'}", "CRM_WEBHOOK_SECRET": "s3cret"}
        self.env.pop("CRM_FAULT", None)
        self.engine = sa.create_engine(normalise_database_url(database_url))

    def fault(self, point: str) -> dict:
        return {"CRM_FAULT": f"{point}:{self.marker}"}

    def crm(self, *args, extra: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*CRM, *args], env={**self.env, **(extra or {})}, cwd=self.folder,
                              capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    @contextlib.contextmanager
    def server(self, extra: dict | None = None):
        port = free_port()
        proc = subprocess.Popen([*CRM, "serve", "--port", str(port), "--workers", "1"], env={**self.env, **(extra or {})},
                                cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            self.wait_ready(base)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    @staticmethod
    def wait_ready(base: str) -> None:
        for _ in range(300):
            try:
                if call(f"{base}/readyz")[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        pytest.fail(f"{base} did not become ready")

    def token(self, base: str) -> str:
        status, body, _ = call(f"{base}/api/auth/token", "POST", {"username": "admin", "password": "admin-password"})
        assert status == 201, body
        return body["token"]

    def scalar(self, query: str):
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(query).scalar()

    def tables(self) -> set[str]:
        return set(sa.inspect(self.engine).get_table_names())

    def update(self, table: sa.Table, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(table.update().values(**values))


@pytest.fixture
def instance(database_url, tmp_path):
    crm = Instance(database_url, tmp_path)
    crm.crm("init")
    crm.crm("user", "create", "admin", "--password", "admin-password", "--admin")
    yield crm
    crm.engine.dispose()


def dropped(fn) -> None:
    """``fn`` must fail as a request whose server process was killed fails: the connection ends."""
    with pytest.raises((OSError, http.client.HTTPException)):
        fn()


def test_a_server_killed_after_the_ddl_of_a_new_entity_leaves_nothing_of_it(instance):
    revision = instance.scalar("SELECT revision FROM crm_meta_state")
    with instance.server(instance.fault("metadata.after_ddl")) as base:
        token = instance.token(base)
        dropped(lambda: call(f"{base}/api/meta/entities", "POST", LEAD, token))
        assert instance.marker.exists()  # it was killed there, not refused for another reason
        instance.wait_ready(base)  # gunicorn starts a new worker
        assert call(f"{base}/api/meta/entities/lead", token=token)[0] == 404
        assert table_name("lead") not in instance.tables()
        assert instance.scalar("SELECT revision FROM crm_meta_state") == revision
        assert instance.scalar("SELECT count(*) FROM crm_definition") == 0

        status, body, _ = call(f"{base}/api/meta/entities", "POST", LEAD, token)
        assert status == 201, body
        assert call(f"{base}/api/records/lead", "POST", {"name": "重来"}, token)[0] == 201
        assert table_name("lead") in instance.tables()
        assert instance.scalar("SELECT revision FROM crm_meta_state") == revision + 1


def test_a_template_install_killed_before_its_sample_data_leaves_nothing(instance):
    killed = instance.crm("template", "install", "b2b", "--sample-data", extra=instance.fault("bundle.before_sample_data"),
                          check=False)
    assert killed.returncode == -9 and instance.marker.exists(), killed.stdout + killed.stderr
    assert instance.scalar("SELECT count(*) FROM crm_definition") == 0
    assert instance.scalar("SELECT revision FROM crm_meta_state") == 0
    assert not [t for t in instance.tables() if t.startswith("ent_")]
    assert instance.scalar("SELECT count(*) FROM crm_bundle") == 0

    instance.crm("template", "install", "b2b", "--sample-data")
    bundle = json.loads(open(os.path.join(os.path.dirname(__file__), "..", "templates_library", "b2b", "bundle.json"),
                             encoding="utf-8").read())
    for entity, rows in bundle["sample_data"].items():  # (stage follow-ups add tasks of their own)
        count = instance.scalar(f"SELECT count(*) FROM {table_name(entity)}")
        assert count >= len(rows) and count == instance.scalar(
            f"SELECT count(*) FROM crm_audit WHERE entity = '{entity}' AND action = 'create'"), entity
    assert instance.scalar("SELECT count(*) FROM crm_bundle") == 1


def test_an_import_killed_after_a_batch_goes_on_from_the_committed_rows(instance):
    from crm_platform.imports.runner import BATCH_ROWS
    rows = BATCH_ROWS * 2 + 500
    csv = "Name,E-mail,Score\n" + "".join(f"客户{n},c{n}@example.com,{n % 100}\n" for n in range(rows))
    small = {"CRM_IMPORT_SYNC_BYTES": "1000"}  # this file is imported in the background
    with instance.server({**small, **instance.fault("import.after_batch")}) as base:
        token = instance.token(base)
        assert call(f"{base}/api/meta/entities", "POST", LEAD, token)[0] == 201
        body, ctype = multipart("leads.csv", csv.encode(), {"match": "email"})
        status, answer, headers = call(f"{base}/api/records/lead/import", "POST", raw=body, token=token, content_type=ctype)
        assert status == 202, answer
        job = headers["Location"]
        for _ in range(300):  # the worker imports the first batch, commits it and is killed
            if instance.marker.exists():
                break
            time.sleep(0.1)
        else:
            pytest.fail("the import never reached its first committed batch")
        instance.wait_ready(base)

        status, answer, _ = call(f"{base}{job}", token=token)
        assert status == 202 and answer["status"] == "running"
        assert answer["processed"] == BATCH_ROWS == instance.scalar(f"SELECT count(*) FROM {table_name('lead')}")
        # Time passes: the job's heartbeat is older than STRANDED_AFTER (moved back under the product).
        instance.update(import_jobs, heartbeat_at=utcnow() - dt.timedelta(hours=1))
        for _ in range(600):  # the next poll takes the job over and it runs to its end
            status, answer, _ = call(f"{base}{job}", token=token)
            if status != 202:
                break
            time.sleep(0.2)
        assert status == 200, answer
        assert (answer["status"], answer["created"], answer["skipped"], answer["refused"]) == ("done", rows, 0, [])
    lead = table_name("lead")
    assert instance.scalar(f"SELECT count(*) FROM {lead}") == rows
    assert instance.scalar(f"SELECT count(DISTINCT email) FROM {lead}") == rows
    assert instance.scalar("SELECT count(*) FROM crm_audit WHERE entity = 'lead' AND action = 'create'") == rows
    assert instance.scalar("SELECT count(*) FROM crm_import_job WHERE path IS NOT NULL") == 0


class Receiver(http.server.BaseHTTPRequestHandler):
    deliveries: list[tuple[str, dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.deliveries.append((self.headers["X-CRM-Delivery"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.deliveries = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver.deliveries
    server.shutdown()


@pytest.mark.parametrize("point", ["outbox.before_send", "outbox.after_send"])
def test_a_worker_killed_holding_a_delivery_loses_nothing(instance, receiver, point):
    from crm_platform import outbox
    url, seen = receiver
    with instance.engine.begin() as conn:
        delivery = outbox.add(conn, "webhook", {"url": url, "body": {"automation": "crash", "entity": "lead",
                                                                     "record": {"id": 1}}})
    killed = instance.crm("worker", "--once", extra=instance.fault(point), check=False)
    assert killed.returncode == -9 and instance.marker.exists(), killed.stdout + killed.stderr
    sent_before_kill = 1 if point == "outbox.after_send" else 0
    assert len(seen) == sent_before_kill
    assert instance.scalar(f"SELECT status FROM crm_outbox WHERE id = {delivery}") == "sending"

    instance.crm("worker", "--once")  # while the dead worker's lease holds, nobody sends it again
    assert len(seen) == sent_before_kill
    instance.update(outbox_table, claimed_at=utcnow() - dt.timedelta(hours=1))
    instance.crm("worker", "--once")
    assert [d for d, _ in seen] == [str(delivery)] * (sent_before_kill + 1)
    assert seen[-1][1] == {"automation": "crash", "entity": "lead", "record": {"id": 1}}
    assert instance.scalar(f"SELECT status FROM crm_outbox WHERE id = {delivery}") == "sent"
    instance.crm("worker", "--once")
    assert len(seen) == sent_before_kill + 1  # sent: never again
