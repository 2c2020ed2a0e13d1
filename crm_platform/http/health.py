"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: database and queue reachable).

A load balancer or orchestrator polls them without signing in. ``/healthz`` touches nothing, so a
slow database never gets a healthy process restarted; ``/readyz`` asks the database for the metadata
revision (which also proves `crm init` ran) and the queue for its length, and answers 503 naming what
failed, so traffic goes elsewhere until it is back.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from ..tables import meta_state

health = Blueprint("health", __name__)

PATHS = ("/healthz", "/readyz")


@health.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


def _queue():
    queue = current_app.extensions.get("crm_queue")
    if queue is None:
        from ..jobs.queue import make_queue
        queue = current_app.extensions["crm_queue"] = make_queue(current_app.config["CRM_QUEUE_URL"])
    return queue


@health.get("/readyz")
def readyz():
    checks, ready = {}, True
    try:
        with current_app.extensions["crm"].engine.connect() as conn:
            revision = conn.execute(sa.select(meta_state.c.revision)).scalar()
        checks["database"] = "ok" if revision is not None else "no metadata revision: run `crm init`"
        ready = revision is not None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready, said in words
        checks["database"] = f"unreachable: {type(exc).__name__}"
        ready = False
    try:
        checks["queue_length"] = _queue().pending_count()
        checks["queue"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["queue"] = f"unreachable: {type(exc).__name__}"
        ready = False
    return jsonify({"status": "ready" if ready else "not ready", **checks}), 200 if ready else 503
