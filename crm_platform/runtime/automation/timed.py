"""Time triggers: rules that fire because time passed, not because someone wrote.

`crm worker` runs ``run_due`` every minute (``jobs/tasks.py``). For each active rule with a time
trigger it selects, in SQL, the records whose occurrence has come and that meet the conditions,
leaves out those already acted on for that occurrence (``crm_automation_fired``), runs the actions
and records the occurrence, all in one transaction per rule: a worker killed half-way acts again
on nothing it had committed.

- ``date``: the record's date field is ``days_before`` days ahead (or was ``days_after`` days ago);
  the occurrence is the date itself, so moving the date fires again. A date up to a day past still
  fires (a worker down at midnight catches up), an older one never.
- ``no_activity``: no related record (``related``: entity and reference field, as in rule tags)
  dated within ``days`` days (``field`` of the related records, default their creation), and the
  record itself older than that; the occurrence is the last activity, so new activity followed by
  another silence fires again.
- ``schedule``: at each tick of the cron expression (in ``timezone``) every record meeting the
  conditions, once per tick; a tick more than an hour past is skipped (a worker down all night does
  not send yesterday's morning digest at noon).
"""
from __future__ import annotations

import datetime as dt
import zoneinfo

import sqlalchemy as sa
from cronsim import CronSim

from ...clock import utcnow
from ...metadata.field_types import REGISTRY
from ...tables import automation_fired
from ..compiled import CompiledEntity, CompiledModel
from .conditions import clause
from .engine import Runner, active_rules, load

TIME_TRIGGERS = ("date", "no_activity", "schedule")
#: How late a date occurrence may still fire.
DATE_GRACE = dt.timedelta(days=1)
#: How late a schedule's tick may still fire.
TICK_GRACE = dt.timedelta(hours=1)
#: Records acted on per rule and run at most (the rest on the next run, a minute later).
LIMIT = 5000


def last_tick(trigger: dict, now: dt.datetime) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(trigger.get("timezone") or "UTC")
    local = now.astimezone(zone).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return next(CronSim(trigger["cron"], local, reverse=True)).astimezone(dt.timezone.utc)


def due(model: CompiledModel, rule: dict, now: dt.datetime) -> sa.Select | None:
    """The statement selecting (id, occurrence) of the records ``rule`` is due to act on at ``now``,
    whether or not it has already acted on them; None when nothing is due (a schedule between ticks)."""
    entity: CompiledEntity = model.entity(rule["entity"])
    t, trigger = entity.table, rule["trigger"]
    where = [t.c.archived_at.is_(None), clause(model, entity, rule.get("conditions") or [], now)]
    on = trigger["on"]
    if on == "date":
        field = entity.field_map[trigger["field"]]
        ftype, col = REGISTRY[field["type"]], t.c[trigger["field"]]
        target = now + dt.timedelta(days=trigger.get("days_before", 0)) - dt.timedelta(days=trigger.get("days_after", 0))
        where += [col.is_not(None), col <= ftype.moment_value(field, target),
                  col >= ftype.moment_value(field, target - DATE_GRACE)]
        return sa.select(t.c.id, col).where(*where)
    if on == "no_activity":
        related = trigger["related"]
        other = model.entity(related["entity"])
        rt = other.table
        col = rt.c[trigger.get("field", "created_at")]
        latest = sa.select(sa.func.max(col)).where(rt.c[related["via"]] == t.c.id, rt.c.archived_at.is_(None)) \
            .scalar_subquery()
        cutoff = now - dt.timedelta(days=trigger["days"])
        if "field" in trigger:
            f = other.field_map[trigger["field"]]
            cutoff_value = REGISTRY[f["type"]].moment_value(f, cutoff)
        else:
            cutoff_value = cutoff
        where += [t.c.created_at < cutoff, sa.or_(latest.is_(None), latest < cutoff_value)]
        return sa.select(t.c.id, sa.func.coalesce(sa.cast(latest, sa.String), "none")).where(*where)
    if on == "schedule":
        tick = last_tick(trigger, now)
        if tick < now - TICK_GRACE:
            return None
        return sa.select(t.c.id, sa.literal(tick.isoformat())).where(*where)
    return None


def _occurrence(value) -> str:
    return (value.isoformat() if hasattr(value, "isoformat") else str(value))[:100]


def pending(conn: sa.Connection, model: CompiledModel, rule: dict, now: dt.datetime, limit: int = LIMIT):
    """(id, occurrence) the rule is due to act on and has not acted on yet."""
    statement = due(model, rule, now)
    if statement is None:
        return []
    f = automation_fired
    rows = conn.execute(statement.order_by(statement.selected_columns[0])).all()
    found = [(r[0], _occurrence(r[1])) for r in rows]
    if not found:
        return []
    done = set()
    ids = [i for i, _ in found]
    for start in range(0, len(ids), 900):
        done.update(conn.execute(sa.select(f.c.record_id, f.c.occurrence).where(
            f.c.automation == rule["key"], f.c.record_id.in_(ids[start:start + 900]))).all())
    return [x for x in found if x not in done][:limit]


def run_due(engine: sa.Engine, runtime, records, now: dt.datetime | None = None) -> str:
    """Act on every record due for a time trigger now; a one-line summary for the periodic job."""
    from ...db import writing
    now = now or utcnow()
    runner = Runner(records)
    summary = []
    with engine.connect() as conn:
        rules = active_rules(runtime.current(conn), on=TIME_TRIGGERS)
    for rule in rules:
        with writing(engine) as conn:
            model = runtime.current(conn)
            todo = pending(conn, model, rule, now)
            if not todo:
                continue
            occurrence = dict(todo)
            sources = load(conn, model.entity(rule["entity"]), [i for i, _ in todo])
            trigger = rule["trigger"]["on"]
            logged = runner.run(conn, model, rule, sources, trigger=trigger, actor_id=None)
            conn.execute(automation_fired.insert(), [
                {"automation": rule["key"], "record_id": s["id"], "occurrence": occurrence[s["id"]], "fired_at": now}
                for s in sources])
            errors = sum(1 for r in logged if r["status"] != "ok")
            summary.append(f"{rule['key']} {len(sources)}" + (f" ({errors} failed)" if errors else ""))
    return "; ".join(summary) or "nothing due"
