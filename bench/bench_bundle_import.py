#!/usr/bin/env python
"""Bundle import with sample data: POST /api/bundle?dry_run=1&sample_data=1 of N sample records.

A bundle defines two entities (``bench_company``; ``bench_order`` with text, integer, decimal, a
relative date and a reference to a company by ``_key``) and carries N orders and N / 100
companies as sample data. The dry run (the plan an administrator reads before applying: every step
really runs, then rolls back) and the real import are timed through the API (Flask test client, as
a gunicorn worker would run them), and the import is checked afterwards: N orders in the table,
each with its company.

    ratio = dry-run seconds / 10 s budget    target < 0.5 on SQLite (PostgreSQL reported, not enforced)

A gunicorn worker is killed after 30 s; the budget leaves room for a slower server. Bundles with
more sample records than ``CRM_BUNDLE_MAX_SAMPLE_RECORDS`` are refused over HTTP (413) and imported
with ``crm import`` instead, which this script also times (``--cli``).

Usage: python bench/bench_bundle_import.py [--rows 20000] [--repeat 3] [--database-url URL] [--profile] [--cli]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from common import (Profile, Timer, add_database_args, backend_name, bench_database, describe_database,  # noqa: E402
                    make_app, verdict)

BUDGET = 10.0
TARGET = 0.5

COMPANY = {"key": "bench_company", "label": "Company", "title_field": "name",
           "fields": [{"key": "name", "type": "text", "label": "Name", "required": True}]}
ORDER = {"key": "bench_order", "label": "Order", "title_field": "title", "fields": [
    {"key": "title", "type": "text", "label": "Title", "required": True},
    {"key": "qty", "type": "integer", "label": "Quantity", "min": 0},
    {"key": "price", "type": "decimal", "label": "Price", "scale": 2},
    {"key": "due_on", "type": "date", "label": "Due"},
    {"key": "company", "type": "reference", "label": "Company", "target": "bench_company", "on_delete": "set_null"}]}


def bench_bundle(rows: int, name: str = "bench") -> bytes:
    import json
    from crm_platform.bundles.format import seal
    companies = max(1, rows // 100)
    sample = {
        "bench_company": [{"_key": f"c{i}", "name": f"Company {i}"} for i in range(companies)],
        "bench_order": [{"title": f"Order {i}", "qty": i % 50, "price": i % 997 + 0.5, "due_on": {"days": i % 30},
                         "company": {"ref": f"c{i % companies}"}} for i in range(rows)],
    }
    # Compact, as a program would send it (the checksum does not depend on the layout).
    return json.dumps(seal({"format": "crm-bundle", "format_version": 1, "name": name, "version": "1.0.0",
                            "definitions": {"entity": [COMPANY, ORDER]}, "sample_data": sample}),
                      separators=(",", ":"), ensure_ascii=False).encode()


def orders_in(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("ent_bench_order"):
            return 0, 0
        total = conn.exec_driver_sql("SELECT count(*) FROM ent_bench_order").scalar_one()
        linked = conn.exec_driver_sql("SELECT count(*) FROM ent_bench_order WHERE company IS NOT NULL").scalar_one()
        return total, linked


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--rows", type=int, default=20_000, help="sample orders in the bundle (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="dry runs; the best is kept (default 3)")
    parser.add_argument("--cli", action="store_true", help="also time `crm import` of a bundle 5 times larger")
    args = parser.parse_args(argv)

    with bench_database(args.database_url) as url:
        app = make_app(url)
        app.config["BUNDLE_MAX_SAMPLE_RECORDS"] = max(app.config.get("BUNDLE_MAX_SAMPLE_RECORDS") or 0,
                                                      args.rows + args.rows // 100)
        engine = app.extensions["crm"].engine
        client = app.test_client()
        body = bench_bundle(args.rows)
        app.config["MAX_CONTENT_LENGTH"] = max(app.config["MAX_CONTENT_LENGTH"], len(body))
        try:
            backend = backend_name(url)
            print(f"database: {describe_database(engine)}; sample records: {args.rows:,} orders + "
                  f"{max(1, args.rows // 100):,} companies; bundle {len(body) / 1e6:.2f} MB; dry runs: {args.repeat}")

            def post(dry_run: bool):
                r = client.post(f"/api/bundle?sample_data=1{'&dry_run=1' if dry_run else ''}", data=body,
                                content_type="application/json")
                assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:500])
                assert r.get_json()["sample_data"]["records"]["bench_order"] == args.rows
                return r

            dry = []
            for _ in range(args.repeat):
                with Timer() as t:
                    post(True)
                dry.append(t.seconds)
            assert orders_in(engine) == (0, 0), "a dry run left records behind"
            # A separate pass, before the real import (which loads the sample data, once per bundle):
            # the profiler's overhead never reaches the timings.
            report = "(run again with --profile)"
            if args.profile:
                prof = Profile(True)
                with prof:
                    post(True)
                report = prof.report()
            with Timer() as t_real:
                post(False)
            assert orders_in(engine) == (args.rows, args.rows), orders_in(engine)

            best = min(dry)
            print("POST /api/bundle?dry_run=1&sample_data=1: " + ", ".join(f"{s:.2f}s" for s in dry)
                  + f" -> best {best:.2f}s ({args.rows / best:,.0f} sample records/s)")
            print(f"POST /api/bundle?sample_data=1 (applied): {t_real.seconds:.2f}s")
            if args.cli:
                import json
                import tempfile
                from click.testing import CliRunner
                from crm_platform.cli import main as crm
                big = bench_bundle(args.rows * 5, name="bench_cli")
                with tempfile.NamedTemporaryFile(suffix=".json") as f:
                    f.write(big)
                    f.flush()
                    with Timer() as t_cli:
                        out = CliRunner().invoke(crm, ["import", f.name, "--sample-data", "--dry-run", "--json"],
                                                 env={"DATABASE_URL": url}, catch_exceptions=False)
                    assert out.exit_code == 0, out.output[-2000:]
                    assert json.loads(out.output)["sample_data"]["records"]["bench_order"] == args.rows * 5
                print(f"crm import --dry-run --sample-data of {args.rows * 5:,} orders ({len(big) / 1e6:.1f} MB): "
                      f"{t_cli.seconds:.2f}s")
            code = verdict("bundle dry run vs 10 s budget", best / BUDGET, TARGET, higher_is_better=False,
                           enforced=(backend == "sqlite"))
            if args.profile or code:
                print("\nProfile of one dry run (separate pass):\n" + report)
            return code
        finally:
            engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
