"""Taxonomy designer: the tag tree (parents, colours, labels in two languages) and rule tags.

A rule is edited as rows of conditions (field, operator, value, optionally on related records);
values are typed by the field they test, so "30" becomes a number of days and "2024-09-01" a date.
"""
from __future__ import annotations

from flask import request
from flask_admin import expose
from wtforms import FieldList, Form, FormField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from .common import DesignerForm, label_data, label_from, label_shown, platform
from .conditions import field_catalogue
from .i18n import language, t as tr
from .definition_view import DefinitionDesignerView
from .plan_flow import attach_errors, going_back
from .rows import blank, keyed_locator, posted_rows, split_list, typed_value

SPARE_TAGS = 3
SPARE_CONDITIONS = 1
OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "is_empty", "is_not_empty", "within_days", "older_than_days"]
SYMBOLS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def op_name(op: str) -> str:
    """An operator as the admin reads it: a symbol, or words in her language (``op_in`` in admin/i18n.py)."""
    return SYMBOLS.get(op) or tr(f"op_{op}")


def _choices(values, blank_label="—"):
    return [SelectChoice("", blank_label)] + [SelectChoice(v, t) for v, t in values]


def taxonomy_form_class(state, tag_keys: list[str], rows: int, condition_rows: int):
    entities = [(k, f"{label_shown(s.doc.get('label')) or k} ({k})") for k, s in state.entities.items() if not s.archived]

    class ConditionRow(Form):
        related_entity = SelectField(tr("d_on_related_records_of"), choices=_choices(entities, tr("d_this_record")),
                                     validate_choice=False)
        via = StringField(tr("d_whose_reference_field"), validators=[Optional(), Length(max=63)])
        aggregate = SelectField(tr("d_aggregate"), choices=_choices([("count", tr("d_how_many")), ("latest", tr("d_latest_value"))]),
                                validate_choice=False)
        # designer.js turns these into pickers fitting the field chosen (admin/conditions.py)
        field = StringField(tr("d_field"), validators=[Optional(), Length(max=63)], render_kw={"data-cond-field": "1"})
        op = SelectField(tr("d_operator"), choices=_choices([(o, op_name(o)) for o in OPS]), validate_choice=False,
                         render_kw={"data-cond-op": "1"})
        value = StringField(tr("d_value"), validators=[Optional(), Length(max=1000)], render_kw={"data-cond-value": "1"})

    class TagRow(Form):
        key = StringField(tr("d_key"), validators=[Optional(), Length(max=63)])
        label_en = StringField(tr("d_english"), validators=[Optional(), Length(max=200)])
        label_zh = StringField(tr("d_zh"), validators=[Optional(), Length(max=200)])
        parent = SelectField(tr("d_parent"), choices=_choices([(k, k) for k in tag_keys], tr("d_top")), validate_choice=False,
                             render_kw={"data-options-from": "tags"})
        color = StringField(tr("d_colour"), validators=[Optional(), Length(max=7)], render_kw={"placeholder": "#1e88e5", "data-colour": "1"})
        rule_entity = SelectField(tr("d_rule_applies_to"), choices=_choices(entities, tr("d_set_by_hand")), validate_choice=False)
        conditions = FieldList(FormField(ConditionRow), min_entries=condition_rows)

    class TaxonomyForm(DesignerForm):
        key = StringField(tr("d_key"), validators=[Optional(), Length(max=63)])
        label_en = StringField(tr("d_name_english"), validators=[Optional(), Length(max=200)])
        label_zh = StringField(tr("d_name"), validators=[Optional(), Length(max=200)])
        tags = FieldList(FormField(TagRow), label=tr("d_tags"), min_entries=rows)

    return TaxonomyForm


def _typed_value(state, rule_entity: str, row: dict):
    """A condition's typed value: days and counts are numbers, others parsed by the tested field's type."""
    text = (row.get("value") or "").strip()
    op = row.get("op")
    if op in ("is_empty", "is_not_empty"):
        return None
    if op in ("within_days", "older_than_days") or row.get("aggregate") == "count":
        return int(text) if text.lstrip("-").isdigit() else text
    entity = state.entities.get(row.get("related_entity") or rule_entity)
    field = next((f for f in entity.fields if f["key"] == row.get("field")), None) if entity else None
    values = [typed_value(field, t) for t in (split_list(text) if op == "in" else [text])]
    return values if op == "in" else values[0]


def taxonomy_doc(form, state, key: str | None = None) -> dict:
    data = form.data
    doc = {"key": key or (data.get("key") or "").strip(), "label": label_from(data, "label"), "tags": []}
    for row in data["tags"]:
        if blank(row, "key", "label_en", "label_zh"):
            continue
        tag = {"key": (row.get("key") or "").strip(), "label": label_from(row, "label") or (row.get("key") or "").strip()}
        if row.get("parent"):
            tag["parent"] = row["parent"]
        if (row.get("color") or "").strip():
            tag["color"] = row["color"].strip()
        if row.get("rule_entity"):
            conditions = []
            for c in row["conditions"]:
                if blank(c, "field", "op", "value", "related_entity"):
                    continue
                cond = {"op": c.get("op") or ""}
                if (c.get("field") or "").strip():
                    cond["field"] = c["field"].strip()
                if c.get("related_entity"):
                    cond["related"] = {"entity": c["related_entity"], "via": (c.get("via") or "").strip()}
                if c.get("aggregate"):
                    cond["aggregate"] = c["aggregate"]
                value = _typed_value(state, row["rule_entity"], c)
                if value is not None:
                    cond["value"] = value
                conditions.append(cond)
            tag["rule"] = {"entity": row["rule_entity"], "all": conditions}
        doc["tags"].append(tag)
    if doc["label"] is None:
        doc.pop("label")
    return doc


def taxonomy_data(doc: dict) -> dict:
    tags = []
    for t in doc.get("tags", []):
        rule = t.get("rule") or {}
        conditions = []
        for c in rule.get("all", []):
            value = c.get("value")
            conditions.append({"field": c.get("field", ""), "op": c.get("op", ""),
                               "value": ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value)),
                               "related_entity": (c.get("related") or {}).get("entity", ""),
                               "via": (c.get("related") or {}).get("via", ""), "aggregate": c.get("aggregate", "")})
        tags.append({"key": t["key"], "parent": t.get("parent", ""), "color": t.get("color", ""),
                     "rule_entity": rule.get("entity", ""), "conditions": conditions, **label_data(t.get("label"), "label")})
    return {"key": doc["key"], **label_data(doc.get("label"), "label"), "tags": tags}


def tree(tags: list[dict]) -> list[tuple[int, dict]]:
    """(depth, tag) in tree order: each tag followed by its descendants."""
    children: dict = {}
    for t in tags:
        children.setdefault(t.get("parent"), []).append(t)
    keys = {t["key"] for t in tags}
    out = []

    def walk(parent, depth):
        for t in children.get(parent, []):
            if depth < 50:
                out.append((depth, t))
                walk(t["key"], depth + 1)
    walk(None, 0)
    for t in tags:  # orphans (a parent that does not exist) still show
        if t.get("parent") and t["parent"] not in keys:
            out.append((0, t))
    return out


class TaxonomyDesignerView(DefinitionDesignerView):
    kind = "taxonomy"

    @expose("/")
    def index(self):
        state = platform().metadata.state()
        items = [{"key": k, "label": label_shown(s.doc.get("label")), "label_zh": label_shown(s.doc.get("label"), "zh"),
                  "archived": s.archived, "tree": tree(s.doc.get("tags", []))} for k, s in state.taxonomies.items()]
        return self.render("crm_admin/taxonomies.html", items=items, label_text=label_shown)

    def _form(self, doc: dict | None):
        state = platform().metadata.state()
        stored_tags = (doc or {}).get("tags", [])
        posted_keys = [v.strip() for k, v in request.form.items() if k.startswith("tags-") and k.endswith("-key") and v.strip()]
        tag_keys = list(dict.fromkeys([t["key"] for t in stored_tags] + posted_keys))
        rows = max(posted_rows("tags"), len(stored_tags) + SPARE_TAGS)
        most = max([len((t.get("rule") or {}).get("all", [])) for t in stored_tags] + [0])
        posted_conditions = max([posted_rows(f"tags-{i}-conditions") for i in range(rows)] + [0])
        form_class = taxonomy_form_class(state, tag_keys, rows, max(posted_conditions, most + SPARE_CONDITIONS))
        if request.method == "POST":
            return form_class(request.form), state
        return form_class(data=taxonomy_data(doc) if doc else None), state

    def _edit(self, doc: dict | None):
        form, state = self._form(doc)
        creating = doc is None

        def render_form(errors=(), plan=None):
            keys = [(r.get("key") or "").strip() for r in form.data["tags"]]
            attach_errors(form, list(errors), keyed_locator("tags", keys, {"rule.all": "conditions", "rule.entity": "rule_entity"}))
            return self.render("crm_admin/taxonomy_form.html", form=form, errors=list(errors), plan=plan,
                               creating=creating, key=None if creating else doc["key"],
                               catalogue=field_catalogue(state, language()))

        if request.method == "GET" or going_back():
            return render_form()
        if not form.validate():  # a number input holding text, a label too long
            return render_form(), 422
        new = taxonomy_doc(form, state, None if creating else doc["key"])
        return self.save(doc, new, {k: v for k, v in new.items() if k != "key"}, render_form)
