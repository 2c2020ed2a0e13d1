"""Stage fields: the current stage of a record in a pipeline.

``{"key": "stage", "type": "stage"}``. The field itself has no options: a pipeline definition
binds it (``{"entity": ..., "field": ...}``) and the field learns the pipeline's active stage keys
through ``bind``. Values are stage keys stored in a TEXT column; with no pipeline bound, no value
is accepted. Moving between stages (allowed transitions, entry requirements, history, follow-ups)
is checked by the pipeline hooks of the record service (``runtime/pipelines.py``).
"""
from __future__ import annotations

import sqlalchemy as sa

from .base import FieldType, Invalid, register, type_error
from . import grouping as grp
from .tags import label_lookup


def bound_pipeline(state, entity: str | None, field_key: str):
    """The active pipeline definition binding ``entity.field_key``, or None."""
    for p in getattr(state, "pipelines", {}).values():
        if not p.archived and p.doc.get("entity") == entity and p.doc.get("field") == field_key:
            return p.doc
    return None


@register
class Stage(FieldType):
    name = "stage"
    title = {"en": "Stage", "zh": "阶段"}
    holds_stages = True
    control = "choice"
    operators = ("eq", "ne", "in", "not_in")
    converts_to = frozenset({"text"})

    def bind(self, field, state):
        pipeline = bound_pipeline(state, field.get("_entity"), field["key"])
        stages = pipeline.get("stages", []) if pipeline is not None else []
        return {**field, "_pipeline": pipeline["key"] if pipeline is not None else None,
                "_stages": [s["key"] for s in stages if not s.get("archived")],
                "_archived_stages": [s["key"] for s in stages if s.get("archived")],
                "_labels": label_lookup([s for s in stages if not s.get("archived")])}

    def column_type(self, field):
        return sa.Text()

    def formula_operand(self, field):
        return ("str", 0)  # the stage's key

    def group_specs(self, field):
        return (None,)

    def grouping(self, field, column, spec, ctx, link=None):
        grp.no_spec(self, spec)  # stages in the pipeline's order
        return grp.value_grouping(self, field, column, order=list(field.get("_stages", [])) + list(field.get("_archived_stages", [])))

    def options(self, field, state):
        pipeline = state.pipelines.get(field.get("_pipeline") or "")
        stages = pipeline.doc.get("stages", []) if pipeline is not None else []
        return [(s["key"], s["label"]) for s in stages if not s.get("archived")]

    def value_schema(self, field):
        return {"type": "string", "enum": list(field.get("_stages", []))}

    def compile_checker(self, field):
        allowed = frozenset(field.get("_stages", []))
        archived = frozenset(field.get("_archived_stages", []))
        listing = ", ".join(field.get("_stages", []))
        pipeline = field.get("_pipeline")

        def check(value):
            if type(value) is not str:
                raise type_error("a stage key")
            if value not in allowed:
                if pipeline is None:
                    raise Invalid("enum", "no pipeline uses this stage field yet: define a pipeline for it first")
                if value in archived:
                    raise Invalid("enum", f"stage '{value}' of pipeline '{pipeline}' is archived; stages: {listing}")
                raise Invalid("enum", f"'{value}' is not a stage of pipeline '{pipeline}'; stages: {listing}")
            return value

        return check

    def parse_text(self, field, text):
        """A stage key, or a stage's label in any language (初步接触, First contact)."""
        text = text.strip()
        return self.compile_checker(field)(field.get("_labels", {}).get(text.casefold(), text))
