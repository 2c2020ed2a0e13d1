#!/usr/bin/env python
"""Filtering a big entity by tag: GET /api/records/<entity>?filter[<field>][has_any]=<tag>, 1,000,000 records.

A taxonomy of 10 parent tags with 4 children each (50 tags) and an entity with a tags field bound to
it are defined through the API; then the records and their link rows (5 tags per record, 5,000,000
link rows) are bulk-loaded with INSERT ... SELECT (a recursive CTE on SQLite, generate_series on
PostgreSQL), followed by ANALYZE. Record n carries one tag from each of five parent groups
(n + 2j) % 10, j = 0..4: the parent itself or one of its children, so a child tag matches 10 % of
the records and a parent tag (expanded to itself and its four children) 50 %.

Timed, through the Flask test client (first page, 50 rows, so it includes the total count):
    GET /api/records/<entity>?filter[segments][has_any]=<child tag>
    GET /api/records/<entity>?filter[segments][has_any]=<parent tag>
each --requests times (tags rotate); median and p95 reported. The page query and the COUNT are
also timed on their own (the statements ``list_statements`` builds, on one connection).

    ratio = median seconds / 0.05 s budget      target < 1 (under 50 ms) on SQLite and PostgreSQL

Usage: python bench/bench_tag_filter.py [--rows 1000000] [--requests 30] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from common import (Profile, Timer, add_database_args, bench_database, describe_database, make_app,  # noqa: E402
                    verdict)
from crm_platform.metadata.field_types.tags import link_table_name  # noqa: E402
from crm_platform.metadata.keys import table_name  # noqa: E402
from crm_platform.runtime.query import list_statements, parse_list_args  # noqa: E402

BUDGET = 0.05  # seconds
ENTITY = "account"
FIELD = "segments"
PARENTS = [f"p{g}" for g in range(10)]
TAXONOMY = {
    "key": "segment",
    "label": {"en": "Segment"},
    "tags": [t for g in range(10) for t in
             [{"key": f"p{g}", "label": f"Parent {g}"}]
             + [{"key": f"p{g}_c{s}", "label": f"Child {g}.{s}", "parent": f"p{g}"} for s in range(1, 5)]],
}
DOC = {
    "key": ENTITY,
    "label": "Account",
    "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": "Name", "required": True},
        {"key": FIELD, "type": "tags", "label": "Segments", "taxonomy": "segment"},
    ],
}
TAGS_PER_RECORD = 5


def tag_sql(n: str, j: str) -> str:
    """The j-th tag of record n: group (n + 2j) % 10, then the parent (s = 0) or child s of it."""
    g = f"(({n} + 2 * {j}) % 10)"
    s = f"((({n} / 10) + {j}) % 5)"  # integer division on both databases (bigint operands)
    return f"CASE WHEN {s} = 0 THEN 'p' || {g} ELSE 'p' || {g} || '_c' || {s} END"


def expected_tags(n: int) -> set[str]:
    out = set()
    for j in range(TAGS_PER_RECORD):
        g, s = (n + 2 * j) % 10, (n // 10 + j) % 5
        out.add(f"p{g}" if s == 0 else f"p{g}_c{s}")
    return out


def bulk_load(engine: sa.Engine, rows: int) -> None:
    q = engine.dialect.identifier_preparer.quote
    table, link = q(table_name(ENTITY)), q(link_table_name(ENTITY, FIELD))
    js = " UNION ALL ".join(f"SELECT {j} AS j" for j in range(TAGS_PER_RECORD))
    if engine.dialect.name == "sqlite":
        records = (f"INSERT INTO {table} (id, created_at, updated_at, version, name) "
                   "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows) "
                   "SELECT n, '2024-01-01 00:00:00.000000', '2024-01-01 00:00:00.000000', 1, 'Account ' || n FROM seq")
    else:
        records = (f"INSERT INTO {table} (id, created_at, updated_at, version, name) "
                   "SELECT n, timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00', 1, "
                   "'Account ' || n FROM generate_series(1, :rows) AS n")
    links = (f"INSERT INTO {link} (record_id, tag) SELECT e.id, {tag_sql('e.id', 'js.j')} "
             f"FROM {table} AS e CROSS JOIN ({js}) AS js ORDER BY e.id, js.j")
    with engine.begin() as conn:
        conn.execute(sa.text(records), {"rows": rows})
        conn.execute(sa.text(links))
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table_name(ENTITY)}', 'id'), {rows})")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            auto.exec_driver_sql(f"VACUUM ANALYZE {table}")
            auto.exec_driver_sql(f"VACUUM ANALYZE {link}")


def explain(conn, stmt) -> str:
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(f"    {r[-1]}" for r in rows)
    rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS OFF) {compiled}").all()
    return "\n".join(f"    {r[0]}" for r in rows)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def fmt_ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, p95 {pct(values, 95) * 1000:.1f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--rows", type=int, default=1_000_000, help="records in the entity (default 1000000)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per kind of filter (default 30)")
    parser.add_argument("--explain", action="store_true", help="print the query plans even if the target is met")
    args = parser.parse_args(argv)

    with bench_database(args.database_url) as url:
        app = make_app(url)
        crm = app.extensions["crm"]
        engine = crm.engine
        client = app.test_client()
        try:
            print(f"database: {describe_database(engine)}; records: {args.rows:,}; "
                  f"link rows: {args.rows * TAGS_PER_RECORD:,}; requests per filter: {args.requests}")
            r = client.post("/api/meta/taxonomies", json=TAXONOMY)
            assert r.status_code == 201, r.get_json()
            r = client.post("/api/meta/entities", json=DOC)
            assert r.status_code == 201, r.get_json()
            with Timer() as t_load:
                bulk_load(engine, args.rows)
            print(f"bulk load (records + links + ANALYZE): {t_load.seconds:.1f} s")

            # Check once, untimed: totals and first pages agree with the generator.
            children = [f"p{g}_c{s}" for g in range(10) for s in range(1, 5)]
            kinds = {"child": children, "parent": PARENTS}
            for kind, tags in kinds.items():
                tag = tags[3]
                wanted = [n for n in range(args.rows, 0, -1)
                          if tag in expected_tags(n) or any(t.startswith(tag + "_") for t in expected_tags(n))]
                body = client.get(f"/api/records/{ENTITY}?filter[{FIELD}][has_any]={tag}&exact_total=1").get_json()
                assert body["total"] == len(wanted) and body["total_exact"], (kind, body["total"], len(wanted))
                capped = client.get(f"/api/records/{ENTITY}?filter[{FIELD}][has_any]={tag}").get_json()
                assert capped["total_exact"] is (len(wanted) <= 10_000) and capped["items"] == body["items"]
                assert [x["id"] for x in body["items"]] == wanted[:50], kind
                assert set(body["items"][0][FIELD]) == expected_tags(wanted[0])
                print(f"{kind} tag '{tag}': total {body['total']:,} records "
                      f"({body['total'] / args.rows:.0%}), first page checked")

            entity = crm.runtime.current().entity(ENTITY)
            results, code = {}, 0
            for kind, tags in kinds.items():
                urls = [f"/api/records/{ENTITY}?filter[{FIELD}][has_any]={t}" for t in tags]
                for u in urls[:3]:  # warm-up
                    client.get(u)
                http, page, count = [], [], []
                for i in range(args.requests):
                    u = urls[i % len(urls)]
                    with Timer() as t:
                        resp = client.get(u)
                    assert resp.status_code == 200
                    http.append(t.seconds)
                with engine.connect() as conn:
                    for i in range(args.requests):
                        tag = tags[i % len(tags)]
                        lq = parse_list_args(MultiDict({f"filter[{FIELD}][has_any]": tag}), entity)
                        rows_q, count_q = list_statements(entity, lq, conn.dialect.name, conn=conn)
                        with Timer() as t:
                            conn.execute(rows_q).all()
                        page.append(t.seconds)
                        with Timer() as t:
                            conn.execute(count_q).scalar_one()
                        count.append(t.seconds)
                    conn.rollback()
                results[kind] = (http, page, count)
                med = statistics.median(http)
                print(f"\n{kind} tag, GET first page + total (exact up to 10,000): {fmt_ms(http)}; "
                      f"median / {BUDGET * 1000:.0f} ms budget = {med / BUDGET:.3f}")
                print(f"  page query (50 rows): {fmt_ms(page)}")
                print(f"  COUNT (capped):       {fmt_ms(count)}")
                code |= verdict(f"has_any {kind} tag", med / BUDGET, 1.0, higher_is_better=False)

            if args.explain or code:
                with engine.connect() as conn:
                    for kind, tags in kinds.items():
                        lq = parse_list_args(MultiDict({f"filter[{FIELD}][has_any]": tags[0]}), entity)
                        rows_q, count_q = list_statements(entity, lq, conn.dialect.name, conn=conn)
                        print(f"\nplan of the page query, {kind} tag:\n{explain(conn, rows_q)}")
                        print(f"plan of the COUNT, {kind} tag:\n{explain(conn, count_q)}")
                    conn.rollback()
            if args.profile or code:
                prof = Profile(True)
                with prof:
                    client.get(f"/api/records/{ENTITY}?filter[{FIELD}][has_any]={PARENTS[0]}")
                print("\nProfile of one parent-tag request (separate pass):\n" + prof.report())
            return code
        finally:
            engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
