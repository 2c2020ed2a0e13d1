"""What the screens ask of reports: run one as the signed-in user, save one, pin one to a dashboard.

Computing is the report service's (``runtime/reports.py``); definitions change only through the
metadata choke point (``MetadataService``), acting as the user. This module only binds them to the
request: the user's rights (``Access``), time zone (the page's cookie) and name.
"""
from __future__ import annotations

from flask import g

from ..errors import Forbidden, error
from .i18n import translate
from .pages import platform, user_access, user_tz


def _access():
    acc = user_access()
    if acc is None:  # pragma: no cover - the screens always run signed in
        raise Forbidden([error(None, "forbidden", "sign in first")])
    return acc


def run_definition(definition: dict) -> dict:
    """The answer of a report definition for the signed-in user (rows, columns, links)."""
    from ..runtime.reports import compute
    return compute(platform().records, definition, access=_access(), tz=user_tz())


def run_saved(screen, key: str) -> dict:
    from ..runtime.reports import saved_definition
    return run_definition(saved_definition(screen.model.state, key))


def may_create_reports() -> bool:
    """Whether the signed-in user may build and save reports (a right their roles grant)."""
    acc = user_access()
    return g.get("user") is not None and acc is not None and acc.may_create_reports()


def require_report_right(lang: str) -> None:
    if not may_create_reports():
        raise Forbidden([error(None, "forbidden", translate("not_allowed", lang))])
