"""What every admin view shares: the administrators-only gate, labels in two languages, services."""
from __future__ import annotations

from flask import abort, g, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from crm_platform.i18n import text_of
from crm_platform.http.context import access, actor_id, actor_name as actor, platform  # noqa: F401 - shared here

#: The languages a label is edited in, side by side.
LANGUAGES = (("en", "English"), ("zh", "中文"))


class AdminOnly:
    """Only administrators reach /admin; others get 403 and anonymous visitors the sign-in page.

    ``require_user`` (auth/web.py) already sends anonymous page requests to /login before any view
    runs; the redirect here covers a view reached without a user all the same.
    """

    def is_accessible(self) -> bool:
        return g.get("user") is not None and access().admin

    def render(self, template, **kwargs):
        """Every designer page gets ``t`` (our words in the admin's language) and ``lang``."""
        from .i18n import language, t
        kwargs.setdefault("t", t)
        kwargs.setdefault("lang", language())
        return super().render(template, **kwargs)

    def inaccessible_callback(self, name, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.path))
        abort(403)


def label_text(label, lang: str | None = None) -> str:
    return text_of(label, lang)


def label_shown(label, lang: str | None = None) -> str:
    """A label in ``lang``, by default the language of the admin reading the page."""
    if lang is None:
        from .i18n import language
        lang = language()
    return text_of(label, lang)


def label_inputs(prefix: str, message: str | None = None, *, max_length: int = 200) -> dict:
    """Form fields ``<prefix>_en`` and ``<prefix>_zh`` for a label edited side by side, titled by
    the admin message ``message`` in the admin's language ("标签 (中文)")."""
    from flask_babel import LazyString

    from .i18n import t

    def title(name: str):
        if message is None:
            return f"{prefix.replace('_', ' ').capitalize()} ({name})"
        return LazyString(lambda: f"{t(message)} ({name})")
    return {f"{prefix}_{code}": StringField(title(name), validators=[Optional(), Length(max=max_length)])
            for code, name in LANGUAGES}


def label_from(data: dict, prefix: str):
    """The label object from the form data; None when every language is blank."""
    label = {code: (data.get(f"{prefix}_{code}") or "").strip() for code, _ in LANGUAGES}
    label = {k: v for k, v in label.items() if v}
    return label or None


def label_data(label, prefix: str) -> dict:
    """Form data for a stored label (a plain string shows as English)."""
    if label is None:
        return {}
    if isinstance(label, str):
        return {f"{prefix}_en": label}
    return {f"{prefix}_{code}": label.get(code, "") for code, _ in LANGUAGES}


class DesignerForm(FlaskForm):
    """Designer forms carry Flask-WTF's CSRF token (checked for every browser post in auth/web.py)."""

    class Meta:
        # require_user (auth/web.py) checks the token of every browser post before any view runs,
        # and the templates add it; a second check per form would only duplicate that one rule.
        csrf = False
