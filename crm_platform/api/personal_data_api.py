"""Personal data of one person, for administrators (runtime/personal_data.py, docs/operations.md):

``GET /api/records/<entity>/<id>/personal-data`` — everything about the record as one JSON file;
``POST /api/records/<entity>/<id>/erase`` with ``{"reason": "..."}`` — blank its personal values.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..errors import Forbidden, Invalid, error
from ..http.context import access, actor_id, platform
from ..http.errors import json_object
from ..runtime import personal_data

personal_data_api = Blueprint("personal_data_api", __name__, url_prefix="/api/records")


def _administrators_only() -> None:
    if not access().admin:
        raise Forbidden([error(None, "forbidden", "only administrators export or erase personal data")])


def reason_of(body: dict) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid([error("reason", "required", "say why the personal data is erased (e.g. the person's request)")])
    if len(reason) > 2000:
        raise Invalid([error("reason", "maxLength", "the reason has at most 2000 characters")])
    return reason


@personal_data_api.get("/<entity>/<id:record_id>/personal-data")
def export_personal_data(entity, record_id):
    _administrators_only()
    found = personal_data.export(platform().records, entity, record_id, actor_id=actor_id())
    response = jsonify(found)
    response.headers["Content-Disposition"] = f'attachment; filename="{entity}-{record_id}-personal-data.json"'
    return response


@personal_data_api.post("/<entity>/<id:record_id>/erase")
def erase_personal_data(entity, record_id):
    _administrators_only()
    body = json_object()
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise Invalid([error(k, "unknown", f"'{k}' is not an option; send {{\"reason\": \"...\"}}") for k in unknown])
    return jsonify(personal_data.erase(platform().records, entity, record_id, reason=reason_of(body),
                                       actor_id=actor_id()))
