"""Periodic jobs: what runs every period, claimed through the platform's database.

A job is due when it has never run or its last run started a period ago or more. Claiming moves its
``last_run_at`` to now in one conditional UPDATE, so of several workers (or a worker and a
`crm worker --once` from cron) exactly one runs each due job, and a worker that was down for a week
runs a daily job once when it comes back, not seven times.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from ..db import writing
from ..tables import periodic_jobs


@dataclass(frozen=True)
class Periodic:
    name: str
    period: dt.timedelta
    run: Callable  # run(platform, now) -> str: a one-line summary kept as the last result


def claim_due(engine: sa.Engine, jobs: list[Periodic], at: dt.datetime) -> list[Periodic]:
    """Claim every job of ``jobs`` due at ``at``; the caller must then run each one claimed."""
    claimed = []
    with writing(engine) as conn:
        known = set(conn.execute(sa.select(periodic_jobs.c.name)).scalars())
        missing = [{"name": job.name, "last_run_at": None} for job in jobs if job.name not in known]
        if missing:
            conn.execute(periodic_jobs.insert(), missing)
    for job in jobs:
        with writing(engine) as conn:
            won = conn.execute(
                periodic_jobs.update()
                .where(periodic_jobs.c.name == job.name,
                       sa.or_(periodic_jobs.c.last_run_at.is_(None), periodic_jobs.c.last_run_at <= at - job.period))
                .values(last_run_at=at, last_result=None)
            ).rowcount
        if won:
            claimed.append(job)
    return claimed


def record_result(engine: sa.Engine, name: str, result: str) -> None:
    with writing(engine) as conn:
        conn.execute(periodic_jobs.update().where(periodic_jobs.c.name == name).values(last_result=result[:2000]))
