#!/usr/bin/env python
"""Import of an XLSX file: the whole import (read the sheet, map the columns by label, convert every cell
through its field type, de-duplicate on a match key, create through the record service in batches with
audit rows) against ``RecordService.create_many`` of the same rows already converted.

The 20-field benchmark entity (``common.contact_entity``) is defined twice, so each side writes into an
empty table of its own. The file has one row per record and a header row of the fields' labels; numbers
are number cells, dates are date cells, choices are labels, tags comma-separated labels. The import
matches on the e-mail address (every row is new, so every row is looked up and created).

    ratio = create_many seconds / import seconds    target >= 0.5 on SQLite and PostgreSQL

Each side runs in a forked child whose peak resident memory (VmHWM, reset at the child's start) is
recorded: the import holds the file's cells, the converted rows and the match keys at once.

Usage: python bench/bench_import.py [--rows 100000] [--repeat 1] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

from common import (Profile, Timer, add_database_args, backend_name, bench_database, contact_entity,  # noqa: E402
                    contact_rows, describe_database, make_app, verdict)

TARGET = 0.5


def xlsx_of(entity: dict, rows: list[dict]) -> bytes:
    """The rows as a spreadsheet a person would keep: labels as headers, typed cells, choice labels."""
    import openpyxl
    fields = entity["fields"]
    labels = {f["key"]: {c["key"]: c["label"] for c in f.get("choices", [])} for f in fields}
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("contacts")
    sheet.append([f["label"] for f in fields])
    for row in rows:
        cells = []
        for f in fields:
            value = row.get(f["key"])
            if value is None or value == []:
                cells.append(None)
            elif isinstance(value, list):
                cells.append(", ".join(labels[f["key"]][v] for v in value))
            elif f["key"] in labels and labels[f["key"]]:
                cells.append(labels[f["key"]][value])
            elif f["type"] == "date":
                cells.append(dt.date.fromisoformat(value))
            elif f["type"] == "datetime":
                cells.append(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
                             .replace(tzinfo=None))
            elif f["type"] == "decimal":
                cells.append(float(value))
            else:
                cells.append(value)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def in_child(work):
    """Run ``work()`` in a forked child; (its return value, seconds, peak RSS in MiB)."""
    import pickle
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset the peak resident set (VmHWM) to what the child holds now
        except OSError:
            pass
        with Timer() as t:
            result = work()
        peak = 0
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
        with os.fdopen(write, "wb") as out:
            pickle.dump((result, t.seconds, peak), out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as source:
        data = source.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the file (default 100000)")
    args = parser.parse_args(argv)

    from crm_platform.imports.runner import ImportOptions, run_import
    from crm_platform.runtime.access import Access

    with bench_database(args.database_url) as url:
        app = make_app(url)
        crm = app.extensions["crm"]
        engine = crm.engine
        try:
            backend = backend_name(url)
            print(f"database: {describe_database(engine)}; rows: {args.rows:,}; columns: 20")
            doc = contact_entity("bench_import")
            crm.metadata.create_definition("entity", doc, actor="bench")
            crm.metadata.create_definition("entity", contact_entity("bench_many"), actor="bench")
            model = crm.runtime.current()
            rows = contact_rows(args.rows)
            data = xlsx_of(doc, rows)
            print(f"file: {len(data) / 1024 / 1024:.1f} MiB XLSX")
            engine.dispose()  # the children open their own connections

            def baseline():
                crm.records.create_many("bench_many", rows)
                return None

            def importing():
                report = run_import(crm, "bench_import", data, "bench.xlsx", ImportOptions(match=["email"]),
                                    Access.system())
                return {k: report[k] for k in ("created", "updated", "skipped")} | {"refused": len(report["refused"])}

            _, base_s, base_mem = in_child(baseline)
            report, imp_s, imp_mem = in_child(importing)
            assert report == {"created": args.rows, "updated": 0, "skipped": 0, "refused": 0}, report
            assert count(engine, model.entity("bench_import").table) == args.rows
            print(f"create_many (rows converted): {base_s:6.2f} s  {args.rows / base_s:9,.0f} rows/s  peak RSS {base_mem:6.0f} MiB")
            print(f"import (XLSX, match on e-mail): {imp_s:6.2f} s  {args.rows / imp_s:9,.0f} rows/s  peak RSS {imp_mem:6.0f} MiB")
            status = verdict(f"import vs create_many ({backend})", base_s / imp_s, TARGET)
            if status or args.profile:
                prof = Profile(True)
                with crm.engine.begin() as conn:
                    conn.execute(model.entity("bench_import").table.delete())
                with prof:
                    run_import(crm, "bench_import", data, "bench.xlsx", ImportOptions(match=["email"]), Access.system())
                print(prof.report())
            return status
        finally:
            engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
