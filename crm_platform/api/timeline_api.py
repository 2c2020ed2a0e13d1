"""``GET /api/records/<entity>/<id>/timeline``: a record's one story, as its page shows it (``web/timeline.py``)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..runtime.query import int_param
from ..web.pages import Screen, reading
from ..web.timeline import as_json, timeline

timeline_api = Blueprint("timeline_api", __name__)


@timeline_api.get("/api/records/<entity>/<id:record_id>/timeline")
def record_timeline(entity, record_id):
    """Newest first, ``page`` / ``per_page`` (at most 100, 100 pages); 404 when the caller may not read the record."""
    per_page = int_param(request.args, "per_page", 20, 1, 100)
    page = int_param(request.args, "page", 1, 1, 100)
    screen = Screen(entity)
    screen.require("read")
    screen.svc.get(entity, record_id, **reading())
    return jsonify(as_json(timeline(screen, record_id, page=page, per_page=per_page)))
