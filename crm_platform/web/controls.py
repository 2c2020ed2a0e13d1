"""The form layer: fields → controls and WTForms fields, posted values → record values.

One layer for the end-user screens (``/app/<entity>/new``, ``.../edit``), public web forms
(``/f/<slug>``) and the admin data views (``admin/record_form.py``):

* ``control_for`` turns a field into a ``Control``: what the page shows (an input of some HTML
  type, a text area, a drop-down, check boxes, or a record picker), its label by the one label
  rule (``i18n.field_label``, or a form's override), its options in the reader's language and its
  static HTML attributes. The field type decides the control (``control_of``) and its options.
* ``wtforms_field`` turns a control into a WTForms field. WTForms reads the posted form and
  Flask-WTF adds and checks the CSRF token; it validates nothing itself: every rule is the record
  service's, so the page and the API report the same errors.
* ``compiled_form`` builds, once per metadata revision, form, language and set of shown and
  read-only fields, the controls, their sections and the WTForms form class. The screens render
  the controls through ``web/control_html.py``, which joins their markup written once with the
  values of one request instead of calling a WTForms widget per attribute.
* ``CompiledForm.posted`` / ``data_of`` move values between the form and the record, through each
  type's ``from_form`` / ``form_text``; ``values_to_create`` / ``values_to_update`` add the form's
  own rules (``metadata.forms.accept``) — the steps every form submission takes before the record
  service.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field as dc_field, replace

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import (CheckboxInput, DateInput, DateTimeLocalInput, EmailInput, ListWidget, NumberInput,
                             TelInput, TextInput, URLInput, html_params)

from ..i18n import field_label, text_of
from ..metadata.field_types import REGISTRY
from ..metadata.forms import FormField, ResolvedForm, accept
from .display import per_revision
from .i18n import translate

#: The HTML input of each control that is a plain input (the others are drop-downs, boxes, areas).
INPUT_TYPES = {"text": "text", "number": "number", "decimal": "text", "email": "email", "tel": "tel", "url": "url",
               "date": "date", "datetime-local": "datetime-local", "record": "text"}
WIDGETS = {"text": TextInput(), "number": NumberInput(step=1), "email": EmailInput(), "tel": TelInput(),
           "url": URLInput(), "date": DateInput(), "datetime-local": DateTimeLocalInput()}
#: At most this many records are offered in a reference's drop-down; past it, people type the id.
RECORD_CHOICES = 200


def control(field: dict) -> str:
    """The field's control, from the registry: screens decide by control, never by type name."""
    return REGISTRY[field["type"]].control_of(field)


def options_of(field: dict, state, lang: str, records=None) -> list[tuple[str, str]] | None:
    """(value, text) pairs a field's control offers, or None when it takes free input."""
    ftype = REGISTRY[field["type"]]
    ctl = ftype.control_of(field)
    if ctl == "boolean":
        return [("true", translate("yes", lang)), ("false", translate("no", lang))]
    if ctl == "record":
        return records(field) if records is not None else None
    if ctl in ("choice", "choices"):
        return [(key, text_of(text, lang)) for key, text in ftype.options(field, state)]
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


def rule_choices(field: dict, state, lang: str, value) -> list[tuple[str, str, bool]]:
    """(tag, label, held) for each rule tag of a multiple tags field, to show as read-only boxes."""
    by_rule = rule_tags(field)
    held = set(value or []) if isinstance(value, list) else {value}
    return [(v, t, v in held) for v, t in options_of(field, state, lang) or [] if v in by_rule]


# ---- controls ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    value: str
    text: str
    disabled: bool = False  # a rule's tag: shown when held, never picked


@dataclass(frozen=True)
class Control:
    """One field as a form shows it. ``kind``: input, textarea, select, checkboxes or record.

    Besides what it is, a control carries its HTML written once (``html``): every part of the
    markup that does not depend on the value or the errors of one request, so ``web/control_html.py``
    only joins those parts with the value (escaped there).
    """

    key: str
    name: str
    kind: str
    input_type: str
    label: str
    help: str
    placeholder: str
    required: bool
    read_only: bool
    type_name: str
    options: tuple[Option, ...] = ()
    #: The control's HTML attributes besides id, name, type and value (WTForms' ``render_kw``).
    attrs: dict = dc_field(default_factory=dict)
    target: str | None = None
    #: The markup parts, written by ``with_markup``.
    html: dict = dc_field(default_factory=dict)


def _attrs(attrs: dict) -> str:
    return " " + html_params(**attrs) if attrs else ""


def with_markup(c: Control, lang: str, conditions: list[dict] | None = None) -> Control:
    """``c`` with its markup parts written, for a page in ``lang``; ``conditions``: the form's
    show / require rules on this field (a data attribute the page's script reads)."""
    e = escape
    name = e(c.name)
    read_only = " read-only" if c.read_only else ""
    data = f' data-field="{e(c.key)}" data-control="{e(c.type_name)}"'
    if conditions:
        env = current_app.jinja_env
        text = htmlsafe_json_dumps(conditions, dumps=env.policies["json.dumps_function"],
                                   **env.policies["json.dumps_kwargs"])
        data += f' data-conditions="{e(str(text))}"'
    marks = (f' <span class="req" title="{e(translate("required", lang))}">*</span>' if c.required else "") + \
        (f' <span class="badge">{e(translate("read_only", lang))}</span>' if c.read_only else "")
    attrs = _attrs(c.attrs)
    html = {
        "div": Markup(f'<div class="field{read_only}"{data}>'),
        "div_invalid": Markup(f'<div class="field has-error{read_only}"{data}>'),
        "help": Markup(f'<p class="help" id="help-{e(c.key)}">{e(c.help)}</p>' if c.help else ""),
        "error": Markup(f'<p class="error" id="error-{e(c.key)}" role="alert">'),
    }
    html["by_rule"] = Markup(f'<span class="badge">{e(translate("by_rule", lang))}</span>')
    if c.kind == "checkboxes":
        html["head"] = Markup(f"<fieldset><legend>{e(c.label)}{marks}</legend><ul{attrs} class=\"choices\" id=\"{name}\">")
        html["boxes"] = tuple(
            (o.value, Markup(f"<li><input{attrs}"),
             Markup(f' id="{name}-{n}" name="{name}" type="checkbox" value="{e(o.value)}"> '
                    f'<label for="{name}-{n}">{e(o.text)}</label></li>'))
            for n, o in enumerate(c.options))
        return replace(c, html=html)
    html["head"] = Markup(f'<label for="{name}">{e(c.label)}{marks}</label>')
    if c.kind == "select":
        html["open"] = Markup(f"<select{attrs}")
    elif c.kind == "textarea":
        html["open"] = Markup(f"<textarea{attrs}")
    else:
        html["open"] = Markup(f"<input{attrs}")
    html["named"] = Markup(f' id="{name}" name="{name}"')
    html["typed"] = Markup(f' id="{name}" name="{name}" type="{e(c.input_type)}"')
    if c.kind == "select":
        html["options"] = option_markup(c.options)
    if c.kind == "record":  # a drop-down when the target's records are few (see option_markup)
        choice_attrs = {k: v for k, v in c.attrs.items() if k not in LOOKUP_ATTRS}
        html["choice_open"] = Markup(f"<select{_attrs(choice_attrs)}")
    html["choose"] = Markup(f'<option value="">{e(translate("choose", lang))}</option>')
    html["choose_selected"] = Markup(f'<option selected value="">{e(translate("choose", lang))}</option>')
    return replace(c, html=html)


def option_markup(options) -> tuple:
    """(value, <option>, <option selected>) for each option: the drop-down marks the one held."""
    out = []
    for o in options:
        value, text = (o.value, o.text) if isinstance(o, Option) else o
        disabled = " disabled" if isinstance(o, Option) and o.disabled else ""
        out.append((value, Markup(f'<option{disabled} value="{escape(value)}">{escape(text)}</option>'),
                    Markup(f'<option{disabled} selected value="{escape(value)}">{escape(text)}</option>')))
    return tuple(out)


#: Attributes of a reference typed as text that its drop-down does not carry.
LOOKUP_ATTRS = ("inputmode", "data-lookup", "list", "autocomplete", "maxlength")


def control_for(field: dict, *, state, lang: str, read_only: bool = False, name: str | None = None,
                label=None, help=None, placeholder=None, described: bool = True) -> Control:
    """``field`` as a control for a reader of ``lang``. ``label``/``help``/``placeholder`` are what
    the form shows (a form's overrides or the field's own, as label objects); without ``label`` the
    field's label by the one rule (``i18n.field_label``)."""
    ftype = REGISTRY[field["type"]]
    ctl = ftype.control_of(field)
    key = field["key"]
    attrs: dict = {}
    if described:
        attrs["aria-describedby"] = f"help-{key} error-{key}"
    placeholder_text = text_of(placeholder, lang) if placeholder else ""
    if placeholder_text:
        attrs["placeholder"] = placeholder_text
    if read_only:
        attrs["disabled"] = True
    if field.get("required") and not read_only:
        attrs["aria-required"] = "true"
    by_rule = rule_tags(field)
    options: tuple[Option, ...] = ()
    kind, input_type = "input", INPUT_TYPES.get(ctl, "text")
    if ctl == "choices":  # rule tags are shown beside the boxes, read-only (see control_html.py)
        kind = "checkboxes"
        options = tuple(Option(v, t) for v, t in options_of(field, state, lang) or [] if v not in by_rule)
    elif ctl in ("choice", "boolean"):
        kind = "select"
        options = tuple(Option(str(v), f"{t} ({translate('by_rule', lang)})", True) if v in by_rule else Option(str(v), t)
                        for v, t in options_of(field, state, lang) or [])
    elif ctl == "textarea":
        kind = "textarea"
        attrs["rows"] = 4
    elif ctl == "record":
        kind = "record"
        # Too many records for a drop-down: type the id, or part of a name and pick from the list
        # the page's script fills from /app/<target>/lookup.
        attrs.update({"inputmode": "search", "data-lookup": f"/app/{ftype.target_entity(field)}/lookup",
                      "list": f"lookup-{key}", "autocomplete": "off"})
    elif ctl == "decimal":
        attrs["inputmode"] = "decimal"
    elif ctl == "number":
        attrs["step"] = 1
    if "max_length" in field and kind in ("input", "record"):
        attrs["maxlength"] = field["max_length"]
    return Control(key=key, name=name or key, kind=kind, input_type=input_type,
                   label=text_of(label, lang) if label else field_label(field, lang),
                   help=text_of(help, lang) if help else "", placeholder=placeholder_text,
                   required=bool(field.get("required")), read_only=read_only, type_name=field["type"],
                   options=options, attrs=attrs, target=ftype.target_entity(field))


def wtforms_field(c: Control, *, choose: str, records: list[tuple[str, str]] | None = None, boxes: bool = True,
                  render_kw: dict | None = None, description: str = ""):
    """The WTForms field of a control (unbound). ``records``: a reference's choices, when offered;
    ``boxes``: multiple choices as check boxes (screens) or a multiple drop-down (the admin)."""
    kw = {"render_kw": c.attrs if render_kw is None else render_kw, "description": description}
    if c.kind == "checkboxes":
        choices = [SelectChoice(o.value, o.text) for o in c.options]
        if boxes:
            return SelectMultipleField(c.label, choices=choices, validate_choice=False,
                                       widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), **kw)
        return SelectMultipleField(c.label, choices=choices, validate_choice=False, **kw)
    if c.kind == "select" or (c.kind == "record" and records is not None):
        options = [(o.value, o.text, o.disabled) for o in c.options] if c.kind == "select" else \
            [(v, t, False) for v, t in records]
        choices = [SelectChoice("", choose)] + [SelectChoice(v, t, render_kw={"disabled": True} if d else None)
                                                for v, t, d in options]
        return SelectField(c.label, choices=choices, validate_choice=False, **kw)
    if c.kind == "textarea":
        return TextAreaField(c.label, **kw)
    return StringField(c.label, widget=WIDGETS.get(c.input_type, TextInput()), **kw)


# ---- a form, compiled once per revision ----------------------------------------------------------------
class CompiledForm:
    """A form of one entity for one reader's language and rights, built once per metadata revision."""

    def __init__(self, form: ResolvedForm, *, state, lang: str, shown: list[FormField], read_only: set[str],
                 conditions: list[dict]):
        self.form, self.lang = form, lang
        self.shown = shown
        self.read_only = frozenset(read_only)
        self.writable = frozenset(ff.key for ff in shown) - self.read_only
        self.fields = {ff.key: ff.field for ff in shown}
        #: field key → the conditions that show or require it (the page's script reads them).
        self.conditions: dict[str, list[dict]] = {}
        for cond in conditions:
            self.conditions.setdefault(cond["field"], []).append(cond)
        self.controls = {ff.key: with_markup(control_for(ff.field, state=state, lang=lang, read_only=ff.key in read_only,
                                                         name=f"f-{ff.key}", label=ff.label, help=ff.help,
                                                         placeholder=ff.placeholder), lang, self.conditions.get(ff.key))
                         for ff in shown}
        placed = {ff.key for ff in shown}
        self.sections = [(text_of(s.title, lang), [self.controls[ff.key] for ff in s.fields if ff.key in placed])
                         for s in form.sections]
        self.sections = [(title, controls) for title, controls in self.sections if controls]
        self.references = [c for c in self.controls.values() if c.kind == "record"]
        self.has_times = any(c.input_type == "datetime-local" for c in self.controls.values())
        choose = translate("choose", lang)

        class GeneratedForm(FlaskForm):
            pass

        # Names carry the prefix ``f-`` (see bind) so that a field key can never clash with the
        # form's own attributes (``data``, ``errors``, ``meta``...). Reference drop-downs are filled
        # per request (records change), so the class reads a reference as text; the macro offers them.
        for key, c in self.controls.items():
            setattr(GeneratedForm, key, wtforms_field(c, choose=choose))
        self.form_class = GeneratedForm

    def bind(self, *, formdata=None, data: dict | None = None) -> FlaskForm:
        return self.form_class(formdata=formdata, data=data or {}, prefix="f")

    def show(self, data: dict) -> "ShownForm":
        """What ``bind(data=data)`` shows, for a form that is only shown (a GET): see ``ShownForm``."""
        return ShownForm(self, data)

    def posted(self, wtform: FlaskForm, tz: dt.tzinfo) -> dict:
        """The JSON values of the writable fields a form posted, through each type's ``from_form``."""
        return {key: REGISTRY[self.fields[key]["type"]].from_form(self.fields[key], wtform[key].data, tz)
                for key in self.controls if key in self.writable}

    def data_of(self, record: dict, tz: dt.tzinfo) -> dict:
        """A record's values as the controls show them."""
        return {key: REGISTRY[f["type"]].form_text(f, record.get(key), tz) for key, f in self.fields.items()
                if key in record}

    def values_to_create(self, wtform: FlaskForm, tz: dt.tzinfo) -> dict:
        """What a new record gets from the form: the posted values the form's rules accept, blanks left out."""
        values = accept(self.form, self.posted(wtform, tz), lang=self.lang)
        return {k: v for k, v in values.items() if v is not None}

    def values_to_update(self, wtform: FlaskForm, record: dict, tz: dt.tzinfo) -> dict:
        """What an edit changes: only the posted values that differ from the record as the controls
        showed it, through the form's rules."""
        changed = {k: v for k, v in self.posted(wtform, tz).items()
                   if not same_value(self.fields[k], v, record.get(k), tz)}
        return accept(self.form, changed, before=record, lang=self.lang)


class _Shown:
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


class ShownForm:
    """A form to show, not to read: each field's ``data`` as the bound WTForms field would hold it,
    and the CSRF input as ``FlaskForm`` writes it.

    A GET has nothing to validate or read back, and binding a WTForms form (a field object per
    control, with its label, widget and validators) cost a record form more than its rendering
    (``bench/bench_list_page.py``). Posted forms are bound and validated by WTForms (``bind``);
    ``tests/test_forms_shown.py`` checks that both show the same page.
    """

    PREFIX = "f-"

    def __init__(self, cf: CompiledForm, data: dict):
        self._fields = {key: _Shown(_as_bound(c.kind, data.get(key))) for key, c in cf.controls.items()}

    def __getitem__(self, key: str) -> _Shown:
        return self._fields[key]

    @property
    def csrf_token(self) -> Markup:
        if not current_app.config.get("WTF_CSRF_ENABLED", True):
            return Markup("")  # FlaskForm then has no such field
        name = self.PREFIX + "csrf_token"
        return Markup(f'<input id="{name}" name="{name}" type="hidden" value="{escape(generate_csrf())}">')


def _as_bound(kind: str, value):
    """``value`` as the control's WTForms field keeps it after ``process_data``: check boxes
    (``SelectMultipleField``) a list of texts, a drop-down (``SelectField``) a text, the rest as given."""
    if kind == "checkboxes":
        try:
            return [str(v) for v in value]
        except TypeError:  # None: nothing ticked
            return None
    if kind == "select":
        return None if value is None else str(value)
    return value


def same_value(field: dict, posted, stored, tz: dt.tzinfo = dt.timezone.utc) -> bool:
    """Whether a posted value is what the record holds already, as the control shows it (a form
    never posts rule-applied tags: the rules keep them)."""
    ftype = REGISTRY[field["type"]]
    return _same_text(ftype.form_text(field, posted, tz), ftype.form_text(field, without_rule_tags(field, stored), tz))


def _same_text(posted, stored) -> bool:
    if isinstance(posted, list) or isinstance(stored, list):
        return sorted(posted or []) == sorted(stored or [])
    return (posted or "") == (stored or "")


def compiled_form(model, form: ResolvedForm, *, lang: str, shown: list[FormField], read_only: set[str],
                  conditions: list[dict], purpose: str = "screen") -> CompiledForm:
    """The ``CompiledForm`` for these arguments, built once per metadata revision (``model``)."""
    cache = per_revision(model)
    key = ("form", purpose, form.entity, form.key, lang, tuple(ff.key for ff in shown), frozenset(read_only))
    found = cache.get(key)
    if found is None:
        found = CompiledForm(form, state=model.state, lang=lang, shown=shown, read_only=read_only,
                             conditions=conditions)
        cache[key] = found
    return found


def split_errors(errors: list[dict], keys: set[str]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Errors by the field they name (those on the form), and the rest for the top of the form."""
    by_field: dict[str, list[dict]] = {}
    general: list[dict] = []
    for e in errors:
        (by_field.setdefault(e["field"], []) if e.get("field") in keys else general).append(e)
    return by_field, general
