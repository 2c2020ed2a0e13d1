"""One timeline per record: its changes, stage moves, records made about it and the reader's notifications.

Four sources, each read newest first and only as far as the page asked for needs (page × size + 1
rows of each), merged by moment: a record page and ``GET /api/records/<entity>/<id>/timeline``
show the same items. What the reader may not see stays out: fields they may not read (audit
values), entities and reference fields they may not read (related records, through the record
service and its rights), other users' notifications.

A stage move is told once: as a stage item (the stage history, with the pipeline's stage labels),
and the audit row of that update keeps only its other fields (a row left with none is dropped).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import g, url_for
from werkzeug.datastructures import MultiDict

from .. import notifications as bell
from ..runtime import approvals
from ..runtime.audit import trail
from ..runtime.pipelines import pipelines_of
from ..runtime.query import parse_list_args
from ..clock import utcnow
from ..metadata.field_types.temporal import parse_iso_datetime
from ..tables import stage_history, users
from .changes import described, hidden_fields
from .display import relative_time
from .i18n import label as label_of, translate
from .pages import Screen, entity_label, reading, screen_label

PER_PAGE, MAX_PER_PAGE, MAX_DEPTH = 20, 100, 2000


def timeline(screen: Screen, record_id: int, *, page: int = 1, per_page: int = PER_PAGE) -> dict:
    """``{"items": [...], "page", "per_page", "has_more"}``, newest first. The caller has read the
    record (so the reader may see it)."""
    need = min(page * per_page + 1, MAX_DEPTH)
    now = utcnow()
    items: list[dict] = []
    with screen.svc.engine.connect() as conn:
        stage_fields = {p["field"] for p in pipelines_of(screen.model, screen.key)}
        items += _changes(conn, screen, record_id, need, stage_fields)
        if any(screen.readable(f) for f in stage_fields):
            items += _stage_moves(conn, screen, record_id, need)
            items += _approval_steps(conn, screen, record_id)
        user = g.get("user")
        if user is not None:
            items += _notifications(conn, screen, record_id, need, user.id)
        items += _related(conn, screen, record_id, need)
    items.sort(key=lambda i: (i["at"], i["kind"] != "change"), reverse=True)
    start = (page - 1) * per_page
    shown = items[start:start + per_page]
    for item in shown:
        item["when"] = relative_time(item["at"], now, screen.locale)
    return {"items": shown, "page": page, "per_page": per_page, "has_more": len(items) > start + per_page}


def _changes(conn, screen: Screen, record_id: int, need: int, stage_fields: set) -> list[dict]:
    _, rows = trail(conn, screen.key, record_id, hidden=hidden_fields(screen), limit=need)
    for row in rows:
        if row["action"] == "update":
            row["changes"] = {k: v for k, v in row["changes"].items() if k not in stage_fields}
    rows = [r for r in rows if r["action"] != "update" or r["changes"]]
    out = []
    for entry in described(conn, screen, rows):
        verb = translate("action_" + entry["action"], screen.lang)
        out.append({**entry, "kind": "change",
                    "summary": f"{entry['actor'] or translate('system', screen.lang)} {verb}"})
    return out


def _stage_moves(conn, screen: Screen, record_id: int, need: int) -> list[dict]:
    labels = {}
    for p in pipelines_of(screen.model, screen.key):
        labels.update({s["key"]: label_of(s["label"], screen.lang) for s in p.get("stages", [])})
    h = stage_history
    rows = conn.execute(sa.select(h.c.from_stage, h.c.to_stage, h.c.moved_at, users.c.username)
                        .select_from(h.outerjoin(users, users.c.id == h.c.actor_id))
                        .where(h.c.entity == screen.key, h.c.record_id == record_id)
                        .order_by(h.c.moved_at.desc(), h.c.id.desc()).limit(need)).all()
    out = []
    for r in rows:
        before = labels.get(r.from_stage, r.from_stage) if r.from_stage else None
        after = labels.get(r.to_stage, r.to_stage)
        out.append({"kind": "stage", "at": r.moved_at, "actor": r.username, "from": r.from_stage, "to": r.to_stage,
                    "from_label": before, "to_label": after,
                    "summary": f"{before} → {after}" if before else translate("entered_stage", screen.lang, stage=after)})
    return out


def _approval_steps(conn, screen: Screen, record_id: int) -> list[dict]:
    """Requests for approval of a move and their decisions (docs/approvals.md), told as stage items."""
    rows = approvals.of_record(conn, screen.key, record_id)
    if not rows:
        return []
    labels = {}
    for p in pipelines_of(screen.model, screen.key):
        labels.update({s["key"]: label_of(s["label"], screen.lang) for s in p.get("stages", [])})
    names = dict(conn.execute(sa.select(users.c.id, users.c.username).where(
        users.c.id.in_({r.requested_by for r in rows} | {r.decided_by for r in rows}))).all())
    admins = approvals.acting_admins(conn, screen.key, record_id)
    out = []
    for step in approvals.history_steps(rows):
        before = labels.get(step["from_stage"], step["from_stage"]) if step["from_stage"] else None
        after = labels.get(step["to_stage"], step["to_stage"])
        move = f"{before} → {after}" if before else after
        event = translate("event_" + step["event"], screen.lang)
        if step["event"] != "approval_requested" and step["approval_id"] in admins:  # for an absent approver
            event = translate("event_by_admin", screen.lang, event=event, admin=admins[step["approval_id"]])
        out.append({"kind": "stage", "event": step["event"], "at": step["moved_at"], "actor": names.get(step["actor_id"]),
                    "from": step["from_stage"], "to": step["to_stage"], "from_label": before, "to_label": after,
                    "comment": step["comment"],
                    "summary": f"{event}: {move}"})
    return out


def _notifications(conn, screen: Screen, record_id: int, need: int, user_id: int) -> list[dict]:
    n = bell.notifications
    rows = conn.execute(sa.select(n.c.id, n.c.kind, n.c.title, n.c.created_at)
                        .where(n.c.user_id == user_id, n.c.entity == screen.key, n.c.record_id == record_id)
                        .order_by(n.c.created_at.desc(), n.c.id.desc()).limit(need)).all()
    return [{"kind": "notification", "at": r.created_at, "actor": None, "notification": r.kind,
             "summary": bell.title_text(r.title, screen.lang)} for r in rows]


def _related(conn, screen: Screen, record_id: int, need: int) -> list[dict]:
    """Records of other entities made about this one (a communication, a task, an order)."""
    out = []
    creators: set[int] = set()
    for other, via in screen.model.referencing(screen.key):
        if other.archived or not screen.can("read", other.key) or not screen.readable(via["key"], other.key):
            continue
        other_screen = Screen(other.key)
        args = MultiDict([(f"filter[{via['key']}]", str(record_id)), ("per_page", str(min(need, 200)))])
        found = screen.svc.list(other.key, parse_list_args(args, other, count_limit=1, max_per_page=200),
                                conn=conn, **reading())["items"]
        label = entity_label(other.doc, screen.lang)
        for r in found:
            at = r.get("created_at")
            at = parse_iso_datetime(at) if isinstance(at, str) else at
            if not isinstance(at, dt.datetime):
                continue
            creators.add(r.get("created_by"))
            out.append({"kind": "related", "at": at, "actor_id": r.get("created_by"), "entity": other.key,
                        "entity_label": label, "via": via["key"], "via_label": screen_label(via, screen.lang),
                        "id": r["id"], "title": other_screen.title_of(r),
                        "href": url_for("screens.record_page", entity=other.key, record_id=r["id"])})
    creators.discard(None)
    names = dict(conn.execute(sa.select(users.c.id, users.c.username).where(users.c.id.in_(creators))).all()
                 ) if creators else {}
    for item in out:
        item["actor"] = names.get(item.pop("actor_id"))
        item["summary"] = translate("timeline_related", screen.lang, entity=item["entity_label"], title=item["title"])
    return out


def as_json(result: dict) -> dict:
    """The timeline as the API answers it: moments in ISO 8601, texts as the reader reads them."""
    items = []
    for item in result["items"]:
        out = {k: v for k, v in item.items() if k not in ("changes", "keys")}
        out["at"] = item["at"].astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        if item["kind"] == "change":
            out["changes"] = [{"field": key, "label": name, "old": old, "new": new}
                              for key, (name, old, new) in zip(item["keys"], item["changes"])]
        items.append(out)
    return {**result, "items": items}
