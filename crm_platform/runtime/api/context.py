"""Who is acting, and the platform services, for the current request."""
from __future__ import annotations

from flask import current_app


def platform():
    return current_app.extensions["crm"]


def actor_name() -> str:
    # Replaced by the signed-in user once access control lands; revisions still say who acted.
    return "api"


def actor_id() -> int | None:
    return None
