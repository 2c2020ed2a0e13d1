"""WTForms forms for the records of any entity, built by the screens' form layer (``web/controls.py``).

Each field type says which control shows its values (``control_of``), what a choice offers
(``options``) and how a value goes to and from the form (``form_text`` / ``from_form``); the form
layer turns that into WTForms fields, labels (one rule, here in both languages) and reference
titles (one rule, ``web/display.py``) for the admin data views and the end-user screens alike.
These forms validate nothing themselves — the record service does, so the admin sees exactly the
API's messages next to each input.
"""
from __future__ import annotations

from dataclasses import replace

from markupsafe import escape
from wtforms import HiddenField, StringField

from crm_platform.metadata.field_types import REGISTRY
from crm_platform.runtime.query import ListQuery
from crm_platform.web.controls import control_for, same_value, wtforms_field
from crm_platform.web.display import record_title, title_field

from .common import label_text
from .i18n import language, t

#: The input of the change reason kept in the audit trail. Field keys are lower case, so this
#: name never clashes with a field (and WTForms ignores names that start with "_").
REASON = "Reason"
#: The version of the record the edit form was filled from: saving over a newer version is refused.
VERSION = "Version"
#: A reference shows a dropdown while the target has at most this many records, else an id input.
MAX_REFERENCE_CHOICES = 200


def form_input(field: dict, model, records, access, readonly: bool = False):
    """The WTForms input of one field: the screens' control (``web/controls.py``) in both languages,
    with the admin's own marks (read-only inputs, ``data-required``, help under the input)."""
    c = control_for(field, state=model.state, lang=language(), read_only=readonly, described=False)
    # Flask-Admin prints a description with |safe: a help text (typed by an admin, or brought by a
    # bundle or template) is text, so it goes in escaped.
    help_text = escape(label_text(field.get("help")))
    render_kw = {"readonly": True, "disabled": True} if readonly else {}
    if field.get("required"):
        render_kw["data-required"] = "1"
    # Tags that rules apply are never picked by a person: the admin does not offer them at all.
    c = replace(c, options=tuple(o for o in c.options if not o.disabled))
    choices = None
    if c.kind == "record":
        choices = reference_choices(field, model, records, access)
        if choices is None:
            render_kw["placeholder"] = t("rec_id_of", target=c.target)
    elif c.kind == "input":
        render_kw["type"] = c.input_type
        if "inputmode" in c.attrs:
            render_kw["inputmode"] = c.attrs["inputmode"]
    return wtforms_field(c, choose="—", records=choices, boxes=False, render_kw=render_kw, description=help_text)


def reference_choices(field: dict, model, records, access) -> list[tuple[str, str]] | None:
    """Records of the target as (id, title) choices, or None when there are too many to list."""
    target = model.entities.get(REGISTRY[field["type"]].target_entity(field))
    if target is None:
        return []
    page = records.list(target.key, ListQuery(per_page=MAX_REFERENCE_CHOICES, count_limit=MAX_REFERENCE_CHOICES + 1),
                        access=access)
    if page["total"] > MAX_REFERENCE_CHOICES:
        return None
    key = title_field(target.doc)
    return [(str(r["id"]), record_title(target.doc, r, key)) for r in page["items"]]


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
    attrs[REASON] = StringField(t("rec_reason_kept"), description=t("rec_reason_required") if required else "",
                                render_kw={"maxlength": 2000, **({"required": True} if required else {})})
    return type(f"{entity.key.title()}RecordForm", (base,), attrs)


def reason_label() -> str:
    """How the reason is named on the pages and in their messages, in the admin's language."""
    return t("rec_reason")


def at_reason_input(error: dict) -> dict:
    """The record service's refusal of a missing reason, placed on the Reason input and named by
    its label (the API's message speaks of headers, which mean nothing on a page)."""
    if error.get("field") != "_reason":
        return error
    message = t("rec_reason_needed") if error.get("code") == "required" else error["message"]
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
        value = REGISTRY[field["type"]].from_form(field, form[key].data)
        if before is not None and same_value(field, value, before.get(key)):
            continue
        data[key] = value
    return data


def expected_version(form, record: dict) -> int:
    """The version the form was filled from (a stale form is refused), else the record's own."""
    posted = str(form[VERSION].data or "") if VERSION in form else ""
    return int(posted) if posted.isdigit() and len(posted) < 19 else record["version"]
