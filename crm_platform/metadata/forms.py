"""Form definitions: how one entity's fields are laid out in a generated form, and the form's rules.

A form is a definition kind (``/api/meta/forms``)::

    {"key": "trial_signup", "label": {"en": "Trial lesson", "zh": "试听报名"}, "entity": "student",
     "layout": [{"title": {"en": "You", "zh": "学员"}, "fields": ["name", "age", "course"]},
                {"title": "Guardian", "fields": ["guardian_phone"]}],
     "overrides": {"age": {"help": "Years", "placeholder": "8"}, "course": {"label": "Which course?"}},
     "conditions": [{"field": "guardian_phone", "effect": "require",
                     "when": {"field": "age", "op": "in", "value": [3, 4, 5, 6, 7]}}],
     "public": true, "slug": "trial", "success_message": {"en": "Thank you!", "zh": "提交成功"}}

An entity without a form marked ``"default": true`` gets a default form: one section holding every
field in definition order.

Where the rules are enforced: ``accept`` below, called by the generated screens and by public web
forms just before they hand the values to the record service. The record service does not know
which form a change came from (the API, imports and automations use no form), so form rules live in
the form layer that every *form* submission passes through, and the record service keeps the rules
that hold whatever the channel (types, required fields, pipelines, permissions). The page repeats
the show/require rules in JavaScript only for comfort; the server decides.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from ..errors import Invalid, NotFound, error
from ..i18n import humanise, text_of
from .definitions import MetaState
from .field_types import REGISTRY
from .field_types.base import Invalid as ValueInvalid
from .kinds import Kind, register


def _entity_fields(state: MetaState, entity: str) -> dict[str, dict] | None:
    e = state.entities.get(entity)
    if e is None or e.archived:
        return None
    return {f["key"]: REGISTRY[f["type"]].bind({**f, "_entity": entity}, state) for f in e.fields}


def _value_problem(where: str, field: dict, value) -> dict | None:
    """Whether ``value`` could be a value of ``field`` (size and range limits aside)."""
    ftype = REGISTRY[field["type"]]
    try:  # a condition on a multi-choice field names one of its choices
        ftype.compared_checker(field)([value] if ftype.control_of(field) == "choices" else value)
    except ValueInvalid as exc:
        return error(where, exc.code, f"the value {exc.message}")
    return None


class FormKind(Kind):
    name = "form"
    schema = "form"

    def problems(self, doc, state):
        fields = _entity_fields(state, doc["entity"])
        if fields is None:
            return [error("entity", "invalid", f"there is no active entity '{doc['entity']}'")]
        entity = doc["entity"]
        problems, placed = [], {}
        for n, section in enumerate(doc["layout"]):
            for m, key in enumerate(section["fields"]):
                where = f"layout.{n}.fields.{m}"
                if key not in fields:
                    problems.append(error(where, "invalid", f"'{key}' is not a field of {entity}"))
                elif key in placed:
                    problems.append(error(where, "unique", f"'{key}' is already placed at {placed[key]}"))
                else:
                    placed[key] = where
        overrides = doc.get("overrides", {})
        for key in overrides:
            if key not in fields:
                problems.append(error(f"overrides.{key}", "invalid", f"'{key}' is not a field of {entity}"))
        for n, cond in enumerate(doc.get("conditions", [])):
            where = f"conditions.{n}"
            target, when = cond["field"], cond["when"]
            if target not in placed:
                problems.append(error(where + ".field", "invalid", f"'{target}' is not a field on this form"))
            if when["field"] not in placed:
                problems.append(error(where + ".when.field", "invalid", f"'{when['field']}' is not a field on this form"))
                continue
            if when["field"] == target:
                problems.append(error(where + ".when.field", "invalid", "a condition cannot depend on its own field"))
                continue
            values = when["value"] if when["op"] == "in" else [when["value"]]
            if when["op"] == "in" and (not isinstance(when["value"], list) or not when["value"]):
                problems.append(error(where + ".when.value", "type", "'in' takes a non-empty list of values"))
                continue
            for value in values:
                problem = _value_problem(where + ".when.value", fields[when["field"]], value)
                if problem:
                    problems.append(problem)
                    break
        others = [(k, s.doc) for k, s in state.of_kind("form").items() if k != doc["key"] and not s.archived]
        if doc.get("public"):
            if not doc.get("slug"):
                problems.append(error("slug", "required", "a public form needs a slug: it is served at /f/<slug>"))
            for k, other in others:
                if other.get("public") and other.get("slug") == doc.get("slug"):
                    problems.append(error("slug", "unique", f"form '{k}' is published at /f/{doc['slug']} already"))
            for key, f in fields.items():
                if f.get("required") and f.get("default") is None and (
                        key not in placed or overrides.get(key, {}).get("hidden") or overrides.get(key, {}).get("read_only")):
                    problems.append(error("layout", "required", f"'{key}' is required by {entity}: a public form must "
                                                                f"let people fill it in"))
        if doc.get("default"):
            for k, other in others:
                if other.get("default") and other.get("entity") == entity:
                    problems.append(error("default", "unique", f"form '{k}' is the default form of {entity} already"))
        return problems


register(FormKind())


# ---- the runtime side: a form resolved against the current entity ---------------------------------
@dataclass
class FormField:
    key: str
    field: dict
    label: object
    help: object = None
    placeholder: object = None
    read_only: bool = False
    hidden: bool = False


@dataclass
class Section:
    title: object
    fields: list[FormField]


@dataclass
class ResolvedForm:
    key: str | None
    entity: str
    label: object
    sections: list[Section]
    conditions: list[dict] = dc_field(default_factory=list)
    doc: dict = dc_field(default_factory=dict)

    @property
    def fields(self) -> list[FormField]:
        return [f for s in self.sections for f in s.fields]

    @property
    def public(self) -> bool:
        return bool(self.doc.get("public"))


def resolve(doc: dict, entity_doc: dict) -> ResolvedForm:
    """A form against the entity as it is now: fields archived or renamed since are left out."""
    fields = {f["key"]: f for f in entity_doc.get("fields", [])}
    overrides = doc.get("overrides", {})
    sections = []
    for section in doc["layout"]:
        placed = []
        for key in section["fields"]:
            if key in fields:
                o = overrides.get(key, {})
                placed.append(FormField(key, fields[key], o.get("label") or fields[key].get("label") or humanise(key),
                                        o.get("help") or fields[key].get("help"), o.get("placeholder"),
                                        bool(o.get("read_only")), bool(o.get("hidden"))))
        if placed:
            sections.append(Section(section["title"], placed))
    on_form = {f.key for s in sections for f in s.fields}
    conditions = [c for c in doc.get("conditions", []) if c["field"] in on_form and c["when"]["field"] in on_form]
    return ResolvedForm(doc["key"], entity_doc["key"], doc["label"], sections, conditions, doc)


def default_form(entity_doc: dict) -> ResolvedForm:
    fields = [FormField(f["key"], f, f.get("label") or humanise(f["key"]), f.get("help"))
              for f in entity_doc.get("fields", [])]
    label = entity_doc.get("label") or humanise(entity_doc["key"])
    return ResolvedForm(None, entity_doc["key"], label, [Section({"en": "Details", "zh": "详细信息"}, fields)] if fields else [])


def form_for(state: MetaState, entity_doc: dict, key: str | None = None) -> ResolvedForm:
    """The form named ``key`` (404 unless it is an active form of this entity), else the entity's
    default form, else the generated default."""
    forms = state.of_kind("form")
    if key:
        found = forms.get(key)
        if found is None or found.archived or found.doc.get("entity") != entity_doc["key"]:
            raise NotFound([error("form", "not_found", f"no form '{key}' for {entity_doc['key']}")])
        return resolve(found.doc, entity_doc)
    for found in forms.values():
        if not found.archived and found.doc.get("default") and found.doc.get("entity") == entity_doc["key"]:
            return resolve(found.doc, entity_doc)
    return default_form(entity_doc)


def public_form(state: MetaState, slug: str) -> dict | None:
    for found in state.of_kind("form").values():
        if not found.archived and found.doc.get("public") and found.doc.get("slug") == slug:
            return found.doc
    return None


# ---- conditions --------------------------------------------------------------------------------
def _empty(value) -> bool:
    return value is None or value == "" or value == []


def holds(when: dict, values: dict) -> bool:
    """Whether ``when`` holds for ``values``; a list value (multi-choice, tags) holds if any item does."""
    current = values.get(when["field"])
    wanted = when["value"] if when["op"] == "in" else [when["value"]]
    have = current if isinstance(current, list) else [current]
    return any(_matches(h, w) for h in have for w in wanted)


def _matches(have, wanted) -> bool:
    """A value against a condition's (which may be written as text: 5 matches "5", but True only True)."""
    if isinstance(have, bool) or isinstance(wanted, bool):
        return have is wanted
    try:
        return have == wanted or str(have) == str(wanted)
    except TypeError:
        return False


def shown(form: ResolvedForm, values: dict) -> set[str]:
    """Keys of the fields shown for ``values``: not hidden, and every show condition on them holds."""
    keys = {f.key for f in form.fields if not f.hidden}
    for cond in form.conditions:
        if cond["effect"] == "show" and not holds(cond["when"], values):
            keys.discard(cond["field"])
    return keys


def required_message(form: ResolvedForm, when: dict, lang: str | None = None) -> str:
    """Why a field is required, in the person's words: the other field's label and the values'."""
    other = next((f for f in form.fields if f.key == when["field"]), None)
    name = text_of(other.label, lang) if other is not None else when["field"]
    choices = {c["key"]: c["label"] for c in (other.field.get("choices") or [])} if other is not None else {}
    values = [text_of(choices[v], lang) if v in choices else str(v).lower() if isinstance(v, bool) else str(v)
              for v in (when["value"] if when["op"] == "in" else [when["value"]])]
    if lang and lang.split("-")[0] == "zh":
        listed = "、".join(values[:-1]) + " 或 " + values[-1] if len(values) > 1 else values[0]
        return f"当「{name}」为 {listed} 时必填"
    return f"is required when {name} is {' or '.join(values)}"


def accept(form: ResolvedForm, posted: dict, before: dict | None = None, *, lang: str | None = None) -> dict:
    """The values a form submission may write, or Invalid naming each field a condition requires.

    Only fields on the form count: read-only and hidden ones are dropped, and so are fields a show
    condition hides (the person could not see what they would be writing). ``before`` is the stored
    record on an edit: conditions are judged on the stored values plus the change. Messages are
    in ``lang`` (English by default).
    """
    writable = {f.key for f in form.fields if not f.read_only and not f.hidden}
    values = {k: v for k, v in posted.items() if k in writable}
    judged = {**(before or {}), **values}
    visible = shown(form, judged)
    values = {k: v for k, v in values.items() if k in visible}
    judged = {**(before or {}), **values}
    problems = []
    for cond in form.conditions:
        key = cond["field"]
        if cond["effect"] == "require" and key in visible and holds(cond["when"], judged) and _empty(judged.get(key)):
            problems.append(error(key, "required", required_message(form, cond["when"], lang)))
    if problems:
        raise Invalid(problems)
    return values
