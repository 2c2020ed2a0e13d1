"""Request ids, JSON access logs and Prometheus metrics, in process and under gunicorn with two workers."""
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import make_app
from crm_platform.logs import JsonFormatter


def test_every_answer_carries_a_request_id(client):
    mine = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2"})
    assert mine.headers["X-Request-ID"] == "lb-7f3a.2"
    made = client.get("/healthz", headers={"X-Request-ID": "no spaces or <html> please"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    refused = client.get("/api/records/nothing", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.headers["X-Request-ID"]


def test_the_access_log_line_names_route_status_and_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="crm.access")
    client.get("/api/records/nothing", headers={"X-Request-ID": "abc-123"})
    [record] = [r for r in caplog.records if r.name == "crm.access"]
    assert (record.route, record.status, record.method) == ("/api/records/<entity>", 404, "GET")
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["status"] == 404 and line["path"] == "/api/records/nothing"
    assert line["user"] == "admin" and line["duration_ms"] >= 0


def test_metrics_exist_only_with_a_token_and_answer_only_to_it(database_url):
    plain = make_app(database_url)
    assert plain.test_client().get("/metrics").status_code == 404
    plain.extensions["crm"].engine.dispose()
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from crm_platform.app import create_app
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test", "CRM_METRICS_TOKEN": "scrape-me"})
    client = app.test_client()
    client.get("/healthz")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert re.search(r'crm_http_requests_total\{method="GET",route="/healthz",status="200"\} [1-9]', text)
    assert "crm_http_request_seconds_bucket" in text and "crm_outbox_waiting 0.0" in text
    app.extensions["crm"].engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_workers_add_up_their_metrics_and_log_json_lines(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'crm.sqlite'}", "CRM_METRICS_TOKEN": "scrape-me",
           "CRM_LOG_FORMAT": "json", "SECRET_KEY": "test"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    crm = [sys.executable, "-m", "crm_platform.cli"]
    subprocess.run([*crm, "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([*crm, "serve", "--port", str(port), "--workers", "2"], env=env, cwd=tmp_path,
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=5)  # not the route counted below
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(10):  # spread over both workers
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": "Bearer scrape-me"})
        text = urllib.request.urlopen(request, timeout=5).read().decode()
        counted = re.search(r'crm_http_requests_total\{method="GET",route="/healthz",status="200"\} ([0-9.]+)', text)
        assert counted and float(counted.group(1)) == 10.0
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    health = [line for line in lines if line.get("logger") == "crm.access" and line.get("path") == "/healthz"]
    assert len(health) == 10 and all(re.fullmatch(r"[0-9a-f]{32}", line["request_id"]) for line in health)
