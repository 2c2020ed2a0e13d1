#!/usr/bin/env python
"""Reads over HTTP: the generated API vs a hand-written Flask + SQLAlchemy Core app, both under gunicorn.

A SQLite file gets the B2B template with its sample data (``crm template install b2b --sample-data``
done in Python: 120 companies, each with three tags fields). Two gunicorn servers (2 sync workers
each, 127.0.0.1 only) serve the same file:

* the product: ``crm_platform.app.create_app()``, the whole generic path (Bearer token, rights,
  per-request revision check, RecordService, the record JSON, the exact-JSON provider);
* the baseline, ``handwritten_app()`` below: what a developer would write by hand for this one
  entity. It checks the same Bearer token at the same cost (a SHA-256 digest looked up in a
  dictionary: the platform's token cache, after the first request), then one Core SELECT of the
  record (or ``count(*)`` and a SELECT of the 50-row page), one SELECT of the three tag link
  tables together (UNION ALL), and a dict built by hand with the same keys, values and order. It
  does not check roles or the metadata revision.

Before timing, the script checks that both answer byte-identical JSON for every company and for
the page. ``wrk`` (Debian package ``wrk``) then drives each server for ``--duration`` seconds per
run, by-id requests cycling over every company id, list requests ``?per_page=50``; the runs
alternate baseline / product and are repeated ``--repeat`` times.

    ratio = product requests/s / hand-written requests/s       targets: by id >= 0.8, list >= 0.6

Usage: python bench/bench_http_reads.py [--duration 10] [--repeat 2] [--connections 4] [--port 5191]
       [--profile]   (also profile the product in-process with the Flask test client, 300 requests each)
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sqlalchemy as sa  # noqa: E402
from flask import Flask, request  # noqa: E402

from common import ROOT, Profile, verdict  # noqa: E402  (ROOT also puts crm_platform on sys.path)
from crm_platform import jsonutil  # noqa: E402

TARGETS = {"by id": 0.8, "list": 0.6}
ENTITY = "company"
PER_PAGE = 50
#: The bench script is also the baseline's WSGI module: gunicorn imports it with these set.
ENV_DB, ENV_TOKEN = "BENCH_HTTP_DB", "BENCH_HTTP_TOKEN_DIGEST"


# ---- the hand-written baseline ---------------------------------------------------------------------
def handwritten_app() -> Flask:
    """A minimal Flask + Core app for the company entity, written as a developer would by hand."""
    from crm_platform.db import create_engine  # the same pragmas and transaction control

    app = Flask("handwritten")
    engine = create_engine(os.environ[ENV_DB])
    # The same Table objects the platform generates (column types included: decimals are stored
    # as scaled integers), built from the template's definitions.
    from crm_platform.bundles import templates
    from crm_platform.metadata.field_types.tags import link_table_name
    from crm_platform.runtime.table_builder import build_metadata
    b2b = templates.load("b2b")["definitions"]
    md = build_metadata(b2b["entity"])
    company = md.tables["ent_company"]
    links = {f: md.tables[link_table_name("company", f)] for f in ("customer_type", "pain_points", "account_level")}
    single = {"customer_type": True, "pain_points": False, "account_level": True}
    # Tags are listed in their taxonomy's order, which a hand-written app would hard-code.
    order = {t["key"]: n for tax in b2b["taxonomy"] for n, t in enumerate(tax["tags"])}
    system = ["id", "version", "created_at", "updated_at", "created_by", "updated_by", "owner_id"]
    # The company's stored fields in definition order (the template grows: roll-ups, contact fields).
    doc = next(e for e in b2b["entity"] if e["key"] == "company")
    fields = [f["key"] for f in doc["fields"] if f["key"] in company.c and f["key"] not in links]
    names = system + fields
    cols = [company.c[n] for n in names]
    live = company.c.archived_at.is_(None)
    by_id = sa.select(*cols).where(company.c.id == sa.bindparam("rid"), live)
    page = sa.select(*cols).where(live).order_by(company.c.id.desc()).limit(PER_PAGE)
    count = sa.select(sa.func.count()).select_from(company).where(live)
    ids = sa.bindparam("ids", expanding=True)
    tags = sa.union_all(*(sa.select(sa.literal(f).label("field"), t.c.record_id, t.c.tag)
                          .where(t.c.record_id.in_(ids)) for f, t in links.items()))
    tokens = {os.environ[ENV_TOKEN]}  # the platform caches verified token digests the same way

    def stamp(value):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")

    def record(row) -> dict:
        return {k: stamp(v) if isinstance(v, dt.datetime) else v for k, v in zip(names, row)}

    def with_tags(conn, records: list[dict]) -> list[dict]:
        found: dict = {}
        for field, rid, tag in conn.execute(tags, {"ids": [r["id"] for r in records]}):
            found.setdefault((rid, field), []).append(tag)
        for r in records:
            for field, one in single.items():
                got = sorted(found.get((r["id"], field), []), key=order.__getitem__)
                r[field] = (got[0] if got else None) if one else got
        return records

    def answer(body, status=200, etag=None):
        response = app.response_class(jsonutil.dumps(body), status=status, mimetype="application/json")
        if etag is not None:
            response.headers["ETag"] = etag
        return response

    @app.before_request
    def bearer():
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        if hashlib.sha256(token.encode()).hexdigest() not in tokens:
            return answer({"errors": [{"field": None, "code": "unauthorized", "message": "the token is not valid"}]},
                          401)
        return None

    @app.get("/api/records/company/<int:record_id>")
    def get_company(record_id):
        with engine.connect() as conn:
            row = conn.execute(by_id, {"rid": record_id}).first()
            if row is None:
                return answer({"errors": [{"field": None, "code": "not_found",
                                           "message": f"no company record with id {record_id}"}]}, 404)
            r = with_tags(conn, [record(row)])[0]
        return answer(r, etag=f'"{r["version"]}"')

    @app.get("/api/records/company")
    def list_companies():
        with engine.connect() as conn:
            total = conn.execute(count).scalar_one()
            items = with_tags(conn, [record(row) for row in conn.execute(page)])
        return answer({"items": items, "total": total, "total_exact": True, "page": 1, "per_page": PER_PAGE,
                       "pages": max(1, -(-total // PER_PAGE))})

    return app


# ---- set-up ----------------------------------------------------------------------------------------
def make_database(path: Path) -> tuple[str, list[int]]:
    """The B2B template with its sample data, and an administrator's API token."""
    from crm_platform.app import create_app
    from crm_platform.bundles import importer, templates
    from crm_platform.migrate import upgrade

    url = f"sqlite:///{path}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    crm = app.extensions["crm"]
    upgrade(crm.engine)
    importer.run(crm, templates.load("b2b"), actor="bench", sample_data=True)
    token = crm.users.issue_token(crm.users.create("bench", "bench-password", is_admin=True))
    with crm.engine.connect() as conn:
        ids = list(conn.execute(sa.text("SELECT id FROM ent_company WHERE archived_at IS NULL ORDER BY id")).scalars())
    crm.engine.dispose()
    return token, ids


def gunicorn(app_spec: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen([str(exe), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--chdir", str(HERE),
                             "--log-level", "warning", app_spec],
                            env={**os.environ, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return proc


def wait_ready(port: int, token: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited:\n{log.read_text()[-3000:]}")
        try:
            fetch(port, token, f"/api/records/{ENTITY}?per_page=1")
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn on port {port} did not answer within 60 s:\n{log.read_text()[-3000:]}")


def fetch(port: int, token: str, path: str) -> tuple[int, bytes, str | None]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, response.read(), response.headers.get("ETag")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(port: int, token: str, paths: list[str], seconds: int, connections: int, script_dir: Path) -> float:
    """requests/s of ``wrk`` cycling over ``paths``; non-2xx answers make the run fail."""
    script = script_dir / f"paths_{port}.lua"
    script.write_text(
        "local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                          "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw error answers:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def check_same(base: int, product: int, token: str, paths: list[str]) -> None:
    for path in paths:
        a, b = fetch(product, token, path), fetch(base, token, path)
        if a != b:
            raise SystemExit(f"the two apps answer {path} differently:\nproduct:  {a}\nbaseline: {b}")


def profile_product(url: str, token: str, paths: dict[str, list[str]]) -> None:
    """In-process profile of the product (Flask test client), per endpoint; not part of the timings."""
    from crm_platform.app import create_app
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for name, ps in paths.items():
        for p in ps[:50]:
            client.get(p, headers=headers)
        prof = Profile(True, top=30)
        with prof:
            for n in range(300):
                assert client.get(ps[n % len(ps)], headers=headers).status_code == 200
        print(f"\nProfile of the product, {name} (Flask test client, 300 requests):\n{prof.report()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side and endpoint, alternating (default 2)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--port", type=int, default=5191, help="product port; the baseline uses the next one")
    parser.add_argument("--profile", action="store_true", help="also profile the product in-process")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="crm_bench_http_"))
    procs = []
    try:
        db = tmp / "b2b.sqlite"
        token, ids = make_database(db)
        url = f"sqlite:///{db}"
        digest = hashlib.sha256(token.encode()).hexdigest()
        env = {"DATABASE_URL": url, "SECRET_KEY": "bench", ENV_DB: url, ENV_TOKEN: digest,
               "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        product_port, base_port = args.port, args.port + 1
        procs.append(gunicorn("crm_platform.app:create_app()", product_port, env, tmp / "product.log"))
        procs.append(gunicorn("bench_http_reads:handwritten_app()", base_port, env, tmp / "baseline.log"))
        wait_ready(product_port, token, procs[0], tmp / "product.log")
        wait_ready(base_port, token, procs[1], tmp / "baseline.log")

        paths = {"by id": [f"/api/records/{ENTITY}/{i}" for i in ids],
                 "list": [f"/api/records/{ENTITY}?per_page={PER_PAGE}"]}
        check_same(base_port, product_port, token, paths["by id"] + paths["list"])
        load = os.getloadavg()[0]
        print(f"SQLite file, B2B template + sample data: {len(ids)} companies; gunicorn 2 workers per app; "
              f"wrk 1 thread, {args.connections} connections, {args.duration} s per run; load average {load:.1f}")
        print("both apps answer byte-identical JSON and ETags for every company and for the 50-row page")

        for name, ps in paths.items():  # warm both: compiled models, connection pools, page cache
            for port in (base_port, product_port):
                wrk(port, token, ps, 2, args.connections, tmp)
        results = {name: {"product": [], "baseline": []} for name in paths}
        for n in range(args.repeat):
            for name, ps in paths.items():
                order = [("baseline", base_port), ("product", product_port)]
                for side, port in (order if n % 2 == 0 else order[::-1]):
                    results[name][side].append(wrk(port, token, ps, args.duration, args.connections, tmp))

        code = 0
        for name, r in results.items():
            ratios = [p / b for p, b in zip(r["product"], r["baseline"])]
            print(f"{name:5}: product {' / '.join(f'{x:,.0f}' for x in r['product'])} req/s; "
                  f"hand-written {' / '.join(f'{x:,.0f}' for x in r['baseline'])} req/s; "
                  f"ratios {' / '.join(f'{x:.2f}' for x in ratios)}")
            mean = sum(r["product"]) / sum(r["baseline"])
            code |= verdict(f"GET {name} vs hand-written (all runs)", mean, TARGETS[name])
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        if args.profile:
            profile_product(url, token, paths)
        return code
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
