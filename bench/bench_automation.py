#!/usr/bin/env python
"""What active automation rules cost a write: 10,000 record writes with three rules, against the same
writes with none.

The writes are those of people working (each its own transaction, through ``RecordService``, audited):
half creates of the 20-field benchmark contact, half updates moving a contact to another stage. The
three rules are of the kinds the templates carry, each with a condition, so most writes only pay
for the trigger test and the condition:

- created, score ≥ 90 (about 1 in 10) → the multi-select field ``tags`` gets ``vip`` (a second write);
- created, source = partner (about 1 in 5) → the owner is notified (one row in the write's transaction);
- updated, stage changed to won (about 1 in 5 updates) → a webhook (an outbox row; not sent here).

Each side runs on its own fresh database (the same rows, the same order), alternating, best of
``--repeat``.

    ratio = writes/s with the three rules ÷ writes/s with none        target >= 0.7

Usage: python bench/bench_automation.py [--writes 10000] [--repeat 2] [--database-url URL] [--profile]
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (STAGES, Profile, Timer, add_database_args, bench_database, contact_entity,  # noqa: E402
                    contact_rows, describe_database, make_app, verdict)

TARGET = 0.7
RULES = [
    {"key": "vip_on_score", "label": "VIP on score", "entity": "contact", "trigger": {"on": "created"},
     "conditions": [{"field": "score", "op": "gte", "value": 90}],
     "actions": [{"type": "set_fields", "values": {"tags": ["vip"]}}]},
    {"key": "partner_lead", "label": "Partner lead", "entity": "contact", "trigger": {"on": "created"},
     "conditions": [{"field": "source", "op": "eq", "value": "partner"}],
     "actions": [{"type": "notify", "owner": True, "message": "New partner lead {name}"}]},
    {"key": "won_hook", "label": "Won", "entity": "contact",
     "trigger": {"on": "updated", "fields": ["stage"], "to": "won"},
     "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/won"}]},
]


def run_side(url: str, rows: list[dict], moves: list[tuple[int, str]], rules: bool, prof: Profile) -> tuple[float, int]:
    """(seconds for every write, automation runs logged)."""
    app = make_app(url)
    platform = app.extensions["crm"]
    platform.metadata.create_definition("entity", contact_entity("contact"), actor="bench")
    if rules:
        for rule in RULES:
            platform.metadata.create_definition("automation", rule, actor="bench")
    records = platform.records
    ids = []
    with prof, Timer() as timer:
        for row in rows:
            ids.append(records.create("contact", row, reason="bench")["id"])
        for n, stage in moves:
            records.update("contact", ids[n], {"stage": stage}, reason="bench")
    import sqlalchemy as sa
    from crm_platform.tables import automation_runs
    with platform.engine.connect() as conn:
        logged = conn.execute(sa.select(sa.func.count()).select_from(automation_runs)).scalar_one()
    platform.engine.dispose()
    return timer.seconds, logged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    add_database_args(parser)
    args = parser.parse_args()
    creates = args.writes // 2
    rows = contact_rows(creates)
    for row in rows:
        row.pop("tags", None)  # the rule sets them
    rnd = random.Random(11)
    moves = [(rnd.randrange(creates), rnd.choice(STAGES)) for _ in range(args.writes - creates)]
    best = {True: None, False: None}
    logged = 0
    for attempt in range(args.repeat):
        for rules in (False, True):
            with bench_database(args.database_url) as url:
                if attempt == 0 and not rules:
                    from sqlalchemy import create_engine
                    engine = create_engine(url)
                    print(f"database: {describe_database(engine)}")
                    engine.dispose()
                seconds, n = run_side(url, rows, moves, rules, Profile(args.profile and rules and attempt == 0))
            logged = n if rules else logged
            if best[rules] is None or seconds < best[rules]:
                best[rules] = seconds
    none_rate, rules_rate = args.writes / best[False], args.writes / best[True]
    print(f"{args.writes} writes ({creates} creates, {args.writes - creates} stage updates), best of {args.repeat}")
    print(f"  no rules:     {best[False]:.2f} s  {none_rate:,.0f} writes/s")
    print(f"  three rules:  {best[True]:.2f} s  {rules_rate:,.0f} writes/s  ({logged} runs logged)")
    status = verdict("automation rules", rules_rate / none_rate, TARGET)
    if status or args.profile:
        prof = Profile(True)
        with bench_database(args.database_url) as url:
            run_side(url, rows[:1000], [m for m in moves if m[0] < 1000][:1000], True, prof)
        print(prof.report())
    return status


if __name__ == "__main__":
    sys.exit(main())
