"""The signed-in user's notifications: ``GET /api/notifications``, mark one or all read."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .. import notifications
from ..db import writing
from ..errors import NotFound, error
from ..http.context import actor_id, platform
from ..http.errors import flag
from ..runtime.query import MAX_PAGE, int_param, pages

notifications_api = Blueprint("notifications_api", __name__)

LANGUAGES = ("en", "zh")


def _item(row, lang: str) -> dict:
    link = f"/app/{row.entity}/{row.record_id}" if row.entity and row.record_id is not None else None
    return {"id": row.id, "kind": row.kind, "title": notifications.title_text(row.title, lang),
            "entity": row.entity, "record_id": row.record_id, "link": link, "created_at": row.created_at,
            "read": row.read_at is not None}


@notifications_api.get("/api/notifications")
def list_notifications():
    """The user's notifications, newest first (``?unread=1`` for the unread ones), with the unread count."""
    unread_only = flag("unread")
    per_page = int_param(request.args, "per_page", current_app.config["CRM_DEFAULT_PAGE_SIZE"], 1,
                         current_app.config["CRM_MAX_PAGE_SIZE"])
    page_no = int_param(request.args, "page", 1, 1, MAX_PAGE)
    lang = request.accept_languages.best_match(LANGUAGES, default="en") or "en"
    user = actor_id()
    with platform().engine.connect() as conn:
        rows, total = notifications.page(conn, user, unread_only=unread_only, page_no=page_no, per_page=per_page)
        unread = notifications.unread_count(conn, user)
    return jsonify({"items": [_item(r, lang) for r in rows], "unread": unread, "total": total, "page": page_no,
                    "per_page": per_page, "pages": pages(total, per_page)})


@notifications_api.post("/api/notifications/<id:notification_id>/read")
def read_notification(notification_id):
    user = actor_id()
    with writing(platform().engine) as conn:
        if notifications.get_for(conn, user, notification_id) is None:  # another user's is not found either
            raise NotFound([error(None, "not_found", f"no notification {notification_id}")])
        notifications.mark_read(conn, user, notification_id)
        unread = notifications.unread_count(conn, user)
    return jsonify({"id": notification_id, "read": True, "unread": unread})


@notifications_api.post("/api/notifications/read-all")
def read_all_notifications():
    with writing(platform().engine) as conn:
        marked = notifications.mark_read(conn, actor_id())
    return jsonify({"marked": marked, "unread": 0})
