"""What each action of an automation rule does, on the caller's connection and transaction.

Every record write goes through the record service with the rule as the reason, so it is
validated, hooked (rule tags, stage history, audit, other rules) and audited like any other write;
notifications are written in the same transaction; e-mails and webhooks become outbox rows there,
sent by `crm worker` once the transaction commits (a failing receiver never fails the write).

Each action takes the records it acts on (``sources``, stored records as the hooks see them) and
answers one outcome per record: ``{"type", "outcome", "error"?, "delivery"?}``.
``create_records`` is also how a pipeline stage's ``on_enter`` follow-up is created: one mechanism.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ... import jsonutil, notifications, outbox
from ...clock import utcnow
from ...metadata.field_types import REGISTRY
from ...tables import automation_cursor, users
from ..reasons import Reason
from ..compiled import CompiledModel
from ..records import RecordService

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,62})\}")


def as_json(record: dict) -> dict:
    """The record with JSON values (decimals, dates as text), as placeholders and webhooks show it."""
    return jsonutil.loads(jsonutil.dumps(record))


def render(value, record: dict):
    """Fill ``{field}`` placeholders from the record. A value that is one placeholder keeps its type."""
    if not isinstance(value, str):
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole:
        return record.get(whole.group(1))
    return PLACEHOLDER.sub(lambda m: "" if record.get(m.group(1)) is None else str(record.get(m.group(1))), value)


def create_records(records: RecordService, conn: sa.Connection, model: CompiledModel, spec: dict,
                   sources: list[dict], *, actor_id: int | None, reason: str) -> list[int]:
    """One new record of ``spec["entity"]`` per source record, in one ``create_many``; their ids.

    ``spec``: ``values`` (strings may use ``{field}`` of the source), ``due_in_days`` with
    ``due_field`` (a date that many days from now), ``link_field`` (receives the source's id) and
    ``assign_to_owner`` (the new record's owner is the source's). Errors name the source's position
    as ``row``.
    """
    due_value = None
    if spec.get("due_field") is not None:
        target = model.entity(spec["entity"]).field_map.get(spec["due_field"])
        due = utcnow() + dt.timedelta(days=spec.get("due_in_days", 0))
        ftype = REGISTRY[target["type"]] if target else None
        due_value = ftype.to_json(ftype.moment_value(target, due)) if ftype and ftype.temporal \
            else due.isoformat().replace("+00:00", "Z")
    rows = []
    for source in sources:
        record = as_json(source)  # placeholders are filled with JSON values
        values = {k: render(v, record) for k, v in (spec.get("values") or {}).items()}
        if due_value is not None:
            values[spec["due_field"]] = due_value
        if spec.get("link_field"):
            values[spec["link_field"]] = source["id"]
        if spec.get("assign_to_owner"):
            values["owner_id"] = record.get("owner_id")
        rows.append(values)
    ids: list[int] = []
    records.create_many(spec["entity"], rows, actor_id=actor_id, conn=conn, reason=reason, created_ids=ids)
    return ids


@dataclass
class Context:
    """What an action needs: the rule, where it writes, and on whose behalf."""

    records: RecordService
    conn: sa.Connection
    model: CompiledModel
    rule: dict
    actor_id: int | None
    trigger: str

    @property
    def reason(self) -> str:
        return Reason(f"automation '{self.rule['key']}'", "automation", automation=self.rule["key"])

    @property
    def entity(self) -> str:
        return self.rule["entity"]


def _outcome(action: dict, outcome: str, **more) -> dict:
    return {"type": action["type"], "outcome": outcome, **more}


def set_fields(ctx: Context, n: int, action: dict, sources: list[dict]) -> list[dict]:
    out = []
    for source in sources:
        record = as_json(source)
        values = {k: render(v, record) for k, v in action["values"].items()}
        ctx.records.update(ctx.entity, source["id"], values, actor_id=ctx.actor_id, conn=ctx.conn, reason=ctx.reason)
        out.append(_outcome(action, "set " + ", ".join(sorted(values))))
    return out


def create_record(ctx: Context, n: int, action: dict, sources: list[dict]) -> list[dict]:
    spec = {k: v for k, v in action.items() if k != "type"}
    ids = create_records(ctx.records, ctx.conn, ctx.model, spec, sources, actor_id=ctx.actor_id, reason=ctx.reason)
    return [_outcome(action, f"created {action['entity']} #{i}", record=i) for i in ids]


def _tags(ctx: Context, action: dict, sources: list[dict], add: bool) -> list[dict]:
    out, field = [], action["field"]
    entity = ctx.entity
    if action.get("via"):  # the record the reference names
        entity = ctx.model.entity(ctx.entity).references[action["via"]]
    for source in sources:
        target = source.get(action["via"]) if action.get("via") else source["id"]
        if target is None:
            out.append(_outcome(action, "unchanged", error=f"{action['via']} is empty"))
            continue
        current = ctx.records.get(entity, target, conn=ctx.conn).get(field) or []
        wanted = list(dict.fromkeys(current + action["tags"])) if add else [t for t in current if t not in action["tags"]]
        if wanted == current:
            out.append(_outcome(action, "unchanged"))
            continue
        ctx.records.update(entity, target, {field: wanted}, actor_id=ctx.actor_id, conn=ctx.conn, reason=ctx.reason)
        out.append(_outcome(action, ("added " if add else "removed ") + ", ".join(action["tags"])))
    return out


def add_tags(ctx, n, action, sources):
    return _tags(ctx, action, sources, True)


def remove_tags(ctx, n, action, sources):
    return _tags(ctx, action, sources, False)


def users_with_roles(conn: sa.Connection, roles) -> list[int]:
    """Active users holding any of ``roles``, by id (roles are a JSON list on each user)."""
    wanted = set(roles)
    rows = conn.execute(sa.select(users.c.id, users.c.roles).where(users.c.active.is_(True)).order_by(users.c.id))
    return [r.id for r in rows if wanted & set(jsonutil.loads(r.roles or "[]"))]


def user_ids(conn: sa.Connection, names) -> dict[str, int]:
    names = sorted(set(names))
    if not names:
        return {}
    return dict(conn.execute(sa.select(users.c.username, users.c.id).where(users.c.username.in_(names))).all())


class NoOneToAssign(Exception):
    pass


def _next_in_turn(ctx: Context, n: int, candidates: list[int]) -> int:
    """Round robin: the candidate after the one this action chose last (kept per rule and action)."""
    c = automation_cursor
    where = [c.c.automation == ctx.rule["key"], c.c.action == n]
    last = ctx.conn.execute(sa.select(c.c.last_user_id).where(*where).with_for_update()).first()
    after = [u for u in candidates if last is not None and last[0] is not None and u > last[0]]
    chosen = (after or candidates)[0]
    if last is None:
        ctx.conn.execute(c.insert().values(automation=ctx.rule["key"], action=n, last_user_id=chosen))
    else:
        ctx.conn.execute(c.update().where(*where).values(last_user_id=chosen))
    return chosen


def _least_loaded(ctx: Context, candidates: list[int]) -> int:
    t = ctx.model.entity(ctx.entity).table
    counts = dict(ctx.conn.execute(sa.select(t.c.owner_id, sa.func.count()).where(
        t.c.archived_at.is_(None), t.c.owner_id.in_(candidates)).group_by(t.c.owner_id)).all())
    return min(candidates, key=lambda u: (counts.get(u, 0), u))


def assign(ctx: Context, n: int, action: dict, sources: list[dict]) -> list[dict]:
    to, out = action["to"], []
    candidates = users_with_roles(ctx.conn, [action["role"]]) if to in ("round_robin", "least_loaded") else []
    fixed = None
    if to == "user":
        fixed = user_ids(ctx.conn, [action["user"]]).get(action["user"])
        if fixed is None:
            raise NoOneToAssign(f"there is no user '{action['user']}'")
    if to in ("round_robin", "least_loaded") and not candidates:
        raise NoOneToAssign(f"no active user has the role '{action['role']}'")
    for source in sources:
        if to == "owner_of":
            ref = source.get(action["field"])
            entity = ctx.model.entity(ctx.entity)
            target = ctx.model.entity(entity.references[action["field"]]).table
            owner = ctx.conn.execute(sa.select(target.c.owner_id).where(target.c.id == ref)).scalar() \
                if ref is not None else None
            if owner is None:
                out.append(_outcome(action, "unchanged", error=f"{action['field']} names no record with an owner"))
                continue
        elif to == "round_robin":
            owner = _next_in_turn(ctx, n, candidates)
        elif to == "least_loaded":
            owner = _least_loaded(ctx, candidates)
        else:
            owner = fixed
        if owner != source.get("owner_id"):
            ctx.records.update(ctx.entity, source["id"], {"owner_id": owner}, actor_id=ctx.actor_id, conn=ctx.conn,
                               reason=ctx.reason)
        out.append(_outcome(action, f"owner user #{owner}", user=owner))
    return out


def _message(message, record: dict):
    if isinstance(message, dict):
        return {lang: render_text(text, record) for lang, text in message.items()}
    return render_text(message, record)


def render_text(text: str, record: dict) -> str:
    return PLACEHOLDER.sub(lambda m: "" if record.get(m.group(1)) is None else str(record.get(m.group(1))), text)


def notify(ctx: Context, n: int, action: dict, sources: list[dict]) -> list[dict]:
    named = list(user_ids(ctx.conn, action.get("users", [])).values())
    by_role = users_with_roles(ctx.conn, action.get("roles", [])) if action.get("roles") else []
    out = []
    for source in sources:
        record = as_json(source)
        recipients = named + by_role + ([source.get("owner_id")] if action.get("owner") else [])
        told = notifications.notify(ctx.conn, recipients, "automation", _message(action["message"], record),
                                    entity=ctx.entity, record_id=source["id"])
        out.append(_outcome(action, f"notified {told}"))
    return out


def email(ctx: Context, n: int, action: dict, sources: list[dict]) -> list[dict]:
    out = []
    for source in sources:
        record = as_json(source)
        to = [str(a) for a in (render(a, record) for a in action["to"]) if a not in (None, "")]
        if not to:
            out.append(_outcome(action, "skipped", error="no address to send to"))
            continue
        delivery = outbox.add(ctx.conn, "email", {"to": to, "subject": render_text(action["subject"], record),
                                                  "body": render_text(action["body"], record)},
                              origin=f"automation:{ctx.rule['key']}")
        out.append(_outcome(action, "queued", delivery=delivery))
    return out


def webhook(ctx: Context, n: int, action: dict, sources: list[dict]) -> list[dict]:
    out = []
    for source in sources:
        body = {"automation": ctx.rule["key"], "entity": ctx.entity, "trigger": ctx.trigger,
                "record": as_json(source)}
        delivery = outbox.add(ctx.conn, "webhook", {"url": action["url"], "body": body},
                              origin=f"automation:{ctx.rule['key']}")
        out.append(_outcome(action, "queued", delivery=delivery))
    return out


ACTIONS = {"set_fields": set_fields, "create_record": create_record, "add_tags": add_tags,
           "remove_tags": remove_tags, "assign": assign, "notify": notify, "email": email, "webhook": webhook}
