"""Reminders and the bell: the owner of a task due today is told once, in their language, and reads it.

The worker runs for real (`crm worker --once`); the notifications are read through the API as the
salesperson who owns the tasks, with her own token.
"""
import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crm_platform.cli import main
from crm_platform.clock import utcnow
from crm_platform.tables import periodic_jobs

TASK = {
    "key": "task", "label": {"en": "Task", "zh": "任务"}, "title_field": "content",
    "fields": [
        {"key": "content", "type": "text", "label": {"en": "Task", "zh": "任务内容"}, "required": True},
        {"key": "due_on", "type": "date", "label": {"en": "Due", "zh": "截止日期"}},
        {"key": "status", "type": "select", "label": "Status",
         "choices": [{"key": "open", "label": "Open"}, {"key": "done", "label": "Done"}]},
    ],
    "reminders": [{"field": "due_on", "days_before": 1, "exclude": {"field": "status", "values": ["done"]}}],
}


@pytest.fixture
def mei(client, platform):
    r = client.post("/api/meta/entities", json=TASK)
    assert r.status_code == 201, r.get_json()
    user = platform.users.create("mei", "mei-password-1")
    return user.id, platform.users.issue_token(user)


def worker_once(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_QUEUE_URL", f"sqlite:///{tmp_path / 'queue.sqlite'}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output


def days(n: int) -> str:
    return str(dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=n))


def bell(client, token, lang="zh", query=""):
    r = client.get(f"/api/notifications{query}", headers={"Authorization": f"Bearer {token}", "Accept-Language": lang})
    assert r.status_code == 200
    return r.get_json()


def test_owners_are_reminded_once_of_what_is_due(client, platform, mei, database_url, monkeypatch, tmp_path):
    mei_id, token = mei
    tasks = {}
    for name, due, status, owner in [("call 星河科技", days(0), "open", mei_id), ("send the quote", days(1), "open", mei_id),
                                     ("later", days(3), "open", mei_id), ("finished", days(0), "done", mei_id),
                                     ("long overdue", days(-3), "open", mei_id), ("nobody's", days(0), "open", None)]:
        r = client.post("/api/records/task", json={"content": name, "due_on": due, "status": status, "owner_id": owner})
        assert r.status_code == 201, r.get_json()
        tasks[name] = r.get_json()["id"]

    worker_once(database_url, monkeypatch, tmp_path)
    answer = bell(client, token)
    assert answer["unread"] == 2 and answer["total"] == 2
    by_record = {item["record_id"]: item for item in answer["items"]}
    assert set(by_record) == {tasks["call 星河科技"], tasks["send the quote"]}
    today = by_record[tasks["call 星河科技"]]
    assert today["title"] == f"任务「call 星河科技」：截止日期 {days(0)}"
    assert today["link"] == f"/app/task/{tasks['call 星河科技']}" and today["kind"] == "reminder" and not today["read"]
    assert bell(client, token, "en")["items"][-1]["title"].startswith("Task “")
    # The admin, who owns none of them, is told nothing.
    assert client.get("/api/notifications").get_json()["total"] == 0

    # The next run reminds of nothing new; a task whose date moves is reminded again.
    with platform.engine.begin() as conn:
        conn.execute(periodic_jobs.update().values(last_run_at=utcnow() - dt.timedelta(days=1)))
    worker_once(database_url, monkeypatch, tmp_path)
    assert bell(client, token)["total"] == 2
    assert client.patch(f"/api/records/task/{tasks['call 星河科技']}", json={"due_on": days(1)}).status_code == 200
    with platform.engine.begin() as conn:
        conn.execute(periodic_jobs.update().values(last_run_at=utcnow() - dt.timedelta(days=1)))
    worker_once(database_url, monkeypatch, tmp_path)
    assert bell(client, token)["total"] == 3


def test_reading_notifications(client, platform, mei):
    mei_id, token = mei
    from crm_platform import notifications
    with platform.engine.begin() as conn:
        for n in range(3):
            notifications.notify(conn, [mei_id], "reminder", {"en": f"n{n}", "zh": f"提醒{n}"}, entity="task", record_id=n + 1)
        notifications.notify(conn, [1], "reminder", "for the admin")
    mine = bell(client, token)
    assert [i["title"] for i in mine["items"]] == ["提醒2", "提醒1", "提醒0"] and mine["unread"] == 3
    auth = {"Authorization": f"Bearer {token}"}
    first = mine["items"][0]["id"]
    r = client.post(f"/api/notifications/{first}/read", headers=auth)
    assert r.status_code == 200 and r.get_json() == {"id": first, "read": True, "unread": 2}
    assert [i["id"] for i in bell(client, token, query="?unread=1")["items"]] == [i["id"] for i in mine["items"][1:]]
    admins = client.get("/api/notifications").get_json()["items"][0]["id"]
    assert client.post(f"/api/notifications/{admins}/read", headers=auth).status_code == 404  # not hers
    assert client.post("/api/notifications/999999/read", headers=auth).status_code == 404
    assert client.post("/api/notifications/read-all", headers=auth).get_json() == {"marked": 2, "unread": 0}
    assert client.get("/api/notifications?unread=maybe", headers=auth).status_code == 400
    assert client.get("/api/notifications").get_json()["unread"] == 1  # the admin's own is still unread


@pytest.mark.parametrize("reminders, where", [
    ([{"field": "content"}], "reminders.0.field"),
    ([{"field": "nope"}], "reminders.0.field"),
    ([{"field": "due_on", "exclude": {"field": "status", "values": ["finished"]}}], "reminders.0.exclude.values.0"),
    ([{"field": "due_on", "exclude": {"field": "nope", "values": ["done"]}}], "reminders.0.exclude.field"),
    ([{"field": "due_on", "days_before": -1}], "reminders.0.days_before"),
])
def test_a_reminder_must_name_a_date_of_the_entity(client, reminders, where):
    r = client.post("/api/meta/entities", json={**TASK, "reminders": reminders})
    assert r.status_code == 422
    assert where in [e["field"] for e in r.get_json()["errors"]], r.get_json()


def test_a_reminder_follows_its_field_when_renamed(client, mei):
    assert client.post("/api/meta/entities/task/fields/due_on/rename", json={"new_key": "deadline"}).status_code == 200
    assert client.get("/api/meta/entities/task").get_json()["reminders"][0]["field"] == "deadline"


def test_the_bell_on_pages_counts_at_once_what_this_process_writes(client, platform, mei, monkeypatch):
    """The page's bell is remembered briefly (``notifications.BELL_SECONDS``) so that every page does
    not count; what this process writes or marks read shows on the next page all the same."""
    import re

    from crm_platform import notifications
    from test_screens import Pages

    mei_id, _ = mei
    pages = Pages(client.application, "mei")

    def badge():
        r = pages.get("/app/_notifications")
        assert r.status_code == 200
        found = re.search(r'<span class="badge">(\d+)</span></a>', r.get_data(as_text=True))
        return int(found.group(1)) if found else 0

    assert badge() == 0
    with platform.engine.begin() as conn:
        notifications.notify(conn, [mei_id], "reminder", "提醒")
    assert badge() == 1
    # Written by another process (no notify here): seen once the remembered count expires.
    with platform.engine.begin() as conn:
        conn.execute(sa.insert(notifications.notifications).values(
            user_id=mei_id, kind="reminder", title="其他进程", created_at=utcnow()))
    assert badge() == 1
    monkeypatch.setattr(notifications, "BELL_SECONDS", 0)
    assert badge() == 2
    monkeypatch.setattr(notifications, "BELL_SECONDS", 3600)
    assert badge() == 2
    with platform.engine.begin() as conn:
        notifications.mark_read(conn, mei_id)
    assert badge() == 0
