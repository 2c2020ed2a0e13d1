"""Approvals on the screens: the pending-approval banner of a record page, ``/app/_approvals`` (the
moves waiting for me, linked from the bell's page), the approve / reject form both post to, and the
requester's withdraw button.

The path starts with an underscore, which no entity key can, so no entity's list is shadowed.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for

from ..auth.redirects import local_path
from ..db import writing
from ..errors import BadRequest, CrmError, error
from ..i18n import text_of
from ..runtime import approvals
from ..runtime.pipelines import pipelines_of
from ..tables import approvals as approval_rows, users
from .i18n import current_language, localise, translate
from .pages import access, platform, render, user_tz
from .screens import screens

COMMENT_MAX = 2000


def _names(conn, ids) -> dict:
    ids = {i for i in ids if i is not None}
    return dict(conn.execute(sa.select(users.c.id, users.c.username).where(users.c.id.in_(ids))).all()) if ids else {}


def _stage_label(model, row, lang: str) -> str:
    for p in pipelines_of(model, row.entity):
        if p["key"] == row.pipeline:
            for s in p["stages"]:
                if s["key"] == row.to_stage:
                    return text_of(s["label"], lang)
    return row.to_stage


def record_approvals(screen, record_id: int) -> tuple[dict | None, list[dict]]:
    """(the pending request shown as a banner, or None; the approval steps for the stage history)."""
    with screen.svc.engine.connect() as conn:
        rows = approvals.of_record(conn, screen.key, record_id)
        names = _names(conn, [r.requested_by for r in rows] + [r.decided_by for r in rows])
    me = access()
    pending = None
    for r in rows:
        if r.status == "pending":
            pending = {"id": r.id, "stage": _stage_label(screen.model, r, screen.lang),
                       "requested_by": names.get(r.requested_by, translate("system", screen.lang)),
                       "requested_at": r.requested_at, "reason": r.reason,
                       "can_decide": approvals.may_decide(r, me.user_id, me.roles) or me.is_admin(screen.model),
                       "can_withdraw": r.requested_by is not None and r.requested_by == me.user_id}
    steps = [{**s, "actor": names.get(s["actor_id"])} for s in approvals.history_steps(rows)]
    return pending, steps


@screens.get("/app/_approvals")
def approvals_page():
    """The moves waiting for my decision, oldest request last; an administrator may list every
    pending request (``?all=1``), to decide for an approver who is away or to clean up."""
    lang, me, tz = current_language(), access(), user_tz()
    may_see_all = me.is_admin()
    show_all = may_see_all and request.args.get("all") == "1"
    where = [approval_rows.c.status == "pending"]
    if not show_all:
        where.append(approvals.mine_clause(me.user_id, me.roles))
    svc = platform().records
    with svc.engine.connect() as conn:
        rows, _ = approvals.listing(conn, where, per_page=200)
        model = svc.runtime.current(conn)
        names = _names(conn, [r.requested_by for r in rows])
        items = []
        for r in rows:
            entity = model.entities.get(r.entity)
            if entity is None:
                continue
            try:
                record = svc.get(r.entity, r.record_id, conn=conn)
            except CrmError:
                continue
            key = entity.doc.get("title_field")
            items.append({"id": r.id, "entity": text_of(entity.doc.get("label"), lang),
                          "title": str(record.get(key)) if key and record.get(key) not in (None, "") else f"#{r.record_id}",
                          "href": url_for("screens.record_page", entity=r.entity, record_id=r.record_id),
                          "stage": _stage_label(model, r, lang), "by": names.get(r.requested_by, ""),
                          "when": r.requested_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")})
    return render("web/approvals.html", items=items, may_see_all=may_see_all, show_all=show_all)


@screens.post("/app/_approvals/<id:approval_id>/decide")
def decide_approval(approval_id):
    """Approve or reject (``decision``) with a ``comment``; back to ``next`` (the record page or the list)."""
    lang = current_language()
    decision = request.form.get("decision")
    back = local_path(request.form.get("next"), url_for("screens.approvals_page"))
    comment = (request.form.get("comment") or "").strip()
    try:
        if decision not in ("approve", "reject"):
            raise BadRequest([error("decision", "enum", "decision is approve or reject")])
        if len(comment) > COMMENT_MAX:
            raise BadRequest([error("comment", "maxLength", f"must be at most {COMMENT_MAX} characters")])
        with writing(platform().engine) as conn:
            approvals.decide(conn, platform().records, approval_id, user_id=g.user.id, roles=access().roles,
                             approve=decision == "approve", comment=comment, admin=access().is_admin())
    except CrmError as exc:
        for e in localise(exc.errors, lang):
            flash(e["message"])
        return redirect(back, 303)
    flash(translate("approval_approved" if decision == "approve" else "approval_rejected", lang))
    return redirect(back, 303)


@screens.post("/app/_approvals/<id:approval_id>/withdraw")
def withdraw_approval(approval_id):
    """The requester (or an administrator) withdraws a pending request; back to ``next`` (the record page)."""
    lang = current_language()
    back = local_path(request.form.get("next"), url_for("screens.approvals_page"))
    comment = (request.form.get("comment") or "").strip()
    try:
        if len(comment) > COMMENT_MAX:
            raise BadRequest([error("comment", "maxLength", f"must be at most {COMMENT_MAX} characters")])
        with writing(platform().engine) as conn:
            approvals.withdraw(conn, approval_id, user_id=g.user.id, admin=access().is_admin(), comment=comment)
    except CrmError as exc:
        for e in localise(exc.errors, lang):
            flash(e["message"])
        return redirect(back, 303)
    flash(translate("approval_withdrawn", lang))
    return redirect(back, 303)
