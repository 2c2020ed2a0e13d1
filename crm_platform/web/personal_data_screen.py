"""The record page's personal-data actions for administrators: download everything about the
record (the API's file), and erase its personal values with a reason (runtime/personal_data.py).

Importing this module adds its routes to the screens blueprint (as ``record_tools`` does).
"""
from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for

from ..errors import CrmError, Forbidden, Invalid, error
from ..runtime import personal_data
from .i18n import translate
from .messages import posted_reason
from .pages import Screen, actor_id
from .screens import _record_view, screens


def _admin_screen(entity: str) -> Screen:
    screen = Screen(entity)
    if not screen.access.admin:
        raise Forbidden([error(None, "forbidden", translate("personal_admin_only", screen.lang))])
    return screen


@screens.app_template_global()
def may_handle_personal_data(screen: Screen) -> bool:
    return screen.access is not None and screen.access.admin


@screens.get("/app/<entity>/<id:record_id>/personal-data")
def personal_data_download(entity, record_id):
    screen = _admin_screen(entity)
    response = jsonify(personal_data.export(screen.svc, entity, record_id, actor_id=actor_id()))
    response.headers["Content-Disposition"] = f'attachment; filename="{entity}-{record_id}-personal-data.json"'
    return response


@screens.post("/app/<entity>/<id:record_id>/erase")
def personal_data_erase(entity, record_id):
    screen = _admin_screen(entity)
    try:
        reason = posted_reason(request.form.get("erase_reason"))
        if reason is None:
            raise Invalid([error("reason", "required", translate("erase_reason_required", screen.lang))])
        result = personal_data.erase(screen.svc, entity, record_id, reason=reason, actor_id=actor_id())
    except CrmError as exc:
        record = screen.svc.get(entity, record_id, access=screen.access)
        return _record_view(screen, record, errors=exc.errors, status=exc.status)
    flash(translate("erased", screen.lang, n=len(result["erased"])))
    return redirect(url_for("screens.record_page", entity=entity, record_id=record_id), 303)
