#!/usr/bin/env python
"""Roll-ups: what keeping them right costs a bulk create, and a list sorted by one on a big table.

1. Writes. Two parent entities with 10,000 records each; two identical child entities (an order:
   reference to its parent, amount, status, placed_at), one feeding three roll-ups on its parent
   (count of paid orders, sum of amounts, latest placed_at), the other none. 100,000 children are
   created through ``RecordService.create_many`` (batches of 5,000: validation, the write hooks —
   roll-ups, rule tags, audit rows) into each, alternating sides, best of --repeat runs.

       ratio = plain seconds / rolled-up seconds        target >= 0.6

   The stored roll-ups are then checked against a recomputation.

2. Reads. A parent entity of --parents records (default 1,000,000) whose roll-up ``total`` is indexed,
   bulk-loaded with INSERT ... SELECT (the roll-up column written directly: this part measures the
   read, not the fill), ANALYZEd. Timed, through the Flask test client:
       GET /api/records/<entity>?sort=-total          (first page of 50 and the total)
   median and p95 over --requests.

       ratio = median seconds / 0.05 s budget       target < 1

Usage: python bench/bench_rollup.py [--children 100000] [--parents 1000000] [--repeat 1] [--requests 30]
                                    [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from common import Profile, Timer, add_database_args, bench_database, describe_database, make_app, verdict  # noqa: E402
from crm_platform.metadata.keys import table_name  # noqa: E402

BUDGET = 0.05
PARENTS_PER_SIDE = 10_000
BATCH = 5000


def parent_doc(key: str) -> dict:
    return {"key": key, "label": key, "title_field": "name", "fields": [{"key": "name", "type": "text"}]}


def child_doc(key: str, parent: str) -> dict:
    return {"key": key, "label": key, "fields": [
        {"key": "customer", "type": "reference", "target": parent},
        {"key": "amount", "type": "decimal", "scale": 2},
        {"key": "status", "type": "select", "choices": [{"key": "paid", "label": "Paid"}, {"key": "open", "label": "Open"}]},
        {"key": "placed_at", "type": "datetime"},
    ]}


def rollups(child: str) -> list[dict]:
    source = {"entity": child, "via": "customer"}
    return [
        {"key": "paid_orders", "type": "rollup", "source": source, "aggregate": "count",
         "filter": [{"field": "status", "op": "eq", "value": "paid"}]},
        {"key": "total", "type": "rollup", "source": source, "aggregate": "sum", "field": "amount"},
        {"key": "last_order", "type": "rollup", "source": source, "aggregate": "latest", "field": "placed_at"},
    ]


def rows(n: int, parent_ids: list[int], seed: int) -> list[dict]:
    rnd = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return [{"customer": rnd.choice(parent_ids), "amount": f"{rnd.randint(100, 99999) / 100:.2f}",
             "status": "paid" if rnd.random() < 0.7 else "open",
             "placed_at": (start + dt.timedelta(minutes=rnd.randint(0, 500_000))).isoformat()} for _ in range(n)]


def check_rollups(engine, model, parent: str, child: str) -> None:
    p, c = model.entities[parent].table, model.entities[child].table
    with engine.connect() as conn:
        stored = {r.id: (r.paid_orders, r.total, r.last_order) for r in conn.execute(
            sa.select(p.c.id, p.c.paid_orders, p.c.total, p.c.last_order))}
        want: dict[int, list] = {i: [0, Decimal("0.00"), None] for i in stored}
        for r in conn.execute(sa.select(c.c.customer, c.c.amount, c.c.status, c.c.placed_at)
                              .where(c.c.archived_at.is_(None))):
            w = want[r.customer]
            w[0] += r.status == "paid"
            w[1] += r.amount
            w[2] = r.placed_at if w[2] is None or r.placed_at > w[2] else w[2]
    bad = [i for i in stored if stored[i] != tuple(want[i])]
    assert not bad, (bad[:3], [stored[i] for i in bad[:3]], [want[i] for i in bad[:3]])


def writes(app, args, prof) -> tuple[float, float]:
    crm = app.extensions["crm"]
    client = app.test_client()
    for side in ("plain", "rolled"):
        assert client.post("/api/meta/entities", json=parent_doc(f"cust_{side}")).status_code == 201
        assert client.post("/api/meta/entities", json=child_doc(f"ord_{side}", f"cust_{side}")).status_code == 201
    for f in rollups("ord_rolled"):
        r = client.post("/api/meta/entities/cust_rolled/fields", json=f)
        assert r.status_code == 201, r.get_json()
    ids = {}
    for side in ("plain", "rolled"):
        created: list[int] = []
        crm.records.create_many(f"cust_{side}", [{"name": f"c{n}"} for n in range(PARENTS_PER_SIDE)],
                                created_ids=created)
        ids[side] = created
    best = {"plain": float("inf"), "rolled": float("inf")}
    for run in range(args.repeat):
        for side in ("plain", "rolled") if run % 2 == 0 else ("rolled", "plain"):
            data = rows(args.children, ids[side], seed=run)
            with Timer() as t, (prof if side == "rolled" else Profile(False)):
                for start in range(0, len(data), BATCH):
                    crm.records.create_many(f"ord_{side}", data[start:start + BATCH], batch_size=BATCH)
            best[side] = min(best[side], t.seconds)
            print(f"run {run + 1}, {side}: {args.children:,} children in {t.seconds:.2f} s "
                  f"({args.children / t.seconds:,.0f} rows/s)")
    check_rollups(crm.engine, crm.runtime.current(), "cust_rolled", "ord_rolled")
    print("stored roll-ups equal a recomputation from the children")
    return best["plain"], best["rolled"]


def bulk_parents(engine, key: str, n: int) -> None:
    q = engine.dialect.identifier_preparer.quote
    table = q(table_name(key))
    cols = "id, created_at, updated_at, version, name, total"
    if engine.dialect.name == "sqlite":
        # ExactDecimal keeps cents as integers on SQLite: (n * 7919) % 10,000,000 cents.
        sql = (f"INSERT INTO {table} ({cols}) WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
               "WHERE n < :rows) SELECT n, '2024-01-01 00:00:00.000000', '2024-01-01 00:00:00.000000', 1, "
               "'Customer ' || n, (n * 7919) % 10000000 FROM seq")
    else:
        sql = (f"INSERT INTO {table} ({cols}) SELECT n, timestamptz '2024-01-01 00:00:00+00', "
               "timestamptz '2024-01-01 00:00:00+00', 1, 'Customer ' || n, ((n::bigint * 7919) % 10000000) / 100.0 "
               "FROM generate_series(1, :rows) AS n")
    with engine.begin() as conn:
        conn.execute(sa.text(sql), {"rows": n})
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table_name(key)}', 'id'), {n})")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        else:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM ANALYZE {table}")


def reads(app, args) -> list[float]:
    crm = app.extensions["crm"]
    client = app.test_client()
    assert client.post("/api/meta/entities", json=parent_doc("cust_big")).status_code == 201
    assert client.post("/api/meta/entities", json=child_doc("ord_big", "cust_big")).status_code == 201
    field = {**rollups("ord_big")[1], "indexed": True}
    assert client.post("/api/meta/entities/cust_big/fields", json=field).status_code == 201
    with Timer() as t:
        bulk_parents(crm.engine, "cust_big", args.parents)
    print(f"\nbulk load of {args.parents:,} parents (+ ANALYZE): {t.seconds:.1f} s")
    url = "/api/records/cust_big?sort=-total&per_page=50"
    first = client.get(url).get_json()
    totals = [Decimal(str(x["total"])) for x in first["items"]]
    assert totals == sorted(totals, reverse=True) and len(totals) == 50, totals[:5]
    for _ in range(3):
        client.get(url)
    times = []
    for _ in range(args.requests):
        with Timer() as t:
            assert client.get(url).status_code == 200
        times.append(t.seconds)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--parents", type=int, default=1_000_000, help="parents of the sorted list")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    prof = Profile(args.profile)
    with bench_database(args.database_url) as url:
        app = make_app(url)
        try:
            print(f"database: {describe_database(app.extensions['crm'].engine)}; children: {args.children:,} "
                  f"over {PARENTS_PER_SIDE:,} parents; sorted list over {args.parents:,} parents")
            plain, rolled = writes(app, args, prof)
            ratio = plain / rolled
            code = verdict("create_many feeding three roll-ups vs none", ratio, 0.6)
            times = reads(app, args)
            med = statistics.median(times)
            p95 = sorted(times)[int(0.95 * (len(times) - 1))]
            print(f"GET sorted by roll-up, first page of 50 + total: median {med * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
            code |= verdict("list sorted by a roll-up", med / BUDGET, 1.0, higher_is_better=False)
            if args.profile or code:
                print(prof.report())
        finally:
            app.extensions["crm"].engine.dispose()
    return code


if __name__ == "__main__":
    sys.exit(main())
