"""The jobs `crm worker` runs, bound to one platform (engine, compiled model) and one queue."""
from __future__ import annotations

import datetime as dt
import logging

from huey import Huey, crontab

from .. import outbox
from ..clock import utcnow
from . import delivery, periodic, reminders
from .periodic import Periodic

log = logging.getLogger("crm.jobs")


def refresh_time_relative_tags(platform, now: dt.datetime) -> str:
    """Rule tags such as "no contact for 90 days" become true by time passing alone: re-evaluate them."""
    from ..runtime import tag_rules
    with platform.engine.connect().execution_options(sqlite_immediate=True) as conn:
        with conn.begin():
            model = platform.runtime.current(conn)
            report = tag_rules.refresh_time_relative(conn, model, now)
    changed = {tag: c for tag, c in sorted(report.items()) if c["gained"] or c["lost"]}
    return "; ".join(f"{tag} +{c['gained']} -{c['lost']}" for tag, c in changed.items()) or "no change"


def run_time_automations(platform, now: dt.datetime) -> str:
    """Automation rules triggered by time: a date reached, no activity for N days, a schedule's tick."""
    from ..runtime.automation import timed
    return timed.run_due(platform.engine, platform.runtime, platform.records, now)


def index_search(platform, now: dt.datetime) -> str:
    """Records written by batches too large to index in their own transaction (runtime/search.py)."""
    from ..runtime import search
    done = search.drain(platform.engine, platform.runtime)
    return f"{done} records indexed for search" if done else "nothing pending"


def resume_imports(platform, now: dt.datetime) -> str:
    """Imports whose process was killed go on where their last committed batch ended."""
    from ..imports import jobs as import_jobs
    return import_jobs.resume_stranded(platform, now)


PERIODIC = [
    Periodic("refresh_time_relative_tags", dt.timedelta(days=1), refresh_time_relative_tags),
    Periodic("send_reminders", dt.timedelta(minutes=10), reminders.send_reminders),
    Periodic("run_time_automations", dt.timedelta(minutes=1), run_time_automations),
    Periodic("resume_imports", dt.timedelta(minutes=5), resume_imports),
    Periodic("index_search", dt.timedelta(minutes=1), index_search),
]


class Jobs:
    """The queue with the platform's tasks registered on it (the same in web processes and workers)."""

    def __init__(self, platform, queue: Huey, periodic_jobs: list[Periodic] | None = None):
        self.platform = platform
        self.queue = queue
        self.periodic = list(PERIODIC if periodic_jobs is None else periodic_jobs)
        by_name = {job.name: job for job in self.periodic}

        @queue.task(retries=3, retry_delay=60, name="crm.run_periodic")
        def run_periodic(name: str, at: str):
            job = by_name[name]
            result = job.run(platform, dt.datetime.fromisoformat(at))
            periodic.record_result(platform.engine, name, result)
            log.info("periodic job %s: %s", name, result)
            with platform.engine.connect() as conn:
                if outbox.due_count(conn, utcnow()):
                    deliver_outbox()  # what the job asked to send (an automation's e-mails) goes in this run too
            return result

        @queue.task(name="crm.deliver_outbox")
        def deliver_outbox():
            counts = delivery.deliver_due(platform.engine)
            if any(counts.values()):
                log.info("outbox: %(sent)s sent, %(retrying)s to retry, %(failed)s failed", counts)
            return counts

        @queue.periodic_task(crontab(minute="*"), name="crm.enqueue_due")
        def enqueue_due():
            self.enqueue_due()

        self._run_periodic = run_periodic
        self.deliver_outbox = deliver_outbox

    def enqueue_due(self, at: dt.datetime | None = None) -> list[str]:
        """Put on the queue the periodic jobs now due (claimed) and, if any delivery is due, the outbox's
        delivery; the names of the periodic jobs."""
        at = at or utcnow()
        claimed = periodic.claim_due(self.platform.engine, self.periodic, at)
        for job in claimed:
            self._run_periodic(job.name, at.isoformat())
        with self.platform.engine.connect() as conn:
            if outbox.due_count(conn, at):
                self.deliver_outbox()  # deliveries written while no worker ran, or due for a retry
        return [job.name for job in claimed]

    def run_pending(self) -> int:
        """Run every job on the queue now (scheduled retries whose time has come included); how many ran."""
        ran = 0
        while True:
            for task in self.queue.read_schedule(utcnow().replace(tzinfo=None)):
                self.queue.enqueue(task)
            task = self.queue.dequeue()
            if task is None:
                return ran
            self.queue.execute(task)
            ran += 1
