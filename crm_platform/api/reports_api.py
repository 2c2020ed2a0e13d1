"""Report and dashboard endpoints: run a definition, a saved report's data (JSON, CSV, XLSX), and
the dashboards a user may see. The figures come from ``runtime/reports.py``; this is HTTP only."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, request

from ..errors import BadRequest, NotFound, error
from ..http.context import access, platform
from ..http.errors import json_object
from ..runtime.report_files import CSV_TYPE, XLSX_TYPE, as_csv, as_xlsx
from ..runtime.reports import compute, parse_time_zone, saved_definition

reports_api = Blueprint("reports_api", __name__)

FORMATS = ("json", "csv", "xlsx")


def _request_tz(body: dict | None = None) -> dt.tzinfo:
    """The body's time_zone, else ?tz=, else the browser's zone cookie, else UTC."""
    if body is not None and body.get("time_zone") is not None:
        return parse_time_zone(body.get("time_zone"))
    if request.args.get("tz"):
        return parse_time_zone(request.args.get("tz"))
    from ..http.context import user_tz
    return user_tz()


def _format() -> str:
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        raise BadRequest([error("format", "enum", f"format is one of: {', '.join(FORMATS)}")])
    return fmt


def _compute(definition: dict, tz: dt.tzinfo) -> dict:
    return compute(platform().records, definition, access=access(), tz=tz)


def _answer(answer: dict, name: str, fmt: str):
    if fmt == "json":
        return jsonify(answer)
    if fmt == "csv":
        return Response(as_csv(answer), mimetype=CSV_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(as_xlsx(answer, name), mimetype=XLSX_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


@reports_api.post("/api/reports/run")
def run_report():
    body = json_object()
    fmt = _format()
    return _answer(_compute(body, _request_tz(body)), "report", fmt)


def _saved(key: str) -> dict:
    return saved_definition(platform().metadata.state(), key)


@reports_api.get("/api/reports")
def list_reports():
    state = platform().metadata.state()
    acc = access()
    items = []
    for key, found in sorted(state.of_kind("report").items()):
        doc = found.doc
        if found.archived:
            continue
        entity = doc.get("entity") or _pipeline_entity(state, doc)
        if entity and state.entity_is_available(entity) and acc.can("read", entity):
            items.append({k: doc.get(k) for k in ("key", "label", "description", "type", "entity", "pipeline", "chart")
                          if doc.get(k) is not None})
    return jsonify({"items": items})


def _pipeline_entity(state, doc: dict) -> str | None:
    p = state.pipelines.get(doc.get("pipeline") or "")
    return p.doc.get("entity") if p is not None else None


@reports_api.get("/api/reports/<key>/data")
def report_data(key):
    doc = _saved(key)
    fmt = _format()
    answer = _compute(doc, _request_tz())
    answer["report"] = doc
    return _answer(answer, key, fmt)


# ---- dashboards -----------------------------------------------------------------------------------

def _may_see(doc: dict) -> bool:
    acc = access()
    if acc.admin:
        return True
    roles = doc.get("roles") or []
    return not roles or bool(set(roles) & set(acc.roles))


@reports_api.get("/api/dashboards")
def list_dashboards():
    state = platform().metadata.state()
    items = [found.doc for key, found in sorted(state.of_kind("dashboard").items())
             if not found.archived and _may_see(found.doc)]
    return jsonify({"items": items})


@reports_api.get("/api/dashboards/<key>")
def get_dashboard(key):
    found = platform().metadata.state().of_kind("dashboard").get(key)
    if found is None or found.archived or not _may_see(found.doc):
        raise NotFound([error(None, "not_found", f"no dashboard '{key}'")])
    return jsonify(found.doc)
