"""Stage endpoints: a record's stage history and a pipeline's figures (both read by ``runtime.pipelines``)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..clock import utcnow
from ..errors import NotFound, error
from ..http.context import access, platform
from ..runtime import approvals
from ..runtime.pipelines import stage_history_of, summary

pipelines_api = Blueprint("pipelines_api", __name__)


def _history_item(row) -> dict:
    return {"id": row.id, "event": "moved", "pipeline": row.pipeline, "from_stage": row.from_stage,
            "to_stage": row.to_stage, "actor_id": row.actor_id, "moved_at": row.moved_at}


@pipelines_api.get("/api/records/<entity>/<id:record_id>/stage-history")
def record_stage_history(entity, record_id):
    """Moves (``event: moved``) and approval steps (``approval_requested``, ``approved``, ``rejected``,
    ``withdrawn``, with ``approval_id`` and ``comment``), oldest first; a step never counts as a move in figures."""
    svc = platform().records
    with svc.engine.connect() as conn:
        svc.visible(conn, entity, record_id, access())
        rows = stage_history_of(conn, entity, record_id)
        steps = approvals.history_steps(approvals.of_record(conn, entity, record_id))
    items = [_history_item(r) for r in rows] + steps
    order = {"approval_requested": 0, "approved": 1, "rejected": 1, "withdrawn": 1, "moved": 2}  # a decision before its move
    items.sort(key=lambda i: (i["moved_at"], order[i["event"]]))
    return jsonify({"items": items})


@pipelines_api.get("/api/pipelines/<key>/summary")
def pipeline_summary(key):
    svc = platform().records
    with svc.engine.connect() as conn:
        model = svc.runtime.current(conn)
        found = model.state.pipelines.get(key)
        if found is None or found.archived:
            raise NotFound([error(None, "not_found", f"no active pipeline '{key}'")])
        return jsonify(summary(conn, model, found.doc, request.args.get("amount") or None, utcnow(), access()))
