"""What the screens ask of reports: run one as the signed-in user, save one, pin one to a dashboard.

Computing is the report service's (``runtime/reports.py``); definitions change only through the
metadata choke point (``MetadataService``), acting as the user. This module only binds them to the
request: the user's rights (``Access``), time zone (the page's cookie) and name.
"""
from __future__ import annotations

from flask import g

from ..errors import Forbidden, error
from .i18n import translate
from ..http.context import access
from .pages import platform, user_tz


def run_definition(definition: dict) -> dict:
    """The answer of a report definition for the signed-in user (rows, columns, links)."""
    from ..runtime.reports import compute
    return compute(platform().records, definition, access=access(), tz=user_tz())


def run_saved(screen, key: str) -> dict:
    from ..runtime.reports import saved_definition
    return run_definition(saved_definition(screen.model.state, key))


def may_create_reports() -> bool:
    """Whether the signed-in user may build and save reports (a right their roles grant)."""
    return g.get("user") is not None and access().may_create_reports()


def require_report_right(lang: str) -> None:
    if not may_create_reports():
        raise Forbidden([error(None, "forbidden", translate("not_allowed", lang))])
