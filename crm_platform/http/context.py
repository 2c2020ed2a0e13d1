"""Who is acting, and the platform services, for the current request."""
from __future__ import annotations

import datetime as dt

from flask import current_app, g, request

from ..runtime.access import Access


def platform():
    return current_app.extensions["crm"]


def actor_name() -> str:
    user = g.get("user")
    return user.username if user is not None else "system"


def actor_id() -> int | None:
    user = g.get("user")
    return user.id if user is not None else None


def access() -> Access:
    """The signed-in user's rights; a request without a user has none (public forms act as the system
    explicitly, for the fields their definition declares)."""
    found = g.get("access")
    if found is None:
        user = g.get("user")
        found = Access.for_user(user, platform().runtime) if user is not None else Access(None)
        g.access = found
    return found


#: Cookie the page's script sets to the browser's offset from UTC in minutes (east positive), so
#: datetime-local controls show and post wall-clock time in the user's zone.
TZ_COOKIE = "crm_tz"


def user_tz() -> dt.tzinfo:
    raw = request.cookies.get(TZ_COOKIE, "")
    try:
        minutes = int(raw)
    except ValueError:
        return dt.timezone.utc
    if not -14 * 60 <= minutes <= 14 * 60:
        return dt.timezone.utc
    return dt.timezone(dt.timedelta(minutes=minutes))
