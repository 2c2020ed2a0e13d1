"""The screens' list tools: the *Export* button's download and the *Find duplicates* page with its merge.

Importing this module adds its routes to the screens blueprint (as ``board`` does). The export is
the list view the user is looking at (its filters, search, sort and columns, ``web/export.py``);
finding duplicates and merging call the same code as the API (``runtime/duplicates.py``,
``runtime/merge.py``), so rights and refusals are the same.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import flash, redirect, request, url_for

from ..errors import BadRequest, CrmError
from ..metadata.field_types import REGISTRY
from ..runtime.duplicates import find_groups, parse_by
from ..runtime.merge import merge, parse_merge
from ..runtime.query import SYSTEM_FIELDS, Filter, ListQuery
from . import export
from .controls import control
from .i18n import localise, translate
from .messages import for_page, posted_reason, reason_required
from .display import title_field
from .pages import Screen, as_user, reading, render, screen_label, user_tz
from .screens import _columns, _list_args, _whole_days, screens

#: Groups shown on one *Find duplicates* page.
PAGE_GROUPS = 50


@screens.app_template_global()
def export_url(fmt: str) -> str:
    """The download of the list view on screen: its own parameters, without the page."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "per_page", "format")]
    return url_for("screens.export_list", entity=request.view_args["entity"]) + "?" + urlencode(args + [("format", fmt)])


@screens.app_template_global()
def may_find_duplicates(screen: Screen) -> bool:
    """Merging needs changing one record and deleting others; comparing needs a matchable field."""
    return screen.can("update") and screen.can("delete") and bool(matchable_fields(screen))


def matchable_fields(screen: Screen) -> list[dict]:
    return [f for f in screen.fields if REGISTRY[f["type"]].matchable]


@screens.get("/app/<entity>/export")
def export_list(entity):
    screen = Screen(entity)
    screen.require("read")
    fmt = export.export_format(request.args)
    args = _whole_days(_list_args(), screen)
    args.setlist("columns", request.args.getlist("columns"))
    args.add("format", fmt)
    view = export.prepare(screen.svc, entity, args, access=screen.access, lang=screen.lang,
                          tz=user_tz(), default_columns=lambda readable: _columns(screen))
    return export.response(view, fmt, screen.entity.doc)


@screens.get("/app/<entity>/duplicates")
def duplicates_page(entity):
    screen = Screen(entity)
    screen.require("update")
    screen.require("delete")
    return _duplicates_view(screen)


@screens.post("/app/<entity>/merge")
def merge_records(entity):
    screen = Screen(entity)
    screen.require("update")
    screen.require("delete")
    ids = [int(v) for v in request.form.getlist("ids") if v.isascii() and v.isdigit()]
    survivor_raw = request.form.get("survivor", "")
    survivor = int(survivor_raw) if survivor_raw.isascii() and survivor_raw.isdigit() else None
    others = [i for i in ids if i != survivor]
    choices = {k[len("choice-"):]: int(v) for k, v in request.form.items()
               if k.startswith("choice-") and v.isascii() and v.isdigit()}
    try:
        survivor, others, choices = parse_merge({"survivor": survivor, "others": others, "choices": choices})
        merged = merge(screen.svc, entity, survivor, others, choices,
                       reason=posted_reason(request.form.get("_reason")), **as_user())
    except CrmError as exc:
        return _duplicates_view(screen, errors=exc.errors, status=exc.status)
    flash(translate("merged", screen.lang, n=len(others) + 1, title=screen.title_of(merged)))
    return redirect(url_for("screens.record_page", entity=entity, record_id=survivor), 303)


def _duplicates_view(screen: Screen, *, errors=(), status: int = 200):
    matchable = matchable_fields(screen)
    chosen = [k for raw in request.values.getlist("by") for k in raw.split(",") if k]
    by = chosen or _default_by(screen, matchable)
    problems, found = [], {"groups": [], "total": 0}
    if matchable:
        try:
            keys = parse_by(",".join(by), screen.entity)
            with screen.svc.engine.connect() as conn:
                found = find_groups(screen.svc, screen.key, keys, ListQuery(count_limit=None), conn=conn,
                                    limit=PAGE_GROUPS, **reading())
        except BadRequest as exc:
            problems = localise(exc.errors, screen.lang)
    groups = _groups_with_records(screen, found["groups"])
    return render("web/duplicates.html", 400 if problems else status, screen=screen, matchable=matchable, by=by,
                  groups=groups, total=found["total"], problems=problems, errors=for_page(errors, screen),
                  reason_required=reason_required(screen.entity.doc))


def _default_by(screen: Screen, matchable: list[dict]) -> list[str]:
    """What identifies a record: its title (a name) and its phone and e-mail fields; not every text
    field (two customers in the same region are no duplicates)."""
    title = title_field(screen.entity.doc)
    keys = [f["key"] for f in matchable if f["key"] == title or control(f) in ("tel", "email")]
    return keys or [matchable[0]["key"]]


def _groups_with_records(screen: Screen, groups: list[dict]) -> list[dict]:
    """Each group with its records as the page shows them, and the fields whose values differ."""
    ids = sorted({i for g in groups for i in g["ids"]})
    if not ids:
        return []
    lq = ListQuery(per_page=len(ids), filters=[Filter(SYSTEM_FIELDS["id"], "in", ids)], count_limit=len(ids))
    records = {r["id"]: r for r in screen.svc.list(screen.key, lq, **reading())["items"]}
    fields = [f for f in screen.fields if screen.writable(f["key"])]
    shows = screen.display(screen.titles(fields, list(records.values())))
    out = []
    for g in groups:
        members = [records[i] for i in g["ids"] if i in records]
        if len(members) < 2:
            continue
        differing = []
        for f in fields:
            ftype = REGISTRY[f["type"]]
            if ftype.unites(f):
                continue
            texts = [shows.text(f["key"], r.get(f["key"])) for r in members]
            if len(set(texts)) > 1:
                differing.append({"key": f["key"], "label": screen_label(f, screen.lang),
                                  "options": [(r["id"], text) for r, text in zip(members, texts)]})
        field = screen.entity.field_map[g["field"]]
        out.append({"field": g["field"], "heading": translate("same_value", screen.lang, field=screen_label(field, screen.lang),
                                                              value=g["key"]),
                    "records": [(r["id"], screen.title_of(r)) for r in members], "differing": differing,
                    "unites": any(REGISTRY[f["type"]].unites(f) for f in fields)})
    return out
