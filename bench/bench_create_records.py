#!/usr/bin/env python
"""Bulk record creation: RecordService.create_many (full validation, audit rows) vs SQLAlchemy Core.

A 20-field entity is defined through MetadataService; the same definition under a second key gives
an identical second table. The service creates N records from JSON-like input (what the API hands
it: strings for dates, Decimal for numbers with decimals) and, since the audit trail, one audit row
per record. Two baselines insert the same rows, already coerced exactly as create_many would write
them, with ``conn.execute(table.insert(), rows)``: the records alone, and the records plus their
audit rows (JSON already encoded), which is the same work the service does.

    ratio = service rows/s / (Core records + audit rows) rows/s    target >= 0.5 on SQLite
    (service / Core records alone is printed too: the comparison before the audit trail existed;
    PostgreSQL is reported, not enforced)

Usage: python bench/bench_create_records.py [--rows 100000] [--repeat 3] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from common import (Profile, Timer, add_database_args, backend_name, bench_database, contact_entity,  # noqa: E402
                    contact_rows, describe_database, make_app, verdict)

TARGET = 0.5

def coerced_rows(entity, rows: list[dict], now: dt.datetime) -> list[dict]:
    """The rows exactly as create_many writes them (validator output, every column, system values)."""
    keys = [f["key"] for f in entity.fields]
    out = []
    for data in rows:
        values, system, errors = entity.validator.validate(data)
        assert not errors, errors
        row = dict.fromkeys(keys)
        row.update(values)
        row["created_at"] = row["updated_at"] = now
        row["created_by"] = row["updated_by"] = None
        row["owner_id"] = system.get("owner_id")
        row["version"] = 1
        out.append(row)
    return out


def clear(engine: sa.Engine, table: sa.Table) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f'TRUNCATE "{table.name}"')
        else:
            conn.execute(table.delete())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--rows", type=int, default=100_000, help="records per run (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best is kept (default 3)")
    parser.add_argument("--batch-size", type=int, default=5000, help="create_many batch size (default 5000)")
    args = parser.parse_args(argv)

    with bench_database(args.database_url) as url:
        app = make_app(url)
        crm = app.extensions["crm"]
        engine = crm.engine
        try:
            backend = backend_name(url)
            print(f"database: {describe_database(engine)}; rows per run: {args.rows:,}; runs: {args.repeat}")
            crm.metadata.create_definition("entity", contact_entity("bench_svc"), actor="bench")
            crm.metadata.create_definition("entity", contact_entity("bench_core"), actor="bench")
            model = crm.runtime.current()
            svc_entity, core_entity = model.entity("bench_svc"), model.entity("bench_core")
            svc_table, core_table = svc_entity.table, core_entity.table

            rows = contact_rows(args.rows)
            prepared = coerced_rows(core_entity, rows, dt.datetime.now(dt.timezone.utc))

            # Validation alone (no database), for the breakdown of where the service's time goes.
            validate = svc_entity.validator.validate
            with Timer() as t_val:
                for data in rows:
                    validate(data)
            validate_rate = args.rows / t_val.seconds

            # The service also writes one audit row per record (issue 4); the second baseline does
            # that too with Core, its JSON prepared outside the timing.
            from crm_platform import jsonutil
            from crm_platform.tables import audit_log
            audit_keys = [f["key"] for f in core_entity.fields] + ["owner_id"]
            audit_json = [jsonutil.dumps({k: [None, r[k]] for k in audit_keys if r.get(k) is not None}) for r in prepared]
            now = dt.datetime.now(dt.timezone.utc)

            def core_side(with_audit: bool) -> float:
                clear(engine, core_table)
                with Timer() as t:
                    with engine.begin() as conn:
                        conn.execute(core_table.insert(), prepared)
                        if with_audit:
                            ids = conn.execute(sa.select(core_table.c.id).order_by(core_table.c.id)).scalars().all()
                            conn.execute(audit_log.insert(), [
                                {"entity": "bench_core", "record_id": i, "action": "create", "actor_id": None,
                                 "at": now, "reason": None, "changes": j} for i, j in zip(ids, audit_json)])
                return t.seconds

            def svc_side() -> float:
                clear(engine, svc_table)
                with Timer() as t:
                    n = crm.records.create_many("bench_svc", rows, batch_size=args.batch_size)
                assert n == args.rows
                return t.seconds

            times = {"svc": [], "core": [], "audit": []}
            sides = {"svc": svc_side, "core": lambda: core_side(False), "audit": lambda: core_side(True)}
            for run in range(args.repeat):
                # Rotate the order so no side always runs on a warmer cache.
                order = ["core", "audit", "svc"]
                for side in order[run % 3:] + order[:run % 3]:
                    times[side].append(sides[side]())
            svc_times, core_times, audit_times = times["svc"], times["core"], times["audit"]

            with engine.connect() as conn:
                for table in (svc_table, core_table):
                    count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                    assert count == args.rows, (table.name, count)
                # Both sides wrote the same values.
                cols = [c for c in svc_table.c if c.key not in ("id", "created_at", "updated_at")]
                a = conn.execute(sa.select(*cols).order_by(svc_table.c.email).limit(50)).all()
                b = conn.execute(sa.select(*[core_table.c[c.key] for c in cols]).order_by(core_table.c.email)
                                 .limit(50)).all()
                assert a == b, "the service and Core wrote different values"

            svc_rate = args.rows / min(svc_times)
            core_rate = args.rows / min(core_times)
            audit_rate = args.rows / min(audit_times)
            ratio = svc_rate / audit_rate
            print(f"validation only (compiled validator, no DB): {validate_rate:,.0f} rows/s "
                  f"({t_val.seconds * 1e6 / args.rows:.1f} us/row)")
            print("RecordService.create_many: " + ", ".join(f"{t:.2f}s" for t in svc_times)
                  + f" -> best {svc_rate:,.0f} rows/s")
            print("Core records + audit rows: " + ", ".join(f"{t:.2f}s" for t in audit_times)
                  + f" -> best {audit_rate:,.0f} rows/s")
            print("Core records alone:        " + ", ".join(f"{t:.2f}s" for t in core_times)
                  + f" -> best {core_rate:,.0f} rows/s")
            print(f"service / Core records alone = {svc_rate / core_rate:.3f} (the comparison before the audit trail)")
            print(f"service / (Core records + audit rows) = {ratio:.3f}")
            code = verdict("create_many vs Core records + audit rows", ratio, TARGET, enforced=(backend == "sqlite"))
            if args.profile or code:
                # A separate pass: the profiler's overhead never reaches the timings above.
                clear(engine, svc_table)
                prof = Profile(True)
                with prof:
                    crm.records.create_many("bench_svc", rows, batch_size=args.batch_size)
                print("\nProfile of create_many (separate pass):\n" + prof.report())
            return code
        finally:
            engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
