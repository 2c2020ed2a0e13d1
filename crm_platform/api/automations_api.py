"""``GET /api/automations/<key>/runs``: an automation rule's run log, for administrators.

The dry run of a rule is ``POST /api/meta/automations?dry_run=1`` (``definitions_api``): its answer
carries ``matches``, how many records the rule would act on now, with a sample.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import BadRequest, Forbidden, NotFound, error
from ..http.context import access, platform
from ..ids import ROW_ID_MAX
from ..runtime.automation import runlog
from ..runtime.query import int_param

automations_api = Blueprint("automations_api", __name__, url_prefix="/api/automations")
STATUSES = ("ok", "error", "loop")


@automations_api.before_request
def administrators_only():
    if not access().admin:
        raise Forbidden([error(None, "forbidden", "only administrators read the run log of automations")])


@automations_api.get("/<key>/runs")
def list_runs(key):
    if key not in platform().metadata.state().of_kind("automation"):
        raise NotFound([error(None, "not_found", f"no automation '{key}'")])
    limit = int_param(request.args, "limit", 50, 1, 500)
    before = int_param(request.args, "before", None, 0, ROW_ID_MAX)
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest([error("status", "enum", f"status is one of {', '.join(STATUSES)}")])
    with platform().engine.connect() as conn:
        items = runlog.runs(conn, key, limit=limit, before=before, status=status)
    return jsonify({"items": items})
