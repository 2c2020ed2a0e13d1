"""Forms for field definitions: common inputs, plus the inputs of the type's own options.

The type-specific inputs come from the field-type registry (``options_schema``), so every type —
and any type added later — gets proper inputs: choices as rows of key + English + Chinese label +
colour, a decimal's scale/min/max as numbers, a reference's target as a dropdown of entities, a
tags field's taxonomy as a dropdown of taxonomies. Nobody writes JSON.
"""
from __future__ import annotations

from wtforms import BooleanField, DecimalField, FieldList, Form, FormField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from crm_platform.errors import Invalid, error
from crm_platform.metadata.definitions import MetaState
from crm_platform.metadata.field_types import REGISTRY
from crm_platform.metadata.field_types.base import Invalid as ValueInvalid

from .common import DesignerForm, label_data, label_from, label_inputs, label_shown, label_text
from .i18n import MESSAGES, lazy

#: Blank rows offered after the existing ones, for adding choices without JavaScript.
SPARE_ROWS = 3

def type_title(name: str) -> str:
    """The type's name in the admin's language, as the type itself gives it ("Whole number", "整数")."""
    from .i18n import language
    title = REGISTRY[name].title if name in REGISTRY else None
    return label_text(title, language()) if title else name


class ChoiceRow(Form):
    key = StringField(lazy("f_choice_key"), validators=[Optional(), Length(max=63)])
    label_en = StringField("English", validators=[Optional(), Length(max=200)])
    label_zh = StringField("中文", validators=[Optional(), Length(max=200)])
    color = StringField(lazy("f_colour"), validators=[Optional(), Length(max=7)], render_kw={"placeholder": "#1e88e5", "data-colour": "1"})


def _choice(value: str, label: str) -> SelectChoice:
    return SelectChoice(value, label)


def option_input(option: str, schema: dict, state: MetaState, entity_key: str, rows: int):
    """The WTForms input for one option of a field type, from its JSON Schema."""
    title = lazy(f"opt_{option}") if f"opt_{option}" in MESSAGES else option.replace("_", " ").capitalize()
    if option == "choices":
        return FieldList(FormField(ChoiceRow), label=lazy("f_choices"), min_entries=rows)
    if option == "target":
        keys = sorted({k for k, s in state.entities.items() if not s.archived} | {entity_key})
        return SelectField(lazy("f_target"), choices=[_choice("", "—")] + [
            _choice(k, f"{label_shown(state.entities[k].doc.get('label')) if k in state.entities else k} ({k})")
            for k in keys])
    if option == "taxonomy":
        return SelectField(lazy("f_taxonomy"), choices=[_choice("", "—")] + [
            _choice(k, f"{label_shown(s.doc.get('label'))} ({k})") for k, s in state.taxonomies.items() if not s.archived])
    if "enum" in schema:
        return SelectField(title, choices=[_choice("", lazy("type_default"))] + [_choice(v, lazy(f"opt_{v}") if f"opt_{v}" in MESSAGES else v)
                                                                            for v in schema["enum"]])
    if schema.get("type") == "boolean":
        return BooleanField(title)
    if schema.get("type") == "integer":
        return IntegerField(title, validators=[Optional()])
    if schema.get("type") == "number":
        return DecimalField(title, validators=[Optional()], places=None)
    return StringField(title, validators=[Optional()])


def field_form_class(type_name: str, state: MetaState, entity_key: str, *, choice_rows: int = 0,
                     type_choices: list[str] | None = None):
    """A form class for a field of ``type_name``; ``type_choices`` offers a (safe) type change."""
    attrs = {
        "key": StringField(lazy("f_field_key"), validators=[Optional(), Length(max=63)]),
        **label_inputs("label", "f_label"),
        **label_inputs("help", "f_help"),
        "required": BooleanField(lazy("f_required")),
        "unique": BooleanField(lazy("f_unique")),
        "indexed": BooleanField(lazy("f_indexed")),
        "personal": BooleanField(lazy("f_personal")),
        "default": StringField(lazy("f_default"), validators=[Optional()]),
    }
    if type_choices:
        attrs["type"] = SelectField(lazy("f_type"), choices=[_choice(t, type_title(t)) for t in type_choices])
    ftype = REGISTRY[type_name]
    for option, schema in ftype.options_schema().items():
        attrs[option] = option_input(option, schema, state, entity_key, max(choice_rows, 1))
    attrs["option_names"] = tuple(ftype.options_schema())
    return type(f"{type_name.title()}FieldForm", (DesignerForm,), attrs)


def field_doc(form, type_name: str) -> dict:
    """The field definition the form describes; blank inputs are left out (the type's default)."""
    data = form.data
    doc: dict = {"key": (data.get("key") or "").strip(), "type": data.get("type") or type_name}
    label = label_from(data, "label")
    if label:
        doc["label"] = label
    help_text = label_from(data, "help")
    if help_text:
        doc["help"] = help_text
    for flag in ("required", "unique", "indexed", "personal"):
        if data.get(flag):
            doc[flag] = True
    for option in form.option_names:
        value = data.get(option)
        if option == "choices":
            rows = [r for r in value if any((r.get(k) or "").strip() for k in ("key", "label_en", "label_zh"))]
            if rows:  # none at all: the type itself says a choice is needed
                doc["choices"] = [_choice_doc(r) for r in rows]
        elif isinstance(value, bool):
            if value:
                doc[option] = True
        elif value not in (None, ""):
            doc[option] = value
    default = (data.get("default") or "").strip()
    if default:
        ftype = REGISTRY[doc["type"]]
        try:
            doc["default"] = ftype.to_json(ftype.parse_text(doc, default))
        except ValueInvalid as exc:
            raise Invalid([error("default", exc.code, f"the default {exc.message}")]) from None
        except Exception:  # noqa: BLE001 - the definition itself is incomplete; its own errors say why
            doc["default"] = default
    return doc


def _choice_doc(row: dict) -> dict:
    key = (row.get("key") or "").strip()
    label = label_from(row, "label") or key
    choice = {"key": key, "label": label}
    if (row.get("color") or "").strip():
        choice["color"] = row["color"].strip()
    return choice


def field_data(field: dict) -> dict:
    """Form data for a stored field definition."""
    data = {k: v for k, v in field.items() if k not in ("label", "help", "choices", "default")}
    data.update(label_data(field.get("label"), "label"))
    data.update(label_data(field.get("help"), "help"))
    if field.get("default") is not None:
        data["default"] = REGISTRY[field["type"]].format_text(field, field["default"])
    if "choices" in field:
        data["choices"] = [{"key": c["key"], "color": c.get("color", ""), **label_data(c.get("label"), "label")}
                           for c in field["choices"]]
    return data


def locate_field_error(path: str) -> str | None:
    """``fields.price.scale`` → ``scale``; ``fields.course.choices`` → ``choices``; ``key`` → ``key``."""
    parts = path.split(".")
    if parts and parts[0] == "fields" and len(parts) >= 3:
        parts = parts[2:]
    if parts and parts[0] == "label" and len(parts) == 2:
        return f"label_{parts[1]}"
    return parts[0] if parts and parts[0] else None
