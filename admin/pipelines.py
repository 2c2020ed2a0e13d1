"""Pipeline designer: one card per stage (probability, category, required fields, allowed next stages,
a follow-up record on entry), dragged into order. Which stages may follow is one visible choice:
"any stage" or "only these" — never a box that silently discards the stages picked beside it."""
from __future__ import annotations

import json

from flask import request
from flask_admin import expose
from wtforms import (BooleanField, FieldList, Form, FormField, HiddenField, IntegerField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from crm_platform.metadata.field_types import REGISTRY

from .common import DesignerForm, label_data, label_from, label_shown, platform
from .i18n import t as tr
from .definition_view import DefinitionDesignerView
from .plan_flow import attach_errors, going_back
from .rows import blank, keyed_locator, posted_rows

SPARE_STAGES = 2
CATEGORIES = ("open", "won", "lost")


def _opt(values, blank_label=None):
    head = [SelectChoice("", blank_label)] if blank_label is not None else []
    return head + [SelectChoice(v, t) for v, t in values]


def _entity_choices(state):
    return [(k, f"{label_shown(s.doc.get('label')) or k} ({k})") for k, s in state.entities.items() if not s.archived]


def pipeline_form_class(state, entity_key: str, stage_keys: list[str], rows: int):
    entity = state.entities.get(entity_key)
    fields = entity.fields if entity is not None else []
    field_choices = [(f["key"], f"{label_shown(f.get('label')) or f['key']} ({f['key']})") for f in fields]
    role_choices = [(k, f"{label_shown(r.doc.get('label')) or k} ({k})") for k, r in state.roles.items() if not r.archived]

    class StageRow(Form):
        # The card's place, kept by dragging the cards (designer.js numbers them before the post).
        position = IntegerField(tr("d_order"), validators=[Optional()], widget=HiddenField.widget)
        key = StringField(tr("d_key"), validators=[Optional(), Length(max=63)])
        label_en = StringField(tr("d_english"), validators=[Optional(), Length(max=200)])
        label_zh = StringField(tr("d_zh"), validators=[Optional(), Length(max=200)])
        probability = IntegerField(tr("d_probability"), validators=[Optional()])
        category = SelectField(tr("d_category"), choices=_opt([(c, tr(f"cat_{c}")) for c in CATEGORIES]), validate_choice=False)
        required_fields = SelectMultipleField(tr("d_required_to_enter"), choices=_opt(field_choices), validate_choice=False)
        next_mode = RadioField(tr("d_next_stages"), default="any", validate_choice=False,
                               choices=_opt([("any", tr("d_any_stage_may_follow")), ("list", tr("d_or_only_these"))]))
        allowed_next = SelectMultipleField(tr("d_only_these"), choices=_opt([(k, k) for k in stage_keys]),
                                           validate_choice=False, render_kw={"data-options-from": "stages",
                                                                             "data-next-list": "1"})
        follow_entity = SelectField(tr("d_follow_up_record_in"), choices=_opt(_entity_choices(state), tr("d_none")),
                                    validate_choice=False)
        follow_values = TextAreaField(tr("d_follow_up_values_one_per_line_field_valu"),
                                      render_kw={"rows": 2})
        due_in_days = IntegerField(tr("d_due_in_days"), validators=[Optional()])
        due_field = StringField(tr("d_due_date_field"), validators=[Optional(), Length(max=63)])
        assign_to_owner = BooleanField(tr("d_assign_to_the_record_s_owner"))
        link_field = StringField(tr("d_link_field_reference_to_this_record"), validators=[Optional(), Length(max=63)])
        # Who may move records in, and the approval a move in waits for (docs/approvals.md).
        enter_roles = SelectMultipleField(tr("d_enter_roles"), choices=_opt(role_choices), validate_choice=False)
        approval_role = SelectField(tr("d_approval_role"), choices=_opt(role_choices, tr("d_none")), validate_choice=False)
        approval_field = StringField(tr("d_approval_field"), validators=[Optional(), Length(max=63)])
        approval_when = TextAreaField(tr("d_approval_when"), render_kw={"rows": 2})
        archived = BooleanField(tr("d_archived"))
        move_to = SelectField(tr("d_move_its_records_to"), choices=_opt([(k, k) for k in stage_keys], "—"),
                              validate_choice=False, render_kw={"data-options-from": "stages"})

    class PipelineForm(DesignerForm):
        key = StringField(tr("d_key"), validators=[Optional(), Length(max=63)])
        label_en = StringField(tr("d_name_english"), validators=[Optional(), Length(max=200)])
        label_zh = StringField(tr("d_name"), validators=[Optional(), Length(max=200)])
        entity = SelectField(tr("d_entity"), choices=_opt(_entity_choices(state), "—"), validate_choice=False)
        field = SelectField(tr("d_stage_field"), choices=_opt([(f["key"], f["key"]) for f in fields if REGISTRY[f["type"]].holds_stages], "—"),
                            validate_choice=False)
        amount_field = SelectField(tr("d_amount_field_summed_in_the_funnel"), validate_choice=False, choices=_opt(
            [(f["key"], f["key"]) for f in fields if REGISTRY[f["type"]].summable], tr("d_none")))
        stages = FieldList(FormField(StageRow), label=tr("d_stages"), min_entries=rows)

    return PipelineForm


def _values_from_lines(text: str) -> dict:
    """``field = value`` lines as a dict; a value that reads as a JSON number/true/false keeps its type."""
    values = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        try:
            parsed = json.loads(value)
            values[name.strip()] = parsed if isinstance(parsed, (int, float, bool)) else value
        except ValueError:
            values[name.strip()] = value
    return values


def _lines_from_values(values: dict) -> str:
    return "\n".join(f"{k} = {json.dumps(v) if isinstance(v, (bool, int, float)) else v}" for k, v in (values or {}).items())


def pipeline_doc(form, key: str | None = None) -> dict:
    data = form.data
    doc = {"key": key or (data.get("key") or "").strip(), "label": label_from(data, "label"),
           "entity": data.get("entity") or "", "field": data.get("field") or ""}
    if data.get("amount_field"):
        doc["amount_field"] = data["amount_field"]
    rows = [r for r in data["stages"] if not blank(r, "key", "label_en", "label_zh")]
    # Stable sort: rows without a position keep their place after the numbered ones.
    rows.sort(key=lambda r: (r.get("position") is None, r.get("position") or 0))
    stages = []
    for r in rows:
        stage = {"key": (r.get("key") or "").strip(), "label": label_from(r, "label") or (r.get("key") or "").strip()}
        if r.get("probability") is not None:
            stage["probability"] = r["probability"]
        if r.get("category"):
            stage["category"] = r["category"]
        picked = [v for v in r.get("required_fields") or [] if v]
        if picked:
            stage["required_fields"] = picked
        if r.get("next_mode") == "list":
            stage["allowed_next"] = [v for v in r.get("allowed_next") or [] if v]
        if r.get("follow_entity"):
            follow = {"entity": r["follow_entity"], "values": _values_from_lines(r.get("follow_values"))}
            if r.get("due_in_days") is not None:
                follow["due_in_days"] = r["due_in_days"]
            if (r.get("due_field") or "").strip():
                follow["due_field"] = r["due_field"].strip()
            if r.get("assign_to_owner"):
                follow["assign_to_owner"] = True
            if (r.get("link_field") or "").strip():
                follow["link_field"] = r["link_field"].strip()
            stage["on_enter"] = follow
        roles = [v for v in r.get("enter_roles") or [] if v]
        if roles:
            stage["enter_roles"] = roles
        approval = _approval_from_row(r)
        if approval:
            stage["approval"] = approval
        if r.get("archived"):
            stage["archived"] = True
            if r.get("move_to"):
                stage["move_to"] = r["move_to"]
        stages.append(stage)
    doc["stages"] = stages
    if doc["label"] is None:
        doc.pop("label")
    return doc


def _approval_from_row(r: dict) -> dict | None:
    """The stage's ``approval`` from its row: a role, or else a field, names the approvers; ``when`` is
    typed as JSON (text that does not parse is kept, and the meta-schema says what is wrong)."""
    role, field = r.get("approval_role") or "", (r.get("approval_field") or "").strip()
    when_text = (r.get("approval_when") or "").strip()
    if not role and not field and not when_text:
        return None
    approval = {"approvers": {"role": role} if role else {"field": field}}
    if when_text:
        try:
            approval["when"] = json.loads(when_text)
        except ValueError:
            approval["when"] = when_text
    return approval


def next_stage_clashes(form) -> list[dict]:
    """A stage marked "any stage may follow" with next stages picked as well: refused by name, so
    neither choice is dropped without the admin knowing (the page's script keeps the two apart)."""
    out = []
    for n, row in enumerate(form.data["stages"]):
        if row.get("next_mode") != "list" and [v for v in row.get("allowed_next") or [] if v]:
            out.append({"field": f"stages-{n}-allowed_next", "message": tr("next_stage_clash",
                                                                         stage=(row.get("key") or "").strip())})
    return out


def pipeline_data(doc: dict) -> dict:
    stages = []
    for n, s in enumerate(doc.get("stages", []), start=1):
        follow = s.get("on_enter") or {}
        approval = s.get("approval") or {}
        approvers = approval.get("approvers") or {}
        allowed = s.get("allowed_next", "any")
        stages.append({"position": n, "key": s["key"], **label_data(s.get("label"), "label"),
                       "probability": s.get("probability"), "category": s.get("category", ""),
                       "required_fields": s.get("required_fields", []), "next_mode": "any" if allowed == "any" else "list",
                       "allowed_next": [] if allowed == "any" else allowed, "follow_entity": follow.get("entity", ""),
                       "follow_values": _lines_from_values(follow.get("values")), "due_in_days": follow.get("due_in_days"),
                       "due_field": follow.get("due_field", ""), "assign_to_owner": follow.get("assign_to_owner", False),
                       "link_field": follow.get("link_field", ""), "archived": s.get("archived", False),
                       "enter_roles": s.get("enter_roles", []), "approval_role": approvers.get("role", ""),
                       "approval_field": approvers.get("field", ""),
                       "approval_when": json.dumps(approval["when"], ensure_ascii=False) if approval.get("when") else ""})
    return {"key": doc["key"], **label_data(doc.get("label"), "label"), "entity": doc.get("entity", ""),
            "field": doc.get("field", ""), "amount_field": doc.get("amount_field", ""), "stages": stages}


class PipelineDesignerView(DefinitionDesignerView):
    kind = "pipeline"

    @expose("/")
    def index(self):
        state = platform().metadata.state()
        items = [{"key": k, "doc": s.doc, "archived": s.archived} for k, s in state.pipelines.items()]
        return self.render("crm_admin/pipelines.html", items=items, label_text=label_shown)

    def _edit(self, doc: dict | None):
        state = platform().metadata.state()
        creating = doc is None
        entity_key = (doc or {}).get("entity") or request.values.get("entity", "")
        stored = (doc or {}).get("stages", [])
        posted_keys = [v.strip() for k, v in request.form.items() if k.startswith("stages-") and k.endswith("-key") and v.strip()]
        stage_keys = list(dict.fromkeys([s["key"] for s in stored] + posted_keys))
        rows = max(posted_rows("stages"), len(stored) + SPARE_STAGES)
        form_class = pipeline_form_class(state, entity_key, stage_keys, rows)
        if request.method == "POST":
            form = form_class(request.form)
        else:
            form = form_class(data=pipeline_data(doc) if doc else {"entity": entity_key})
        if not creating:
            # entity and field cannot change once the pipeline exists
            form.entity.render_kw = form.field.render_kw = {"disabled": True}
            form.entity.data, form.field.data = doc["entity"], doc["field"]

        def render_form(errors=(), plan=None):
            keys = [(r.get("key") or "").strip() for r in form.data["stages"]]
            attach_errors(form, list(errors), keyed_locator("stages", keys, {"on_enter.entity": "follow_entity",
                                                                             "on_enter.values": "follow_values",
                                                                             "approval.approvers": "approval_role",
                                                                             "approval.when": "approval_when"}))
            return self.render("crm_admin/pipeline_form.html", form=form, errors=list(errors), plan=plan,
                               creating=creating, key=None if creating else doc["key"], entity_key=entity_key)

        if request.method == "GET" or going_back() or not entity_key:
            return render_form()
        if not form.validate():  # a number input holding text, a label too long
            return render_form(), 422
        mixed = next_stage_clashes(form)
        if mixed:
            return render_form(mixed), 422
        new = pipeline_doc(form, None if creating else doc["key"])
        patch = {k: v for k, v in new.items() if k not in ("key", "entity", "field")}
        patch.setdefault("amount_field", None)
        return self.save(doc, new, patch, render_form)
