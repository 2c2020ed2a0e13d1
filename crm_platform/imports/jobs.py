"""Imports in the background, with their progress in the database.

A request that uploads a large file (or the import page, always) stores the file under the instance
folder, writes a ``crm_import_job`` row and starts ``run_job(platform, job_id)`` on a thread of the
worker that took the upload; that function is all a job queue will need to call. The runner writes
its progress into the row in the transaction of every batch it commits, so any gunicorn worker
answers a poll from the row alone, and a job whose process was killed (its row ``running``, its
heartbeat older than ``STRANDED_AFTER``) is taken over by the next poll or ``crm worker``'s periodic
job and goes on after exactly the rows already committed, with the report of those rows. A job is ``draft`` (uploaded on the page, not started), ``queued``, ``running``,
``done`` or ``failed``; its ``report`` is the synchronous API's answer (or the errors of a file
refused as a whole, with their status).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import uuid

import sqlalchemy as sa

from ..clock import utcnow
from ..db import writing
from ..errors import CrmError, NotFound, error
from ..runtime.access import Access
from ..tables import import_jobs
from .runner import ImportOptions, run_import

log = logging.getLogger(__name__)


def store_file(folder: str, data: bytes) -> str:
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, f"{uuid.uuid4().hex}.upload")
    with open(path, "wb") as out:
        out.write(data)
    return path


def create(platform, entity: str, filename: str, options: ImportOptions, user_id: int | None, path: str,
           status: str = "queued") -> int:
    with platform.engine.begin() as conn:
        return conn.execute(import_jobs.insert().values(
            entity=entity, user_id=user_id, filename=filename[:255], options=json.dumps(dataclasses.asdict(options)),
            path=path, status=status, processed=0, created_at=utcnow()).returning(import_jobs.c.id)).scalar_one()


def get(platform, job_id: int, access: Access, entity: str | None = None):
    """The job row, if ``access`` started it (administrators see every job); 404 otherwise."""
    with platform.engine.connect() as conn:
        row = conn.execute(sa.select(import_jobs).where(import_jobs.c.id == job_id)).first()
    if row is None or (entity is not None and row.entity != entity) or (
            row.user_id != access.user_id and not access.is_admin()):
        raise NotFound([error(None, "not_found", f"no import {job_id}")])
    if is_stranded(row):  # its process died: this one goes on with it (one process claims it)
        start(platform, job_id)
    return row


def options_of(row) -> ImportOptions:
    return ImportOptions(**json.loads(row.options))


def set_options(platform, job_id: int, options: ImportOptions, status: str | None = None) -> None:
    values = {"options": json.dumps(dataclasses.asdict(options))}
    if status:
        values["status"] = status
    with platform.engine.begin() as conn:
        conn.execute(import_jobs.update().where(import_jobs.c.id == job_id).values(values))


def _update(platform, job_id: int, **values) -> None:
    with platform.engine.begin() as conn:
        conn.execute(import_jobs.update().where(import_jobs.c.id == job_id).values(values))


#: A running job whose last committed batch is older than this was left by a process that died (a
#: batch of ``BATCH_ROWS`` rows takes seconds): another process takes it over and goes on from there.
STRANDED_AFTER = dt.timedelta(minutes=5)


def _stranded(now: dt.datetime):
    return sa.and_(import_jobs.c.status == "running",
                   sa.or_(import_jobs.c.heartbeat_at.is_(None), import_jobs.c.heartbeat_at < now - STRANDED_AFTER))


def _claim(platform, job_id: int):
    """The job's row if this process now runs it: a queued one, or a running one whose process died."""
    now = utcnow()
    with writing(platform.engine) as conn:
        won = conn.execute(import_jobs.update().where(
            import_jobs.c.id == job_id, sa.or_(import_jobs.c.status.in_(("queued", "draft")), _stranded(now)))
            .values(status="running", heartbeat_at=now)).rowcount
        return conn.execute(sa.select(import_jobs).where(import_jobs.c.id == job_id)).first() if won else None


def run_job(platform, job_id: int) -> None:
    """Run a queued import to its end and record the outcome; or go on with one whose process died,
    after the rows its committed batches hold. Safe to call from a thread or a queue, and from several
    processes at once: one claims the job, the others return."""
    row = _claim(platform, job_id)
    if row is None:
        return
    resume = (row.processed, json.loads(row.partial)) if row.partial else None
    if resume is not None:
        log.warning("import %s: resuming after row %s, left by a process that stopped", job_id, row.processed)
    user = platform.users.get(row.user_id) if row.user_id is not None else None
    access = Access.for_user(user, platform.runtime) if user is not None else Access.system()
    sqlite = platform.engine.dialect.name == "sqlite"

    def checkpoint(conn, done: int, total: int, report: dict) -> None:
        # In the batch's own transaction: the job's progress is exactly what is committed.
        conn.execute(import_jobs.update().where(import_jobs.c.id == job_id).values(
            processed=done, total=total, heartbeat_at=utcnow(), partial=json.dumps(report, ensure_ascii=False)))

    def progress(done: int, total: int, committed: bool) -> None:
        # All or nothing (one transaction): shown from another connection while it runs, except on
        # SQLite, whose write lock the import holds, so such an import reports only at the end.
        if not committed and not sqlite:
            _update(platform, job_id, processed=done, total=total)

    try:
        with open(row.path, "rb") as source:
            data = source.read()
        report = run_import(platform, row.entity, data, row.filename, options_of(row), access, progress,
                            keep_rows=True, checkpoint=checkpoint, resume=resume)
        _update(platform, job_id, status="done", processed=report["total"], total=report["total"], partial=None,
                report=json.dumps(report, ensure_ascii=False, default=str), finished_at=utcnow())
    except CrmError as exc:
        _update(platform, job_id, status="failed", report=json.dumps({**exc.body(), "status_code": exc.status},
                                                                    ensure_ascii=False), finished_at=utcnow())
    except Exception:  # noqa: BLE001 - recorded for the poller; the traceback goes to the log
        log.exception("import %s failed", job_id)
        body = {"errors": [error(None, "internal", "the import stopped on an error on our side; rows of batches "
                                                   "already committed stay imported")], "status_code": 500}
        _update(platform, job_id, status="failed", report=json.dumps(body), finished_at=utcnow())
    # The file is removed only once the job has ended: a process killed before this line leaves it for
    # the process that takes the job over.
    try:
        os.remove(row.path)
    except OSError:
        pass
    _update(platform, job_id, path=None)


def resume_stranded(platform, now: dt.datetime | None = None) -> str:
    """Go on with every import whose process died (``crm worker``'s periodic job; a poll does the same)."""
    with platform.engine.connect() as conn:
        ids = list(conn.execute(sa.select(import_jobs.c.id).where(_stranded(now or utcnow()))
                                .order_by(import_jobs.c.id)).scalars())
    for job_id in ids:
        run_job(platform, job_id)
    return f"{len(ids)} resumed" if ids else "none stranded"


def is_stranded(row) -> bool:
    return row.status == "running" and (row.heartbeat_at is None or row.heartbeat_at < utcnow() - STRANDED_AFTER)


def start(platform, job_id: int) -> None:
    """Run the job on a thread of this worker (a job queue will take this place)."""
    threading.Thread(target=run_job, args=(platform, job_id), name=f"import-{job_id}", daemon=True).start()


def status(row) -> tuple[dict, int]:
    """What a poll answers: progress while it runs (202), then the report (200) or the refusal."""
    if row.status in ("done", "failed"):
        body = json.loads(row.report or "{}")
        code = body.pop("status_code", 200)
        body.pop("kept", None)  # the refused rows' cells, for the page's error sheet
        return {**body, "id": row.id, "status": row.status, "processed": row.processed, "total": row.total}, code
    return {"id": row.id, "status": row.status, "processed": row.processed, "total": row.total}, 202
