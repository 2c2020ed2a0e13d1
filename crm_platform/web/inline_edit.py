"""The route behind a list cell edited in place (``inline_cells.py`` says which cells, and how)."""
from __future__ import annotations

from flask import jsonify, request

from ..errors import BadRequest, CrmError, error
from ..metadata.field_types import REGISTRY
from .i18n import translate
from .inline_cells import cell_value
from .messages import for_page, posted_reason
from .pages import Screen, as_user, reading, user_tz
from .screens import screens


@screens.post("/app/<entity>/<id:record_id>/inline")
def inline_save(entity, record_id):
    screen = Screen(entity)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("field"), str):
        raise BadRequest([error("field", "required", "send {\"field\": key, \"value\": text, \"version\": n}")])
    key, raw, version = body["field"], body.get("value"), body.get("version")
    field = screen.entity.field_map.get(key)
    if field is None or not screen.readable(key) or not REGISTRY[field["type"]].inline_editable:
        raise BadRequest([error("field", "invalid", f"'{key}' cannot be edited in a list")])
    if raw is not None and not isinstance(raw, str):
        raise BadRequest([error(key, "type", "must be text as the control shows it")])
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise BadRequest([error("version", "type", "must be a whole number")])
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest([error("reason", "type", "must be text")])
    tz = user_tz()
    value = REGISTRY[field["type"]].from_form(field, raw, tz)
    try:
        record = screen.svc.update(entity, record_id, {key: value}, expected_version=version,
                                   reason=posted_reason(reason), **as_user())
    except CrmError as exc:
        answer = {**exc.body(), "errors": for_page(exc.errors, screen)}
        if exc.status == 409 and any(e.get("code") == "stale" for e in exc.errors):
            current = screen.svc.get(entity, record_id, **reading())
            shown = _shown(screen, field, current, tz)
            answer["current"] = shown
            answer["errors"] = [{"field": key, "code": "stale", "label": None,
                                 "message": translate("inline_stale", screen.lang, value=shown["text"] or "—")}]
        return jsonify(answer), exc.status
    return jsonify(_shown(screen, field, record, tz))


def _shown(screen: Screen, field: dict, record: dict, tz) -> dict:
    key = field["key"]
    text = screen.display(screen.titles([field], [record])).text(key, record.get(key))
    return {"id": record["id"], "version": record["version"], "field": key, "text": text,
            "value": cell_value(field, record.get(key), tz)}
