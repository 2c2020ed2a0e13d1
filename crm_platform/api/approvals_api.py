"""Approvals of pipeline moves: list them (``?mine=1``: those waiting for me), approve, reject, withdraw."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..db import writing
from ..errors import BadRequest, CrmError, NotFound, error
from ..http.context import access, actor_id, platform
from ..http.errors import flag, json_body
from ..runtime import approvals
from ..runtime.query import MAX_PAGE, int_param, pages
from ..tables import approvals as table

approvals_api = Blueprint("approvals_api", __name__)


def _item(row) -> dict:
    me = access()
    return {**approvals.as_dict(row), "link": f"/app/{row.entity}/{row.record_id}",
            "can_decide": row.status == "pending" and (approvals.may_decide(row, me.user_id, me.roles) or me.is_admin()),
            "can_withdraw": row.status == "pending" and (row.requested_by == me.user_id or me.is_admin())}


def _may_see(conn, row) -> bool:
    me = access()
    if me.is_admin() or row.requested_by == me.user_id or approvals.may_decide(row, me.user_id, me.roles):
        return True
    try:
        platform().records.visible(conn, row.entity, row.record_id, me)
    except CrmError:  # 404, or 403 for an entity the user may not read at all: not theirs to see either
        return False
    return True


@approvals_api.get("/api/approvals")
def list_approvals():
    """Approvals, newest first. ``mine=1``: those I may decide (pending unless ``status`` says
    otherwise); ``entity`` + ``record_id``: a record's (if I may read it); ``status``: one status."""
    me, svc = access(), platform().records
    status = request.args.get("status")
    if status is not None and status not in approvals.STATUSES:
        raise BadRequest([error("status", "enum", f"status is one of {', '.join(approvals.STATUSES)}")])
    per_page = int_param(request.args, "per_page", current_app.config["CRM_DEFAULT_PAGE_SIZE"], 1,
                         current_app.config["CRM_MAX_PAGE_SIZE"])
    page_no = int_param(request.args, "page", 1, 1, MAX_PAGE)
    where = []
    entity, record_id = request.args.get("entity"), request.args.get("record_id")
    with svc.engine.connect() as conn:
        if flag("mine"):
            where.append(approvals.mine_clause(me.user_id, me.roles))
            status = status or "pending"
        if entity is not None or record_id is not None:
            if entity is None or record_id is None or not record_id.isdigit():
                raise BadRequest([error("record_id", "invalid", "entity and record_id (a number) go together")])
            svc.visible(conn, entity, int(record_id), me)
            where += [table.c.entity == entity, table.c.record_id == int(record_id)]
        elif not flag("mine") and not me.is_admin():
            where.append(approvals.mine_clause(me.user_id, me.roles) | (table.c.requested_by == me.user_id))
        if status is not None:
            where.append(table.c.status == status)
        rows, total = approvals.listing(conn, where, page_no=page_no, per_page=per_page)
        return jsonify({"items": [_item(r) for r in rows], "total": total, "page": page_no, "per_page": per_page,
                        "pages": pages(total, per_page)})


@approvals_api.get("/api/approvals/<id:approval_id>")
def get_approval(approval_id):
    with platform().engine.connect() as conn:
        row = approvals.get(conn, approval_id)
        if not _may_see(conn, row):
            raise NotFound([error(None, "not_found", f"no approval {approval_id}")])
        return jsonify(_item(row))


def _comment() -> str | None:
    body = json_body(required=False) or {}
    if not isinstance(body, dict):
        raise BadRequest([error(None, "type", "the body is a JSON object {\"comment\": \"...\"}")])
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise BadRequest([error("comment", "type", "comment is text")])
    if comment is not None and len(comment) > 2000:
        raise BadRequest([error("comment", "maxLength", "comment is at most 2000 characters")])
    return comment


def _decide(approval_id: int, approve: bool):
    comment = _comment()
    me = access()
    with writing(platform().engine) as conn:
        decided = approvals.decide(conn, platform().records, approval_id, user_id=actor_id(), roles=me.roles,
                                   approve=approve, comment=comment, admin=me.is_admin())
    with platform().engine.connect() as conn:
        return jsonify(_item(approvals.get(conn, decided["id"])))


@approvals_api.post("/api/approvals/<id:approval_id>/approve")
def approve(approval_id):
    """Approve a pending move: the record moves to the stage (stage history and audit with the comment)."""
    return _decide(approval_id, True)


@approvals_api.post("/api/approvals/<id:approval_id>/reject")
def reject(approval_id):
    """Reject a pending move (a comment is required): the record stays in its stage."""
    return _decide(approval_id, False)


@approvals_api.post("/api/approvals/<id:approval_id>/withdraw")
def withdraw(approval_id):
    """The requester (or an administrator) withdraws a pending request: the record stays in its stage."""
    comment = _comment()
    with writing(platform().engine) as conn:
        done = approvals.withdraw(conn, approval_id, user_id=actor_id(), admin=access().is_admin(), comment=comment)
    with platform().engine.connect() as conn:
        return jsonify(_item(approvals.get(conn, done["id"])))
