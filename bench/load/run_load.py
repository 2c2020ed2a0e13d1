#!/usr/bin/env python
"""Load test: two app servers (gunicorn, two workers each) and a queue worker on PostgreSQL and Redis,
driven by locust over loopback, then checked from the database for lost or doubled writes.

The mix, per simulated salesperson (weights in ``Salesperson``): list a page of companies, read one,
search (``GET /api/search``, when the instance has it), create a company, update one with its
version (a stale version answers 409, which is an answer, not a failure), and move an opportunity
to its next stage. Beside them an administrator adds a field to *company* every few seconds (DDL on
the table everyone is writing). Each simulated user talks to one of the two servers, alternately.

Every acknowledged write (201 or 200 from a create, an update or a move) is remembered; at the end
the database must hold each of them: every created id present, each touched record at the version
of its last acknowledged write with that write's value, and one audit row per acknowledged write.
A 5xx answer fails the run.

Usage: python bench/load/run_load.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
       [--seconds 60] [--users 20] [--redis redis://127.0.0.1:6379/14] [--ports 5191,5192]
Bounded: at most --seconds of load (default 60), loopback only; a throw-away database is created and
dropped. Prints throughput, p50/p95/p99 per operation and the checks; exits 1 when a check fails.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust import HttpUser, between, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import bench_database  # noqa: E402

CRM = [sys.executable, "-m", "crm_platform.cli"]
NEXT_STAGE = {"first_contact": "needs_analysis", "needs_analysis": "lost", "lost": "first_contact"}


class Ledger:
    """What the servers acknowledged, to check against the database afterwards."""

    def __init__(self):
        self.created: dict[str, list[int]] = collections.defaultdict(list)
        self.acks: dict[tuple[str, int], list[tuple[int, dict]]] = collections.defaultdict(list)  # (version, values)
        self.server_errors: list[str] = []
        #: Writes sent and not answered: those cut off when the run stopped may have committed unseen.
        self.in_flight: collections.Counter = collections.Counter()


LEDGER = Ledger()
STATE: dict = {}


@events.request.add_listener
def _count_5xx(request_type, name, response, exception, **_):
    status = getattr(response, "status_code", None)
    if status is not None and status >= 500:
        LEDGER.server_errors.append(f"{request_type} {name}: {status} {response.text[:200]}")


class Salesperson(HttpUser):
    abstract = True
    wait_time = between(0.05, 0.3)

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {STATE['token']}"
        self.rnd = random.Random()

    def _ack(self, entity: str, record: dict, values: dict) -> None:
        LEDGER.acks[(entity, record["id"])].append((record["version"], values))

    @task(5)
    def list_companies(self):
        self.client.get(f"/api/records/company?per_page=50&page={self.rnd.randint(1, 5)}", name="list")

    @task(5)
    def read_company(self):
        self.client.get(f"/api/records/company/{self.rnd.choice(STATE['companies'])}", name="read")

    @task(2)
    def search(self):
        if STATE["search"]:
            self.client.get(f"/api/search?q={self.rnd.choice(['科技', '138', '华'])}", name="search")

    @task(2)
    def create_company(self):
        values = {"name": f"负载公司 {self.rnd.randrange(10**9)}", "industry": STATE["industry"], "size": STATE["size"]}
        with self.client.post("/api/records/company", json=values, name="create", catch_response=True) as r:
            if r.status_code == 201:
                record = r.json()
                LEDGER.created["company"].append(record["id"])
                self._ack("company", record, values)
                STATE["companies"].append(record["id"])

    @task(3)
    def update_company(self):
        record_id = self.rnd.choice(STATE["companies"])
        r = self.client.get(f"/api/records/company/{record_id}", name="read")
        if r.status_code != 200:
            return
        values = {"annual_spend": f"{self.rnd.randrange(1, 10**6)}.{self.rnd.randrange(100):02d}"}
        LEDGER.in_flight[("company", record_id)] += 1
        with self.client.patch(f"/api/records/company/{record_id}", json={**values, "version": r.json()["version"], "_reason": "负载测试"},
                               name="update", catch_response=True) as u:
            LEDGER.in_flight[("company", record_id)] -= 1
            if u.status_code == 200:
                self._ack("company", u.json(), values)
            elif u.status_code == 409:
                u.success()  # another salesperson wrote it first: refused, nothing lost
            else:
                u.failure(f"{u.status_code} {u.text[:300]}")

    @task(2)
    def move_stage(self):
        record_id = self.rnd.choice(STATE["opportunities"])
        r = self.client.get(f"/api/records/opportunity/{record_id}", name="read opportunity")
        if r.status_code != 200:
            return
        record = r.json()
        target = NEXT_STAGE.get(record.get("stage"))
        if target is None:
            return
        values = {"stage": target}
        if target == "lost":
            values["lost_reason"] = "负载测试"
        LEDGER.in_flight[("opportunity", record_id)] += 1
        with self.client.patch(f"/api/records/opportunity/{record_id}", json={**values, "version": record["version"], "_reason": "负载测试"},
                               name="stage move", catch_response=True) as u:
            LEDGER.in_flight[("opportunity", record_id)] -= 1
            if u.status_code == 200:
                self._ack("opportunity", u.json(), values)
            elif u.status_code == 409:
                u.success()  # stale: another salesperson moved it first
            else:
                u.failure(f"{u.status_code} {u.text[:300]}")


class Administrator(HttpUser):
    abstract = True
    fixed_count = 1
    wait_time = constant(5)

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {STATE['token']}"

    @task
    def add_field(self):
        n = STATE["fields_added"] = STATE.get("fields_added", 0) + 1
        field = {"key": f"load_note_{n}", "type": "text", "label": f"负载备注 {n}"}
        self.client.post("/api/meta/entities/company/fields", json=field, name="metadata change")


def call(url, method="GET", body=None, token=None):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_ready(base: str) -> None:
    for _ in range(300):
        try:
            if call(f"{base}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} did not become ready")


def percentiles(entry) -> str:
    return " / ".join(f"{entry.get_response_time_percentile(p):.0f}" for p in (0.5, 0.95, 0.99))


def verify(url: str, started) -> list[str]:
    """The database against the ledger: every acknowledged write present, versions and audit consistent."""
    import sqlalchemy as sa
    from crm_platform.config import normalise_database_url
    from crm_platform.metadata.keys import table_name
    problems = []
    engine = sa.create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        for entity, ids in LEDGER.created.items():
            found = set(conn.execute(sa.text(f"SELECT id FROM {table_name(entity)} WHERE id = ANY(:ids)"),
                                     {"ids": ids}).scalars())
            if missing := set(ids) - found:
                problems.append(f"{len(missing)} acknowledged {entity} creates missing, e.g. {sorted(missing)[:5]}")
        audit = collections.Counter(
            (r.entity, r.record_id) for r in conn.execute(sa.text(
                "SELECT entity, record_id FROM crm_audit WHERE at >= :t"), {"t": started}))
        for (entity, record_id), acks in LEDGER.acks.items():
            version, values = max(acks, key=lambda a: a[0])
            if len({v for v, _ in acks}) != len(acks):
                problems.append(f"{entity} {record_id}: two acknowledged writes got the same version")
            row = conn.execute(sa.text(f"SELECT * FROM {table_name(entity)} WHERE id = :id"), {"id": record_id}).mappings().first()
            if row is None:
                problems.append(f"{entity} {record_id}: acknowledged writes but no record")
                continue
            # Writes cut off by the end of the run may have committed after the last acknowledged one.
            unseen = row["version"] - version
            if not 0 <= unseen <= LEDGER.in_flight[(entity, record_id)]:
                problems.append(f"{entity} {record_id}: version {row['version']} in the database, last acknowledged "
                                f"{version}, {LEDGER.in_flight[(entity, record_id)]} cut off by the end of the run")
            elif unseen == 0:
                for key, value in values.items():
                    if key in row and str(row[key]) != str(value):
                        problems.append(f"{entity} {record_id}.{key}: {row[key]!r} stored, {value!r} acknowledged last")
            if audit[(entity, record_id)] != len(acks) + max(unseen, 0):
                problems.append(f"{entity} {record_id}: {audit[(entity, record_id)]} audit rows for {len(acks)} "
                                f"acknowledged writes and {max(unseen, 0)} cut off")
    engine.dispose()
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (a throw-away database is made)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--ports", default="5191,5192")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        raise SystemExit("the load test runs on PostgreSQL (several servers share one database)")
    ports = [int(p) for p in args.ports.split(",")]
    procs = []
    with bench_database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="crm_load_") as folder:
        import redis
        redis.Redis.from_url(args.redis).flushdb()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "load", "CRM_QUEUE_URL": args.redis,
               "CRM_RATE_LIMIT_STORAGE": args.redis}
        run = lambda *a: subprocess.run([*CRM, *a], env=env, cwd=folder, check=True, capture_output=True)  # noqa: E731
        run("init")
        run("user", "create", "admin", "--password", "admin-password", "--admin")
        run("template", "install", "b2b", "--sample-data")
        try:
            for port in ports:
                procs.append(subprocess.Popen([*CRM, "serve", "--port", str(port), "--workers", "2"], env=env,
                                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen([*CRM, "worker"], env=env, cwd=folder,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            for base in bases:
                wait_ready(base)
            token = call(f"{bases[0]}/api/auth/token", "POST", {"username": "admin", "password": "admin-password"})[1]["token"]
            companies = call(f"{bases[0]}/api/records/company?per_page=200", token=token)[1]["items"]
            opportunities = call(f"{bases[0]}/api/records/opportunity?per_page=200", token=token)[1]["items"]
            schema = call(f"{bases[0]}/api/meta/entities/company", token=token)[1]
            choices = {f["key"]: f["choices"][0]["key"] for f in schema["fields"] if f["key"] in ("industry", "size")}
            STATE.update(token=token, companies=[c["id"] for c in companies],
                         opportunities=[o["id"] for o in opportunities if o.get("stage") in NEXT_STAGE],
                         industry=choices["industry"], size=choices["size"],
                         search=call(f"{bases[0]}/api/search?q=x", token=token)[0] == 200)
            users = [type(f"Salesperson{n}", (Salesperson,), {"host": base}) for n, base in enumerate(bases)]
            admin = type("Administrator0", (Administrator,), {"host": bases[0]})
            env_locust = Environment(user_classes=[*users, admin], events=events)
            runner = env_locust.create_local_runner()
            import datetime as dt
            started = dt.datetime.now(dt.timezone.utc)
            runner.start(args.users + 1, spawn_rate=args.users + 1)
            gevent.spawn_later(args.seconds, runner.quit)
            runner.greenlet.join()
            stats = env_locust.stats
            total = stats.total
            print(f"database: PostgreSQL; 2 servers × 2 gunicorn workers, 1 queue worker; {args.users} users, "
                  f"{args.seconds} s; search {'on' if STATE['search'] else 'absent'}")
            print(f"requests: {total.num_requests:,} ({total.total_rps:,.1f}/s), failures {total.num_failures}, "
                  f"5xx {len(LEDGER.server_errors)}")
            print(f"{'operation':<18} {'count':>7} {'req/s':>7}  p50 / p95 / p99 ms")
            for (name, method), entry in sorted(stats.entries.items()):
                print(f"{name:<18} {entry.num_requests:>7,} {entry.total_rps:>7.1f}  {percentiles(entry)}")
            acknowledged = sum(len(a) for a in LEDGER.acks.values())
            problems = verify(url, started)
            print(f"acknowledged writes: {acknowledged:,} ({sum(len(v) for v in LEDGER.created.values()):,} creates); "
                  f"cut off by the end of the run: {sum(LEDGER.in_flight.values())}; "
                  f"metadata changes: {STATE.get('fields_added', 0)}")
            for error in list(stats.errors.values())[:10]:
                print(f"failure: {error.method} {error.name}: {error.error} ×{error.occurrences}")
            for line in LEDGER.server_errors[:10]:
                print("5xx:", line)
            for line in problems[:20]:
                print("LOST OR INCONSISTENT:", line)
            ok = not problems and not LEDGER.server_errors and total.num_failures == 0
            print("checks: " + ("every acknowledged write present, versions and audit consistent, no 5xx" if ok
                                else f"{len(problems)} problems, {len(LEDGER.server_errors)} 5xx, "
                                     f"{total.num_failures} failures"))
            return 0 if ok else 1
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    sys.exit(main())
