"""What the taxonomy, pipeline and form designers share: create, edit and archive of one kind of
definition, each save a plan first (``plan_flow``). A subclass builds its form in ``_edit`` and
hands the new definition to ``save``."""
from __future__ import annotations

from flask import abort, url_for
from flask_admin import BaseView, expose

from .common import AdminOnly, actor, label_text, platform
from .i18n import kind_name, language, t
from .plan_flow import run_change


class DefinitionDesignerView(AdminOnly, BaseView):
    #: the definition kind (``taxonomy``, ``pipeline``, ``form``)
    kind: str

    def _edit(self, doc: dict | None):
        raise NotImplementedError

    def save(self, doc: dict | None, new: dict, patch: dict, render_form):
        """Create ``new`` (``doc`` is None) or apply ``patch`` to ``doc``: planned, then confirmed."""
        metadata, creating = platform().metadata, doc is None

        def change(**apply):
            if creating:
                return metadata.create_definition(self.kind, new, actor=actor(), **apply)
            return metadata.update_definition(self.kind, doc["key"], patch, actor=actor(), **apply)
        name = label_text(new.get("label"), language()) or new["key"]
        return run_change(self, change, render_form=render_form, done_url=url_for(".index"), doc=new,
                          entity=new.get("entity"),
                          title=t("t_create_def" if creating else "t_change_def", kind=kind_name(self.kind), name=name))

    @expose("/new", methods=("GET", "POST"))
    def create(self):
        return self._edit(None)

    @expose("/<key>/edit", methods=("GET", "POST"))
    def edit(self, key):
        found = platform().metadata.state().of_kind(self.kind).get(key)
        if found is None or found.archived:
            abort(404)
        return self._edit(found.doc)

    @expose("/<key>/archive", methods=("POST",))
    def archive(self, key):
        found = platform().metadata.state().of_kind(self.kind).get(key)
        title = t("t_archive_def", kind=kind_name(self.kind),
                  name=label_text(found.doc.get("label"), language()) if found is not None else key)

        def render_refusal(errors=(), plan=None):
            return self.render("crm_admin/plan.html", plan=plan, errors=list(errors), title=title,
                               fields=[], action=None, cancel_url=url_for(".index"))
        return run_change(self, lambda **apply: platform().metadata.archive_definition(self.kind, key, actor=actor(),
                                                                                       **apply),
                          render_form=render_refusal, done_url=url_for(".index"), title=title)
