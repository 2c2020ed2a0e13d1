#!/usr/bin/env python
"""Reading one record: the generated API vs a hand-written Flask + SQLAlchemy Core endpoint.

Both answer ``GET /api/records/<entity>/<id>`` through Flask's test client, over the same table
(the 20-field entity of bench_create_records), and return byte-identical JSON and the same ETag.
The generated side runs the whole platform path: generic route, per-request revision check,
RecordService.get, marshmallow dump, exact-JSON provider. The hand-written side is a separate
minimal Flask app: one Core SELECT and a dict built by hand. Both use an engine configured by
``crm_platform.db.create_engine`` (same pragmas and transaction control), so the comparison
isolates what the generated layer costs.

    ratio = hand-written time / generated time   (generated throughput relative to the baseline)
    target >= 0.7

Usage: python bench/bench_get_record.py [--requests 5000] [--rows 2000] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402

from common import (Profile, Timer, add_database_args, bench_database, contact_entity, contact_rows,  # noqa: E402
                    describe_database, make_app, verdict)
from crm_platform import jsonutil  # noqa: E402
from crm_platform.db import create_engine  # noqa: E402
from crm_platform.runtime.table_builder import build_table  # noqa: E402

TARGET = 0.7
ENTITY = "contact"


def handwritten_app(url: str, doc: dict) -> tuple[Flask, sa.Engine]:
    """What a developer would write by hand for this one table: a Core SELECT and a dict."""
    app = Flask("handwritten")
    engine = create_engine(url)
    table = build_table(doc, sa.MetaData())  # the same Table the platform generates
    system = ["id", "version", "created_at", "updated_at", "created_by", "updated_by", "owner_id"]
    names = system + [f["key"] for f in doc["fields"]]
    query = sa.select(*[table.c[n] for n in names]).where(table.c.id == sa.bindparam("rid"),
                                                          table.c.archived_at.is_(None))

    def to_json(value):
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value  # str, int, bool, Decimal (written exactly), list, None

    @app.get("/api/records/<entity>/<int:record_id>")
    def get_record(entity, record_id):
        with engine.connect() as conn:
            row = conn.execute(query, {"rid": record_id}).first()
        if row is None:
            body = {"errors": [{"field": None, "code": "not_found",
                                "message": f"no {entity} record with id {record_id}"}]}
            return app.response_class(jsonutil.dumps(body), status=404, mimetype="application/json")
        record = {name: to_json(value) for name, value in zip(names, row)}
        response = app.response_class(jsonutil.dumps(record), mimetype="application/json")
        response.headers["ETag"] = f'"{record["version"]}"'
        return response

    return app, engine


def run(client, paths: list[str]) -> float:
    get = client.get
    with Timer() as t:
        for path in paths:
            response = get(path)
            if response.status_code != 200:
                raise AssertionError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return t.seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--requests", type=int, default=5000, help="GET requests per side (default 5000)")
    parser.add_argument("--rows", type=int, default=2000, help="records in the table (default 2000)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="the requests are split in this many alternating rounds (default 5)")
    args = parser.parse_args(argv)

    with bench_database(args.database_url) as url:
        app = make_app(url)
        crm = app.extensions["crm"]
        doc = contact_entity(ENTITY)
        crm.metadata.create_definition("entity", doc, actor="bench")
        crm.records.create_many(ENTITY, contact_rows(args.rows))
        base_app, base_engine = handwritten_app(url, crm.runtime.current().entity(ENTITY).doc)
        try:
            print(f"database: {describe_database(crm.engine)}; records: {args.rows:,}; "
                  f"requests per side: {args.requests:,} in {args.rounds} alternating rounds")
            gen_client, base_client = app.test_client(), base_app.test_client()
            with crm.engine.connect() as conn:
                ids = [r for r in conn.execute(sa.select(crm.runtime.current().entity(ENTITY).table.c.id)).scalars()]
            rnd = random.Random(3)
            paths = [f"/api/records/{ENTITY}/{rnd.choice(ids)}" for _ in range(args.requests)]

            # Same answers: body bytes, status, content type and ETag, on a sample of records.
            for path in paths[:200]:
                a, b = gen_client.get(path), base_client.get(path)
                assert (a.status_code, a.data, a.mimetype, a.headers.get("ETag")) == \
                       (b.status_code, b.data, b.mimetype, b.headers.get("ETag")), (path, a.data, b.data)
            sample = gen_client.get(paths[0]).get_json()
            assert isinstance(sample["revenue"], (int, float, Decimal)) and sample["created_at"].endswith("Z")

            # Warm both (compiled caches, connection pools), then alternate rounds.
            run(gen_client, paths[:300])
            run(base_client, paths[:300])
            gen_time = base_time = 0.0
            size = -(-len(paths) // args.rounds)
            for n, start in enumerate(range(0, len(paths), size)):
                chunk = paths[start:start + size]
                if n % 2 == 0:
                    base_time += run(base_client, chunk)
                    gen_time += run(gen_client, chunk)
                else:
                    gen_time += run(gen_client, chunk)
                    base_time += run(base_client, chunk)

            n = len(paths)
            ratio = base_time / gen_time
            print(f"generated API:  {gen_time:.3f}s for {n:,} GETs -> {n / gen_time:,.0f} req/s, "
                  f"{gen_time / n * 1e6:.0f} us/request")
            print(f"hand-written:   {base_time:.3f}s for {n:,} GETs -> {n / base_time:,.0f} req/s, "
                  f"{base_time / n * 1e6:.0f} us/request")
            print(f"hand-written time / generated time = {ratio:.3f}")
            code = verdict("GET record vs hand-written", ratio, TARGET)
            if args.profile or code:
                # A separate pass: the profiler's overhead never reaches the timings above.
                prof = Profile(True)
                with prof:
                    run(gen_client, paths[:min(len(paths), 2000)])
                print("\nProfile of the generated API (separate pass, up to 2,000 GETs):\n" + prof.report())
            return code
        finally:
            base_engine.dispose()
            crm.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
