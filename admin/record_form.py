"""WTForms forms for the records of any entity, built from its fields' form controls.

Each field type says which control shows its values (``control_of``), what a choice offers
(``options``) and how a value goes to and from the form (``form_text`` / ``from_form``): the admin
data views and the end-user screens share those rules. These forms validate nothing themselves —
the record service does, so the admin sees exactly the API's messages next to each input.
"""
from __future__ import annotations

from markupsafe import escape
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from crm_platform.metadata.field_types import REGISTRY
from crm_platform.runtime.query import ListQuery
from crm_platform.web.controls import unchanged

from .common import label_text

#: The input of the change reason kept in the audit trail. Field keys are lower case, so this
#: name never clashes with a field (and WTForms ignores names that start with "_").
REASON = "Reason"
#: How the reason is named on the pages and in their messages (the admin speaks both languages).
REASON_LABEL = "Reason for the change 变更原因"
REASON_NEEDED = "required: say why the record changes · 此项为必填项：请说明修改原因"
#: The version of the record the edit form was filled from: saving over a newer version is refused.
VERSION = "Version"
#: A reference shows a dropdown while the target has at most this many records, else an id input.
MAX_REFERENCE_CHOICES = 200
HTML_TYPES = {"number": "number", "decimal": "text", "email": "email", "tel": "tel", "url": "url",
              "date": "date", "datetime-local": "datetime-local"}


def _label(field: dict) -> str:
    text = label_text(field.get("label")) or field["key"].replace("_", " ").capitalize()
    zh = label_text(field.get("label"), "zh")
    return f"{text} {zh}" if zh and zh != text else text


def form_input(field: dict, model, records, access, readonly: bool = False):
    """The WTForms input of one field."""
    ftype = REGISTRY[field["type"]]
    control = ftype.control_of(field)
    label = _label(field)
    # Flask-Admin prints a description with |safe: a help text (typed by an admin, or brought by a
    # bundle or template) is text, so it goes in escaped.
    help_text = escape(label_text(field.get("help")))
    kw = {"render_kw": {"readonly": True, "disabled": True} if readonly else {}, "description": help_text}
    if field.get("required"):
        kw["render_kw"]["data-required"] = "1"
    if control in ("choice", "choices"):
        hidden = set(field.get("_rule_tags") or ())  # applied by rules, never picked by a person
        options = [SelectChoice(v, label_text(lab) or v) for v, lab in ftype.options(field, model.state) if v not in hidden]
        if control == "choices":
            return SelectMultipleField(label, choices=options, validate_choice=False, **kw)
        return SelectField(label, choices=[SelectChoice("", "—")] + options, validate_choice=False, **kw)
    if control == "boolean":
        return SelectField(label, choices=[SelectChoice("", "—"), SelectChoice("true", "Yes 是"),
                                           SelectChoice("false", "No 否")], validate_choice=False, **kw)
    if control == "record":
        choices = reference_choices(field, model, records, access)
        if choices is not None:
            return SelectField(label, choices=[SelectChoice("", "—")] + choices, validate_choice=False, **kw)
        kw["render_kw"]["placeholder"] = f"id of a {field.get('target')} record"
        return StringField(label, **kw)
    if control == "textarea":
        return TextAreaField(label, **kw)
    kw["render_kw"]["type"] = HTML_TYPES.get(control, "text")
    if control == "decimal":
        kw["render_kw"]["inputmode"] = "decimal"
    return StringField(label, **kw)


def reference_choices(field: dict, model, records, access) -> list[SelectChoice] | None:
    """Records of the target as (id, title) choices, or None when there are too many to list."""
    target = model.entities.get(field.get("target"))
    if target is None:
        return []
    page = records.list(target.key, ListQuery(per_page=MAX_REFERENCE_CHOICES, count_limit=MAX_REFERENCE_CHOICES + 1),
                        access=access)
    if page["total"] > MAX_REFERENCE_CHOICES:
        return None
    title = target.doc.get("title_field")
    return [SelectChoice(str(r["id"]), f"#{r['id']} {r.get(title) or ''}".strip()) for r in page["items"]]


def record_form_class(entity, model, records, access, base):
    """The form class of ``entity``'s records; fields the user may not read are left out."""
    attrs = {}
    for field in entity.fields:
        if not access.can_read_field(entity.key, field["key"], model):
            continue
        readonly = not access.can_write_field(entity.key, field["key"], model)
        attrs[field["key"]] = form_input(field, model, records, access, readonly)
    attrs[VERSION] = HiddenField()
    required = bool(entity.doc.get("require_change_reason"))
    attrs[REASON] = StringField(f"{REASON_LABEL} (kept in the audit trail)",
                                description="required for this entity 此项为必填项" if required else "",
                                render_kw={"maxlength": 2000, **({"required": True} if required else {})})
    return type(f"{entity.key.title()}RecordForm", (base,), attrs)


def at_reason_input(error: dict) -> dict:
    """The record service's refusal of a missing reason, placed on the Reason input and named by
    its label (the API's message speaks of headers, which mean nothing on a page)."""
    if error.get("field") != "_reason":
        return error
    message = REASON_NEEDED if error.get("code") == "required" else error["message"]
    return {**error, "field": REASON, "message": message}


def form_data(entity, record: dict) -> dict:
    """A record (as the API writes it) as form data."""
    out = {VERSION: record.get("version")}
    for field in entity.fields:
        if field["key"] in record:
            out[field["key"]] = REGISTRY[field["type"]].form_text(field, record[field["key"]])
    return out


def record_values(entity, form, model, access, before: dict | None = None) -> dict:
    """The posted values as the JSON the record service checks; on edit only what changed."""
    data = {}
    for field in entity.fields:
        key = field["key"]
        if key not in form or not access.can_write_field(entity.key, key, model):
            continue
        ftype = REGISTRY[field["type"]]
        raw = form[key].data
        value = ftype.from_form(field, raw)
        if before is not None and unchanged(field, value, before.get(key)):
            continue
        data[key] = value
    return data


def expected_version(form, record: dict) -> int:
    """The version the form was filled from (a stale form is refused), else the record's own."""
    posted = str(form[VERSION].data or "") if VERSION in form else ""
    return int(posted) if posted.isdigit() and len(posted) < 19 else record["version"]
