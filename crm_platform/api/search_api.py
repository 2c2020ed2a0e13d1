"""Global search: GET /api/search?q= (see runtime/search.py)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import BadRequest, error
from ..runtime import search
from ..runtime.query import int_param
from ..web.search_screen import run_search

search_api = Blueprint("search_api", __name__, url_prefix="/api")


@search_api.get("/search")
def search_records():
    q = request.args.get("q", "")
    if not q.strip():
        raise BadRequest([error("q", "required", "'q' must name what to search for")])
    if len(q) > search.MAX_QUERY:
        raise BadRequest([error("q", "too_long", f"'q' must be at most {search.MAX_QUERY} characters")])
    limit = int_param(request.args, "limit", search.LIMIT, 1, search.MAX_LIMIT)
    entities = [e for raw in request.args.getlist("entity") for e in raw.split(",") if e] or None
    return jsonify({"results": run_search(q, limit, entities)})
