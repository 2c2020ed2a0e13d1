#!/usr/bin/env python
"""Rendering screens: the generated list page and record form vs hand-written Flask + Jinja pages.

The table is the 20-field entity of bench_create_records with 100,000 records. Both sides answer
through Flask's test client with complete HTML pages:

* list: ``GET /app/<entity>?page=N`` — 50 rows, six columns (choices shown by label), the total
  (counted exactly up to 10,000, as the platform does), pages chosen at random among the first 20.
  The generated side runs the whole path: sign-in check, revision check, rights, list parsing,
  RecordService.list, marshmallow dump, labels, WTForms-free filter controls, Jinja. The
  hand-written side is a separate minimal Flask app: one Core SELECT of the six columns, the same
  capped count, and a Jinja template of the same table.
* form: ``GET /app/<entity>/new`` — the 20 fields as form controls with labels, choices and the
  CSRF token (generated: form definition → WTForms via the field-type registry → Jinja), vs a
  hand-written Jinja template of the same 20 controls.

    ratio = hand-written time / generated time   (generated throughput relative to the baseline)

No target is enforced: the ratio is recorded (the issue asks for it in its closing note).

Usage: python bench/bench_list_page.py [--rows 100000] [--requests 300] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import gc
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402

from common import (Profile, Timer, add_database_args, bench_database, contact_entity, contact_rows,  # noqa: E402
                    describe_database, make_app)
from crm_platform.auth.web import SESSION_GENERATION  # noqa: E402
from crm_platform.db import create_engine  # noqa: E402
from crm_platform.runtime.table_builder import build_table  # noqa: E402

ENTITY = "contact"
PER_PAGE = 50
COUNT_LIMIT = 10_000
PAGES = 20

LIST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Contacts</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>Contacts</h1><form method="get"><input type="search" name="q" value="{{ q }}"><button>Search</button></form>
<p>{{ total }} records</p><table><thead><tr>{% for c in columns %}<th><a href="?sort={{ c.key }}">{{ c.label }}</a></th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}<tr>{% for c in columns %}<td data-label="{{ c.label }}">{% if loop.first %}<a href="/app/contact/{{ row.id }}">{{ row[c.key] }}</a>{% else %}{{ labels.get(c.key, {}).get(row[c.key], row[c.key]) if row[c.key] is not none else '' }}{% endif %}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
<nav>{% if page > 1 %}<a href="?page={{ page - 1 }}">Previous</a>{% endif %} Page {{ page }} of {{ pages }} <a href="?page={{ page + 1 }}">Next</a></nav>
</main></body></html>"""

FORM_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>New contact</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>New: Contact</h1><form method="post"><input type="hidden" name="csrf_token" value="{{ token }}">
{% for f in fields %}<div class="field"><label for="f-{{ f.key }}">{{ f.label }}{% if f.required %} *{% endif %}</label>
{% if f.type in ('select', 'boolean') %}<select id="f-{{ f.key }}" name="f-{{ f.key }}"><option value="">— choose —</option>{% for c in f.choices %}<option value="{{ c.key }}">{{ c.label }}</option>{% endfor %}</select>
{% elif f.type == 'multi_select' %}<ul>{% for c in f.choices %}<li><label><input type="checkbox" name="f-{{ f.key }}" value="{{ c.key }}"> {{ c.label }}</label></li>{% endfor %}</ul>
{% elif f.type == 'long_text' %}<textarea id="f-{{ f.key }}" name="f-{{ f.key }}" rows="4"></textarea>
{% else %}<input id="f-{{ f.key }}" name="f-{{ f.key }}" type="{{ inputs.get(f.type, 'text') }}" value="">{% endif %}
<p class="error" id="error-{{ f.key }}"></p></div>{% endfor %}<button type="submit">Save</button></form></main></body></html>"""
INPUTS = {"integer": "number", "decimal": "text", "email": "email", "phone": "tel", "url": "url", "date": "date",
          "datetime": "datetime-local"}


def handwritten_app(url: str, doc: dict, columns: list[str]) -> tuple[Flask, sa.Engine]:
    """What a developer would write by hand for this one table and its screens."""
    app = Flask("handwritten")
    engine = create_engine(url)
    table = build_table(doc, sa.MetaData())
    fields = {f["key"]: f for f in doc["fields"]}
    cols = [{"key": k, "label": fields[k]["label"]} for k in columns]
    labels = {k: {c["key"]: c["label"] for c in f.get("choices", [])} for k, f in fields.items()}
    live = table.c.archived_at.is_(None)
    rows_q = (sa.select(table.c.id, *[table.c[k] for k in columns]).where(live).order_by(table.c.id.desc())
              .limit(PER_PAGE).offset(sa.bindparam("offset")))
    count_q = sa.select(sa.func.count()).select_from(sa.select(table.c.id).where(live).limit(COUNT_LIMIT + 1).subquery())
    list_template, form_template = app.jinja_env.from_string(LIST_PAGE), app.jinja_env.from_string(FORM_PAGE)
    form_fields = [{**f, "choices": f.get("choices") or ([{"key": "true", "label": "Yes"}, {"key": "false", "label": "No"}]
                                                          if f["type"] == "boolean" else [])} for f in doc["fields"]]

    @app.get("/app/<entity>")
    def list_page(entity):
        from flask import request
        page = int(request.args.get("page", 1))
        with engine.connect() as conn:
            total = conn.execute(count_q).scalar_one()
            rows = [r._mapping for r in conn.execute(rows_q, {"offset": (page - 1) * PER_PAGE})]
        return list_template.render(columns=cols, rows=rows, labels=labels, total=total, page=page,
                                      pages=-(-total // PER_PAGE), q="")

    @app.get("/app/<entity>/new")
    def new_page(entity):
        return form_template.render(fields=form_fields, inputs=INPUTS, token="x" * 40)

    return app, engine


def run(client, paths: list[str], needle: bytes) -> float:
    get = client.get
    with Timer() as t:
        for path in paths:
            response = get(path)
            if response.status_code != 200 or needle not in response.data:
                raise AssertionError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return t.seconds


def compare(name: str, gen_client, base_client, paths: list[str], needle: bytes, rounds: int, profile: bool) -> float:
    run(gen_client, paths[:20], needle)
    run(base_client, paths[:20], needle)
    gen_time = base_time = 0.0
    size = -(-len(paths) // rounds)
    for n, start in enumerate(range(0, len(paths), size)):
        chunk = paths[start:start + size]
        order = [(base_client, "b"), (gen_client, "g")] if n % 2 == 0 else [(gen_client, "g"), (base_client, "b")]
        for client, side in order:
            seconds = run(client, chunk, needle)
            if side == "g":
                gen_time += seconds
            else:
                base_time += seconds
    n = len(paths)
    ratio = base_time / gen_time
    print(f"{name}: generated {gen_time / n * 1e3:.2f} ms/page ({n / gen_time:,.0f} pages/s); "
          f"hand-written {base_time / n * 1e3:.2f} ms/page ({n / base_time:,.0f} pages/s); "
          f"hand-written time / generated time = {ratio:.3f}")
    if profile:
        prof = Profile(True)
        with prof:
            run(gen_client, paths[:min(len(paths), 200)], needle)
        print(f"\nProfile of the generated {name} (separate pass):\n" + prof.report())
    return ratio


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_args(parser)
    parser.add_argument("--rows", type=int, default=100_000, help="records in the table (default 100,000)")
    parser.add_argument("--requests", type=int, default=300, help="pages per side and screen (default 300)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    args = parser.parse_args(argv)

    with bench_database(args.database_url) as url:
        app = make_app(url)
        crm = app.extensions["crm"]
        doc = contact_entity(ENTITY)
        crm.metadata.create_definition("entity", doc, actor="bench")
        crm.records.create_many(ENTITY, contact_rows(args.rows))
        if crm.engine.dialect.name == "sqlite":
            # The load sits in the write-ahead log until a checkpoint moves it into the file; a reader
            # then looks up every page it reads in the log's index. Both sides read the file.
            with crm.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        if crm.engine.dialect.name == "postgresql":
            # Statistics as autovacuum would soon gather them; without them the planner guesses
            # a few dozen rows and sorts the whole table for every page, on both sides.
            with crm.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        from crm_platform.web.screens import DEFAULT_COLUMNS
        columns = [f["key"] for f in doc["fields"] if f["type"] != "long_text"][:DEFAULT_COLUMNS]
        base_app, base_engine = handwritten_app(url, crm.runtime.current().entity(ENTITY).doc, columns)
        try:
            print(f"database: {describe_database(crm.engine)}; records: {args.rows:,}; pages per side: "
                  f"{args.requests:,} in {args.rounds} alternating rounds")
            gen_client, base_client = app.test_client(), base_app.test_client()
            # What loading left on the heap (100,000 records' worth) would be walked by every full
            # garbage collection during the measurement, on both sides, by chance: set it aside.
            gc.collect()
            gc.freeze()
            user = crm.users.get_by_name("bench")
            with gen_client.session_transaction() as session:  # a signed-in person, as in a browser
                session["_user_id"] = str(user.id)
                session["_fresh"] = True
                session[SESSION_GENERATION] = user.session_generation
            gen_client.environ_base.pop("HTTP_AUTHORIZATION", None)
            rnd = random.Random(5)
            list_paths = [f"/app/{ENTITY}?per_page={PER_PAGE}&page={rnd.randrange(1, PAGES + 1)}" for _ in range(args.requests)]
            # Same page content: the same 50 ids on both sides.
            import re
            a, b = gen_client.get(list_paths[0]).get_data(as_text=True), base_client.get(list_paths[0]).get_data(as_text=True)
            ids = re.findall(r'href="/app/contact/(\d+)"', a)
            assert len(ids) == PER_PAGE and ids == re.findall(r'href="/app/contact/(\d+)"', b), (ids[:5], b[:500])
            ratio_list = compare(f"list page ({PER_PAGE} of {args.rows:,} rows)", gen_client, base_client, list_paths, b"</table>",
                                 args.rounds, args.profile)
            form_paths = [f"/app/{ENTITY}/new"] * args.requests
            ratio_form = compare("record form (20 fields)", gen_client, base_client, form_paths, b"</form>",
                                 args.rounds, args.profile)
            print(f"ratios (hand-written time / generated time): list {ratio_list:.3f}, form {ratio_form:.3f}")
            return 0
        finally:
            base_engine.dispose()
            crm.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
