"""The bell's page, ``/app/_notifications``: the user's notifications, newest first; open one or mark all read.

The path starts with an underscore, which no entity key can, so no entity's list is ever shadowed.
Opening a notification marks it read and goes to its record.
"""
from __future__ import annotations

from flask import g, redirect, request, url_for

from .. import notifications
from ..db import writing
from ..errors import NotFound, error
from ..runtime.query import MAX_PAGE, int_param, pages
from .i18n import current_language
from .pages import platform, render, user_tz
from .screens import screens

PER_PAGE = 30


@screens.get("/app/_notifications")
def notifications_page():
    lang = current_language()
    page_no = int_param(request.args, "page", 1, 1, MAX_PAGE)
    tz = user_tz()
    with platform().engine.connect() as conn:
        rows, total = notifications.page(conn, g.user.id, unread_only=False, page_no=page_no, per_page=PER_PAGE)
    items = [{"id": r.id, "title": notifications.title_text(r.title, lang), "read": r.read_at is not None,
              "when": r.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
              "has_link": r.entity is not None and r.record_id is not None} for r in rows]
    return render("web/notifications.html", items=items, page=page_no, pages=pages(total, PER_PAGE), total=total)


@screens.post("/app/_notifications/<id:notification_id>/open")
def open_notification(notification_id):
    with writing(platform().engine) as conn:
        row = notifications.get_for(conn, g.user.id, notification_id)
        if row is None:
            raise NotFound([error(None, "not_found", f"no notification {notification_id}")])
        notifications.mark_read(conn, g.user.id, notification_id)
    if row.entity and row.record_id is not None:
        return redirect(url_for("screens.record_page", entity=row.entity, record_id=row.record_id))
    return redirect(url_for("screens.notifications_page"))


@screens.post("/app/_notifications/read-all")
def read_all_notifications():
    with writing(platform().engine) as conn:
        notifications.mark_read(conn, g.user.id)
    return redirect(url_for("screens.notifications_page"))
