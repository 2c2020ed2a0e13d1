"""Record endpoints for every entity: /api/records/<entity>[/<id>]."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..errors import BadRequest, error
from ..storable import text_problem
from ..runtime.query import parse_list_args
from ..http.context import access, platform
from ..http.errors import json_body, json_object

records_api = Blueprint("records_api", __name__, url_prefix="/api/records")


def _reason(body: dict | None = None) -> str | None:
    """The body's ``_reason``, else the header's; both are checked (a bad header is a bad request
    even when the body's reason wins)."""
    reasons = [request.headers.get("X-Change-Reason")]
    if body is not None and "_reason" in body:
        reasons.append(body.pop("_reason"))
    for reason in reasons:
        if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
            raise BadRequest([error("_reason", "type", "the change reason must be text of at most 2000 characters")])
        found = text_problem(reason) if reason is not None else None  # the header's: a body is checked as parsed
        if found:
            raise BadRequest([error("_reason", found[0], f"the change reason {found[1]}")])
    return reasons[-1]


def _expected_version() -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    try:
        return int(header.strip().strip('"').removeprefix("W/").strip('"'))
    except ValueError:
        raise BadRequest([error("If-Match", "type", "If-Match must carry the record version, e.g. \"3\"")]) from None


@records_api.get("/<entity>")
def list_records(entity):
    svc = platform().records
    with svc.engine.connect() as conn:
        model = svc.runtime.current(conn)
        query = parse_list_args(request.args, model.entity(entity),
                                default_per_page=current_app.config["CRM_DEFAULT_PAGE_SIZE"],
                                max_per_page=current_app.config["CRM_MAX_PAGE_SIZE"],
                                count_limit=current_app.config["CRM_COUNT_LIMIT"])
        return jsonify(svc.list(entity, query, conn=conn, access=access(), model=model))


@records_api.post("/<entity>")
def create_record(entity):
    body = json_object()
    reason = _reason(body)
    record = platform().records.create(entity, body, access=access(), reason=reason)
    response = jsonify(record)
    response.status_code = 201
    response.headers["Location"] = f"/api/records/{entity}/{record['id']}"
    response.headers["ETag"] = f'"{record["version"]}"'
    return response


@records_api.post("/<entity>/bulk")
def create_records(entity):
    body = json_body()
    rows = body.get("records") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise BadRequest([error("records", "type", "send {\"records\": [ ... ]}")])
    count = platform().records.create_many(entity, rows, access=access())
    return jsonify({"created": count}), 201


@records_api.get("/<entity>/<id:record_id>")
def get_record(entity, record_id):
    record = platform().records.get(entity, record_id, access=access())
    response = jsonify(record)
    response.headers["ETag"] = f'"{record["version"]}"'
    return response


@records_api.patch("/<entity>/<id:record_id>")
def update_record(entity, record_id):
    body = json_object()
    reason = _reason(body)
    record = platform().records.update(entity, record_id, body, expected_version=_expected_version(),
                                       access=access(), reason=reason)
    response = jsonify(record)
    response.headers["ETag"] = f'"{record["version"]}"'
    return response


@records_api.delete("/<entity>/<id:record_id>")
def delete_record(entity, record_id):
    body = json_object(required=False)
    platform().records.delete(entity, record_id, access=access(), reason=_reason(body))
    return "", 204


@records_api.post("/<entity>/<id:record_id>/restore")
def restore_record(entity, record_id):
    body = json_object(required=False)
    return jsonify(platform().records.restore(entity, record_id, access=access(), reason=_reason(body)))
