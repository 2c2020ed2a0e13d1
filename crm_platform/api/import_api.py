"""``POST /api/records/<entity>/import`` and ``GET /api/imports/<id>``.

A file up to ``CRM_IMPORT_SYNC_BYTES`` is imported inside the request: 200 with the report. A larger
one is stored and imported on a thread of this worker (``jobs``): 202 with ``Location:
/api/imports/<id>``, which answers 202 with the progress while it runs and then the same report.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from ..imports import jobs
from ..imports.runner import parse_options, run_import
from ..http.context import access, platform
from ..http.uploads import allow_large_uploads, uploaded

import_api = Blueprint("import_api", __name__)


@import_api.post("/api/records/<entity>/import")
def import_records(entity):
    crm = platform()
    who = access()
    model = crm.runtime.current()
    who.require("create", model.entity(entity), model)  # 404 / 403 before the upload is looked at
    options = parse_options(request.form)
    data, filename = uploaded()
    if len(data) <= current_app.config["CRM_IMPORT_SYNC_BYTES"]:
        return jsonify(run_import(crm, entity, data, filename, options, who))
    path = jobs.store_file(current_app.config["CRM_IMPORT_DIR"], data)
    job_id = jobs.create(crm, entity, filename, options, who.user_id, path)
    jobs.start(crm, job_id)
    row = jobs.get(crm, job_id, who)
    body, _ = jobs.status(row)
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = f"/api/imports/{job_id}"
    return response


@import_api.get("/api/imports/<id(bits=32):job_id>")  # its column is INTEGER
def import_status(job_id):
    body, code = jobs.status(jobs.get(platform(), job_id, access()))
    response = jsonify(body)
    response.status_code = code
    if code == 202:
        response.headers["Retry-After"] = "1"
    return response


def register(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, allow_large_uploads)
    app.register_blueprint(import_api)
