"""``GET /api/records/<entity>/<id>/history``: a record's audit trail (read by ``runtime.audit.trail``)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..http.context import access, platform
from ..runtime.audit import trail
from ..runtime.query import MAX_PAGE, int_param, pages

audit_api = Blueprint("audit_api", __name__)


@audit_api.get("/api/records/<entity>/<id:record_id>/history")
def record_history(entity, record_id):
    """A record's audit trail, newest first; records in the recycle bin included."""
    per_page = int_param(request.args, "per_page", current_app.config["CRM_DEFAULT_PAGE_SIZE"], 1,
                        current_app.config["CRM_MAX_PAGE_SIZE"])
    page = int_param(request.args, "page", 1, 1, MAX_PAGE)
    svc = platform().records
    with svc.engine.connect() as conn:
        model, found = svc.visible(conn, entity, record_id, access())
        total, items = trail(conn, entity, record_id, hidden=access().rights(entity, model).hidden,
                             limit=per_page, offset=(page - 1) * per_page)
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page,
                    "pages": pages(total, per_page)})
