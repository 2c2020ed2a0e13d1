"""Stage pipelines at run time: transition and entry checks, stage history, follow-ups, funnel figures.

Moving a record into a stage goes through the ordinary record service (API PATCH, screens,
imports, bulk creates). The before-write hook refuses a transition the pipeline does not allow
(409) and an entry whose required fields are empty (422, one error per field and record, judged on
the merged record: stored values and the change). The after-write hook records the moves of a
batch in ``crm_stage_history`` (one statement) and creates the stages' ``on_enter`` follow-ups
through the record service's ``create_many``, on the same connection, so the moves, their history
and their follow-ups commit or roll back together, whether one record moved or thousands.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import BadRequest, Conflict, CrmError, Invalid, error
from ..metadata.field_types import REGISTRY
from ..metadata.keys import table_name
from ..sqltypes import UTCDateTime
from ..tables import stage_history
from . import approvals
from .access import SYSTEM, Access
from .reasons import Reason
from .compiled import CompiledModel
from .automation.actions import create_records
from .records import Batch, RecordService, Write

def pipelines_of(model: CompiledModel, entity_key: str) -> list[dict]:
    """Active pipelines bound to a stage field of ``entity_key``."""
    entity = model.entities.get(entity_key)
    if entity is None:
        return []
    out = []
    for p in model.state.pipelines.values():
        if p.archived or p.doc.get("entity") != entity_key:
            continue
        f = entity.field_map.get(p.doc.get("field"))
        if f is not None and REGISTRY[f["type"]].holds_stages:
            out.append(p.doc)
    return out


def _empty(value) -> bool:
    return value is None or value == "" or value == []


def _moves(pipeline: dict, batch: Batch, new_value) -> list[tuple[Write, str | None, str]]:
    """(write, from stage, to stage) of each record of the batch that enters a stage of ``pipeline``."""
    field, out = pipeline["field"], []
    for w in batch:
        to = new_value(w).get(field)
        frm = w.before.get(field) if w.before else None
        if to is not None and to != frm:
            out.append((w, frm, to))
    return out


# ---- hooks ----------------------------------------------------------------------------------------

def before_write(conn: sa.Connection, batch: Batch) -> None:
    """Refuse a move ``allowed_next`` forbids (409), a move into a stage whose ``enter_roles`` the
    actor lacks (403) and entries with required fields left empty (422, every record of the batch
    reported, each error naming its row in a bulk write); then hold the moves that need approval
    (``runtime/approvals.py``: the stage change leaves ``w.changes``, a pending request is written)."""
    if batch.op not in ("create", "update"):
        return
    missing: list[dict] = []
    planned = []
    for p in pipelines_of(batch.model, batch.entity.key):
        field = p["field"]
        stages = {s["key"]: s for s in p["stages"]}
        moves = _moves(p, batch, lambda w: w.changes)
        if moves:
            planned.append((p, stages, moves))
            approvals.check_roles(conn, batch, p, stages, moves)  # 403 before any value is judged
        for w, frm, to in moves:
            if frm is not None and frm in stages:
                allowed = stages[frm].get("allowed_next", "any")
                if allowed != "any" and to not in allowed:
                    listing = ", ".join(allowed) or "none"
                    raise Conflict(w.located([error(
                        field, "transition", f"a record in stage '{frm}' cannot move to '{to}' in pipeline "
                                             f"'{p['key']}'; allowed from '{frm}': {listing}",
                        from_stage=frm, to_stage=to, allowed=list(allowed))]))
            merged = {**(w.before or {}), **w.changes}
            missing.extend(w.located([error(k, "required", f"is required to enter stage '{to}'", stage=to)
                                      for k in stages[to].get("required_fields", []) if _empty(merged.get(k))]))
    if missing:
        raise Invalid(missing)
    if planned:
        approvals.hold_moves(conn, batch, planned)  # last: a held move is a request, not a refusal


class AfterWrite:
    """The after-write hook; it needs the record service to create follow-ups."""

    def __init__(self, records: RecordService):
        self.records = records

    def __call__(self, conn: sa.Connection, batch: Batch) -> None:
        if batch.op not in ("create", "update"):
            return
        for p in pipelines_of(batch.model, batch.entity.key):
            moves = _moves(p, batch, lambda w: w.after)
            if not moves:
                continue
            now = utcnow()
            conn.execute(stage_history.insert(), [
                {"pipeline": p["key"], "entity": batch.entity.key, "record_id": w.id, "from_stage": frm,
                 "to_stage": to, "actor_id": batch.actor_id, "moved_at": now} for w, frm, to in moves])
            entering: dict[str, list[Write]] = {}
            for w, _, to in moves:
                entering.setdefault(to, []).append(w)
            for stage in p["stages"]:
                if stage.get("on_enter") and stage["key"] in entering:
                    self._follow_ups(conn, batch, p, stage, entering[stage["key"]])

    def _follow_ups(self, conn, batch: Batch, pipeline: dict, stage: dict, entered: list[Write]) -> None:
        """The stage's ``on_enter`` record for each record that entered it, in one ``create_many``: the
        automation action ``create_record`` (one mechanism for both)."""
        spec = stage["on_enter"]
        try:
            create_records(self.records, conn, batch.model, spec, [w.after for w in entered], actor_id=batch.actor_id,
                           reason=Reason(f"on entering stage {stage['key']} of pipeline {pipeline['key']}",
                                         "stage_entered", pipeline=pipeline["key"], stage=stage["key"]))
        except CrmError as exc:
            errors = []
            for e in exc.errors:
                n = e.pop("row", None)
                e = {**e, "field": f"on_enter.{e.get('field')}" if e.get("field") else "on_enter",
                     "message": f"the follow-up {spec['entity']} of stage '{stage['key']}' could not be created: "
                                f"{e['message']}"}
                errors.extend(entered[n].located([e]) if n is not None else [e])
            raise type(exc)(errors, status=exc.status) from None


# ---- archiving a stage (called by the plan's operation, inside the change's transaction) ---------

def move_all(conn: sa.Connection, pipeline: str, entity: str, field: str, stage: str, target: str,
             actor_id: int | None = None) -> int:
    t = sa.table(table_name(entity), sa.column("id"), sa.column(field), sa.column("updated_at", UTCDateTime()),
                 sa.column("updated_by"), sa.column("version"))
    ids = conn.execute(sa.select(t.c.id).where(t.c[field] == stage).order_by(t.c.id)).scalars().all()
    if not ids:
        return 0
    now = utcnow()
    conn.execute(t.update().where(t.c[field] == stage).values(
        {field: target, "updated_at": now, "updated_by": actor_id, "version": t.c.version + 1}))
    conn.execute(stage_history.insert(), [
        {"pipeline": pipeline, "entity": entity, "record_id": i, "from_stage": stage, "to_stage": target,
         "actor_id": actor_id, "moved_at": now} for i in ids])
    from . import audit
    audit.write_many(conn, [
        {"entity": entity, "record_id": i, "action": "stage", "changes": {field: [stage, target]}, "actor_id": actor_id,
         "reason": audit.Reason(f"stage '{stage}' of pipeline '{pipeline}' archived", "stage_archived", pipeline=pipeline,
                                from_stage=stage, stage=target), "at": now} for i in ids])
    return len(ids)


def stage_history_of(conn: sa.Connection, entity: str, record_id: int) -> list:
    """A record's stage moves, oldest first (the caller has checked that the reader may see it)."""
    h = stage_history
    return conn.execute(sa.select(h).where(h.c.entity == entity, h.c.record_id == record_id)
                        .order_by(h.c.moved_at, h.c.id)).all()


# ---- figures of a pipeline ---------------------------------------------------------------------

def summary(conn: sa.Connection, model: CompiledModel, pipeline: dict, amount: str | None, now: dt.datetime,
            access: Access = SYSTEM, where: list | None = None) -> dict:
    """Per stage: records now in it, records ever entering it, conversion onwards, average days
    spent and the amount total, over the records ``access`` may read.

    Conversion of a stage S = records that entered S and afterwards entered any later open or won
    stage of the current order ÷ records that entered S; null when no open or won stage follows S
    or nobody entered it. Both sets come from the stage history.

    Overall conversion of S = records that reached S (entered it, or for an open or won S any
    later open or won stage) ÷ records that entered the pipeline at all: also never above 1.
    ``where``: more conditions on the records counted (a funnel report's filters).
    """
    entity = model.entity(pipeline["entity"])
    t, field = entity.table, pipeline["field"]
    if field not in entity.field_map or not REGISTRY[entity.field_map[field]["type"]].holds_stages:
        raise Conflict([error("field", "invalid", f"{entity.key}.{field} is no longer an active stage field; "
                                                  f"restore it to see the figures of pipeline '{pipeline['key']}'")])
    only = access.read_clause(entity, model)
    access.check_query_fields(entity, model, [field] + ([amount] if amount else []))
    amount = amount or pipeline.get("amount_field")
    if amount is not None and not access.can_read_field(entity.key, amount, model):
        amount = None  # the default amount field is hidden from this user: figures without it
    amount_field = None
    if amount is not None:
        amount_field = entity.field_map.get(amount)
        if amount_field is None or not REGISTRY[amount_field["type"]].summable:
            raise BadRequest([error("amount", "invalid", f"'{amount}' is not an integer or decimal field of "
                                                         f"{entity.key}")])
    stages = [s for s in pipeline["stages"] if not s.get("archived")]
    keys = [s["key"] for s in stages]
    col = t.c[field]
    columns = [col, sa.func.count()]
    if amount_field is not None:
        columns.append(sa.func.sum(t.c[amount], type_=t.c[amount].type))
    counts, sums = {}, {}
    live = [t.c.archived_at.is_(None)] + ([only] if only is not None else []) + list(where or [])
    for row in conn.execute(sa.select(*columns).where(*live, col.in_(keys)).group_by(col)):
        counts[row[0]] = row[1]
        if amount_field is not None:
            sums[row[0]] = row[2]
    zero = None
    if amount_field is not None:
        zero = REGISTRY[amount_field["type"]].sum_zero(amount_field)

    # Intervals from the history: a row starts a stay in to_stage; the record's next row ends it.
    h = stage_history
    entered: dict[str, set] = {k: set() for k in keys}
    converted: dict[str, set] = {k: set() for k in keys}
    spent: dict[str, list[float]] = {k: [] for k in keys}
    reached: dict[str, set] = {k: set() for k in keys}
    moves = sa.select(h.c.record_id, h.c.to_stage, h.c.moved_at).where(h.c.pipeline == pipeline["key"])
    if only is not None or where:
        moves = moves.where(h.c.record_id.in_(sa.select(t.c.id).where(*live[1:])))
    rows = conn.execute(moves.order_by(h.c.record_id, h.c.moved_at, h.c.id)).all()
    position = {k: i for i, k in enumerate(keys)}
    onward = {s["key"] for s in stages if s.get("category", "open") in ("open", "won")}
    # For each row, the furthest open/won stage the record reaches after it (-1: none), by a
    # backward walk over the record's rows.
    furthest_after: list[int] = [-1] * len(rows)
    for n in range(len(rows) - 2, -1, -1):
        if rows[n + 1].record_id == rows[n].record_id:
            nxt = rows[n + 1].to_stage
            furthest_after[n] = max(furthest_after[n + 1], position[nxt] if nxt in onward else -1)
    for n, row in enumerate(rows):
        if row.to_stage in position and row.to_stage in onward:  # reaching it means passing every open stage before
            reached_upto = position[row.to_stage]
            for k in keys[:reached_upto + 1]:
                if k in onward:
                    reached[k].add(row.record_id)
        if row.to_stage not in entered:
            continue
        reached[row.to_stage].add(row.record_id)
        entered[row.to_stage].add(row.record_id)
        if furthest_after[n] > position[row.to_stage]:
            converted[row.to_stage].add(row.record_id)
        nxt = rows[n + 1] if n + 1 < len(rows) and rows[n + 1].record_id == row.record_id else None
        end = nxt.moved_at if nxt is not None else now
        spent[row.to_stage].append((end - row.moved_at).total_seconds())

    everyone = len({row.record_id for row in rows})
    out = []
    for i, s in enumerate(stages):
        following = next((x for x in stages[i + 1:] if x.get("category", "open") in ("open", "won")), None)
        here = len(entered[s["key"]])
        conversion = None
        if following is not None and here:
            # A share of the records that entered this stage (never above 1): those that went on
            # to any later open or won stage, whichever way (a stage inserted later, or skipped,
            # cannot push it past 100 %).
            conversion = (Decimal(len(converted[s["key"]])) / Decimal(here)).quantize(Decimal("0.0001"))
        days = spent[s["key"]]
        item = {
            "key": s["key"], "label": s["label"], "category": s.get("category", "open"),
            "probability": s.get("probability"), "count": counts.get(s["key"], 0), "entered": here,
            "next_stage": following["key"] if following is not None else None, "conversion": conversion,
            "overall_conversion": (Decimal(len(reached[s["key"]])) / Decimal(everyone)).quantize(Decimal("0.0001"))
            if everyone else None,
            "avg_days": (Decimal(sum(days)) / Decimal(86400 * len(days))).quantize(Decimal("0.01")) if days else None,
        }
        if amount_field is not None:
            item["amount"] = sums.get(s["key"]) if sums.get(s["key"]) is not None else zero
        out.append(item)
    return {"pipeline": pipeline["key"], "entity": entity.key, "field": field, "amount_field": amount,
            "stages": out}
