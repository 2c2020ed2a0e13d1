#!/usr/bin/env python
"""Formulas: what computing one when read costs a list, against the same list over a stored column.

A deal entity with ``amount`` (decimal), ``probability`` (percent) and the formula ``weighted_amount =
amount * probability / 100``, --rows records bulk-loaded with INSERT ... SELECT and ANALYZEd. Timed
through the Flask test client, median over --requests, first page of 50 and the total:

    GET /api/records/deal?sort=-amount                              (the column: the baseline)
    GET /api/records/deal?sort=-weighted_amount                     (sorted by the formula)
    GET /api/records/deal?filter[weighted_amount][gte]=X&sort=-id   (filtered by the formula)
    GET /api/records/deal?sort=-id                                  (a plain page showing the formula)

    ratio = baseline median / formula median (reported; a formula cannot use an index, so a sort by it
    reads every row: the figure says what that costs)

Usage: python bench/bench_formula.py [--rows 100000] [--requests 20] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from common import add_database_args, bench_database, describe_database, make_app, Timer, verdict  # noqa: E402
from crm_platform.metadata.keys import table_name  # noqa: E402

DEAL = {"key": "deal", "label": "Deal", "fields": [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "amount", "type": "decimal", "label": "Amount", "indexed": True},
    {"key": "probability", "type": "percent", "label": "Probability"},
    {"key": "weighted_amount", "type": "formula", "label": "Weighted", "expression": "amount * probability / 100",
     "result": "decimal", "scale": 2},
]}


def load(engine, n: int) -> None:
    table = engine.dialect.identifier_preparer.quote(table_name("deal"))
    cols = "id, created_at, updated_at, version, name, amount, probability"
    if engine.dialect.name == "sqlite":  # decimals are scaled integers on SQLite
        sql = (f"INSERT INTO {table} ({cols}) WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
               "WHERE n < :rows) SELECT n, '2024-01-01 00:00:00.000000', '2024-01-01 00:00:00.000000', 1, "
               "'Deal ' || n, (n * 7919) % 100000000, (n * 31) % 10001 FROM seq")
    else:
        sql = (f"INSERT INTO {table} ({cols}) SELECT n, timestamptz '2024-01-01 00:00:00+00', "
               "timestamptz '2024-01-01 00:00:00+00', 1, 'Deal ' || n, ((n::bigint * 7919) % 100000000) / 100.0, "
               "((n * 31) % 10001) / 100.0 FROM generate_series(1, :rows) AS n")
    with engine.begin() as conn:
        conn.execute(sa.text(sql), {"rows": n})
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table_name('deal')}', 'id'), {n})")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        else:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM ANALYZE {table}")


def median_ms(client, url: str, requests: int) -> float:
    assert client.get(url).status_code == 200
    times = []
    for _ in range(requests):
        with Timer() as t:
            assert client.get(url).status_code == 200
        times.append(t.seconds)
    return statistics.median(times) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)
    with bench_database(args.database_url) as url:
        app = make_app(url)
        try:
            engine = app.extensions["crm"].engine
            client = app.test_client()
            assert client.post("/api/meta/entities", json=DEAL).status_code == 201
            with Timer() as t:
                load(engine, args.rows)
            print(f"database: {describe_database(engine)}; {args.rows:,} deals loaded in {t.seconds:.1f} s")
            page = client.get("/api/records/deal?sort=-weighted_amount&per_page=5").get_json()["items"]
            assert [x["weighted_amount"] for x in page] == sorted((x["weighted_amount"] for x in page), reverse=True)
            figures = {name: median_ms(client, f"/api/records/deal?{query}", args.requests) for name, query in [
                ("sort by amount (column, indexed)", "sort=-amount"),
                ("sort by weighted_amount (formula)", "sort=-weighted_amount"),
                ("filter weighted_amount >= 500000 (formula)", "filter[weighted_amount][gte]=500000&sort=-id"),
                ("plain page showing the formula", "sort=-id"),
            ]}
            for name, ms in figures.items():
                print(f"{name}: median {ms:.1f} ms")
            base, formula = figures["sort by amount (column, indexed)"], figures["sort by weighted_amount (formula)"]
            return verdict("sort by a column vs by a formula", base / formula, 0.0, enforced=False)
        finally:
            app.extensions["crm"].engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
