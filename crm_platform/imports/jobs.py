"""Imports in the background, with their progress in the database.

A request that uploads a large file (or the import page, always) stores the file under the instance
folder, writes a ``crm_import_job`` row and starts ``run_job(platform, job_id)`` on a thread of the
worker that took the upload; that function is all a job queue will need to call. The runner writes
its progress into the row after every committed batch, so any gunicorn worker answers a poll from
the row alone. A job is ``draft`` (uploaded on the page, not started), ``queued``, ``running``,
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

from ..errors import CrmError, NotFound, error
from ..runtime.access import Access
from ..tables import import_jobs
from .runner import ImportOptions, run_import

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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


def run_job(platform, job_id: int) -> None:
    """Run a queued import to its end and record the outcome. Safe to call from a thread or a queue."""
    with platform.engine.connect() as conn:
        row = conn.execute(sa.select(import_jobs).where(import_jobs.c.id == job_id)).first()
    if row is None or row.status not in ("queued", "draft"):
        return
    user = platform.users.get(row.user_id) if row.user_id is not None else None
    access = Access.for_user(user, platform.runtime) if user is not None else Access.system()
    _update(platform, job_id, status="running")
    sqlite = platform.engine.dialect.name == "sqlite"

    def progress(done: int, total: int, committed: bool) -> None:
        # Inside one long transaction SQLite's write lock is ours: a second connection would wait for
        # it, so such an import reports its progress only at the end.
        if committed or not sqlite:
            _update(platform, job_id, processed=done, total=total)

    try:
        with open(row.path, "rb") as source:
            data = source.read()
        report = run_import(platform, row.entity, data, row.filename, options_of(row), access, progress, keep_rows=True)
        _update(platform, job_id, status="done", processed=report["total"], total=report["total"],
                report=json.dumps(report, ensure_ascii=False, default=str), finished_at=utcnow())
    except CrmError as exc:
        _update(platform, job_id, status="failed", report=json.dumps({**exc.body(), "status_code": exc.status},
                                                                    ensure_ascii=False), finished_at=utcnow())
    except Exception:  # noqa: BLE001 - recorded for the poller; the traceback goes to the log
        log.exception("import %s failed", job_id)
        body = {"errors": [error(None, "internal", "the import stopped on an error on our side; rows of batches "
                                                   "already committed stay imported")], "status_code": 500}
        _update(platform, job_id, status="failed", report=json.dumps(body), finished_at=utcnow())
    finally:
        try:
            os.remove(row.path)
        except OSError:
            pass
        _update(platform, job_id, path=None)


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
