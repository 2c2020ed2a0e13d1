"""What the rule and condition builders offer: per entity, its fields with the operators that fit
each field's type and the input its value takes (choices as a choice, dates as dates, numbers as
numbers). The page carries it as JSON; designer.js turns the typed inputs into those pickers."""
from __future__ import annotations

from crm_platform.metadata.field_types import REGISTRY
from crm_platform.web.controls import INPUT_TYPES, options_of

from .common import label_shown

EMPTY_OPS = ("is_empty", "is_not_empty")
WINDOW_OPS = ("within_days", "older_than_days")


def field_catalogue(state, lang: str) -> dict[str, list[dict]]:
    """``{entity: [{key, label, ops, input, choices}]}`` for every active entity."""
    out = {}
    for key, entity in state.entities.items():
        if entity.archived:
            continue
        fields = []
        for f in entity.fields:
            ftype = REGISTRY[f["type"]]
            ops = list(ftype.operators) + list(EMPTY_OPS) + (list(WINDOW_OPS) if ftype.temporal else [])
            choices = options_of(f, state, lang)  # None for free input (and for references)
            fields.append({"key": f["key"], "label": label_shown(f.get("label"), lang) or f["key"], "ops": ops,
                           "input": "choice" if choices is not None else INPUT_TYPES.get(ftype.control_of(f), "text"),
                           "choices": [[str(v), t] for v, t in choices or []]})
        out[key] = fields
    return out
