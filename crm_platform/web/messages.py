"""The record service's errors as a page shows them: in the page's language, naming fields and
stages by their labels.

The API speaks keys (``contract_no``, ``quote``, ``_reason``) because programs read it; a person
on a page reads labels. Every screen that shows a refusal of a write (forms, the record page, the
board, the error page) passes the errors through ``for_page`` once, so no template prints a key.
Each error keeps its ``field`` and ``code`` (forms place messages by field) and gains ``label``.
"""
from __future__ import annotations

from ..errors import Invalid, error
from ..runtime.pipelines import pipelines_of
from .i18n import label as label_of, localise, translate
from .pages import screen_label

#: The field the record service names when an entity asks for a reason and none was given; the
#: screens post it under the same name.
REASON = "_reason"
#: Longest reason the audit trail keeps (as the API's X-Change-Reason / ``_reason``).
REASON_MAX = 2000


def reason_required(entity_doc: dict) -> bool:
    return bool(entity_doc.get("require_change_reason"))


def posted_reason(raw) -> str | None:
    """A reason typed on a page: trimmed, None when blank (the service then judges whether one is
    needed); longer than the audit trail keeps is refused naming the reason."""
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if len(text) > REASON_MAX:
        raise Invalid([error(REASON, "maxLength", f"must be at most {REASON_MAX} characters")])
    return text or None


def for_page(errors, screen) -> list[dict]:
    """``errors`` localised for ``screen``'s language, each with the ``label`` of the field it names."""
    lang = screen.lang
    stages = _stage_labels(screen)
    out = []
    for e in localise(list(errors), lang):
        e = dict(e)
        field = e.get("field")
        if field == REASON:
            e["label"] = translate("change_reason", lang)
            if e.get("code") == "required":
                e["message"] = translate("reason_needed", lang)
        elif field in screen.entity.field_map:
            e["label"] = screen_label(screen.entity.field_map[field], lang)
        if e.get("code") == "transition" and e.get("to_stage"):
            names = stages.get(field, {})
            e["message"] = translate("cannot_move", lang, frm=_stage(names, e.get("from_stage"), lang),
                                     to=_stage(names, e["to_stage"], lang),
                                     allowed=_listing([_stage(names, s, lang) for s in e.get("allowed") or []], lang))
        elif e.get("code") == "required" and e.get("stage"):
            names = _any_stage(stages, e["stage"])
            e["message"] = translate("required_to_enter", lang, stage=_stage(names, e["stage"], lang))
        out.append(e)
    return out


def _stage_labels(screen) -> dict[str, dict]:
    """Stage field → {stage key → label} for the pipelines of the screen's entity."""
    return {p["field"]: {s["key"]: s.get("label") for s in p.get("stages", [])}
            for p in pipelines_of(screen.model, screen.key)}


def _any_stage(stages: dict[str, dict], key: str) -> dict:
    """The stage labels of the pipeline that has stage ``key`` (an entity may have several pipelines)."""
    return next((names for names in stages.values() if key in names), {})


def _stage(names: dict, key, lang: str) -> str:
    if key is None:
        return ""
    found = names.get(key)
    return label_of(found, lang) if found else str(key)


def _listing(items: list[str], lang: str) -> str:
    if not items:
        return translate("none", lang)
    return ("、" if lang == "zh" else ", ").join(items)
