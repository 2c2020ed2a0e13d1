"""Public web forms at /f/<slug>: anyone may fill them in, without signing in.

Guards: only the fields the form declares are read (``accept`` drops the rest); CSRF (checked for
every browser post in ``auth.web.require_user``); a honeypot field that people never see and
robots fill in; a rate limit per client address on submissions (``CRM_PUBLIC_FORM_RATE``, default
20 a minute). The record is written by the record service acting as the system, which the form's
declared fields bound.
"""
from __future__ import annotations

import os

from flask import Blueprint, current_app, request

from ..auth.web import limiter, retry_after
from ..errors import CrmError, NotFound, error
from ..metadata.forms import public_form, resolve
from ..runtime.reasons import Reason
from .controls import compiled_form, split_errors
from .quick_actions import form_defaults
from .i18n import label as label_of, localise, translate
from .pages import platform, render, user_tz

public_forms = Blueprint("public_forms", __name__, template_folder="templates")
#: The honeypot: a text input hidden from people (CSS, aria-hidden, no tab stop); robots fill it.
HONEYPOT = "website"


def _rate() -> str:
    return current_app.config.get("CRM_PUBLIC_FORM_RATE") or os.environ.get("CRM_PUBLIC_FORM_RATE", "20 per minute")


@public_forms.errorhandler(429)
def too_many(exc):
    page, status = render("web/public_done.html", 429, message=translate("too_many", _lang()), public=True)
    return page, status, {"Retry-After": retry_after()}


@public_forms.errorhandler(CrmError)
def crm_error(exc: CrmError):
    return render("web/error.html", exc.status, errors=localise(exc.errors, _lang()), public=True)


def _lang() -> str:
    from .i18n import current_language
    return current_language()


def _form(slug: str):
    """The public form ``slug`` compiled for this page's language: its shown fields, those it marks
    read-only shown but never written."""
    model = platform().records.runtime.current()
    doc = public_form(model.state, slug)
    entity = model.entities.get(doc["entity"]) if doc is not None else None
    if doc is None or entity is None or entity.archived:
        raise NotFound([error(None, "not_found", f"no public form '{slug}'")])
    form = resolve(doc, entity.doc)
    # Computed fields (roll-ups, formulas) are facts about stored records: never on a public form.
    shown = [ff for ff in form.fields if not ff.hidden and ff.key not in entity.computed_keys]
    read_only = {ff.key for ff in shown if ff.read_only}
    return model, compiled_form(model, form, lang=_lang(), shown=shown, read_only=read_only,
                                conditions=form.conditions, purpose="public")


@public_forms.route("/f/<slug>", methods=["GET", "POST"])
@limiter.limit(_rate, methods=["POST"])
def fill(slug):
    model, cf = _form(slug)
    form, lang, tz = cf.form, cf.lang, user_tz()
    context = dict(form=form, cf=cf, title=label_of(form.label, lang), public=True, honeypot=HONEYPOT,
                   description=label_of(form.doc.get("description"), lang) if form.doc.get("description") else None,
                   submit=label_of(form.doc.get("submit_label"), lang) if form.doc.get("submit_label") else None)
    if request.method == "GET":
        defaults = form_defaults(model.entity(form.entity).fields, tz, None)
        return render("web/public_form.html", wtform=cf.show(cf.data_of(defaults, tz)),
                      field_errors={}, general_errors=[], **context)
    wtform = cf.bind(formdata=request.form)
    done = label_of(form.doc.get("success_message"), lang) if form.doc.get("success_message") else translate("thanks", lang)
    if request.form.get(HONEYPOT, "").strip():
        # A robot: answer as if all went well, so it learns nothing, and write nothing.
        return render("web/public_done.html", message=done, **context)
    try:
        platform().records.create(form.entity, cf.values_to_create(wtform, tz), **_as_system(),
                                  reason=Reason(f"public form {form.key}", "public_form", form=form.key))
    except CrmError as exc:
        field_errors, general = split_errors(localise(exc.errors, lang), set(cf.controls))
        return render("web/public_form.html", exc.status, wtform=wtform, field_errors=field_errors,
                      general_errors=general, **context)
    return render("web/public_done.html", message=done, **context)


def _as_system() -> dict:
    """The record service acting as the system: the public has no user, the form bounds the fields."""
    try:
        from ..runtime.access import Access
    except ImportError:  # pragma: no cover - before access control
        return {"actor_id": None}
    system = getattr(Access, "system", None)
    return {"actor_id": None, **({"access": system()} if system is not None else {})}
