"""The generated screens: a menu of entities, lists, record pages and record forms.

Routes are generic (``/app/<entity>``): Flask refuses new routes after the first request, and every
screen is built at request time from the current metadata revision, so a field added a minute ago
is already on every screen. Every write goes through the record service (as the API's do), with
the form's own rules applied first by ``metadata.forms.accept``.
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from urllib.parse import quote

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from ..auth.csrf import csrf_token
from ..auth.redirects import local_path
from ..errors import BadRequest, CrmError, Invalid, error
from ..metadata.field_types import REGISTRY
from ..metadata.forms import form_for
from ..runtime.pipelines import pipelines_of
from ..runtime.query import FILTER_PARAM, parse_list_args
from .display import per_revision, record_titles
from .inline_cells import cell_value, inline_columns, table_attributes
from .quick_actions import current_user_name, form_defaults, prefilled, quick_actions
from .timeline import timeline
from .controls import (CompiledForm, compiled_form, control, only_rule_tags, option_markup, options_of, rule_choices,
                       split_errors)
from .i18n import COOKIE, LANGUAGES, current_language, localise, translate
from .messages import REASON, REASON_MAX, for_page, posted_reason, reason_required
from .pages import Screen, as_user, reading, record_options, render, screen_label, user_tz

screens = Blueprint("screens", __name__, template_folder="templates", static_folder="static",
                    static_url_path="/static/web")

#: Query parameters of the list screen that are not list-query parameters.
UI_PARAMS = ("columns", "view")
DEFAULT_COLUMNS = 6
DATE_ONLY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
PER_PAGE = 25
RELATED_ROWS = 10


@screens.errorhandler(CrmError)
def crm_error(exc: CrmError):
    lang = current_language()
    errors = _page_errors(exc.errors, lang)
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return jsonify({**exc.body(), "errors": errors}), exc.status
    return render("web/error.html", exc.status, errors=errors)


def _page_errors(errors, lang: str) -> list[dict]:
    """Errors named by labels when the address names an entity that exists, else only localised."""
    entity = (request.view_args or {}).get("entity")
    try:
        return for_page(errors, Screen(entity)) if entity else localise(errors, lang)
    except CrmError:  # the unknown entity is the error being shown
        return localise(errors, lang)


@screens.get("/lang/<code>")
def switch_language(code):
    response = redirect(local_path(request.args.get("next"), "/app"))
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


# ---- list ---------------------------------------------------------------------------------------
#: Filters that take no value (a report's cell for "no value" links to the list with one of them).
NO_VALUE_OPERATORS = ("[is_empty]", "[is_not_empty]")


def _list_args() -> MultiDict:
    """The query string without the screen's own parameters and without empty filter inputs."""
    return MultiDict([(k, v) for k, v in request.args.items(multi=True)
                      if k not in UI_PARAMS and not (k.startswith("filter[") and v.strip() == ""
                                                     and not k.endswith(NO_VALUE_OPERATORS))])


def _whole_days(args: MultiDict, screen: Screen) -> MultiDict:
    """A datetime range typed as dates ends with its last day: "to 2025-03-05" keeps the 5th.

    The list's date controls post ``filter[at][lte]=2025-03-05``, which for a datetime field means
    midnight at the start of that day; it becomes ``filter[at][lt]=2025-03-06``.
    """
    out = MultiDict()
    for key, value in args.items(multi=True):
        m = FILTER_PARAM.match(key)
        field = screen.entity.field_map.get(m.group(1)) if m else None
        if field is not None and control(field) == "datetime-local" and m.group(2) == "lte" and DATE_ONLY.match(value):
            try:
                value = (dt.date.fromisoformat(value) + dt.timedelta(days=1)).isoformat()
                key = f"filter[{m.group(1)}][lt]"
            except ValueError:
                pass  # not a calendar date: the list query says so
        out.add(key, value)
    return out


def _columns(screen: Screen) -> list[dict]:
    # ?columns=a,b or the chooser's checkboxes (columns=a&columns=b)
    chosen = [c for raw in request.args.getlist("columns") for c in raw.split(",") if c]
    by_key = {f["key"]: f for f in screen.fields}
    picked = [by_key[c] for c in chosen if c in by_key]
    if picked:
        return picked
    from .list_tools import default_columns  # the entity's list_columns, else the first few fields
    return default_columns(screen)


def _filter_controls(screen: Screen, args: MultiDict) -> list[dict]:
    """One filter per readable field, fitting its type (what its operators allow)."""
    controls = []
    for f in screen.fields:
        ftype = REGISTRY[f["type"]]
        ctl = ftype.control_of(f)
        key = f["key"]
        item = {"key": key, "label": screen_label(f, screen.lang), "control": ctl}
        if ctl == "textarea":
            continue
        operators = ftype.operators_of(f)
        if "has_any" in operators:
            item.update(kind="choices", name=f"filter[{key}][has_any]", options=options_of(f, screen.state, screen.lang),
                        values=[v for raw in args.getlist(f"filter[{key}][has_any]") for v in raw.split(",")])
        elif ctl in ("choice", "boolean"):
            item.update(kind="choice", name=f"filter[{key}]", options=options_of(f, screen.state, screen.lang),
                        value=args.get(f"filter[{key}]", ""))
        elif "gte" in operators:
            item.update(kind="range", input="date" if ctl in ("date", "datetime-local") else "number",
                        step="any" if ctl == "decimal" else "1",
                        low=(f"filter[{key}][gte]", args.get(f"filter[{key}][gte]", "")),
                        high=(f"filter[{key}][lte]", args.get(f"filter[{key}][lte]", "")))
        elif "contains" in operators:
            item.update(kind="text", name=f"filter[{key}][contains]", value=args.get(f"filter[{key}][contains]", ""))
        else:
            item.update(kind="text", name=f"filter[{key}]", value=args.get(f"filter[{key}]", ""))
        controls.append(item)
    return controls


@screens.get("/app/<entity>")
def list_page(entity):
    screen = Screen(entity)
    screen.require("read")
    from . import list_tools  # views, the remembered state and bulk actions (it imports this module)
    reopened = list_tools.reopen(screen)
    if reopened is not None:
        return reopened
    args = _list_args()
    columns = _columns(screen)
    query_args = _whole_days(args, screen)
    problems, result, in_bin, parsed = [], None, False, False
    try:
        query = parse_list_args(query_args, screen.entity, default_per_page=PER_PAGE, max_per_page=200)
        in_bin = query.archived
        # only what the page shows: its columns and the records' titles
        result = screen.svc.list(entity, query, fields=[f["key"] for f in columns] + [screen.title_key], **reading())
    except BadRequest as exc:  # a hand-edited address: say what is wrong and show the form to fix it
        problems = localise(exc.errors, screen.lang)
    else:
        parsed = True
    tabs = list_tools.remember_and_tabs(screen, remember=parsed, tabs=not in_bin)
    items = result["items"] if result else []
    editable = {} if in_bin else inline_columns(screen, columns)
    bulk = None if in_bin else list_tools.bulk_context(screen)
    write_row = _row_writer(screen, columns, items, url_for("screens.list_page", entity=entity) + "/", in_bin=in_bin,
                            editable=editable, pick=bulk is not None)
    rows = [write_row(r) for r in items]
    sort = args.get("sort", "")
    column_keys = [f["key"] for f in columns]
    tools = list_tools.tools_form(screen, column_keys, in_bin=in_bin, filters=lambda: _filter_controls(screen, args))
    return render("web/list.html", 400 if problems else 200, screen=screen, columns=columns, rows=rows, result=result,
                  in_bin=in_bin, can_delete=screen.can("delete"), problems=problems, sort=sort, args=args, tools=tools,
                  column_labels=[screen_label(f, screen.lang) for f in columns],
                  has_board=bool(pipelines_of(screen.model, entity)), inline=table_attributes(screen, editable),
                  page_url=lambda **change: _url_with(change),
                  views=tabs, bulk=bulk)


def _row_writer(screen: Screen, columns: list[dict], items: list[dict], record_url: str, *, in_bin: bool,
                editable: dict | None = None, pick: bool = False):
    """A function writing a record's row (``<tr>``) as markup: the labels, the link and each
    column's display function are looked up once per page, not per cell (a page has 300 cells, and
    a Jinja loop over them cost more than the rest of the page). Texts are escaped here and joined
    as plain strings (``Markup.join`` would escape them again).

    A cell editable in place (``editable``, ``inline_cells.py``) carries its field and its value as
    the control shows it; ``pick`` adds the bulk bar's checkbox; a list of the recycle bin links to
    no record and ends each row with its restore button (when the user may delete)."""
    shown = screen.display(screen.titles(columns, items))
    keys = [f["key"] for f in columns]
    heads = [f'<td data-label="{escape(screen_label(f, screen.lang))}"' for f in columns]
    editable = editable or {}
    tz = user_tz()
    inline = [(i, f, f'{heads[i]} data-inline="{escape(f["key"])}" data-value="')
              for i, f in enumerate(columns) if i and f["key"] in editable]
    closed = [h + ">" for h in heads]
    href = escape(record_url)
    link = not in_bin
    lang = screen.lang
    may_restore = in_bin and screen.can("delete")
    token, restore_text = (escape(csrf_token()), escape(translate("restore", lang))) if may_restore else ("", "")

    def cells(record: dict) -> list[str]:
        texts = shown.cells(record, keys)
        if not texts:  # no column chosen: the title alone
            title = escape(screen.title_of(record))
            return [f'<td><a href="{href}{record["id"]}">{title}</a></td>' if link else f"<td>{title}</td>"]
        tds = closed
        if inline:
            tds = list(closed)
            for i, f, opening in inline:
                tds[i] = f'{opening}{escape(cell_value(f, record.get(f["key"]), tz))}" tabindex="0">'
        first = escape(texts[0] or screen.title_of(record))
        parts = [tds[0], f'<a href="{href}{record["id"]}">{first}</a></td>' if link else f"{first}</td>"]
        parts += [f"{head}{escape(text)}</td>" for head, text in zip(tds[1:], texts[1:])]
        return parts

    def row(record: dict) -> Markup:
        rid = record["id"]
        out = [f'<tr data-id="{rid}" data-version="{record.get("version")}">']
        if pick:
            title = escape(translate("select_row", lang, title=screen.title_of(record)))
            out.append(f'<td class="pick"><input type="checkbox" name="ids" value="{rid}" form="bulk-form" data-pick '
                       f'aria-label="{title}"></td>')
        out += cells(record)
        if may_restore:  # the recycle bin: rare, so url_for per row
            action = escape(url_for("screens.restore_record", entity=screen.key, record_id=rid))
            out.append(f'<td><form method="post" action="{action}" class="inline">'
                       f'<input type="hidden" name="csrf_token" value="{token}"><button type="submit" '
                       f'aria-label="{restore_text} {escape(screen.title_of(record))}">{restore_text}</button></form></td>')
        out.append("</tr>")
        return Markup("".join(out))
    return row


def _url_with(change: dict) -> str:
    args = MultiDict(request.args)
    for key, value in change.items():
        args.setlist(key, [str(value)] if value not in (None, "") else [])
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in args.items(multi=True))
    return f"{request.path}?{query}" if query else request.path


def _quote(text) -> str:
    return _quoted(str(text))


@lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    # A list page writes a dozen links from the same few parameters: quote each text once.
    return quote(text, safe="[]-_,")


@screens.get("/app/<entity>/lookup")
def lookup(entity):
    """Records whose text matches ``q``, as ``[{"id", "title"}]`` (at most 20): a reference picker."""
    screen = Screen(entity)
    screen.require("read")
    args = MultiDict([("q", request.args.get("q", "")[:200]), ("per_page", "20")])
    items = screen.svc.list(entity, parse_list_args(args, screen.entity, count_limit=20), **reading())["items"]
    return jsonify([{"id": r["id"], "title": screen.title_of(r)} for r in items])


# ---- record page --------------------------------------------------------------------------------
@screens.get("/app/<entity>/<id:record_id>")
def record_page(entity, record_id):
    screen = Screen(entity)
    screen.require("read")
    return _record_view(screen, screen.svc.get(entity, record_id, **reading()))


@screens.post("/app/<entity>/<id:record_id>/delete")
def delete_record(entity, record_id):
    """Move the record to the recycle bin (restored from the admin data view or the API)."""
    screen = Screen(entity)
    screen.require("delete")
    record = screen.svc.get(entity, record_id, **reading())
    try:
        screen.svc.delete(entity, record_id, reason=posted_reason(request.form.get("reason")), **as_user())
    except CrmError as exc:  # still referenced (409), a reason required (422), not this user's (403)
        return _record_view(screen, record, errors=exc.errors, status=exc.status)
    flash(translate("deleted", screen.lang, title=screen.title_of(record)))
    return redirect(url_for("screens.list_page", entity=entity), 303)


@screens.post("/app/<entity>/<id:record_id>/restore")
def restore_record(entity, record_id):
    """Take a record out of the recycle bin (a refusal, e.g. a unique value taken since, is an error page)."""
    screen = Screen(entity)
    screen.require("delete")
    record = screen.svc.restore(entity, record_id, reason=posted_reason(request.form.get("reason")), **as_user())
    flash(translate("restored", screen.lang, title=screen.title_of(record)))
    return redirect(url_for("screens.record_page", entity=entity, record_id=record_id), 303)


def _record_view(screen: Screen, record: dict, *, errors=(), status: int = 200):
    entity, record_id = screen.key, record["id"]
    form = form_for(screen.state, screen.entity.doc, request.args.get("form"))
    sections = []
    for section in form.sections:
        shown = [ff for ff in section.fields if screen.readable(ff.key) and not ff.hidden]
        if shown:
            sections.append((section.title, shown))
    shows = screen.display(screen.titles([ff.field for _, shown in sections for ff in shown], [record]))

    def value_of(ff):
        value = record.get(ff.key)
        ctl = control(ff.field)
        if ctl == "record" and isinstance(value, int):
            return {"text": shows.text(ff.key, value),
                    "href": url_for("screens.record_page", entity=ff.field["target"], record_id=value)}
        if ctl == "choices":
            return {"chips": [shows.text(ff.key, v) for v in value or []]}
        if ctl == "datetime-local" and value:
            return {"moment": value, "text": shows.text(ff.key, value)}
        return {"text": shows.text(ff.key, value)}

    related = []
    for other, f in screen.model.referencing(entity):
        if not screen.can("read", other.key) or not screen.readable(f["key"], other.key):
            continue
        other_screen = Screen(other.key)
        args = MultiDict([(f"filter[{f['key']}]", str(record_id)), ("per_page", str(RELATED_ROWS))])
        page = screen.svc.list(other.key, parse_list_args(args, other, count_limit=1000), **reading())
        related.append({"entity": other.key, "label": other_screen.label, "via": screen_label(f, screen.lang),
                        "total": page["total"], "items": [(r["id"], other_screen.title_of(r)) for r in page["items"]],
                        "href": url_for("screens.list_page", entity=other.key, **{f"filter[{f['key']}]": record_id})})
    page_no = _page_number(request.args.get("timeline"))
    story = timeline(screen, record_id, page=page_no)
    pending = None
    if any(screen.readable(p["field"]) for p in pipelines_of(screen.model, entity)):
        from .approvals_screen import record_approvals  # its routes live on this module's blueprint
        pending, _ = record_approvals(screen, record_id)
    may = screen.access.allows if screen.access is not None else (lambda *_: True)
    return render("web/record.html", status, screen=screen, record=record, title=screen.title_of(record),
                  sections=sections, value_of=value_of, related=related, timeline=story, pending=pending,
                  quick=quick_actions(screen, record),
                  can_edit=screen.can("update"), can_delete=may("delete", entity, record, screen.model),
                  reason_required=reason_required(screen.entity.doc),
                  errors=for_page(errors, screen))


def _page_number(raw) -> int:
    """A page number from the address; anything else is the first page (a hand-edited link)."""
    return int(raw) if isinstance(raw, str) and raw.isdigit() and 0 < int(raw) <= 100 else 1


# ---- record forms -------------------------------------------------------------------------------
def _compiled_form(screen: Screen) -> CompiledForm:
    """The entity's form (``?form=<key>``) for this user: readable fields shown, the rest of what
    they may not write read-only, compiled once per revision, language and rights."""
    asked = request.values.get("form")
    kept = per_revision(screen.model)
    key = ("screen form", screen.key, asked, screen.lang, screen.access.rights_key)
    found = kept.get(key)
    if found is None:
        found = kept[key] = _compile_form(screen, form_for(screen.state, screen.entity.doc, asked))
    return found


def _compile_form(screen: Screen, form) -> CompiledForm:
    """``form`` for this user: what they may read shown, what they may not write read-only."""
    shown = [ff for ff in form.fields if screen.readable(ff.key) and not ff.hidden]
    read_only = {ff.key for ff in shown if ff.read_only or not screen.writable(ff.key) or only_rule_tags(ff.field)}
    keys = {ff.key for ff in shown}
    conditions = [c for c in form.conditions if c["field"] in keys and c["when"]["field"] in keys]
    return compiled_form(screen.model, form, lang=screen.lang, shown=shown, read_only=read_only, conditions=conditions)


def _defaults(screen: Screen) -> dict:
    """A new form's values: the fields' defaults (``now``, ``today`` computed for this reader), then
    what the address pre-fills (a quick action's reference, contact…)."""
    return {**form_defaults(screen.entity.fields, user_tz(), current_user_name()), **prefilled(screen)}


def _back_to() -> str | None:
    """Where a quick action returns after saving (``next``, a path on this site), else None."""
    raw = request.values.get("next")
    found = local_path(raw, "") if raw else ""
    return found or None


def _render_form(screen: Screen, cf: CompiledForm, wtform, *, record=None, errors=(), status=200):
    keys = set(cf.controls) | ({REASON} if record is not None else set())
    by_field, general = split_errors(for_page(errors, screen), keys)
    by_rule = {c.key: rule_choices(cf.fields[c.key], screen.state, screen.lang, (record or {}).get(c.key))
               for c in cf.controls.values() if c.kind == "checkboxes" and cf.fields[c.key].get("_rule_tags")}
    records = {}
    for c in cf.references:
        found = record_options(screen, cf.fields[c.key])
        if found is not None:
            records[c.key] = option_markup(found)
    picked = {}
    for c in cf.references:  # a pre-filled reference without a drop-down: say which record it is
        value = wtform[c.key].data
        if c.key not in records and isinstance(value, str) and value.isdigit():
            target = REGISTRY[cf.fields[c.key]["type"]].target_entity(cf.fields[c.key])
            if target in screen.model.entities and screen.can("read", target):
                picked[c.key] = record_titles(screen.svc, screen.model, target, [int(value)], reading()).get(int(value))
    list_url = url_for("screens.list_page", entity=screen.key)
    record_url = url_for("screens.record_page", entity=screen.key, record_id=record["id"]) if record else None
    back_to = _back_to()
    return render("web/form.html", status, screen=screen, form=cf.form, cf=cf, wtform=wtform, picked=picked,
                  back_to=back_to, list_url=list_url, record_url=record_url, cancel_url=back_to or record_url or list_url,
                  field_errors=by_field, general_errors=general, record=record, records=records,
                  title=screen.title_of(record) if record else None, rule_choices=by_rule,
                  reason=request.form.get(REASON, "") if request.method == "POST" else "",
                  reason_required=reason_required(screen.entity.doc), reason_max=REASON_MAX,
                  has_times=cf.has_times)


@screens.route("/app/<entity>/new", methods=["GET", "POST"])
def new_record(entity):
    screen = Screen(entity)
    screen.require("create")
    cf = _compiled_form(screen)
    tz = user_tz()
    if request.method == "GET":
        return _render_form(screen, cf, cf.show(cf.data_of(_defaults(screen), tz)))
    wtform = cf.bind(formdata=request.form)
    try:
        created = screen.svc.create(entity, cf.values_to_create(wtform, tz), **as_user())
    except CrmError as exc:
        return _render_form(screen, cf, wtform, errors=exc.errors, status=exc.status)
    flash(translate("created_ok", screen.lang))
    return redirect(_back_to() or url_for("screens.record_page", entity=entity, record_id=created["id"]), 303)


@screens.route("/app/<entity>/<id:record_id>/edit", methods=["GET", "POST"])
def edit_record(entity, record_id):
    screen = Screen(entity)
    screen.require("update")
    record = screen.svc.get(entity, record_id, **reading())
    cf = _compiled_form(screen)
    tz = user_tz()
    if request.method == "GET":
        return _render_form(screen, cf, cf.show(cf.data_of(record, tz)), record=record)
    wtform = cf.bind(formdata=request.form)
    try:
        version = _version(request.form.get("version"))
        values = cf.values_to_update(wtform, record, tz)
        if values:
            screen.svc.update(entity, record_id, values, expected_version=version,
                              reason=posted_reason(request.form.get(REASON)), **as_user())
    except CrmError as exc:
        return _render_form(screen, cf, wtform, record=record, errors=exc.errors, status=exc.status)
    flash(translate("saved", screen.lang))
    return redirect(url_for("screens.record_page", entity=entity, record_id=record_id), 303)


def _version(raw):
    if raw in (None, ""):
        return None
    if not raw.isdigit():
        raise Invalid([error("version", "type", "must be a whole number")])
    return int(raw)
