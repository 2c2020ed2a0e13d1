"""``POST /api/records/<entity>/import`` and ``GET /api/imports/<id>``.

A file up to ``CRM_IMPORT_SYNC_BYTES`` is imported inside the request: 200 with the report. A larger
one is stored and imported on a thread of this worker (``jobs``): 202 with ``Location:
/api/imports/<id>``, which answers 202 with the progress while it runs and then the same report.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from ..errors import BadRequest, CrmError, error
from ..imports import jobs
from ..imports.runner import parse_options, run_import
from ..http.context import access, platform

import_api = Blueprint("import_api", __name__)


class TooLarge(CrmError):
    status = 413


def upload_limit() -> int:
    return current_app.config["CRM_IMPORT_MAX_BYTES"]


def is_upload_path(path: str) -> bool:
    return path.endswith("/import") and (path.startswith("/api/records/") or path.startswith("/app/"))


def allow_large_uploads():
    """before_request, first of all: import uploads may be larger than other bodies (CSRF and input
    checks read the form before any view runs)."""
    if request.method == "POST" and is_upload_path(request.path):
        limit = upload_limit()
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge([error("file", "too_large", f"the file is larger than the import limit of "
                                                       f"{limit // (1024 * 1024)} MiB ({limit} bytes, "
                                                       f"CRM_IMPORT_MAX_BYTES); split it and import the parts")])
        request.max_content_length = limit


def uploaded() -> tuple[bytes, str]:
    """The bytes and name of the posted ``file``; 400 naming ``file`` when there is none."""
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise BadRequest([error("file", "required", "send the file as multipart/form-data field 'file'")])
    data = sent.read()
    if len(data) > upload_limit():  # a body sent without Content-Length
        raise TooLarge([error("file", "too_large", f"the file is larger than the import limit of {upload_limit()} bytes")])
    return data, sent.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]


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


@import_api.get("/api/imports/<id:job_id>")
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
