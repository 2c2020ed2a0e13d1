"""Two app servers and a worker, as separate processes on PostgreSQL and Redis (docs/deploy.md).

A definition made through one server is used by the other on its next request; the worker, a third
process, reminds a user whom the other server then shows the notification; and the sign-in limit is
one count for both servers. Needs PostgreSQL (DATABASE_URL) and Redis; skipped without them outside
CI, like the other PostgreSQL and Redis tests.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from conftest import HAS_PG, PG_URL
from crm_platform.config import normalise_database_url

REDIS = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        import redis
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not HAS_PG, reason="DATABASE_URL names no PostgreSQL database"),
    pytest.mark.skipif(os.environ.get("CRM_REQUIRE_REDIS") != "1" and not _redis_up(), reason=f"no Redis at {REDIS}"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, method: str = "GET", body=None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=20) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def deployment(tmp_path):
    """A fresh PostgreSQL database, two `crm serve` processes and one `crm worker`, sharing Redis."""
    import redis
    redis.Redis.from_url(REDIS).flushdb()
    admin = sa.create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"crm_scale_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(normalise_database_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "shared-by-every-server", "CRM_QUEUE_URL": REDIS,
           "CRM_RATE_LIMIT_STORAGE": REDIS, "CRM_SIGNIN_RATE": "10 per minute"}
    crm = [sys.executable, "-m", "crm_platform.cli"]
    run = lambda *args: subprocess.run([*crm, *args], env=env, cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init")
    run("user", "create", "admin", "--password", "admin-password", "--admin")
    ports = [free_port(), free_port()]
    procs = [subprocess.Popen([*crm, "serve", "--port", str(p), "--workers", "1"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]

    def start_worker():
        procs.append(subprocess.Popen([*crm, "worker"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base in bases:
            for _ in range(150):
                try:
                    if call(f"{base}/readyz")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            else:
                pytest.fail(f"{base} did not become ready")
        yield bases, start_worker
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_two_servers_and_a_worker_share_definitions_jobs_and_limits(deployment):
    (a, b), start_worker = deployment
    status, body = call(f"{a}/api/auth/token", "POST", {"username": "admin", "password": "admin-password"})
    assert status == 201
    token = body["token"]

    # A definition made through A is used by B on its very next request.
    task = {"key": "task", "label": {"en": "Task", "zh": "任务"}, "title_field": "content", "fields": [
        {"key": "content", "type": "text", "label": "Content", "required": True},
        {"key": "due_on", "type": "date", "label": {"en": "Due", "zh": "截止日期"}}],
        "reminders": [{"field": "due_on"}]}
    assert call(f"{a}/api/meta/entities", "POST", task, token)[0] == 201
    today = str(dt.datetime.now(dt.timezone.utc).date())
    status, created = call(f"{b}/api/records/task", "POST", {"content": "call back", "due_on": today}, token)
    assert status == 201, created

    # The worker, a process of its own started now, reminds the owner at once; server A shows it.
    start_worker()
    for _ in range(150):
        status, bell = call(f"{a}/api/notifications", token=token)
        if bell["total"]:
            break
        time.sleep(0.2)
    assert bell["items"][0]["record_id"] == created["id"] and bell["items"][0]["kind"] == "reminder"

    # The sign-in limit is one count over both servers: 10 a minute per client address.
    wrong = {"username": "admin", "password": "not-the-password"}
    statuses = [call(f"{server}/api/auth/token", "POST", wrong)[0] for server in (a, b) * 6]
    assert statuses[:9] == [401] * 9 and statuses[-1] == 429
