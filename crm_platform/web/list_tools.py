"""What a list screen offers besides its rows: saved views as tabs, the state it reopens in, and bulk actions.

- **Views** (``runtime/views.py``) are the list's own query strings under a name; a tab is the list's
  address with the view's query and ``view=<id>``. The *Save view* form posts the query the list shows.
- **Last state**: the query string a user last opened a list with is kept per user and entity; the
  list's bare address reopens it. Columns remembered then are joined by default columns of fields the
  entity gained since (``merge_new_defaults``), so a field the admin added shows without ticking it.
- **Default columns**: the entity's ``list_columns`` (set in the designer), else its first six
  fields that are not long text.
- **Bulk actions** post the ticked ids, or the list's query for "all matching", to ``/_bulk``, which
  runs ``runtime/bulk.py`` — each record through the record service — and shows what changed and
  what was refused. *Send e-mail* (``_bulk_email``) queues one e-mail per record the same way as
  the API's ``email`` action; bad input shows the e-mail again with its errors (422).
"""
from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

from flask import flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from ..errors import CrmError, Forbidden, Invalid, error
from ..db import writing
from ..kept import Kept
from ..metadata.field_types import REGISTRY
from ..runtime import bulk, views
from ..runtime.automation.actions import PLACEHOLDER
from ..runtime.pipelines import pipelines_of
from ..runtime.query import parse_list_args
from .controls import control, options_of
from .display import per_revision
from .i18n import label as label_of, translate
from .messages import REASON, for_page, posted_reason, reason_required
from .pages import Screen, platform, render, screen_label, user_tz
from .screens import screens

#: Fields shown when the entity names no ``list_columns``.
DEFAULT_COLUMNS = 6
#: Parameters the list screen reads that are not list-query parameters.
SCREEN_ONLY = ("columns", "view", "page")
#: Rendered parts of list screens kept per revision (``kept``), the most recently used.
PARTS_KEPT = 256
#: How long a bulk bar may offer the users of a moment ago (a new user shows this much later).
BULK_OWNERS_SECONDS = 10


def default_columns(screen: Screen) -> list[dict]:
    by_key = {f["key"]: f for f in screen.fields}
    named = [by_key[k] for k in screen.entity.doc.get("list_columns") or [] if k in by_key]
    if named:
        return named
    return [f for f in screen.fields if control(f) != "textarea"][:DEFAULT_COLUMNS]


def merge_new_defaults(query: str, known: list[str], screen: Screen) -> str:
    """A remembered query whose ``columns`` gain the default columns of fields added since it was kept."""
    args = MultiDict(parse_qsl(query, keep_blank_values=True))
    chosen = [c for raw in args.getlist("columns") for c in raw.split(",") if c]
    if not chosen:
        return query
    new = [f["key"] for f in default_columns(screen) if f["key"] not in known and f["key"] not in chosen]
    if not new:
        return query
    args.setlist("columns", [",".join(chosen + new)])
    return urlencode(list(args.items(multi=True)))


def state_query() -> str:
    """The list's query string as it is kept (no page)."""
    return urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "page"])


def reopen(screen: Screen):
    """A redirect to the list as this user left it, when the bare list address is opened; else None."""
    user = g.get("user")
    if user is None or request.args:
        return None
    with platform().engine.connect() as conn:
        kept = views.last_state(conn, user.id, screen.key)
    if kept is None or not kept[0]:
        return None
    return redirect(url_for("screens.list_page", entity=screen.key) + "?" + merge_new_defaults(kept[0], kept[1], screen))


def remember_and_tabs(screen: Screen, *, remember: bool, tabs: bool) -> dict | None:
    """Keep the list's state for this user (``remember``) and read its view tabs (``tabs``): both
    reads on one connection (on PostgreSQL each connection a page takes costs round trips), and a
    write only when the state changed, in a transaction that takes the write lock first."""
    user = g.get("user")
    remember = remember and user is not None and not request.args.get("archived")
    if not (remember or tabs):
        return None
    engine = platform().engine
    wanted = (state_query(), [f["key"] for f in screen.entity.fields]) if remember else None
    with engine.connect() as conn:
        kept = views.last_state(conn, user.id, screen.key) if remember else None
        found = view_tabs(conn, screen) if tabs else None
    if remember and kept != wanted:
        with writing(engine) as conn:
            views.remember(conn, user.id, screen.key, *wanted)
    return found


def view_tabs(conn, screen: Screen) -> dict:
    """The tabs of a list: *All* and the views the user may use, the current one marked."""
    found = views.list_views(conn, screen.access, screen.key)
    base = url_for("screens.list_page", entity=screen.key)
    current = request.args.get("view", "")
    tabs = [{"name": translate("view_all", screen.lang), "url": base + "?view=all", "current": current in ("", "all"),
             "id": None}]
    for v in found:
        query = v["query"] + ("&" if v["query"] else "") + f"view={v['id']}"
        tabs.append({"name": v["name"], "url": f"{base}?{query}", "current": current == str(v["id"]), "id": v["id"],
                     "mine": v["mine"], "shared": v["role"] is not None})
    mine = next((t for t in tabs if t["current"] and t["id"] is not None and t.get("mine")), None)
    roles = [(key, label_of(role.doc.get("label") or key, screen.lang))
             for key, role in sorted(screen.state.roles.items())
             if not role.archived and (key in screen.access.roles or screen.access.is_admin(screen.model))]
    return {"tabs": tabs, "current": mine, "roles": roles,
            "query": urlencode([(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "view")])}


def tools_form(screen: Screen, column_keys: list[str], *, in_bin: bool, filters) -> Markup:
    """The list's search, filters and column chooser (``web/_list_tools.html``).

    It depends only on the revision, the language, the user's rights and the query string, and
    costs more to render than the list's rows: it is kept per revision (``kept``), keyed by those.
    ``filters`` builds the filter controls (``screens._filter_controls``) when it is not kept."""
    key = ("tools", screen.key, screen.lang, screen.access.rights_key, in_bin,
           tuple(item for item in request.args.items(multi=True) if item[0] != "page"))
    return kept(screen, key, lambda: Markup(render_template(
        "web/_list_tools.html", screen=screen, args=request.args, in_bin=in_bin, filters=filters(),
        column_keys=column_keys, filters_active=any(k.startswith("filter[") for k in request.args),
        t=lambda k, **v: translate(k, screen.lang, **v), label=lambda value: label_of(value, screen.lang))))


def bulk_context(screen: Screen) -> dict | None:
    """What the bulk bar offers this user on this list (None when they may change nothing): its
    actions as markup, rendered once per revision, language and rights, and at most
    ``BULK_OWNERS_SECONDS`` old (they list the users a record may be assigned to)."""
    may_update, may_delete = screen.can("update"), screen.can("delete")
    if not (may_update or may_delete):
        return None
    key = ("bulk", screen.key, screen.lang, screen.access.rights_key, int(time.monotonic() // BULK_OWNERS_SECONDS))
    actions = kept(screen, key, lambda: Markup(render_template(
        "web/_bulk_actions.html", bulk=_bulk_actions(screen, may_update, may_delete), lang=screen.lang,
        t=lambda k, **v: translate(k, screen.lang, **v))))
    return {"actions": actions, "reason": reason_required(screen.entity.doc)}


def _bulk_actions(screen: Screen, may_update: bool, may_delete: bool) -> dict:
    settable, tag_fields, stages = [], [], []
    if may_update:
        for f in screen.fields:
            if not screen.writable(f["key"]):
                continue
            ftype = REGISTRY[f["type"]]
            ctl = control(f)
            if ftype.holds_stages:
                continue  # moved by "move stage", which offers the pipeline's stages
            if ftype.multi_valued:
                tag_fields.append({"key": f["key"], "label": screen_label(f, screen.lang),
                                   "options": options_of(f, screen.state, screen.lang) or []})
                continue
            if ctl in ("textarea", "record", "file"):
                continue
            settable.append({"key": f["key"], "label": screen_label(f, screen.lang), "control": ctl,
                             "options": options_of(f, screen.state, screen.lang)})
        for p in pipelines_of(screen.model, screen.key):
            f = screen.entity.field_map[p["field"]]
            if screen.writable(f["key"]):
                stages.append({"field": f["key"], "label": label_of(p.get("label") or p["key"], screen.lang),
                               "stages": [(s["key"], label_of(s.get("label") or s["key"], screen.lang))
                                          for s in p["stages"] if not s.get("archived")]})
    owners = []
    if may_update and screen.access.rights(screen.key, screen.model).update == "all":
        owners = [(u["id"], u["username"]) for u in platform().users.list() if u["active"]]
    return {"settable": settable, "tags": tag_fields, "stages": stages, "owners": owners, "delete": may_delete,
            "email": email_offer(screen) if may_update else None}


def email_offer(screen: Screen) -> dict | None:
    """What *Send e-mail* offers on this list: the e-mail fields the user may read (``to``), the
    yes/no fields that may hold an opt-out (``unless``) and the placeholders, label → ``{key}``
    (None when the entity has no e-mail field the user may read)."""
    # by the control each type declares: an address typed as e-mail, a yes / no
    to = [(f["key"], screen_label(f, screen.lang)) for f in screen.fields if control(f) == "email"]
    if not to:
        return None
    unless = [(f["key"], screen_label(f, screen.lang)) for f in screen.fields if control(f) == "boolean"]
    placeholders = [(screen_label(f, screen.lang), f["key"]) for f in screen.fields
                    if not REGISTRY[f["type"]].multi_valued and control(f) != "file"]
    return {"to": to, "unless": unless, "placeholders": placeholders}


def kept(screen: Screen, key: tuple, build) -> Markup:
    """``build()``, remembered under ``key`` for this metadata revision (the most recent
    ``PARTS_KEPT`` parts: a query string is part of some keys)."""
    store = per_revision(screen.model).get("list_parts")
    if store is None:
        store = per_revision(screen.model).setdefault("list_parts", Kept(PARTS_KEPT))
    return store.get_or_build(key, build)


# ---- routes ------------------------------------------------------------------------------------------
@screens.post("/app/<entity>/_views")
def save_view(entity):
    screen = Screen(entity)
    screen.require("read")
    body = {"name": request.form.get("name", ""), "query": request.form.get("query", ""),
            "role": request.form.get("role") or None}
    view_id = request.form.get("view_id", "")
    svc = platform().records
    try:
        with svc.engine.begin() as conn:
            model = svc.runtime.current(conn)
            if request.form.get("delete") and view_id.isdigit():
                gone = views.get_view(conn, screen.access, int(view_id))
                views.delete_view(conn, model, screen.access, int(view_id))
                flash(translate("view_deleted", screen.lang, name=gone["name"]))
                return redirect(url_for("screens.list_page", entity=entity, view="all"))
            if view_id.isdigit():
                view = views.update_view(conn, model, screen.access, int(view_id), {"query": body["query"]})
            else:
                view = views.create_view(conn, model, screen.access, entity, body)
    except Invalid as exc:
        for e in for_page(exc.errors, screen):
            flash(f"{e.get('label') or e.get('field') or ''}: {e['message']}")
        return redirect(url_for("screens.list_page", entity=entity) + "?" + body["query"])
    flash(translate("view_saved", screen.lang, name=view["name"]))
    query = view["query"] + ("&" if view["query"] else "") + f"view={view['id']}"
    return redirect(url_for("screens.list_page", entity=entity) + "?" + query)


def _bulk_action(screen: Screen, form) -> bulk.BulkAction:
    kind = form.get("action", "")
    tz = user_tz()
    if kind == "assign":
        owner = form.get("owner_id", "")
        if not owner.isdigit():
            raise Invalid([error("owner_id", "required", translate("bulk_assign", screen.lang))])
        return bulk.BulkAction(set={"owner_id": int(owner)})
    if kind == "set":
        key = form.get("field", "")
        f = screen.entity.field_map.get(key)
        if f is None or not screen.readable(key):
            raise Invalid([error("field", "required", translate("bulk_field", screen.lang))])
        return bulk.BulkAction(set={key: REGISTRY[f["type"]].from_form(f, form.get(f"value_{key}", ""), tz)})
    if kind == "stage":
        field, _, stage = form.get("stage", "").partition(":")
        if not stage:
            raise Invalid([error("stage", "required", translate("bulk_stage", screen.lang))])
        return bulk.BulkAction(set={field: stage})
    if kind in ("add_tags", "remove_tags"):
        key = form.get("tag_field", "")
        tags = form.getlist(f"tags_{key}")
        if not tags:
            raise Invalid([error("tags", "required", translate("bulk_" + kind, screen.lang))])
        return bulk.BulkAction(**{kind: {key: tags}})
    if kind == "delete":
        return bulk.BulkAction(delete=True)
    raise Invalid([error("action", "required", translate("bulk_action", screen.lang))])


@screens.post("/app/<entity>/_bulk")
def bulk_page(entity):
    screen = Screen(entity)
    screen.require("read")
    form = request.form
    back = url_for("screens.list_page", entity=entity) + ("?" + form.get("query", "") if form.get("query") else "")
    if form.get("action") == "email":
        return _bulk_email(screen, form, back)
    try:
        action = _bulk_action(screen, form)
        reason = posted_reason(form.get(REASON))
        ids = _bulk_ids(screen, form)
        if not ids:
            flash(translate("bulk_none", screen.lang))
            return redirect(back)
        result = bulk.run(screen.svc, entity, ids, action, access=screen.access, reason=reason)
    except CrmError as exc:
        for e in for_page(exc.errors, screen):
            flash(f"{e.get('label') or e.get('field') or ''}: {e['message']}".lstrip(": "))
        return redirect(back)
    refused = []
    if result["refused"]:
        titles = _titles(screen, [r["id"] for r in result["refused"]])
        refused = [{"id": r["id"], "title": titles.get(r["id"], f"#{r['id']}"),
                    "errors": for_page(r["errors"], screen)} for r in result["refused"]]
    return render("web/bulk_done.html", screen=screen, updated=result["updated"], refused=refused, back=back)


def _posted_ids(form) -> list[int]:
    return [int(i) for i in form.getlist("ids") if i.isdigit() and 0 < int(i) < 2**63]


def _bulk_ids(screen: Screen, form) -> list[int]:
    """The ticked ids, or those of every record matching the list's posted query ("all matching")."""
    if form.get("all_matching"):
        args = MultiDict(parse_qsl(form.get("query", ""), keep_blank_values=True))
        for key in SCREEN_ONLY:
            args.poplist(key)
        query = parse_list_args(args, screen.entity, max_per_page=200)
        return bulk.matching_ids(screen.svc, screen.key, query, screen.access)
    return _posted_ids(form)


#: Longest subject and body *Send e-mail* takes.
EMAIL_SUBJECT_MAX, EMAIL_BODY_MAX = 500, 20_000
EMAIL_INPUTS = ("email_to", "email_subject", "email_body", "email_unless")


def _email_of(screen: Screen, offer: dict, posted: dict) -> dict:
    """The posted e-mail as ``BulkAction.email``, or Invalid naming each bad input in the reader's
    language (fields are those the reader may read: a placeholder of a hidden field is unknown)."""
    lang, problems = screen.lang, []

    def name(key):
        return translate(key, lang)

    to, unless = posted["email_to"], posted["email_unless"]
    if to not in dict(offer["to"]):
        problems.append(error("email_to", "choice", translate("email_bad_to", lang, what=name("email_to"))))
    if unless and unless not in dict(offer["unless"]):
        problems.append(error("email_unless", "choice", translate("email_bad_unless", lang, what=name("email_unless"))))
    usable = {key for _, key in offer["placeholders"]} | {"id"}
    for key, most in (("email_subject", EMAIL_SUBJECT_MAX), ("email_body", EMAIL_BODY_MAX)):
        text = posted[key]
        if not text.strip():
            problems.append(error(key, "required", translate("email_required", lang, what=name(key),
                                                             what_lower=name(key).lower())))
        elif len(text) > most:
            problems.append(error(key, "maxLength", translate("email_too_long", lang, what=name(key), n=most)))
        for unknown in dict.fromkeys(p for p in PLACEHOLDER.findall(text) if p not in usable):
            problems.append(error(key, "unknown_placeholder", translate(
                "email_unknown_placeholder", lang, what=name(key), placeholder="{" + unknown + "}")))
    if problems:
        raise Invalid([{**p, "label": name(p["field"])} for p in problems])
    email = {"to": to, "subject": posted["email_subject"], "body": posted["email_body"]}
    if unless:
        email["unless"] = unless
    return email


def _bulk_email(screen: Screen, form, back: str):
    """*Send e-mail*: one outbox message per chosen record (``runtime/bulk.py``, as the API), then
    how many were queued and which records were refused; bad input shows the e-mail again with the
    errors (400/422), nothing queued."""
    offer = email_offer(screen) if screen.can("update") else None
    if offer is None:
        raise Forbidden([error(None, "forbidden", translate("not_allowed", screen.lang))])
    posted = {key: form.get(key, "") for key in EMAIL_INPUTS}
    try:
        email = _email_of(screen, offer, posted)
        ids = _bulk_ids(screen, form)
        if not ids:
            flash(translate("bulk_none", screen.lang))
            return redirect(back)
        result = bulk.run(screen.svc, screen.key, ids, bulk.BulkAction(email=email), access=screen.access, reason=None)
    except CrmError as exc:
        # the e-mail's own inputs are named and worded here already; the rest as any page shows them
        errors = [e if e.get("field") in EMAIL_INPUTS and e.get("label") else for_page([e], screen)[0]
                  for e in exc.errors]
        return render("web/bulk_email.html", exc.status if 400 <= exc.status < 500 else 422, screen=screen,
                      email=offer, values=posted, errors=errors, ids=_posted_ids(form),
                      all_matching=bool(form.get("all_matching")), query=form.get("query", ""), back=back)
    refused = []
    if result["refused"]:
        titles = _titles(screen, [r["id"] for r in result["refused"]])
        for r in result["refused"]:
            errors = for_page(r["errors"], screen)
            for e in errors:
                if e.get("code") in ("no_address", "unsubscribed"):
                    e["message"] = translate("bulk_email_" + e["code"], screen.lang)
            refused.append({"id": r["id"], "title": titles.get(r["id"], f"#{r['id']}"), "errors": errors})
    return render("web/bulk_done.html", screen=screen, updated=result["queued"], refused=refused, back=back,
                  summary=translate("bulk_email_done", screen.lang, n=result["queued"], r=len(refused)))


def _titles(screen: Screen, ids: list[int]) -> dict[int, str]:
    from .display import record_titles
    try:
        return record_titles(screen.svc, screen.model, screen.key, ids[:500], {"access": screen.access})
    except CrmError:
        return {}
