"""Approvals of pipeline moves, and stages only some roles may enter (``docs/approvals.md``).

A stage may say ``"enter_roles": [...]``: a move into it by a user holding none of those roles
(administrators excepted) is refused with 403. A stage may ask for ``"approval"``: a move into it by
a user (not by the system: sample data, template installs) that meets the stage's ``when``
conditions does not happen. The record stays in its stage, the rest of the write goes through, and
a ``pending`` row in ``crm_approval`` asks the approvers (a role, or the user named by a field of
the record), who are notified. An approver's *approve* writes the move through the record service
(the stage history and audit rows of an ordinary move, the approver as actor, the decision as
reason); *reject* leaves the record where it is. Each step also writes an audit row.

Why the record stays in its old stage while it waits: every figure of the product (funnels,
conversion, amounts per stage, "records in stage") counts the stage field and the stage history.
A quote waiting for a discount approval has not been quoted yet; counting it in *quote* would
inflate that stage and its conversion, and a rejection would leave a move in and a move out of a
stage the deal never really reached. Pending requests are rows of their own, so the funnel counts
only real moves and an undo never needs a compensating move.

A user who is an approver of the stage moves without asking (they would approve their own move).
While a request is pending, the record's stage cannot move (409): the decision settles it first.

The requester (or an administrator) may *withdraw* a pending request: it is closed as ``withdrawn``,
the record stays where it is. An administrator may also decide a request for an absent approver;
the approval row (``decided_by``) and the audit row (actor, and ``admin`` among the reason's
arguments) say so.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa

from .. import jsonutil
from ..clock import utcnow
from ..errors import Conflict, Forbidden, Invalid, NotFound, error
from ..i18n import text_of
from ..notifications import notify, settle
from ..tables import approvals, audit_log, users
from . import audit
from .records import Batch, RecordService, Write
from .tag_rules import _compare

STATUSES = ("pending", "approved", "rejected", "withdrawn")

#: (entity, record id, stage) of moves an approval is completing now: they are not held again.
_completing: ContextVar[frozenset] = ContextVar("crm_approval_completing", default=frozenset())


@contextmanager
def completing(entity: str, record_id: int, stage: str):
    token = _completing.set(_completing.get() | {(entity, record_id, stage)})
    try:
        yield
    finally:
        _completing.reset(token)


# ---- who is who -----------------------------------------------------------------------------------

def user_roles(conn: sa.Connection, model, user_id: int | None) -> tuple[bool, frozenset]:
    """(administrator?, role keys) of a user, read in the write's transaction."""
    if user_id is None:
        return True, frozenset()
    row = conn.execute(sa.select(users.c.is_admin, users.c.roles).where(users.c.id == user_id)).first()
    if row is None:
        return False, frozenset()
    roles = frozenset(jsonutil.loads(row.roles or "[]"))
    admin = bool(row.is_admin) or any(
        not r.archived and r.doc.get("admin") for k, r in model.state.roles.items() if k in roles)
    return admin, roles


def holders_of(conn: sa.Connection, role: str) -> list[int]:
    """Active users holding ``role`` (roles are a JSON list per user: read and filtered here)."""
    rows = conn.execute(sa.select(users.c.id, users.c.roles).where(users.c.active.is_(True))).all()
    return [r.id for r in rows if role in jsonutil.loads(r.roles or "[]")]


def may_decide(row, user_id: int | None, roles) -> bool:
    if row.approver_id is not None:
        return user_id == row.approver_id
    return row.approver_role is not None and row.approver_role in roles


def _approvers_text(row_or_spec) -> str:
    if isinstance(row_or_spec, dict):
        return f"role '{row_or_spec['role']}'" if "role" in row_or_spec else f"the user in field '{row_or_spec['field']}'"
    return f"role '{row_or_spec.approver_role}'" if row_or_spec.approver_role else f"user {row_or_spec.approver_id}"


# ---- the before-write part (called by runtime.pipelines.before_write) ---------------------------

def check_roles(conn: sa.Connection, batch: Batch, pipeline: dict, stages: dict, moves: list) -> None:
    """403 for a move into a stage whose ``enter_roles`` the actor holds none of."""
    limited = [(w, to) for w, _, to in moves if stages[to].get("enter_roles")]
    if not limited:
        return
    admin, roles = user_roles(conn, batch.model, batch.actor_id)
    if admin:
        return
    for w, to in limited:
        allowed = stages[to]["enter_roles"]
        if not roles & set(allowed):
            raise Forbidden(w.located([error(
                pipeline["field"], "enter_roles",
                f"only users with the role {' or '.join(repr(r) for r in allowed)} may move a record into stage "
                f"'{to}' of pipeline '{pipeline['key']}'", stage=to, roles=list(allowed))]))


def hold_moves(conn: sa.Connection, batch: Batch, planned: list) -> None:
    """Moves into stages asking for approval become pending requests (after every other check passed).

    ``planned``: (pipeline, stages by key, [(write, from, to)]) of the batch."""
    entity = batch.entity
    # Only an update can move a record that already waits (a new record has no requests).
    moving = [w.id for _, _, moves in planned for w, _, _ in moves] if batch.op == "update" else []
    for start in range(0, len(moving), 900):
        a = approvals
        waiting = {r.record_id: r for r in conn.execute(sa.select(a).where(
            a.c.entity == entity.key, a.c.status == "pending", a.c.record_id.in_(moving[start:start + 900])))}
        for p, _, moves in planned:
            for w, _, to in moves:
                r = waiting.get(w.id)
                if r is not None and (entity.key, w.id, to) not in _completing.get():
                    raise Conflict(w.located([error(
                        p["field"], "pending_approval",
                        f"the record waits for approval {r.id} to move to stage '{r.to_stage}'; its stage cannot "
                        f"change until an approver decides", approval_id=r.id)]))
    if batch.actor_id is None:
        return  # the system (sample data, installs) moves without asking
    roles = None
    for p, stages, moves in planned:
        for w, frm, to in moves:
            spec = stages[to].get("approval")
            if not spec or (entity.key, w.id, to) in _completing.get():
                continue
            merged = {**(w.before or {}), **w.changes}
            if spec.get("when") and not _meets(conn, batch, w, merged, spec["when"]):
                continue
            approver_id, role = _approver(conn, batch, p, spec, w, merged, to)
            if roles is None:
                roles = user_roles(conn, batch.model, batch.actor_id)[1]
            if (role is not None and role in roles) or approver_id == batch.actor_id:
                continue  # an approver's own move needs nobody else
            if batch.op == "create":
                raise Conflict(w.located([error(
                    p["field"], "approval", f"stage '{to}' of pipeline '{p['key']}' needs the approval of "
                                            f"{_approvers_text(spec['approvers'])}: create the record in an earlier stage and "
                                            f"move it", stage=to)]))
            del w.changes[p["field"]]
            _request(conn, batch, p, stages[to], w, frm, to, approver_id, role, merged)


def _approver(conn, batch: Batch, pipeline: dict, spec: dict, w: Write, merged: dict, to: str):
    approvers = spec["approvers"]
    if "role" in approvers:
        return None, approvers["role"]
    key = approvers["field"]
    uid = merged.get(key)
    row = None
    if isinstance(uid, int):
        row = conn.execute(sa.select(users.c.id).where(users.c.id == uid, users.c.active.is_(True))).first()
    if row is None:
        what = "is required" if uid is None else f"names no active user ({uid})"
        raise Invalid(w.located([error(key, "approver_missing", f"{what}: it names who approves a move into stage '{to}' "
                                                        f"of pipeline '{pipeline['key']}'", stage=to)]))
    return uid, None


def _meets(conn, batch: Batch, w: Write, merged: dict, when: list) -> bool:
    """Whether the record as it would be meets ``when`` (rule-tag conditions), asked of the database
    so that the comparisons are exactly those of rule tags."""
    entity, model, now = batch.entity, batch.model, utcnow()
    parts = []
    for cond in when:
        related = cond.get("related")
        if related is None:
            col = entity.table.c[cond["field"]]
            expr = sa.cast(sa.literal(merged.get(cond["field"]), type_=col.type), col.type)
            parts.append(_compare(expr, cond, entity.field_map[cond["field"]], now))
            continue
        other = model.entities[related["entity"]]
        rt = other.table
        live = [rt.c[related["via"]] == (w.id or 0), rt.c.archived_at.is_(None)]
        if cond.get("aggregate", "count") == "count":
            parts.append(_compare(sa.select(sa.func.count()).select_from(rt).where(*live).scalar_subquery(),
                                  cond, None, now))
        else:
            col = rt.c[cond["field"]]
            parts.append(_compare(sa.select(sa.func.max(col)).where(*live).scalar_subquery(), cond,
                                  other.field_map[cond["field"]], now))
    return bool(conn.execute(sa.select(sa.case((sa.and_(*parts), 1), else_=0))).scalar())


def _title(entity, record: dict) -> str:
    key = entity.doc.get("title_field")
    value = record.get(key) if key else None
    return str(value) if value not in (None, "") else f"#{record.get('id')}"


def _request(conn, batch: Batch, pipeline: dict, stage: dict, w: Write, frm, to, approver_id, role, merged) -> None:
    entity, now = batch.entity, utcnow()
    new_id = conn.execute(approvals.insert().values(
        pipeline=pipeline["key"], entity=entity.key, record_id=w.id, field=pipeline["field"], from_stage=frm,
        to_stage=to, status="pending", approver_role=role, approver_id=approver_id, requested_by=batch.actor_id,
        requested_at=now, reason=batch.reason)).inserted_primary_key[0]
    audit.write_many(conn, [{
        "entity": entity.key, "record_id": w.id, "action": "approval", "changes": {pipeline["field"]: [frm, to]},
        "actor_id": batch.actor_id, "at": now,
        "reason": audit.Reason(f"approval {new_id} requested: move to stage '{to}' of pipeline '{pipeline['key']}'"
                               + (f" ({batch.reason})" if batch.reason else ""), "approval_requested",
                               approval=new_id, pipeline=pipeline["key"], from_stage=frm, stage=to,
                               comment=str(batch.reason) if batch.reason else None)}])
    title = _title(entity, merged)
    label = entity.doc.get("label")
    told = [approver_id] if approver_id is not None else holders_of(conn, role)
    notify(conn, [u for u in told if u != batch.actor_id], "approval", {
        "en": f"Approval needed: {text_of(label, 'en')} “{title}” → {text_of(stage['label'], 'en')}",
        "zh": f"待审批：{text_of(label, 'zh')}「{title}」进入「{text_of(stage['label'], 'zh')}」"},
        entity=entity.key, record_id=w.id, dedupe=f"approval:{new_id}")


# ---- deciding -------------------------------------------------------------------------------------

def get(conn: sa.Connection, approval_id: int, *, lock: bool = False):
    q = sa.select(approvals).where(approvals.c.id == approval_id)
    row = conn.execute(q.with_for_update() if lock and conn.dialect.name == "postgresql" else q).first()
    if row is None:
        raise NotFound([error(None, "not_found", f"no approval {approval_id}")])
    return row


def _username(conn: sa.Connection, user_id: int) -> str:
    return conn.execute(sa.select(users.c.username).where(users.c.id == user_id)).scalar() or f"#{user_id}"


def _step_reason(conn, row, verb: str, comment: str | None, *, admin_id: int | None) -> audit.Reason:
    """The audit reason of a decision or a withdrawal: English words (the API's) and a message key the
    screens say in the reader's language; ``admin`` names an administrator acting for someone else."""
    admin = _username(conn, admin_id) if admin_id is not None else None
    why = f"approval {row.id} {verb}" + (f" by administrator {admin}" if admin else "") + (
        f": {comment}" if comment else "")
    if verb != "approved":
        why += f" (stays in stage '{row.from_stage}')"
    extra = {"admin": admin} if admin else {}
    return audit.Reason(why, f"approval_{verb}", approval=row.id, pipeline=row.pipeline, from_stage=row.from_stage,
                        stage=row.to_stage, comment=comment, **extra)


def decide(conn: sa.Connection, records: RecordService, approval_id: int, *, user_id: int, roles, approve: bool,
           comment: str | None, admin: bool = False) -> dict:
    """Approve (the move is written through the record service) or reject one pending request.
    403 for a user who is neither its approver nor an administrator (``admin``: deciding for an
    absent approver), 409 once it is decided."""
    row = get(conn, approval_id, lock=True)
    approver = may_decide(row, user_id, roles)
    if not approver and not admin:
        raise Forbidden([error(None, "approver", f"only {_approvers_text(row)} may decide approval {approval_id}")])
    if row.status != "pending":
        raise Conflict([error(None, "decided", f"approval {approval_id} was already {row.status}",
                              status=row.status)])
    comment = (comment or "").strip() or None
    if not approve and comment is None:
        raise Invalid([error("comment", "required", "say why the move is rejected: the requester reads it")])
    now = utcnow()
    verb = "approved" if approve else "rejected"
    why = _step_reason(conn, row, verb, comment, admin_id=None if approver else user_id)
    done = conn.execute(approvals.update().where(approvals.c.id == approval_id, approvals.c.status == "pending")
                        .values(status=verb, decided_by=user_id, decided_at=now, comment=comment)).rowcount
    if not done:  # another decision won the race
        raise Conflict([error(None, "decided", f"approval {approval_id} was already decided")])
    if approve:
        with completing(row.entity, row.record_id, row.to_stage):
            records.update(row.entity, row.record_id, {row.field: row.to_stage}, actor_id=user_id, reason=why,
                           conn=conn)
    else:
        audit.write_many(conn, [{
            "entity": row.entity, "record_id": row.record_id, "action": "approval",
            "changes": {row.field: [row.to_stage, row.from_stage]}, "actor_id": user_id, "at": now,
            "reason": why}])
    model = records.runtime.current(conn)
    entity = model.entity(row.entity)
    label = entity.doc.get("label")
    pipeline = model.state.pipelines.get(row.pipeline)
    stage = next((s["label"] for s in (pipeline.doc["stages"] if pipeline else []) if s["key"] == row.to_stage),
                 row.to_stage)
    try:
        title = _title(entity, records.get(row.entity, row.record_id, conn=conn))
    except NotFound:  # rejecting the request of a record deleted since
        title = f"#{row.record_id}"
    notify(conn, [row.requested_by] if row.requested_by != user_id else [], "approval", {
        "en": f"{'Approved' if approve else 'Rejected'}: {text_of(label, 'en')} “{title}” → {text_of(stage, 'en')}"
              + (f" — {comment}" if comment else ""),
        "zh": f"{'已批准' if approve else '已驳回'}：{text_of(label, 'zh')}「{title}」进入「{text_of(stage, 'zh')}」"
              + (f"（{comment}）" if comment else "")},
        entity=row.entity, record_id=row.record_id, dedupe=f"approval:{approval_id}:{verb}")
    _settle_notifications(conn, approval_id)  # whoever decided, nothing is left for the other approvers
    return as_dict(get(conn, approval_id))


def _settle_notifications(conn: sa.Connection, approval_id: int) -> None:
    """The approvers' "approval needed" notifications of a closed request are marked read (nothing to do)."""
    settle(conn, f"approval:{approval_id}")


def withdraw(conn: sa.Connection, approval_id: int, *, user_id: int, admin: bool, comment: str | None) -> dict:
    """The requester (or an administrator) takes back a pending request: it is ``withdrawn``, the record
    stays in its stage, an audit row says so and the approvers have nothing left to decide.
    403 for anyone else, 409 once it is no longer pending."""
    row = get(conn, approval_id, lock=True)
    requester = row.requested_by is not None and row.requested_by == user_id
    if not requester and not admin:
        raise Forbidden([error(None, "requester", f"only the user who asked (or an administrator) may withdraw "
                                                  f"approval {approval_id}")])
    if row.status != "pending":
        raise Conflict([error(None, "decided", f"approval {approval_id} was already {row.status}",
                              status=row.status)])
    comment = (comment or "").strip() or None
    now = utcnow()
    why = _step_reason(conn, row, "withdrawn", comment, admin_id=None if requester else user_id)
    done = conn.execute(approvals.update().where(approvals.c.id == approval_id, approvals.c.status == "pending")
                        .values(status="withdrawn", decided_by=user_id, decided_at=now, comment=comment)).rowcount
    if not done:
        raise Conflict([error(None, "decided", f"approval {approval_id} was already decided")])
    audit.write_many(conn, [{
        "entity": row.entity, "record_id": row.record_id, "action": "approval",
        "changes": {row.field: [row.to_stage, row.from_stage]}, "actor_id": user_id, "at": now, "reason": why}])
    _settle_notifications(conn, approval_id)
    return as_dict(get(conn, approval_id))


# ---- reading --------------------------------------------------------------------------------------

def as_dict(row) -> dict:
    return {"id": row.id, "pipeline": row.pipeline, "entity": row.entity, "record_id": row.record_id,
            "field": row.field, "from_stage": row.from_stage, "to_stage": row.to_stage, "status": row.status,
            "approvers": {"role": row.approver_role} if row.approver_role else {"user_id": row.approver_id},
            "requested_by": row.requested_by, "requested_at": row.requested_at, "reason": row.reason,
            "decided_by": row.decided_by, "decided_at": row.decided_at, "comment": row.comment}


def mine_clause(user_id: int, roles):
    a = approvals
    return sa.or_(a.c.approver_id == user_id, a.c.approver_role.in_(sorted(roles) or [""]))


def listing(conn: sa.Connection, where: list, *, page_no: int = 1, per_page: int = 50):
    """Approvals meeting ``where``, newest first: (rows, total)."""
    a = approvals
    total = conn.execute(sa.select(sa.func.count()).select_from(a).where(*where)).scalar_one()
    rows = conn.execute(sa.select(a).where(*where).order_by(a.c.requested_at.desc(), a.c.id.desc())
                        .limit(per_page).offset((page_no - 1) * per_page)).all()
    return rows, total


def of_record(conn: sa.Connection, entity: str, record_id: int) -> list:
    a = approvals
    return conn.execute(sa.select(a).where(a.c.entity == entity, a.c.record_id == record_id)
                        .order_by(a.c.requested_at, a.c.id)).all()


def acting_admins(conn: sa.Connection, entity: str, record_id: int) -> dict[int, str]:
    """{approval id: user name} of a record's approval steps an administrator took for someone else,
    as their audit rows say (``reason_args.admin``)."""
    a = audit_log
    rows = conn.execute(sa.select(a.c.reason_args).where(
        a.c.entity == entity, a.c.record_id == record_id, a.c.reason_args.is_not(None),
        a.c.reason_key.in_(["approval_approved", "approval_rejected", "approval_withdrawn"]))).scalars()
    out = {}
    for text in rows:
        args = jsonutil.loads(text)
        if isinstance(args, dict) and args.get("admin") and isinstance(args.get("approval"), int):
            out[args["approval"]] = args["admin"]
    return out


def history_steps(rows) -> list[dict]:
    """The steps of a record's approvals as stage-history items (``event`` says which step)."""
    out = []
    for r in rows:
        base = {"approval_id": r.id, "pipeline": r.pipeline, "from_stage": r.from_stage, "to_stage": r.to_stage}
        out.append({**base, "event": "approval_requested", "actor_id": r.requested_by, "moved_at": r.requested_at,
                    "comment": r.reason})
        if r.status != "pending":
            out.append({**base, "event": r.status, "actor_id": r.decided_by, "moved_at": r.decided_at,
                        "comment": r.comment})
    return out
