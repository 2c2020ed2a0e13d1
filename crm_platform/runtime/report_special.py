"""The two special reports: a pipeline's funnel, and conversion to a won stage by a dimension.

The funnel is the pipeline summary (``pipelines.summary``, also served at
``/api/pipelines/<key>/summary``) over the records the report's filters select: one definition of
conversion for both. The conversion report is a grouped report (``reports.grouped``) with one more
aggregate: how many of each group's records reached a won stage (now in one, or ever moved into one).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

import sqlalchemy as sa

from ..errors import Invalid, error
from ..metadata.field_types import REGISTRY
from ..tables import stage_history
from .access import Access
from .compiled import CompiledModel
from .query import conditions
from .reports import Answer, _list_query, filter_params, grouped, narrowed, readable_fields, zone_name


def _pipeline(model: CompiledModel, definition: dict) -> dict:
    found = model.state.pipelines.get(definition.get("pipeline") or "")
    if found is None or found.archived:
        raise Invalid([error("pipeline", "invalid", f"there is no active pipeline {definition.get('pipeline')!r}")])
    return found.doc


def _won_stages(pipeline: dict, definition: dict) -> list[str]:
    """The stages that count as success: the definition's ``reached`` (e.g. only "renewed"), else
    the pipeline's won stages."""
    stages = {s["key"] for s in pipeline["stages"]}
    chosen = definition.get("reached")
    if chosen is not None:
        if not isinstance(chosen, list) or not chosen or any(k not in stages for k in chosen):
            raise Invalid([error("reached", "invalid", f"reached is a list of stages of pipeline '{pipeline['key']}': "
                                                       f"{', '.join(sorted(stages))}")])
        return chosen
    won = [s["key"] for s in pipeline["stages"] if s.get("category") == "won"]
    if not won:
        raise Invalid([error("pipeline", "invalid", f"pipeline '{pipeline['key']}' has no won stage")])
    return won


FUNNEL_COLUMNS = ["stage", "count", "amount", "entered", "conversion", "overall_conversion", "avg_days"]


def funnel(conn, model: CompiledModel, definition: dict, *, access: Access, tz: dt.tzinfo, now: dt.datetime) -> Answer:
    from .pipelines import summary
    pipeline = _pipeline(model, definition)
    entity = model.entity(pipeline["entity"])
    if isinstance(definition.get("filters"), dict) and pipeline["field"] in definition["filters"]:
        raise Invalid([error(f"filters.{pipeline['field']}", "invalid", "a funnel shows every stage: filter on other fields")])
    params = filter_params(readable_fields(entity), definition.get("filters"), tz, now.astimezone(tz).date())
    lq = _list_query(entity, params)
    access.read_clause(entity, model)
    access.check_query_fields(entity, model, [f.field["key"] for f in lq.filters])
    where = conditions(entity, lq, conn.dialect.name, conn)[1:]  # summary applies archived and rights itself
    figures = summary(conn, model, pipeline, definition.get("amount"), now, access, where=where)
    columns = [c for c in FUNNEL_COLUMNS if c != "amount" or figures["amount_field"] is not None]
    rows, links = [], []
    for s in figures["stages"]:
        rows.append([s[c] if c != "stage" else s["key"] for c in columns])
        links.append(urlencode(narrowed(params + [(f"filter[{pipeline['field']}][eq]", s["key"])], readable_fields(entity))))
    return Answer(entity.key, columns, rows, links, zone_name(tz))


def conversion(conn, model: CompiledModel, definition: dict, *, access: Access, tz: dt.tzinfo,
               now: dt.datetime) -> Answer:
    """Per value of the dimension: records (created in the filters' period), how many reached a won
    stage, and the share (``won / count``, 4 places, never above 1)."""
    pipeline = _pipeline(model, definition)
    entity = model.entity(pipeline["entity"])
    t, field = entity.table, pipeline["field"]
    won = _won_stages(pipeline, definition)
    h = stage_history
    moved_to_won = sa.exists().where(h.c.pipeline == pipeline["key"], h.c.record_id == t.c.id, h.c.to_stage.in_(won))
    reached = sa.func.sum(sa.case((sa.or_(t.c[field].in_(won), moved_to_won), 1), else_=0))
    inner = {"entity": entity.key, "filters": definition.get("filters"), "group_by": [definition.get("dimension")],
             "measures": ["count"], "sort": definition.get("sort"), "limit": definition.get("limit")}
    if not isinstance(definition.get("dimension"), str):
        raise Invalid([error("dimension", "required", "a conversion report needs a dimension (a field, as in group_by)")])
    try:
        answer = grouped(conn, model, inner, access=access, tz=tz, now=now, extra_measures=[("won", reached)])
    except Invalid as exc:
        raise Invalid([{**e, "field": "dimension" if (e.get("field") or "").startswith("group_by") else e.get("field")}
                       for e in exc.errors]) from None
    for row in answer.rows:
        count, n_won = row[1], int(row[2] or 0)
        row[2] = n_won
        row.append((Decimal(n_won) / Decimal(count)).quantize(Decimal("0.0001")) if count else None)
    answer.columns.append("conversion")
    return answer


def effort(conn, model: CompiledModel, definition: dict, *, access: Access, tz: dt.tzinfo, now: dt.datetime) -> Answer:
    """Follow-up effort of the records that reached a won stage, per value of an optional dimension:
    how many, the records of a related entity pointing at them (``related``: {"entity", "via"}, e.g.
    communications) in all and per won record, and the average days from creation to the first
    move into a won stage (stage history). All of it one grouped statement."""
    pipeline = _pipeline(model, definition)
    entity = model.entity(pipeline["entity"])
    t = entity.table
    won = _won_stages(pipeline, definition)
    related = definition.get("related") if isinstance(definition.get("related"), dict) else {}
    other = model.entities.get(related.get("entity") or "")
    via = other.field_map.get(related.get("via") or "") if other is not None and not other.archived else None
    if via is None or REGISTRY[via["type"]].target_entity(via) != entity.key:
        raise Invalid([error("related", "invalid", f"related names an entity and its reference field to "
                                                   f"{entity.key}, e.g. {{\"entity\": \"communication\", \"via\": \"{entity.key}\"}}")])
    o = other.table
    seen = access.readable_clause(other, model)  # only what the user may read counts
    counted = (sa.select(sa.func.count()).where(o.c[via["key"]] == t.c.id, o.c.archived_at.is_(None),
                                               *([seen] if seen is not None else [])).scalar_subquery())
    h = stage_history
    won_at = (sa.select(sa.func.min(h.c.moved_at)).where(h.c.pipeline == pipeline["key"], h.c.record_id == t.c.id,
                                                          h.c.to_stage.in_(won)).scalar_subquery())
    if conn.dialect.name == "postgresql":
        days = sa.func.extract("epoch", won_at - t.c.created_at) / 86400
    else:
        days = sa.func.julianday(won_at) - sa.func.julianday(t.c.created_at)
    filters = dict(definition.get("filters") or {})
    if pipeline["field"] in filters:
        raise Invalid([error(f"filters.{pipeline['field']}", "invalid", "an effort report chooses the won records itself")])
    inner = {"entity": entity.key, "filters": {**filters, pipeline["field"]: {"in": won}},
             "group_by": [definition["dimension"]] if definition.get("dimension") else [], "measures": ["count"],
             "sort": definition.get("sort"), "limit": definition.get("limit")}
    try:
        answer = grouped(conn, model, inner, access=access, tz=tz, now=now,
                         extra_measures=[("communications", sa.func.sum(counted)),
                                         ("days", sa.func.sum(days)), ("timed", sa.func.count(days))])
    except Invalid as exc:
        raise Invalid([{**e, "field": "dimension" if (e.get("field") or "").startswith("group_by") else e.get("field")}
                       for e in exc.errors]) from None
    n = len(inner["group_by"])
    rows = []
    for row in answer.rows:
        count, total, spent, timed = row[n], int(row[n + 1] or 0), row[n + 2], int(row[n + 3] or 0)
        rows.append(row[:n] + [count, total, (Decimal(total) / Decimal(count)).quantize(Decimal("0.01")) if count else None,
                               (Decimal(str(spent)) / Decimal(timed)).quantize(Decimal("0.01")) if timed else None])
    answer.rows = rows
    answer.columns = answer.columns[:n] + ["won", related["entity"], f"{related['entity']}_per_won", "avg_days_to_close"]
    return answer
