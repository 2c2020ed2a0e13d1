"""Fuzz the REST API with schemathesis, against a throw-away instance of the product.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python scripts/api_fuzz.py                     # SQLite, in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python scripts/api_fuzz.py

It makes a fresh database (a SQLite file, or a PostgreSQL database with a random name made next to
the one DATABASE_URL names, dropped afterwards), creates the platform tables, an administrator and
the B2B template with its sample data, serves it with gunicorn on 127.0.0.1, takes a token, runs
``st run`` over /api/openapi.json as that administrator, bounded in examples per operation and in
time, prints the failures counted by check and by operation, and stops the server. The schemathesis
reports (report.json, junit.xml, schemathesis.txt) and the server's log are kept under artifacts/api_fuzz/<database>/.

The exit status is schemathesis's: 0 when no check failed.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowAwayDatabase:
    """A database that exists for one run: a SQLite file, or a fresh PostgreSQL database."""

    def __init__(self, base_url: str | None, folder: Path):
        self.base_url, self.name = base_url, None
        if base_url and base_url.startswith(("postgres://", "postgresql")):
            import sqlalchemy as sa
            from crm_platform.config import normalise_database_url
            self.name = f"crm_fuzz_{secrets.token_hex(4)}"
            self._admin = sa.create_engine(normalise_database_url(base_url), isolation_level="AUTOCOMMIT")
            with self._admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = self._admin.url.set(database=self.name).render_as_string(hide_password=False)
            self.kind = "postgresql"
        else:
            self.url = f"sqlite:///{folder / 'crm.sqlite'}"
            self.kind = "sqlite"

    def drop(self) -> None:
        if self.name is None:
            return
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin.dispose()


def crm(env: dict, folder: Path, *args: str) -> None:
    subprocess.run([str(BIN / "crm"), *args], cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL)


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped at start (exit {server.returncode}); see its log")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 without a token is fine)
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer at {url} within {seconds:.0f} s")


def token(base: str, username: str, password: str) -> str:
    request = urllib.request.Request(f"{base}/api/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)["token"]


def summarise(report: Path) -> None:
    """The failures by kind (schemathesis's code and title) with the operations that showed each."""
    if not report.exists():
        print("no JSON report was written")
        return
    data = json.loads(report.read_text())
    cases = data.get("test_cases", {})
    print(f"\n== {cases.get('generated', 0)} test cases, {cases.get('unique_failures', 0)} unique failures, "
          f"{len(data.get('errors') or [])} errors; stopped by {data.get('stop_reason')}")
    for failure in data.get("failures") or []:
        print(f"{failure['count']:5d}  {failure['code']} {failure['title']}")
        for operation in failure.get("operations", []):
            print(f"         {operation}")
    for error in data.get("errors") or []:
        print(f"error  {json.dumps(error)[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port to serve on (default: a free one)")
    parser.add_argument("--max-examples", type=int, default=25, help="test cases per operation (default 25)")
    parser.add_argument("--max-time", type=int, default=480, help="seconds for the whole schemathesis run")
    parser.add_argument("--seed", type=int, default=12, help="schemathesis's random seed, for comparable runs")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers and schemathesis workers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (SQLite file, log)")
    parser.add_argument("st_args", nargs="*", help="more arguments for `st run` (after --)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    folder = Path(tempfile.mkdtemp(prefix="crm-fuzz-"))
    db = ThrowAwayDatabase(os.environ.get("DATABASE_URL"), folder)
    report_dir = ROOT / "artifacts" / "api_fuzz" / db.kind
    shutil.rmtree(report_dir, ignore_errors=True)
    report_dir.mkdir(parents=True)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(16)
    env = {**os.environ, "DATABASE_URL": db.url, "SECRET_KEY": secrets.token_hex(32),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = None
    try:
        print(f"== a fresh {db.kind} database; B2B template with sample data", flush=True)
        crm(env, folder, "init")
        crm(env, folder, "user", "create", "admin", "--password", password, "--admin")
        crm(env, folder, "template", "install", "b2b", "--sample-data")
        log = open(report_dir / "server.log", "w")
        server = subprocess.Popen([str(BIN / "crm"), "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(args.workers)], cwd=folder, env=env, stdout=log, stderr=log)
        wait_until_up(f"{base}/api", server)
        bearer = token(base, "admin", password)
        command = [str(BIN / "st"), "run", f"{base}/api/openapi.json",
                   "--header", f"Authorization: Bearer {bearer}",
                   "--checks", "all", "--max-examples", str(args.max_examples), "--max-time", str(args.max_time),
                   "--seed", str(args.seed), "--workers", str(args.workers), "--request-timeout", "30",
                   "--no-shrink", "--suppress-health-check", "all", "--output-truncate", "true",
                   "--report", "junit,json", "--report-junit-path", str(report_dir / "junit.xml"),
                   "--report-json-path", str(report_dir / "report.json"), *args.st_args]
        print(f"== schemathesis on {base} (at most {args.max_examples} examples per operation, "
              f"{args.max_time} s)", flush=True)
        started = time.monotonic()
        with open(report_dir / "schemathesis.txt", "w") as out:
            result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
        print(f"== schemathesis finished in {time.monotonic() - started:.0f} s with exit status {result.returncode}; "
              f"its output: {report_dir / 'schemathesis.txt'}")
        tail = (report_dir / "schemathesis.txt").read_text(errors="replace").splitlines()
        print("\n".join(tail[-8:]))
        summarise(report_dir / "report.json")
        return result.returncode
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        db.drop()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
