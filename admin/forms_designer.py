"""Form designer: lay out an entity's fields in sections, in order, with per-field overrides
(label, help, placeholder, read-only, hidden) and show/require conditions — without JSON."""
from __future__ import annotations

from flask import request
from flask_admin import expose
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from crm_platform.metadata.field_types import REGISTRY

from .common import DesignerForm, label_data, label_from, label_shown, platform
from .conditions import field_catalogue
from .i18n import language, t as tr
from .definition_view import DefinitionDesignerView
from .plan_flow import attach_errors, going_back
from .rows import blank, posted_rows, split_list, typed_value

SPARE_SECTIONS = 1
SPARE_CONDITIONS = 2
OVERRIDE_TEXTS = ("label", "help", "placeholder")


def _opt(values, blank_label=None):
    head = [SelectChoice("", blank_label)] if blank_label is not None else []
    return head + [SelectChoice(v, t) for v, t in values]


def _text(label, max_length=200):
    return StringField(label, validators=[Optional(), Length(max=max_length)])


def form_designer_class(state, entity_key: str, n_sections: int, n_conditions: int):
    entity = state.entities.get(entity_key)
    entity_fields = entity.fields if entity is not None and not entity.archived else []
    field_choices = [(f["key"], f"{label_shown(f.get('label')) or f['key']} ({f['key']})") for f in entity_fields]

    class SectionRow(Form):
        title_en = _text(tr("d_section_title_english"))
        title_zh = _text(tr("d_section_title"))

    class FieldRow(Form):
        key = HiddenField()
        section = SelectField(tr("d_section"), choices=_opt([(str(n), tr("section_n", n=n)) for n in range(1, n_sections + 1)],
                                                      tr("not_on_form")), validate_choice=False)
        position = IntegerField(tr("d_order"), validators=[Optional()], render_kw={"style": "width:5em"})
        label_en, label_zh = _text(tr("d_label_english")), _text(tr("d_label"))
        help_en, help_zh = _text(tr("d_help_english"), 4000), _text(tr("d_help"), 4000)
        placeholder_en, placeholder_zh = _text(tr("d_placeholder_english")), _text(tr("d_placeholder"))
        read_only = BooleanField(tr("d_read_only"))
        hidden = BooleanField(tr("d_hidden"))

    class ConditionRow(Form):
        field = SelectField(tr("d_field"), choices=_opt(field_choices, "—"), validate_choice=False)
        effect = SelectField(tr("d_effect"), choices=_opt([("show", tr("d_is_shown_only")), ("require", tr("d_is_required"))], "—"),
                             validate_choice=False)
        # designer.js fits the value input to the field tested (admin/conditions.py)
        when_field = SelectField(tr("d_when"), choices=_opt(field_choices, "—"), validate_choice=False,
                                 render_kw={"data-cond-field": "1"})
        op = SelectField(tr("d_is"), choices=_opt([("eq", tr("d_equal_to")), ("in", tr("d_one_of_a_b"))]),
                         validate_choice=False, render_kw={"data-cond-op": "1"})
        value = StringField(tr("d_value"), validators=[Optional(), Length(max=1000)], render_kw={"data-cond-value": "1"})

    class FormDesignerForm(DesignerForm):
        key = _text(tr("d_key"), 63)
        label_en, label_zh = _text(tr("d_name_english")), _text(tr("d_name"))
        entity = SelectField(tr("d_entity"), validate_choice=False, choices=_opt(
            [(k, f"{label_shown(s.doc.get('label')) or k} ({k})") for k, s in state.entities.items() if not s.archived], "—"))
        default = BooleanField(tr("d_the_form_of_this_entity_s_own_new_and_ed"))
        public = BooleanField(tr("d_public_anyone_may_fill_it_in_at_f_slug_w"))
        slug = _text(tr("d_slug_public_address"), 63)
        submit_label_en, submit_label_zh = _text(tr("d_submit_button_english")), _text(tr("d_submit_button"))
        success_message_en, success_message_zh = _text(tr("d_thank_you_message_english"), 4000), _text(tr("d_thank_you_message"), 4000)
        sections = FieldList(FormField(SectionRow), min_entries=n_sections)
        fields = FieldList(FormField(FieldRow), min_entries=len(entity_fields))
        conditions = FieldList(FormField(ConditionRow), min_entries=n_conditions)

    return FormDesignerForm, entity_fields


def form_doc(form, state, key: str | None = None) -> dict:
    data = form.data
    doc = {"key": key or (data.get("key") or "").strip(), "entity": data.get("entity") or ""}
    label = label_from(data, "label")
    if label:
        doc["label"] = label
    for flag in ("default", "public"):
        if data.get(flag):
            doc[flag] = True
    if (data.get("slug") or "").strip():
        doc["slug"] = data["slug"].strip()
    for name in ("submit_label", "success_message"):
        text = label_from(data, name)
        if text:
            doc[name] = text
    placed: dict[int, list] = {}
    overrides = {}
    for order, row in enumerate(data["fields"]):
        if row.get("section"):
            placed.setdefault(int(row["section"]), []).append((row.get("position") is None, row.get("position") or 0,
                                                               order, row["key"]))
        override = {name: label_from(row, name) for name in OVERRIDE_TEXTS}
        override = {k: v for k, v in override.items() if v}
        override.update({flag: True for flag in ("read_only", "hidden") if row.get(flag)})
        if override:
            overrides[row["key"]] = override
    layout = []
    for n, section in enumerate(data["sections"], start=1):
        if n not in placed and blank(section, "title_en", "title_zh"):
            continue
        layout.append({"title": label_from(section, "title") or f"Section {n}",
                       "fields": [k for *_, k in sorted(placed.get(n, []))]})
    doc["layout"] = layout
    if overrides:
        doc["overrides"] = overrides
    entity = state.entities.get(doc["entity"])
    fields = {f["key"]: f for f in entity.fields} if entity is not None else {}
    conditions = []
    for c in data["conditions"]:
        if blank(c, "field", "effect", "when_field", "value"):
            continue
        texts = split_list(c.get("value")) if c.get("op") == "in" else [(c.get("value") or "").strip()]
        values = [typed_value(fields.get(c.get("when_field")), t) for t in texts]
        conditions.append({"field": c.get("field") or "", "effect": c.get("effect") or "",
                           "when": {"field": c.get("when_field") or "", "op": c.get("op") or "eq",
                                    "value": values if c.get("op") == "in" else values[0]}})
    if conditions:
        doc["conditions"] = conditions
    return doc


def form_data(doc: dict | None, fields: list[dict]) -> dict:
    doc = doc or {}
    where = {}
    for n, section in enumerate(doc.get("layout", []), start=1):
        for m, key in enumerate(section["fields"], start=1):
            where[key] = (str(n), m)
    overrides = doc.get("overrides", {})
    rows = []
    for f in fields:
        o = overrides.get(f["key"], {})
        section, position = where.get(f["key"], ("", None))
        rows.append({"key": f["key"], "section": section, "position": position,
                     "read_only": o.get("read_only", False), "hidden": o.get("hidden", False),
                     **{k: v for name in OVERRIDE_TEXTS for k, v in label_data(o.get(name), name).items()}})
    return {"key": doc.get("key", ""), **label_data(doc.get("label"), "label"), "entity": doc.get("entity", ""),
            "default": doc.get("default", False), "public": doc.get("public", False), "slug": doc.get("slug", ""),
            **label_data(doc.get("submit_label"), "submit_label"), **label_data(doc.get("success_message"), "success_message"),
            "sections": [label_data(s.get("title"), "title") for s in doc.get("layout", [])],
            "fields": rows,
            "conditions": [{"field": c["field"], "effect": c["effect"], "when_field": c["when"]["field"],
                            "op": c["when"]["op"], "value": ", ".join(map(str, c["when"]["value"]))
                            if isinstance(c["when"]["value"], list) else str(c["when"]["value"])}
                           for c in doc.get("conditions", [])]}


def exposed_fields(state, doc: dict) -> list[dict]:
    """Fields a public form would show to anyone that an admin may not mean to publish: references
    (visitors would see the titles of the records offered), internal fields (a role may not read
    them) and fields the form hides (their values still travel in the page)."""
    if not doc.get("public"):
        return []
    entity = state.entities.get(doc.get("entity") or "")
    if entity is None:
        return []
    fields = {f["key"]: f for f in entity.fields}
    overrides = doc.get("overrides") or {}
    out = []
    for section in doc.get("layout") or []:
        for key in section.get("fields", []):
            f = fields.get(key)
            if f is None:
                continue
            reasons = []
            if REGISTRY[f["type"]].target_entity(f) is not None:
                reasons.append(tr("pub_reference", target=_entity_name(state, REGISTRY[f["type"]].target_entity(f))))
            hiding = roles_hiding(state, doc["entity"], key)
            if hiding:
                reasons.append(tr("pub_internal", roles="、".join(hiding)))
            if overrides.get(key, {}).get("hidden"):
                reasons.append(tr("pub_hidden"))
            if reasons:
                out.append({"key": key, "label": label_shown(f.get("label")) or key, "reasons": reasons})
    return out


def roles_hiding(state, entity: str, field: str) -> list[str]:
    """Labels of the active roles that may not read ``entity.field``."""
    out = []
    for key, r in state.roles.items():
        rule = (((r.doc.get("entities") or {}).get(entity) or {}).get("fields") or {}).get(field) or {}
        if not r.archived and rule.get("read") is False:
            out.append(label_shown(r.doc.get("label")) or key)
    return sorted(out)


def _entity_name(state, key: str) -> str:
    found = state.entities.get(key)
    return (label_shown(found.doc.get("label")) or key) if found is not None else key


def locate_form_error(path: str) -> str | None:
    parts = path.split(".")
    if parts[0] == "conditions" and len(parts) >= 3 and parts[1].isdigit():
        name = "when_field" if parts[2:4] == ["when", "field"] else "value" if parts[2:4] == ["when", "value"] else parts[2]
        return f"conditions-{parts[1]}-{name}"
    if parts[0] in ("label", "submit_label", "success_message") and len(parts) == 2:
        return f"{parts[0]}_{parts[1]}"
    return parts[0] if len(parts) == 1 else None


class FormDesignerView(DefinitionDesignerView):
    kind = "form"

    @expose("/")
    def index(self):
        state = platform().metadata.state()
        items = [{"key": k, "doc": s.doc, "archived": s.archived} for k, s in state.of_kind("form").items()]
        return self.render("crm_admin/forms.html", items=items, label_text=label_shown)

    def _edit(self, doc: dict | None):
        state = platform().metadata.state()
        creating = doc is None
        entity_key = (doc or {}).get("entity") or request.values.get("entity", "")
        sections = max(posted_rows("sections"), len((doc or {}).get("layout", [])) + SPARE_SECTIONS)
        conditions = max(posted_rows("conditions"), len((doc or {}).get("conditions", [])) + SPARE_CONDITIONS)
        form_class, fields = form_designer_class(state, entity_key, sections, conditions)
        if request.method == "POST":
            form = form_class(request.form)
        else:
            data = form_data(doc, fields)
            if creating:  # a new form starts empty: one section to put fields in, none placed yet
                data["sections"] = [{"title_en": "Details", "title_zh": "详情"}]
                data["entity"] = entity_key
            form = form_class(data=data)
        labels = {f["key"]: f"{label_shown(f.get('label')) or f['key']}" for f in fields}

        exposed: list[dict] = []

        def render_form(errors=(), plan=None):
            attach_errors(form, list(errors), locate_form_error)
            return self.render("crm_admin/form_form.html", form=form, errors=list(errors), plan=plan, creating=creating,
                               key=None if creating else doc["key"], entity_key=entity_key, labels=labels,
                               exposed=exposed, catalogue=field_catalogue(state, language()))

        if request.method == "GET" or going_back() or not entity_key:
            return render_form()
        if not form.validate():  # a number input holding text, a label too long
            return render_form(), 422
        new = form_doc(form, state, None if creating else doc["key"])
        new["entity"] = entity_key
        exposed.extend(exposed_fields(state, new))
        if exposed and request.form.get("_expose_ok") != "1":
            return render_form()  # the warning, with a box to tick before the plan is shown
        # Every optional attribute is sent, as null when cleared, so the merge drops it.
        patch = {k: None for k in ("default", "public", "slug", "overrides", "conditions", "submit_label",
                                   "success_message")}
        patch.update({k: v for k, v in new.items() if k != "key"})
        return self.save(doc, new, patch, render_form)
