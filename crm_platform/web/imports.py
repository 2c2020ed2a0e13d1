"""The import page: upload → mapping and preview → run with progress → report and error sheet.

``/app/<entity>/import`` takes the file and keeps it as a draft import job (``imports.jobs``); the
job's page shows each column with the field it goes into (guessed by label, or as the user chose
last time), the first rows as they would be read with each bad cell marked and why, and the match
options. *Import* queues the job and runs it in the background (``jobs.start``); its page polls the
job's row, which any worker can read, so 100,000 rows never meet a request timeout. The report
offers the refused rows as an XLSX sheet with a column saying what was wrong.
"""
from __future__ import annotations

import json

from flask import Response, current_app, jsonify, redirect, request, url_for

from ..errors import BadRequest, Invalid, error
from ..imports import jobs
from ..http.uploads import uploaded
from ..imports.files import read_sheet
from ..imports.runner import ON_MATCH, ImportOptions, preview
from .i18n import label as label_of, localise, translate
from .pages import Screen, render, screen_label
from .screens import screens

PREVIEW_ROWS = 10


def _screen(entity: str) -> Screen:
    screen = Screen(entity)
    screen.require("create")
    return screen


@screens.get("/app/<entity>/import")
def import_start(entity):
    screen = _screen(entity)
    return render("web/import.html", step="upload", screen=screen,
                  limit_mib=current_app.config["CRM_IMPORT_MAX_BYTES"] // (1024 * 1024))


@screens.post("/app/<entity>/import")
def import_upload(entity):
    screen = _screen(entity)
    data, filename = uploaded()
    sheet_name = (request.form.get("sheet") or "").strip() or None
    options = ImportOptions(sheet=sheet_name)
    read_sheet(data, filename, sheet_name, limit=PREVIEW_ROWS)  # an unreadable file is refused now
    path = jobs.store_file(current_app.config["CRM_IMPORT_DIR"], data)
    job_id = jobs.create(screen_platform(), entity, filename, options, screen.access.user_id if screen.access else None,
                         path, status="draft")
    return redirect(url_for("screens.import_job", entity=entity, job_id=job_id))


def screen_platform():
    return current_app.extensions["crm"]


def _job(screen: Screen, job_id: int):
    return jobs.get(screen_platform(), job_id, screen.access, entity=screen.key)


@screens.get("/app/<entity>/import/<id:job_id>")
def import_job(entity, job_id):
    screen = _screen(entity)
    row = _job(screen, job_id)
    if row.status == "draft":
        return _mapping_page(screen, row)
    body, code = jobs.status(row)
    if row.status in ("queued", "running"):
        return render("web/import.html", step="running", screen=screen, job=row, progress=body)
    errors = localise(body.get("errors", []), screen.lang)
    refused = [{**e, "message": _shown(e, screen.lang)} for e in body.get("refused", [])]
    return render("web/import.html", step="report", screen=screen, job=row, report=body, errors=errors,
                  refused=refused[:200], refused_rows=len({e["row"] for e in body.get("refused", [])}))


def _mapping_page(screen: Screen, row, problems: list | None = None, status: int = 200):
    with open(row.path, "rb") as source:
        data = source.read()
    options = jobs.options_of(row)
    sheet = read_sheet(data, row.filename, options.sheet, limit=PREVIEW_ROWS)
    seen = preview(screen_platform(), screen.key, sheet, options, screen.access)
    errors = localise(list(problems or []) + list(seen["errors"]), screen.lang)
    fields = [(f["key"], screen_label(f, screen.lang)) for f in seen["fields"]]
    rows = [(number, [(text, _shown(problem, screen.lang)) for text, problem in cells],
             [f"{label_of(e['label'], screen.lang)}: {_shown(e, screen.lang)}" for e in whole])
            for number, cells, whole in seen["rows"]]
    return render("web/import.html", status, step="mapping", screen=screen, job=row, headers=sheet.headers,
                  mapping=seen["mapping"], fields=fields, rows=rows, options=options, errors=errors,
                  sheet_name=sheet.sheet)


def _shown(problem: dict | None, lang: str) -> str | None:
    """A cell's problem in the page's language; the field type's own words follow in brackets where
    they say more (the choices a value must be one of)."""
    if problem is None:
        return None
    local = localise([problem], lang)[0]["message"]
    return local if local == problem["message"] else f"{local} ({problem['message']})"


@screens.post("/app/<entity>/import/<id:job_id>")
def import_choose(entity, job_id):
    """Save the mapping and options the page posted; ``action=run`` starts the import."""
    screen = _screen(entity)
    row = _job(screen, job_id)
    if row.status != "draft":
        return redirect(url_for("screens.import_job", entity=entity, job_id=job_id))
    form = request.form
    mapping = {}
    for n, header in enumerate(json.loads(form.get("headers") or "[]")):
        chosen = form.get(f"col-{n}", "")
        mapping[header] = chosen or None
    on_match = form.get("on_match") or "skip"
    if on_match not in ON_MATCH:
        raise BadRequest([error("on_match", "enum", "on_match must be skip or update")])
    options = ImportOptions(mapping=mapping, match=form.getlist("match"), on_match=on_match,
                            all_or_nothing=form.get("all_or_nothing") == "1", sheet=jobs.options_of(row).sheet)
    platform = screen_platform()
    if form.get("action") != "run":
        jobs.set_options(platform, job_id, options)
        return redirect(url_for("screens.import_job", entity=entity, job_id=job_id))
    # Check the plan (columns, match key) now, so a mistake is shown beside the mapping, not after a run.
    from ..imports.runner import plan
    with open(row.path, "rb") as source:
        sheet = read_sheet(source.read(), row.filename, options.sheet, limit=1)
    try:
        with platform.engine.connect() as conn:
            plan(platform, conn, entity, sheet, options, screen.access)
    except Invalid as exc:
        jobs.set_options(platform, job_id, options)
        return _mapping_page(screen, _job(screen, job_id), exc.errors, 422)
    jobs.set_options(platform, job_id, options, status="queued")
    jobs.start(platform, job_id)
    return redirect(url_for("screens.import_job", entity=entity, job_id=job_id))


@screens.get("/app/<entity>/import/<id:job_id>/progress")
def import_progress(entity, job_id):
    screen = _screen(entity)
    body, _ = jobs.status(_job(screen, job_id))
    return jsonify({k: body.get(k) for k in ("status", "processed", "total")})


@screens.get("/app/<entity>/import/<id:job_id>/refused.xlsx")
def import_errors(entity, job_id):
    screen = _screen(entity)
    row = _job(screen, job_id)
    if row.status != "done":
        raise BadRequest([error(None, "not_done", translate("import_not_done", screen.lang))])
    from ..imports.error_sheet import build
    report = json.loads(row.report)
    data = build(report, report.get("kept") or {}, screen.lang)
    name = row.filename.rsplit(".", 1)[0] + "-refused.xlsx"
    from urllib.parse import quote
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=\"refused.xlsx\"; filename*=UTF-8''{quote(name)}"})
