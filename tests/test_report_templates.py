"""Every report a template ships, computed independently and compared cell by cell (SQLite and
PostgreSQL; as the administrator and as a salesperson who reads only their own records).

The oracle is Python over the records the list API gives the same user (so it sees exactly what
the user may see) and over the stage history read with plain SQL; it shares no code with the
report engine beyond the list endpoint.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
import sqlalchemy as sa

from crm_platform.bundles import importer, templates

Q4 = Decimal("0.0001")


def everything(client, entity, headers) -> list[dict]:
    out, page = [], 1
    while True:
        r = client.get(f"/api/records/{entity}?per_page=500&page={page}", headers=headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        out += body["items"]
        if page >= body["pages"]:
            return out
        page += 1


def history(app, pipeline) -> list:
    with app.extensions["crm"].engine.connect() as conn:
        return conn.execute(sa.text("SELECT record_id, to_stage, moved_at, id FROM crm_stage_history "
                                    "WHERE pipeline = :p ORDER BY record_id, moved_at, id"), {"p": pipeline}).all()


def as_utc(value) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


# ---- the oracle's own reading of a definition ------------------------------------------------------

def period(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if name == "before_today":
        return dt.date(1, 1, 1), today
    if name == "last_2_years":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year + 1, 1, 1)
    if name.startswith("last_") and name.endswith("_days"):
        n = int(name[5:-5])
        return today - dt.timedelta(days=n - 1), today + dt.timedelta(days=1)
    if name == "this_month":
        start = today.replace(day=1)
        return start, (start + dt.timedelta(days=32)).replace(day=1)
    raise AssertionError(f"the oracle does not know period {name}")


def keep(record: dict, filters: dict, today: dt.date) -> bool:
    for key, ops in (filters or {}).items():
        value = record.get(key)
        for op, arg in ops.items():
            if op == "in" and value not in arg:
                return False
            if op == "not_in" and value in arg:
                return False
            if op == "is_not_empty" and value in (None, "", []):
                return False
            if op == "period":
                start, end = period(arg, today)
                if value is None:
                    return False
                if "T" in value:
                    moment = as_utc(value)
                    if not as_utc(dt.datetime.combine(start, dt.time())) <= moment < as_utc(dt.datetime.combine(end, dt.time())):
                        return False
                elif not start.isoformat() <= value < end.isoformat():
                    return False
    return True


def group_value(record: dict, spec: str):
    key, _, rest = spec.partition(":")
    value = record.get(key)
    if value is None:
        return None
    if rest.startswith("bands:"):
        bounds = [Decimal(b) for b in rest[6:].split(",")]
        number = Decimal(str(value))
        if number < bounds[0]:
            return f"<{bounds[0]}"
        for lo, hi in zip(bounds, bounds[1:]):
            if lo <= number < hi:
                return f"{lo}-{hi}"
        return f">={bounds[-1]}"
    if rest in ("month", "quarter", "year"):
        day = dt.date.fromisoformat(value[:10])
        month = {"month": day.month, "quarter": (day.month - 1) // 3 * 3 + 1, "year": 1}[rest]
        return dt.date(day.year, month, 1).isoformat()
    assert not rest, spec
    return value


def measure(records: list[dict], spec: str):
    if spec == "count":
        return len(records)
    op, _, key = spec.partition(":")
    values = [Decimal(str(r[key])) for r in records if r.get(key) is not None]
    assert op == "sum", spec
    return sum(values) if values else None


def grouped(records, definition, today) -> dict:
    chosen = [r for r in records if keep(r, definition.get("filters"), today)]
    groups = defaultdict(list)
    for r in chosen:
        groups[tuple(group_value(r, g) for g in definition.get("group_by", []))].append(r)
    if not definition.get("group_by"):
        groups.setdefault((), [])
    return {k: [measure(rs, m) for m in definition["measures"]] for k, rs in groups.items()}


def reached(rows, stages: list[str]) -> set:
    return {r.record_id for r in rows if r.to_stage in stages}


def conversion(records, definition, pipeline, moves, today) -> dict:
    targets = definition.get("reached") or [s["key"] for s in pipeline["stages"] if s.get("category") == "won"]
    ever = reached(moves, targets)
    out = {}
    groups = defaultdict(list)
    for r in records:
        if keep(r, definition.get("filters"), today):
            groups[(group_value(r, definition["dimension"]),)].append(r)
    for k, rs in groups.items():
        won = sum(1 for r in rs if r[pipeline["field"]] in targets or r["id"] in ever)
        out[k] = [len(rs), won, (Decimal(won) / Decimal(len(rs))).quantize(Decimal(Q4))]
    return out


def effort(records, definition, pipeline, moves, related: list[dict], today) -> dict:
    won_stages = [s["key"] for s in pipeline["stages"] if s.get("category") == "won"]
    first_won = {}
    for m in moves:
        if m.to_stage in won_stages and m.record_id not in first_won:
            first_won[m.record_id] = as_utc(m.moved_at)
    per_record = defaultdict(int)
    for r in related:
        if r.get(definition["related"]["via"]) is not None:
            per_record[r[definition["related"]["via"]]] += 1
    groups = defaultdict(list)
    for r in records:
        if r[pipeline["field"]] in won_stages and keep(r, definition.get("filters"), today):
            groups[(group_value(r, definition["dimension"]),) if definition.get("dimension") else ()].append(r)
    out = {}
    for k, rs in groups.items():
        total = sum(per_record[r["id"]] for r in rs)
        days = [(first_won[r["id"]] - as_utc(r["created_at"])).total_seconds() / 86400 for r in rs if r["id"] in first_won]
        out[k] = [len(rs), total, (Decimal(total) / Decimal(len(rs))).quantize(Decimal("0.01")),
                  (Decimal(str(sum(days))) / Decimal(len(days))).quantize(Decimal("0.01")) if days else None]
    return out


def funnel(records, pipeline, moves, amount_field) -> dict:
    stages = [s for s in pipeline["stages"] if not s.get("archived")]
    keys = [s["key"] for s in stages]
    onward = [s["key"] for s in stages if s.get("category", "open") in ("open", "won")]
    by_record = defaultdict(list)
    for m in moves:
        by_record[m.record_id].append(m.to_stage)
    out = {}
    for i, s in enumerate(stages):
        here = [r for r in records if r[pipeline["field"]] == s["key"]]
        entered = {rid for rid, path in by_record.items() if s["key"] in path}
        went_on = {rid for rid, path in by_record.items()
                   if any(p == s["key"] and any(q in onward and keys.index(q) > i for q in path[n + 1:])
                          for n, p in enumerate(path))}
        later = [k for k in keys[i + 1:] if k in onward]
        passed = {rid for rid, path in by_record.items()
                  if s["key"] in path or (s["key"] in onward and any(q in onward and keys.index(q) > i for q in path))}
        amounts = [Decimal(str(r[amount_field])) for r in here if r.get(amount_field) is not None]
        out[(s["key"],)] = [len(here)] + ([sum(amounts) if amounts else Decimal("0.00")] if amount_field else []) + [
                            len(entered),
                            (Decimal(len(went_on)) / Decimal(len(entered))).quantize(Q4) if later and entered else None,
                            (Decimal(len(passed)) / Decimal(len(by_record))).quantize(Q4) if by_record else None]
    return out


def exact(row) -> list:
    return [v.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) if isinstance(v, Decimal) and v.as_tuple().exponent < -4 else v
            for v in row]


@pytest.mark.parametrize("name", ["b2b", "education", "ecommerce"])
def test_every_template_report_agrees_with_an_independent_computation(app, client, name):
    platform = app.extensions["crm"]
    importer.run(platform, templates.load(name), actor="test", sample_data=True, demo_users=True)
    state = platform.metadata.state()
    reports = [r.doc for r in state.of_kind("report").values()]
    assert len(reports) >= 3
    users = platform.users
    salesperson = users.get_by_name("sales1")
    assert salesperson is not None
    viewers = {"admin": {}, "sales1": {"Authorization": f"Bearer {users.issue_token(salesperson)}"}}
    today = dt.datetime.now(dt.timezone.utc).date()
    checked = 0
    for who, headers in viewers.items():
        for definition in reports:
            r = client.get(f"/api/reports/{definition['key']}/data", headers=headers)
            assert r.status_code == 200, (who, definition["key"], r.get_json())
            body = r.get_json()
            kind = definition.get("type", "grouped")
            pipeline = state.pipelines[definition["pipeline"]].doc if "pipeline" in definition else None
            entity = pipeline["entity"] if pipeline else definition["entity"]
            records = everything(client, entity, headers)
            mine = {x["id"] for x in records}
            moves = [m for m in history(app, pipeline["key"]) if m.record_id in mine] if pipeline else []
            if kind == "grouped":
                n = len(definition.get("group_by", []))
                expected = grouped(records, definition, today)
            elif kind == "conversion":
                n = 1
                expected = conversion(records, definition, pipeline, moves, today)
            elif kind == "effort":
                n = 1 if definition.get("dimension") else 0
                related = everything(client, definition["related"]["entity"], headers)
                expected = effort(records, definition, pipeline, moves, related, today)
            else:
                n = 1
                expected = funnel(records, pipeline, moves, pipeline.get("amount_field"))
                cut = body["columns"].index("avg_days")  # it depends on the clock
                body["rows"] = [row[:cut] for row in body["rows"]]
            if who == "admin":  # the sample data gives every report figures to compare
                assert any(v not in (0, None) for row in body["rows"] for v in row[n:]), definition["key"]
            got = {tuple(row[:n]): exact(row[n:]) for row in body["rows"]}
            assert got == {k: exact(v) for k, v in expected.items()}, (who, definition["key"])
            # each cell's list shows as many records as the cell counts (grouped reports count records)
            if kind == "grouped" and "count" in definition["measures"]:
                at = definition["measures"].index("count") + n
                for row, link in list(zip(body["rows"], body["links"]))[:8]:
                    listed = client.get(f"/api/records/{entity}?{link}&per_page=1&exact_total=1", headers=headers)
                    assert listed.get_json()["total"] == row[at], (who, definition["key"], row)
            checked += 1
    assert checked == 2 * len(reports)
