"""Metadata history: every revision with a readable diff, and restore of whatever is archived."""
from __future__ import annotations

from flask import abort, request, url_for
from flask_admin import BaseView, expose

from crm_platform.errors import BadRequest
from crm_platform.ids import ROW_ID_MAX
from crm_platform.metadata.kinds import KINDS
from crm_platform.runtime.query import int_param

import json

from crm_platform.metadata.describe import describe_revision

from .common import AdminOnly, actor, label_text, platform
from .diff import diff_lines
from .i18n import kind_name, language, t
from .plan_flow import run_change

PAGE = 25


class HistoryView(AdminOnly, BaseView):
    @expose("/")
    def index(self):
        try:
            before = int_param(request.args, "before", None, 0, ROW_ID_MAX)
        except BadRequest:
            abort(400)
        revisions = platform().metadata.revisions(limit=PAGE, before=before)
        lang, state = language(), platform().metadata.state()
        for r in revisions:
            # Sentences for the owner; the key-by-key diff and the stored plan for consultants.
            r["sentences"] = describe_revision(r, lang, state=state)
            r["diff"] = diff_lines(r["before"], r["after"]) if r["action"] not in ("archive", "restore") else []
            r["json"] = json.dumps(r["plan"], ensure_ascii=False, indent=2, sort_keys=True, default=str)
        older = revisions[-1]["revision"] if len(revisions) == PAGE else None
        return self.render("crm_admin/history.html", revisions=revisions, older=older, archived=self._archived())

    def _archived(self) -> list[dict]:
        """Everything that can be brought back: archived definitions of every kind, archived fields."""
        state = platform().metadata.state()
        out = []
        for kind in KINDS:
            for key, s in state.of_kind(kind).items():
                if s.archived:
                    out.append({"kind": kind, "kind_name": kind_name(kind), "key": key, "field": "",
                                "label": label_text(s.doc.get("label"), language()) or key})
        for key, s in state.entities.items():
            if not s.archived:
                for f in s.archived_fields:
                    out.append({"kind": "field", "kind_name": t("col_fields") if language() == "zh" else "field",
                                "key": key, "field": f["key"],
                                "label": f"{label_text(s.doc.get('label'), language()) or key}: "
                                         f"{label_text(f.get('label'), language()) or f['key']}"})
        return out

    @expose("/restore", methods=("POST",))
    def restore(self):
        kind, key, field = request.form.get("kind", ""), request.form.get("key", ""), request.form.get("field", "")
        metadata = platform().metadata
        if kind == "field":
            change = lambda **apply: metadata.restore_field(key, field, actor=actor(), **apply)  # noqa: E731
            title = t("t_restore_field", field=_archived_field_name(key, field), entity=_name("entity", key))
        elif kind in KINDS:
            change = lambda **apply: metadata.restore_definition(kind, key, actor=actor(), **apply)  # noqa: E731
            title = t("t_restore_def", kind=kind_name(kind), name=_name(kind, key))
        else:
            abort(404)

        def render_refusal(errors=(), plan=None):
            return self.render("crm_admin/plan.html", plan=plan, errors=list(errors), title=title, fields=[],
                               action=None, cancel_url=url_for(".index"))

        return run_change(self, change, render_form=render_refusal, done_url=url_for(".index"), title=title,
                          entity=key if kind in ("field", "entity") else None)


def _name(kind: str, key: str) -> str:
    """A definition by its label in the admin's language (its key when it has none or is unknown)."""
    found = platform().metadata.state().of_kind(kind).get(key)
    return (label_text(found.doc.get("label"), language()) or key) if found is not None else key


def _archived_field_name(entity: str, field: str) -> str:
    found = platform().metadata.state().entities.get(entity)
    for f in found.archived_fields if found is not None else []:
        if f["key"] == field:
            return label_text(f.get("label"), language()) or field
    return field
