"""An external client's tests: schemathesis runs over /api/openapi.json of a real server.

A fresh database (SQLite, and PostgreSQL when DATABASE_URL names one) gets the platform tables, an
administrator and the B2B template with its sample data; `crm serve` (gunicorn) serves it on a
loopback port; `st run` calls every operation the document lists, as the administrator (Bearer
token), with schemathesis's standard checks: no 5xx, only documented status codes and content types,
and bodies matching their documented schemas. Bounded in examples per operation and in time; the
test fails on any failure and prints schemathesis's own report of it.

Two passes, because the document is a snapshot of one metadata revision: operations that change
definitions, bundles or users (a new field on `task` changes what GET /api/records/task answers)
would make later answers differ from the snapshot the run loaded. The first pass runs every other
operation; the second runs those, last. Whatever endpoints the document lists, one pass runs them.
docs/testing.md says what the checks are and why others are left out.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

#: schemathesis's standard checks (docs/testing.md says why the others are not run).
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
#: Seconds per pass; with the server's start this keeps one database under about three minutes.
#: CRM_FUZZ_SECONDS and CRM_FUZZ_EXAMPLES make a longer run on demand.
PASS_SECONDS = {"records": int(os.environ.get("CRM_FUZZ_SECONDS", "100")),
                "definitions": int(os.environ.get("CRM_FUZZ_SECONDS", "100")) // 3}
EXAMPLES = os.environ.get("CRM_FUZZ_EXAMPLES", "8")
#: Paths whose writes change what the document says (definitions, bundles) or who may call it (users).
CHANGES_THE_DOCUMENT = ("/api/meta/", "/api/bundle", "/api/users")
ST = Path(sys.executable).parent / "st"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which(str(ST)) is None, reason="schemathesis is not installed (pip install -e '.[test]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, body=None, token: str | None = None):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers=headers, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def document_changing_operations(doc: dict) -> list[str]:
    """operationIds of the writes under CHANGES_THE_DOCUMENT."""
    return sorted(operation["operationId"] for path, item in doc["paths"].items() if path.startswith(CHANGES_THE_DOCUMENT)
                  for method, operation in item.items() if method in ("post", "put", "patch", "delete"))


@pytest.fixture
def served(database_url, tmp_path):
    """The B2B template with sample data behind `crm serve` on a loopback port: (base URL, token)."""
    password = secrets.token_urlsafe(12)
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(16),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           # the fuzzer signs in once; the rest of its calls to /api/auth/token may be refused (429 is documented)
           "CRM_SIGNIN_RATE": "30 per minute"}
    crm = [sys.executable, "-m", "crm_platform.cli"]
    for args in (("init",), ("user", "create", "admin", "--password", password, "--admin"),
                 ("template", "install", "b2b", "--sample-data")):
        subprocess.run([*crm, *args], env=env, cwd=tmp_path, check=True, capture_output=True)
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([*crm, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              env=env, cwd=tmp_path, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
        token = _call(f"{base}/api/auth/token", {"username": "admin", "password": password})["token"]
        yield base, token, tmp_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def st_run(base: str, token: str, folder: Path, name: str, selection: list[str]) -> dict:
    report = folder / f"{name}.json"
    command = [str(ST), "run", f"{base}/api/openapi.json", "--header", f"Authorization: Bearer {token}",
               "--checks", CHECKS, "--max-examples", EXAMPLES, "--max-time", str(PASS_SECONDS[name]),
               "--seed", "21", "--workers", "1", "--request-timeout", "30", "--no-shrink",
               "--suppress-health-check", "all", "--report", "json", "--report-json-path", str(report),
               *selection]
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder, timeout=PASS_SECONDS[name] + 120)
    summary = json.loads(report.read_text()) if report.exists() else {}
    return {"exit": done.returncode, "output": done.stdout[-20000:] + done.stderr[-4000:], "summary": summary}


def test_schemathesis_finds_nothing_over_the_whole_document(served):
    base, token, folder = served
    doc = _call(f"{base}/api/openapi.json", token=token)
    changing = document_changing_operations(doc)
    assert "meta_create_entity" in changing and "list_contact" not in changing
    passes = {"records": [arg for op_id in changing for arg in ("--exclude-operation-id", op_id)],
              "definitions": [arg for op_id in changing for arg in ("--include-operation-id", op_id)]}
    for name, selection in passes.items():
        result = st_run(base, token, folder, name, selection)
        cases = result["summary"].get("test_cases", {})
        operations = result["summary"].get("operations", {})
        assert result["exit"] == 0 and not result["summary"].get("failures") and not result["summary"].get("errors"), (
            f"schemathesis ({name} pass) found failures:\n{result['output']}")
        # It really ran: every selected operation tested, and many requests made.
        assert operations.get("tested") == operations.get("selected") > 0, operations
        assert cases.get("generated", 0) > operations["selected"], cases
