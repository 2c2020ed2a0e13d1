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
from ..tables import stage_history
from .access import Access
from .compiled import CompiledModel
from .query import conditions
from .reports import Answer, _list_query, filter_params, grouped, readable_fields, zone_name


def _pipeline(model: CompiledModel, definition: dict) -> dict:
    found = model.state.pipelines.get(definition.get("pipeline") or "")
    if found is None or found.archived:
        raise Invalid([error("pipeline", "invalid", f"there is no active pipeline {definition.get('pipeline')!r}")])
    return found.doc


FUNNEL_COLUMNS = ["stage", "count", "amount", "entered", "conversion", "overall_conversion", "avg_days"]


def funnel(conn, model: CompiledModel, definition: dict, *, access: Access, tz: dt.tzinfo, now: dt.datetime) -> Answer:
    from .pipelines import summary
    pipeline = _pipeline(model, definition)
    entity = model.entity(pipeline["entity"])
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
        links.append(urlencode(params + [(f"filter[{pipeline['field']}][eq]", s["key"])]))
    return Answer(entity.key, columns, rows, links, zone_name(tz))


def conversion(conn, model: CompiledModel, definition: dict, *, access: Access, tz: dt.tzinfo,
               now: dt.datetime) -> Answer:
    """Per value of the dimension: records (created in the filters' period), how many reached a won
    stage, and the share (``won / count``, 4 places, never above 1)."""
    pipeline = _pipeline(model, definition)
    entity = model.entity(pipeline["entity"])
    t, field = entity.table, pipeline["field"]
    won = [s["key"] for s in pipeline["stages"] if s.get("category") == "won"]
    if not won:
        raise Invalid([error("pipeline", "invalid", f"pipeline '{pipeline['key']}' has no won stage")])
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
        count, n_won = row[1], row[2]
        row.append((Decimal(n_won) / Decimal(count)).quantize(Decimal("0.0001")) if count else None)
    answer.columns.append("conversion")
    return answer
