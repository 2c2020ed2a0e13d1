#!/usr/bin/env python
"""Exporting a big list view: GET /api/records/<entity>/export?format=csv on 1,000,000 records, under a
memory ceiling.

An entity of eight fields (text, e-mail, phone, a choice shown by its label, a datetime shown in the
reader's zone, a decimal, a reference to one of 100 companies shown by its title, a tags field with
two tags per record shown by their labels) is defined through the API and bulk-loaded with
INSERT ... SELECT (a recursive CTE on SQLite, generate_series on PostgreSQL).

The export then runs in a child process whose data segment is capped with RLIMIT_DATA (``--ceiling``,
200 MiB by default: heap and anonymous mappings; a process that needs more gets MemoryError and the
run fails). The child calls the endpoint through the Flask test client without buffering the answer,
reads the body a chunk at a time, counts the rows, checks the first ones, and reports the time and
its peak resident set (ru_maxrss). For scale, the same child also times a hand-written export of the
same rows: one Core SELECT streamed with yield_per into csv.writer, raw values (no labels, no titles,
no rights, no time zone).

    ratio = peak RSS / ceiling      target < 1 on SQLite and PostgreSQL; the time is recorded

Usage: python bench/bench_export.py [--rows 1000000] [--ceiling-mib 200] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from common import Profile, Timer, add_database_args, bench_database, describe_database, make_app, verdict  # noqa: E402
from crm_platform.metadata.field_types.tags import link_table_name  # noqa: E402
from crm_platform.metadata.keys import table_name  # noqa: E402

ENTITY = "lead"
TAXONOMY = {"key": "label", "label": {"en": "Label", "zh": "标记"},
            "tags": [{"key": f"t{n}", "label": {"en": f"Tag {n}", "zh": f"标签{n}"}} for n in range(10)]}
COMPANY = {"key": "company", "label": {"en": "Company", "zh": "公司"}, "title_field": "name",
           "fields": [{"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True}]}
DOC = {
    "key": ENTITY, "label": {"en": "Lead", "zh": "线索"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True},
        {"key": "email", "type": "email", "label": {"en": "E-mail", "zh": "邮箱"}},
        {"key": "phone", "type": "phone", "label": {"en": "Phone", "zh": "电话"}},
        {"key": "stage", "type": "select", "label": {"en": "Stage", "zh": "阶段"},
         "choices": [{"key": k, "label": {"en": k.title(), "zh": z}}
                     for k, z in (("new", "新线索"), ("contacted", "已联系"), ("won", "成交"))]},
        {"key": "met_at", "type": "datetime", "label": {"en": "Met at", "zh": "见面时间"}},
        {"key": "amount", "type": "decimal", "scale": 2, "label": {"en": "Amount", "zh": "金额"}},
        {"key": "company", "type": "reference", "target": "company", "label": {"en": "Company", "zh": "公司"}},
        {"key": "labels", "type": "tags", "taxonomy": "label", "label": {"en": "Labels", "zh": "标记"}},
    ],
}
HEADER = "姓名,邮箱,电话,阶段,见面时间,金额,公司,标记"
COMPANIES = 100


def bulk_load(engine: sa.Engine, rows: int) -> None:
    q = engine.dialect.identifier_preparer.quote
    table, link, companies = q(table_name(ENTITY)), q(link_table_name(ENTITY, "labels")), q(table_name("company"))
    if engine.dialect.name == "sqlite":
        seq = "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows) "
        stamp, source = "'2024-01-01 00:00:00.000000'", "FROM seq"
    else:
        seq, stamp, source = "", "timestamptz '2024-01-01 00:00:00+00'", "FROM generate_series(1, :rows) AS n"
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {companies} (id, created_at, updated_at, version, name) {seq}"
                             f"SELECT n, {stamp}, {stamp}, 1, '公司 ' || n {source}"), {"rows": COMPANIES})
        conn.execute(sa.text(
            f"INSERT INTO {table} (id, created_at, updated_at, version, name, email, phone, stage, met_at, amount, company) "
            f"{seq}SELECT n, {stamp}, {stamp}, 1, '客户 ' || n, 'lead' || n || '@example.com', "
            f"'+86 138 ' || (10000000 + n), CASE n % 3 WHEN 0 THEN 'new' WHEN 1 THEN 'contacted' ELSE 'won' END, "
            f"{stamp}, n % 100000, 1 + n % {COMPANIES} {source}"), {"rows": rows})
        conn.execute(sa.text(f"INSERT INTO {link} (record_id, tag) SELECT id, 't' || (id % 5) FROM {table} "
                             f"UNION ALL SELECT id, 't' || (5 + id % 5) FROM {table}"))
        if engine.dialect.name == "postgresql":
            for name, n in ((table_name(ENTITY), rows), (table_name("company"), COMPANIES)):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {n})")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            for t in (table, link, companies):
                auto.exec_driver_sql(f"VACUUM ANALYZE {t}")


def _child(url: str, rows: int, ceiling: int, profile: bool, out) -> None:
    """The export under the ceiling; sends (seconds, rows, bytes, first rows, peak MiB, baseline seconds)."""
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, ceiling))
    app = make_app(url)
    client = app.test_client()
    prof = Profile(profile)
    lines, size, head, tail = 0, 0, [], b""
    with Timer() as timer, prof:
        r = client.get("/api/records/lead/export?format=csv&tz=Asia/Shanghai&sort=id",
                       headers={"Accept-Language": "zh-CN"}, buffered=False)
        assert r.status_code == 200, r.status_code
        for chunk in r.iter_encoded():
            size += len(chunk)
            data = tail + chunk
            *complete, tail = data.split(b"\r\n")
            lines += len(complete)
            if len(head) < 3:
                head.extend(line.decode("utf-8") for line in complete[:3 - len(head)])
        r.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The hand-written baseline: raw values, one SELECT, csv.writer, the same streaming.
    engine = app.extensions["crm"].engine
    t = sa.Table(table_name(ENTITY), sa.MetaData(), autoload_with=engine)
    cols = [t.c[k] for k in ("name", "email", "phone", "stage", "met_at", "amount", "company")]
    with Timer() as base, engine.connect() as conn:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(
            sa.select(*cols).where(t.c.archived_at.is_(None)).order_by(t.c.id))
        for part in result.partitions():
            writer.writerows(part)
            buffer.getvalue().encode("utf-8")  # what a response would send
            buffer.seek(0)
            buffer.truncate()
    out.send((timer.seconds, lines, size, head, peak, base.seconds, prof.report() if profile else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records in the entity (default 1000000)")
    parser.add_argument("--ceiling-mib", type=int, default=200, help="RLIMIT_DATA of the exporting process (MiB)")
    add_database_args(parser)
    args = parser.parse_args(argv)
    with bench_database(args.database_url) as url:
        app = make_app(url)
        client = app.test_client()
        assert client.post("/api/meta/taxonomies", json=TAXONOMY).status_code == 201
        for doc in (COMPANY, DOC):
            r = client.post("/api/meta/entities", json=doc)
            assert r.status_code == 201, r.get_json()
        engine = app.extensions["crm"].engine
        print(f"database: {describe_database(engine)}")
        with Timer() as load:
            bulk_load(engine, args.rows)
        print(f"loaded {args.rows:,} records (2 tags each) in {load.seconds:.1f} s")
        engine.dispose()
        receive, send = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(
            target=_child, args=(url, args.rows, args.ceiling_mib * 2**20, args.profile, send))
        child.start()
        child.join()
        if child.exitcode != 0 or not receive.poll():
            print(f"export FAILED in the child (exit code {child.exitcode}): over the ceiling or an error above")
            return 1
        seconds, lines, size, head, peak, baseline, report = receive.recv()
    print(f"export: {lines - 1:,} rows, {size / 2**20:.1f} MiB of CSV in {seconds:.1f} s "
          f"({(lines - 1) / seconds:,.0f} rows/s); peak RSS of the exporting process {peak:.0f} MiB "
          f"(RLIMIT_DATA {args.ceiling_mib} MiB)")
    print(f"hand-written baseline (raw values, one SELECT, csv.writer): {baseline:.1f} s; "
          f"ratio baseline / export {baseline / seconds:.2f}")
    print("first rows:", *head, sep="\n    ")
    assert head[0] == "\ufeff" + HEADER, head[0]
    assert head[1] == "客户 1,lead1@example.com,+86 138 10000001,已联系,2024-01-01 08:00:00,1.00,公司 2,\"标签1, 标签6\"" or \
        head[1].startswith("客户 1,lead1@example.com,+86 138 10000001,已联系,2024-01-01 08:00:00,"), head[1]
    assert lines - 1 == args.rows, (lines, args.rows)
    if report:
        print(report)
    return verdict("export memory", peak / args.ceiling_mib, 1.0, higher_is_better=False)


if __name__ == "__main__":
    sys.exit(main())
