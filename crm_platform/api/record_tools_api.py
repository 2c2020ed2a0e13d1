"""Whole-list tools for every entity: export, duplicates and merge.

``GET /api/records/<entity>/export?format=csv|xlsx`` (the list's parameters, ``columns``, ``tz``),
``GET /api/records/<entity>/duplicates?by=<field>[,<field>]`` and ``POST /api/records/<entity>/merge``.
See docs/export-and-merge.md.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.datastructures import MultiDict

from ..http.context import access, platform
from ..http.errors import json_object
from ..runtime.duplicates import MAX_GROUPS, find_groups, parse_by
from ..runtime.merge import merge, parse_merge, require_merge_rights
from ..runtime.query import int_param, parse_list_args
from ..web import export
from ..web.i18n import current_language
from .records_api import _reason

record_tools_api = Blueprint("record_tools_api", __name__, url_prefix="/api/records")


@record_tools_api.get("/<entity>/export")
def export_records(entity):
    svc = platform().records
    fmt = export.export_format(request.args)
    view = export.prepare(svc, entity, request.args, access=access(), lang=current_language(),
                          tz=export.time_zone(request.args.get("tz")))
    return export.response(view, fmt, svc.runtime.current().entity(entity).doc)


@record_tools_api.get("/<entity>/duplicates")
def duplicates(entity):
    svc = platform().records
    with svc.engine.connect() as conn:
        model = svc.runtime.current(conn)
        compiled = model.entity(entity)
        access().require("read", compiled, model)
        by = parse_by(request.args.get("by"), compiled)
        limit = int_param(request.args, "limit", MAX_GROUPS, 1, MAX_GROUPS)
        rest = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k not in ("by", "limit")])
        query = parse_list_args(rest, compiled, count_limit=None)
        return jsonify(find_groups(svc, entity, by, query, conn=conn, access=access(), limit=limit))


@record_tools_api.post("/<entity>/merge")
def merge_records(entity):
    require_merge_rights(platform().records, entity, access())
    body = json_object()
    reason = _reason(body)
    survivor, others, choices = parse_merge(body)
    return jsonify(merge(platform().records, entity, survivor, others, choices, access=access(), reason=reason))
