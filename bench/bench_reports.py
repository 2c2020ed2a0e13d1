#!/usr/bin/env python
"""A two-level group-by with a sum over 1,000,000 records: POST /api/reports/run against the same
hand-written SQL on the same database.

An entity with two select fields (region: 10 choices, product: 20) and a decimal amount is defined
through the API; its records are bulk-loaded with INSERT ... SELECT (a recursive CTE on SQLite,
generate_series on PostgreSQL), followed by ANALYZE.

Platform side, through the Flask test client as the administrator (JSON answer, 200 rows with
their list links):
    POST /api/reports/run {"entity": "sale", "group_by": ["region", "product"],
                           "measures": ["count", "sum:amount"]}
Baseline, on a connection of the same engine, rows fetched:
    SELECT region, product, count(*), sum(amount) FROM ent_sale WHERE archived_at IS NULL
    GROUP BY region, product ORDER BY region, product

Both sides run --requests times, alternating; medians compared. The answers are checked to agree
cell by cell first.

    ratio = baseline median ÷ API median       target >= 0.7
    API median                                 target < 500 ms on PostgreSQL

Usage: python bench/bench_reports.py [--rows 1000000] [--requests 15] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from common import Profile, Timer, add_database_args, bench_database, describe_database, make_app, verdict  # noqa: E402
from crm_platform.metadata.keys import table_name  # noqa: E402

TARGET_RATIO = 0.7
BUDGET = 0.5  # seconds, PostgreSQL
REGIONS = [f"r{n}" for n in range(10)]
PRODUCTS = [f"p{n:02d}" for n in range(20)]
DOC = {"key": "sale", "label": "Sale", "title_field": "name", "fields": [
    {"key": "name", "type": "text"},
    {"key": "region", "type": "select", "choices": [{"key": k, "label": k} for k in REGIONS]},
    {"key": "product", "type": "select", "choices": [{"key": k, "label": k} for k in PRODUCTS]},
    {"key": "amount", "type": "decimal", "scale": 2},
]}
DEFINITION = {"entity": "sale", "group_by": ["region", "product"], "measures": ["count", "sum:amount"]}


def bulk_load(engine: sa.Engine, rows: int) -> None:
    table = engine.dialect.identifier_preparer.quote(table_name("sale"))
    # region n % 10, product (n / 7) % 20, amount (n % 1000) + 0.25 (exact cents; SQLite stores cents)
    if engine.dialect.name == "sqlite":
        sql = (f"INSERT INTO {table} (id, created_at, updated_at, version, name, region, product, amount) "
               "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows) "
               "SELECT n, '2024-01-01 00:00:00.000000', '2024-01-01 00:00:00.000000', 1, 'Sale ' || n, "
               "'r' || (n % 10), 'p' || substr('0' || ((n / 7) % 20), -2), (n % 1000) * 100 + 25 FROM seq")
    else:
        sql = (f"INSERT INTO {table} (id, created_at, updated_at, version, name, region, product, amount) "
               "SELECT n, timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00', 1, 'Sale ' || n, "
               "'r' || (n % 10), 'p' || lpad(((n / 7) % 20)::text, 2, '0'), (n % 1000) + 0.25 "
               "FROM generate_series(1, :rows) AS n")
    with engine.begin() as conn:
        conn.execute(sa.text(sql), {"rows": rows})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM ANALYZE {table}")


def hand_written(engine: sa.Engine):
    table = engine.dialect.identifier_preparer.quote(table_name("sale"))
    sql = (f"SELECT region, product, count(*), sum(amount) FROM {table} WHERE archived_at IS NULL "
           f"GROUP BY region, product ORDER BY region, product")
    sqlite = engine.dialect.name == "sqlite"

    def run():
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(sql).all()
        if sqlite:  # cents to decimals, as any hand-written code on SQLite must
            return [[r[0], r[1], r[2], Decimal(r[3]).scaleb(-2)] for r in rows]
        return [list(r) for r in rows]

    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--rows", type=int, default=1_000_000, help="records (default 1000000)")
    parser.add_argument("--requests", type=int, default=15, help="timed runs per side (default 15)")
    args = parser.parse_args(argv)

    with bench_database(args.database_url) as url:
        app = make_app(url)
        engine = app.extensions["crm"].engine
        client = app.test_client()
        try:
            print(f"database: {describe_database(engine)}; records: {args.rows:,}; runs per side: {args.requests}")
            r = client.post("/api/meta/entities", json=DOC)
            assert r.status_code == 201, r.get_json()
            with Timer() as t_load:
                bulk_load(engine, args.rows)
            print(f"bulk load (+ ANALYZE): {t_load.seconds:.1f} s")

            def api():
                r = client.post("/api/reports/run", json=DEFINITION)
                assert r.status_code == 200, r.get_json()
                return r.get_json()

            baseline = hand_written(engine)
            answer, expected = api(), baseline()  # also warms both up
            assert answer["rows"] == expected, "the report and the hand-written SQL disagree"
            print(f"answers agree: {len(expected)} rows, total {sum(r[2] for r in expected):,} records")

            api_times, base_times = [], []
            for n in range(args.requests):
                for side in ((api, api_times), (baseline, base_times))[:: 1 if n % 2 == 0 else -1]:
                    with Timer() as t:
                        side[0]()
                    side[1].append(t.seconds)
            api_median, base_median = statistics.median(api_times), statistics.median(base_times)
            print(f"API (POST /api/reports/run): median {api_median * 1000:.1f} ms, best {min(api_times) * 1000:.1f} ms")
            print(f"hand-written SQL:            median {base_median * 1000:.1f} ms, best {min(base_times) * 1000:.1f} ms")
            status = verdict("reports: hand-written ÷ API", base_median / api_median, TARGET_RATIO)
            if engine.dialect.name == "postgresql":
                status |= verdict("reports: API median ÷ 500 ms", api_median / BUDGET, 1, higher_is_better=False)
            if status or args.profile:
                prof = Profile(True)
                with prof:
                    for _ in range(3):
                        api()
                print(prof.report())
            return status
        finally:
            engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
