"""The report builder and saved reports in ``/app`` (for users whose roles let them create reports).

``/app/_reports/new`` is a GET form — entity, filters (the list screen's own filter controls, so a
report filters exactly as its list does), up to two groups (date fields by day … year), one
measure, a chart — whose preview is the report run as the user; the page's script refreshes the
preview as the form changes (``?partial=1`` answers only the preview). Posting it with a name saves
the definition through the metadata choke point. ``/app/_reports/<key>`` shows a saved report as a
chart and a table, downloads it as Excel (``.xlsx``, the labels and numbers the page shows) and pins
it to a dashboard the user sees. Paths start with ``_``, which no entity key can, so an entity
called ``reports`` keeps its list.
"""
from __future__ import annotations

import io
import re
from decimal import Decimal

from flask import Response, flash, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from ..errors import CrmError, Invalid, NotFound, error
from ..metadata.field_types import REGISTRY
from ..runtime.query import FILTER_PARAM, SYSTEM_FIELDS
from .home import HomeScreen, visible_dashboards
from .i18n import label as label_of, localise, translate
from .pages import Screen, platform, render, screen_label
from .report_view import figure
from .reports_service import require_report_right, run_definition
from .screens import _filter_controls, screens

BUCKETS = ("month", "quarter", "year", "week", "day")
CHARTS = ("bar", "stacked_bar", "line", "pie", "number", "table")
MANY_OPS = ("in", "not_in", "has_any", "has_all", "has_none")


def group_options(screen: Screen) -> list[tuple[str, str]]:
    """(group-by, text) a user may pick: readable fields as their types allow (``group_specs``:
    by value, dates by bucket; number bands need bounds, which the builder does not ask for)."""
    lang = screen.lang
    out = [("owner_id", translate("owner", lang))]
    for f in list(screen.fields) + [SYSTEM_FIELDS["created_at"]]:
        name = screen_label(f, lang) if f.get("label") else translate("created", lang)
        specs = REGISTRY[f["type"]].group_specs(f)
        if None in specs:
            out.append((f["key"], name))
        out += [(f"{f['key']}:{b}", f"{name} ({translate('b_' + b, lang)})") for b in BUCKETS if b in specs]
    return out


def measure_options(screen: Screen) -> list[tuple[str, str]]:
    lang = screen.lang
    out = [("count", translate("m_count", lang))]
    for f in screen.fields:
        for op in REGISTRY[f["type"]].measure_ops(f):
            if op in ("sum", "avg", "min", "max"):
                out.append((f"{op}:{f['key']}", translate("m_" + op, lang, field=screen_label(f, lang))))
    return out


def filters_of(args: MultiDict) -> dict:
    """The list screen's ``filter[f][op]=v`` parameters as a report's ``filters`` object."""
    out: dict = {}
    for name, value in args.items(multi=True):
        m = FILTER_PARAM.match(name)
        if not m or value.strip() == "":
            continue
        key, op = m.group(1), m.group(2) or "eq"
        ops = out.setdefault(key, {})
        if op in MANY_OPS:
            ops.setdefault(op, []).extend(v for v in value.split(",") if v)
        elif op in ("is_empty", "is_not_empty"):
            ops[op] = True
        else:
            ops[op] = value
    return out


def definition_from(args: MultiDict, screen: Screen) -> dict:
    groups = [g for g in (args.get("group1", ""), args.get("group2", "")) if g]
    chart = args.get("chart") or "bar"
    doc = {"type": "grouped", "entity": screen.key, "group_by": groups, "measures": [args.get("measure") or "count"],
           "chart": chart if chart in CHARTS else "bar"}
    filters = filters_of(args)
    if filters:
        doc["filters"] = filters
    return doc


def args_of(doc: dict) -> MultiDict:
    """A saved grouped report as the builder's parameters (to change it into a new one)."""
    out = MultiDict([("entity", doc.get("entity", ""))])
    for n, gkey in enumerate((doc.get("group_by") or [])[:2], start=1):
        out.add(f"group{n}", gkey)
    out.add("measure", (doc.get("measures") or ["count"])[0])
    out.add("chart", doc.get("chart") or "bar")
    for key, ops in (doc.get("filters") or {}).items():
        for op, value in (ops or {}).items():
            name = f"filter[{key}]" if op == "eq" else f"filter[{key}][{op}]"
            out.add(name, ",".join(map(str, value)) if isinstance(value, list) else str(value))
    return out


def _entities(home: HomeScreen) -> list[tuple[str, str]]:
    from .pages import entity_label
    return sorted(((e.key, entity_label(e.doc, home.lang, plural=True)) for e in home.model.active()
                   if home.can("read", e.key)), key=lambda p: p[1].casefold())


def _preview(screen: Screen | None, args: MultiDict):
    """(definition, figure, errors) of what the builder holds; nothing to run without an entity."""
    if screen is None:
        return None, None, []
    doc = definition_from(args, screen)
    try:
        answer = run_definition(doc)
    except CrmError as exc:
        return doc, None, localise(exc.errors, screen.lang)
    return doc, figure(screen, doc, answer, title=args.get("label") or ""), []


def _new_key(label: str, taken: set) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    base = base if re.match(r"^[a-z][a-z0-9_]*$", base or "") else "report"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


@screens.route("/app/_reports/new", methods=["GET", "POST"])
def report_builder():
    home = HomeScreen()
    require_report_right(home.lang)
    args = request.values
    entity = args.get("entity") or ""
    screen = None
    if entity:
        screen = Screen(entity)
        screen.require("read")
    errors: list[dict] = []
    if request.method == "POST":
        label_text = (request.form.get("label") or "").strip()
        if screen is None:
            errors = [{"field": "entity", "message": translate("required", home.lang)}]
        elif not label_text:
            errors = [{"field": "label", "label": translate("report_label", home.lang),
                       "message": translate("required", home.lang)}]
        else:
            doc = definition_from(request.form, screen)
            key = _new_key(label_text, set(home.state.of_kind("report")))
            try:
                run_definition(doc)  # what the user may not run (a hidden field) is not saved either
                platform().metadata.create_definition("report", {"key": key, "label": label_text, **doc},
                                                      actor=g.user.username)
            except CrmError as exc:
                errors = localise(exc.errors, home.lang)
            else:
                flash(translate("report_saved", home.lang))
                return redirect(url_for("screens.report_page", report=key), 303)
    doc, fig, problems = _preview(screen, args)
    context = dict(entities=_entities(home), entity=entity, args=args, fig=fig, problems=problems + errors,
                   groups=group_options(screen) if screen else [], measures=measure_options(screen) if screen else [],
                   charts=CHARTS, filters=_filter_controls(screen, args) if screen else [],
                   filters_active=any(k.startswith("filter[") and v for k, v in args.items(multi=True)))
    if request.args.get("partial"):
        return render("web/report_preview.html", 400 if problems else 200, **context)
    return render("web/report_builder.html", 400 if problems or errors else 200, **context)


def _saved(home: HomeScreen, key: str) -> dict:
    state = home.state.of_kind("report").get(key)
    if state is None or state.archived:
        raise NotFound([error(None, "not_found", translate("not_found", home.lang))])
    entity = state.doc.get("entity")
    if entity and not home.can("read", entity):
        raise NotFound([error(None, "not_found", translate("not_found", home.lang))])
    return state.doc


@screens.get("/app/_reports")
def report_list():
    home = HomeScreen()
    require_report_right(home.lang)
    items = []
    for key in sorted(home.state.of_kind("report")):
        st = home.state.of_kind("report")[key]
        entity = st.doc.get("entity")
        if st.archived or (entity and not home.can("read", entity)):
            continue
        items.append({"key": key, "label": label_of(st.doc.get("label") or key, home.lang)})
    return render("web/report_list.html", items=items)


@screens.get("/app/_reports/<report>")
def report_page(report):
    key = report
    home = HomeScreen()
    require_report_right(home.lang)
    doc = _saved(home, key)
    from .reports_service import run_saved
    fig, problems = None, []
    try:
        fig = figure(home, doc, run_saved(home, key))
    except CrmError as exc:
        problems = localise(exc.errors, home.lang)
    editable = doc.get("type", "grouped") == "grouped"
    return render("web/report_page.html", key=key, doc=doc, fig=fig, problems=problems,
                  dashboards=visible_dashboards(home.model, g.user),
                  builder_href=url_for("screens.report_builder", **args_of(doc).to_dict(flat=False)) if editable else None)


@screens.get("/app/_reports/<report>.xlsx")
def report_xlsx(report):
    key = report
    home = HomeScreen()
    require_report_right(home.lang)
    doc = _saved(home, key)
    from .reports_service import run_saved
    answer = run_saved(home, key)
    return Response(workbook(figure(home, doc, answer), answer, key),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{key}.xlsx"'})


def workbook(fig: dict, answer: dict, name: str) -> bytes:
    """The report as the page shows it: labels for groups, exact numbers for measures."""
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet(name[:31])
    sheet.append(fig["headers"])
    n = fig["n_groups"]
    for shown, raw in zip(fig["rows"], answer["rows"]):
        sheet.append(shown["cells"][:n] + [Decimal(str(v)) if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
                                           else v for v in raw[n:]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@screens.post("/app/_reports/<report>/pin")
def pin_report(report):
    key = report
    home = HomeScreen()
    require_report_right(home.lang)
    _saved(home, key)
    target = request.form.get("dashboard", "")
    board = next((d for d in visible_dashboards(home.model, g.user) if d["key"] == target), None)
    if board is None:
        raise Invalid([error("dashboard", "enum", translate("not_found", home.lang))])
    name = label_of(board["label"], home.lang)
    widgets = list(board.get("widgets") or [])
    if any(w.get("report") == key for w in widgets):
        flash(translate("already_pinned", home.lang, dashboard=name))
    else:
        platform().metadata.update_definition("dashboard", target, {"widgets": widgets + [{"report": key, "width": 6}]},
                                              actor=g.user.username, expect_revision=home.state.revision)
        flash(translate("pinned", home.lang, dashboard=name))
    return redirect(url_for("screens.index", dashboard=target), 303)
