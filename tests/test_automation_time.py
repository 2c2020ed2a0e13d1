"""Time-triggered automation rules (date reached, no activity, schedule): each record acted on once per
occurrence, however often the worker runs; and through `crm worker --once` (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from click.testing import CliRunner

from crm_platform.cli import main
from crm_platform.clock import utcnow
from crm_platform.runtime.automation import timed
from crm_platform.tables import automation_runs, notifications

from test_automation import add_rule, crm  # noqa: F401 - the fixture


def run(platform, now=None):
    return timed.run_due(platform.engine, platform.runtime, platform.records, now or utcnow())


def run_count(platform, key):
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(automation_runs)
                            .where(automation_runs.c.automation == key)).scalar_one()


def test_a_date_trigger_fires_once_per_date(crm, platform):  # noqa: F811
    add_rule(crm, {"key": "due_soon", "label": "Due soon", "entity": "task",
                   "trigger": {"on": "date", "field": "due_on", "days_before": 1},
                   "actions": [{"type": "notify", "owner": True, "message": "{title} is due {due_on}"}]})
    today = dt.date.today()
    later = crm.post("/api/records/task", json={"title": "Later", "due_on": str(today + dt.timedelta(days=5))}).get_json()
    soon = crm.post("/api/records/task", json={"title": "Soon", "due_on": str(today + dt.timedelta(days=1))}).get_json()
    assert run(platform) == "due_soon 1"
    assert run(platform) == "nothing due"
    with platform.engine.connect() as conn:
        [(title, record)] = conn.execute(sa.select(notifications.c.title, notifications.c.record_id)).all()
    assert record == soon["id"] and title.startswith("Soon is due")
    # The date moves: a new occurrence; the later task comes due as days pass.
    crm.patch(f"/api/records/task/{soon['id']}", json={"due_on": str(today)})
    assert run(platform) == "due_soon 1"
    assert run(platform, utcnow() + dt.timedelta(days=4)) == "due_soon 1"
    assert run_count(platform, "due_soon") == 3 and later


def test_no_activity_creates_a_task_once_per_silence(crm, platform):  # noqa: F811
    add_rule(crm, {"key": "dormant", "label": "Dormant", "entity": "customer",
                   "trigger": {"on": "no_activity", "related": {"entity": "task", "via": "customer"}, "days": 90},
                   "actions": [{"type": "create_record", "entity": "task", "values": {"title": "Call {name}"},
                                "link_field": "customer", "assign_to_owner": True}]})
    quiet = crm.post("/api/records/customer", json={"name": "Quiet"}).get_json()
    busy = crm.post("/api/records/customer", json={"name": "Busy"}).get_json()
    assert run(platform) == "nothing due"  # both are new
    table = platform.runtime.current().entities["customer"].table
    with platform.engine.begin() as conn:
        conn.execute(table.update().values(created_at=utcnow() - dt.timedelta(days=200)))
    crm.post("/api/records/task", json={"title": "Visit", "customer": busy["id"]})
    assert run(platform) == "dormant 1"
    assert run(platform) == "nothing due"
    tasks = crm.get("/api/records/task?per_page=50").get_json()["items"]
    assert [(t["title"], t["customer"]) for t in tasks if t["title"].startswith("Call")] == [("Call Quiet", quiet["id"])]
    # The task it created is activity: 91 days later the customer is silent again and a new task comes.
    assert run(platform, utcnow() + dt.timedelta(days=91)) == "dormant 2"


def test_a_schedule_acts_on_matching_records_once_per_tick(crm, platform):  # noqa: F811
    add_rule(crm, {"key": "digest", "label": "Digest", "entity": "customer",
                   "trigger": {"on": "schedule", "cron": "0 8 * * *", "timezone": "Asia/Shanghai"},
                   "conditions": [{"field": "level", "op": "eq", "value": "vip"}],
                   "actions": [{"type": "add_tags", "field": "flags", "tags": ["watch"]}]})
    vip = crm.post("/api/records/customer", json={"name": "V", "level": "vip"}).get_json()
    crm.post("/api/records/customer", json={"name": "N", "level": "normal"})
    eight = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.timezone.utc)  # 08:00 in Shanghai
    assert run(platform, eight - dt.timedelta(minutes=1)) == "nothing due"  # yesterday's tick is long past
    assert run(platform, eight + dt.timedelta(minutes=5)) == "digest 1"
    assert run(platform, eight + dt.timedelta(minutes=6)) == "nothing due"
    assert run(platform, eight + dt.timedelta(days=1, minutes=1)) == "digest 1"
    assert crm.get(f"/api/records/customer/{vip['id']}").get_json()["flags"] == ["watch"]


def test_crm_worker_once_runs_the_time_rules(crm, platform, database_url, monkeypatch, tmp_path):  # noqa: F811
    add_rule(crm, {"key": "every_minute", "label": "Every minute", "entity": "customer",
                   "trigger": {"on": "schedule", "cron": "* * * * *"},
                   "actions": [{"type": "add_tags", "field": "flags", "tags": ["watch"]}]})
    c = crm.post("/api/records/customer", json={"name": "C"}).get_json()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.sqlite'}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "run_time_automations" in result.output
    assert crm.get(f"/api/records/customer/{c['id']}").get_json()["flags"] == ["watch"]
