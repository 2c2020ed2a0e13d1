"""A plan is data: the planner reads stored rows only through the probe it is given, and every
operation it makes is plain JSON that the applier (``runtime.ddl``) dispatches on by name."""
from __future__ import annotations

import json

from crm_platform.metadata.definitions import EntityState, MetaState
from crm_platform.metadata.kinds import KINDS
from crm_platform.metadata.service import Change

PIPELINE = {"key": "sales", "label": "Sales", "entity": "deal", "field": "stage", "stages": [
    {"key": "new", "label": "New"}, {"key": "meeting", "label": "Meeting"}, {"key": "quiet", "label": "Quiet"},
    {"key": "won", "label": "Won", "category": "won"}]}
TAXONOMY = {"key": "segment", "label": "Segment", "tags": [{"key": "vip", "label": "VIP"}, {"key": "new", "label": "New"}]}


class TableProbe:
    """Row facts from a table written in the test: no database, no connection to reach past it."""

    def __init__(self, *, holding: dict | None = None, carrying: dict | None = None):
        self.holding, self.carrying, self.asked = holding or {}, carrying or {}, []

    def count_holding(self, entity, field_key, value):
        self.asked.append(("count_holding", entity, field_key, value))
        return self.holding.get(value, 0)

    def links_carrying(self, entity, field_key, values):
        self.asked.append(("links_carrying", entity, field_key, tuple(values)))
        return sum(self.carrying.get(v, 0) for v in values)


def plan_of(kind: str, before: dict, after: dict, probe, state: MetaState | None = None):
    change = Change(kind, before["key"], "update", lambda s: (before, after))
    return KINDS[kind].plan(change, state or MetaState(), before, after, probe)


def archived(stages: list[dict], key: str, **extra) -> list[dict]:
    return [{**s, "archived": True, **extra} if s["key"] == key else dict(s) for s in stages]


def test_archiving_stages_plans_a_data_operation_per_stage_from_the_probes_counts():
    after = {**PIPELINE, "stages": archived(archived(PIPELINE["stages"], "meeting", move_to="won"), "quiet")}
    probe = TableProbe(holding={"meeting": 3})
    plan = plan_of("pipeline", PIPELINE, after, probe)
    assert not plan.refusals
    ops = {op.op: op for op in plan.operations}
    move = ops["move_stage_records"]
    assert (move.entity, move.field, move.rows) == ("deal", "stage", 3)
    assert move.data == {"pipeline": "sales", "stage": "meeting", "target": "won"}
    assert ops["archive_stage"].detail == "archive stage quiet (no records in it)"
    # Nothing executable rides along: every operation survives a JSON round trip unchanged.
    for op in plan.operations:
        assert json.loads(json.dumps(op.data)) == op.data
    assert probe.asked == [("count_holding", "deal", "stage", "meeting"), ("count_holding", "deal", "stage", "quiet")]


def test_archiving_a_stage_holding_records_without_move_to_is_refused_with_the_count():
    after = {**PIPELINE, "stages": archived(PIPELINE["stages"], "meeting")}
    plan = plan_of("pipeline", PIPELINE, after, TableProbe(holding={"meeting": 2}))
    assert [(r.field, r.code, r.rows) for r in plan.refusals] == [("stages.meeting", "in_use", 2)]
    assert "move_stage_records" not in [op.op for op in plan.operations]


def test_removing_tags_still_carried_is_refused_with_the_count_over_every_bound_field():
    state = MetaState()
    for entity in ("customer", "lead"):
        state.entities[entity] = EntityState({"key": entity, "label": entity, "fields": [
            {"key": "segments", "type": "tags", "taxonomy": "segment"}]})
    after = {**TAXONOMY, "tags": [TAXONOMY["tags"][0]]}
    probe = TableProbe(carrying={"new": 2})
    plan = plan_of("taxonomy", TAXONOMY, after, probe, state)
    assert [(r.code, r.rows) for r in plan.refusals] == [("in_use", 4)]
    assert sorted(probe.asked) == [("links_carrying", "customer", "segments", ("new",)),
                                   ("links_carrying", "lead", "segments", ("new",))]
    assert not plan_of("taxonomy", TAXONOMY, after, TableProbe(), state).refusals
