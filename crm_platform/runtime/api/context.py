"""Who is acting, and the platform services, for the current request."""
from __future__ import annotations

from flask import current_app, g


def platform():
    return current_app.extensions["crm"]


def actor_name() -> str:
    user = g.get("user")
    return user.username if user is not None else "system"


def actor_id() -> int | None:
    user = g.get("user")
    return user.id if user is not None else None
