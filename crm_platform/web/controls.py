"""WTForms forms built from a resolved form definition, and values shown as text.

The field-type registry says which control a field uses (``control_of``) and how a posted value
becomes the JSON value the record service checks (``from_form``); this module only turns controls
into WTForms fields. WTForms renders and reads the form (Flask-WTF adds the CSRF token); it does no
validation of its own: every rule is the record service's, so the page and the API report the
same errors.
"""
from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import (CheckboxInput, DateInput, DateTimeLocalInput, EmailInput, ListWidget, NumberInput,
                             TelInput, TextInput, URLInput)

from ..metadata.field_types import REGISTRY
from ..metadata.forms import FormField, ResolvedForm
from .i18n import label as label_of, translate

INPUTS = {
    "text": TextInput(), "number": NumberInput(step=1), "decimal": TextInput(), "email": EmailInput(),
    "tel": TelInput(), "url": URLInput(), "date": DateInput(), "datetime-local": DateTimeLocalInput(),
}
#: At most this many records are offered in a reference's drop-down; past it, people type the id.
RECORD_CHOICES = 200


def control(field: dict) -> str:
    """The field's control, from the registry: screens decide by control, never by type name."""
    return REGISTRY[field["type"]].control_of(field)


def options_of(field: dict, state, lang: str, records=None) -> list[tuple[str, str]] | None:
    """(value, text) pairs a field's control offers, or None when it takes free input."""
    ftype = REGISTRY[field["type"]]
    control = ftype.control_of(field)
    if control == "boolean":
        return [("true", translate("yes", lang)), ("false", translate("no", lang))]
    if control == "record":
        return records(field) if records is not None else None
    if control in ("choice", "choices"):
        return [(key, label_of(text, lang)) for key, text in ftype.options(field, state)]
    return None


def rule_tags(field: dict) -> set[str]:
    """Tags of a tags field that rules apply: shown read-only on forms, never offered for picking
    (the record service refuses them from a person)."""
    return set(field.get("_rule_tags") or ())


def only_rule_tags(field: dict) -> bool:
    """A tags field whose every tag a rule applies: nothing on it is for a person to set."""
    return bool(field.get("_rule_tags")) and not field.get("_tags")


def without_rule_tags(field: dict, value):
    """A stored tags value as a person sets it: the rule-applied tags left out."""
    by_rule = rule_tags(field)
    if not by_rule:
        return value
    if isinstance(value, list):
        return [v for v in value if v not in by_rule]
    return None if value in by_rule else value


def unchanged(field: dict, posted, stored, tz: dt.tzinfo = dt.timezone.utc) -> bool:
    """Whether a posted value (as the record service takes it) is what the record holds already, as
    the field's control shows both: rule-applied tags left out (a form never posts them), the order
    of picked choices ignored, no value the same as an empty one. The screens and the admin data
    views send only what changed."""
    ftype = REGISTRY[field["type"]]
    new, old = ftype.form_text(field, posted, tz), ftype.form_text(field, without_rule_tags(field, stored), tz)
    if isinstance(new, list) or isinstance(old, list):
        return sorted(new or []) == sorted(old or [])
    return (new or "") == (old or "")


def rule_choices(field: dict, state, lang: str, value) -> list[tuple[str, str, bool]]:
    """(tag, label, held) for each rule tag of a multiple tags field, to show as read-only boxes."""
    by_rule = rule_tags(field)
    held = set(value or []) if isinstance(value, list) else {value}
    return [(v, t, v in held) for v, t in options_of(field, state, lang) or [] if v in by_rule]


def build_form(form: ResolvedForm, *, state, lang: str, shown: list[FormField], read_only: set[str],
               records=None, formdata=None, data: dict | None = None) -> FlaskForm:
    """A FlaskForm with one field per shown form field. Names carry the prefix ``f-`` so that a field
    key can never clash with the form's own attributes (``data``, ``errors``, ``meta``...)."""

    class GeneratedForm(FlaskForm):
        pass

    for ff in shown:
        setattr(GeneratedForm, ff.key, _wtforms_field(ff, state, lang, records, ff.key in read_only))
    return GeneratedForm(formdata=formdata, data=data or {}, prefix="f")


def _wtforms_field(ff: FormField, state, lang: str, records, read_only: bool):
    field = ff.field
    ftype = REGISTRY[field["type"]]
    control = ftype.control_of(field)
    render_kw = {"aria-describedby": f"help-{ff.key} error-{ff.key}"}
    if ff.placeholder:
        render_kw["placeholder"] = label_of(ff.placeholder, lang)
    if read_only:
        render_kw["disabled"] = True
    if field.get("required") and not read_only:
        render_kw["aria-required"] = "true"
    text = label_of(ff.label, lang)
    options = options_of(field, state, lang, records)
    by_rule = rule_tags(field)
    if control == "choices":  # rule tags are shown beside the boxes, read-only (see _fields.html)
        choices = [SelectChoice(v, t) for v, t in options or [] if v not in by_rule]
        return SelectMultipleField(text, choices=choices, validate_choice=False, render_kw=render_kw,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    if options is not None:
        choices = [SelectChoice("", translate("choose", lang))] + [
            SelectChoice(str(v), t) if v not in by_rule else  # shown when held, never picked
            SelectChoice(str(v), f"{t} ({translate('by_rule', lang)})", render_kw={"disabled": True})
            for v, t in options]
        return SelectField(text, choices=choices, validate_choice=False, render_kw=render_kw)
    if control == "textarea":
        return TextAreaField(text, render_kw={**render_kw, "rows": 4})
    if control == "decimal":
        render_kw["inputmode"] = "decimal"
    if control == "record":
        # Too many records for a drop-down: type the id, or part of a name and pick from the list
        # the page's script fills from /app/<target>/lookup.
        render_kw["inputmode"] = "search"
        render_kw["data-lookup"] = f"/app/{field.get('target')}/lookup"
        render_kw["list"] = f"lookup-{ff.key}"
        render_kw["autocomplete"] = "off"
    if "max_length" in field:
        render_kw["maxlength"] = field["max_length"]
    return StringField(text, widget=INPUTS.get(control, TextInput()), render_kw=render_kw)


def posted_values(form: FlaskForm, shown: list[FormField], writable: set[str], tz: dt.tzinfo) -> dict:
    """The JSON values of the writable fields a form posted, through each type's ``from_form``."""
    values = {}
    for ff in shown:
        if ff.key in writable:
            values[ff.key] = REGISTRY[ff.field["type"]].from_form(ff.field, form[ff.key].data, tz)
    return values


def form_data(record: dict, shown: list[FormField], tz: dt.tzinfo) -> dict:
    """A record's values as the controls show them."""
    return {ff.key: REGISTRY[ff.field["type"]].form_text(ff.field, record.get(ff.key), tz) for ff in shown
            if ff.key in record}


def display(field: dict, value, *, state, lang: str, titles: dict | None = None) -> str:
    """A value as text for lists, cards and record pages (labels, not keys)."""
    if value is None or value == "" or value == []:
        return ""
    ftype = REGISTRY[field["type"]]
    control = ftype.control_of(field)
    if control == "boolean":
        return translate("yes" if value else "no", lang)
    if control == "record":
        return (titles or {}).get((field.get("target"), value)) or f"#{value}"
    if control in ("choice", "choices"):
        labels = dict(options_of(field, state, lang) or [])
        items = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(v, v) for v in items)
    return ftype.display_text(field, value, lang)
