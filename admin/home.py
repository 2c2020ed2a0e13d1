"""The /admin home: what is defined, and where to design it or browse its records."""
from __future__ import annotations

from flask_admin import AdminIndexView, expose

from .common import AdminOnly, label_text, platform
from .i18n import language


class HomeView(AdminOnly, AdminIndexView):
    @expose("/")
    def index(self):
        state = platform().metadata.state()
        entities = [{"key": k, "label": label_text(s.doc.get("label"), language()),
                     "fields": len(s.fields)} for k, s in state.entities.items() if not s.archived]
        counts = {kind: sum(1 for s in state.of_kind(kind).values() if not s.archived) for kind in ("taxonomy", "pipeline", "form")}
        return self.render("crm_admin/home.html", entities=entities, counts=counts, revision=state.revision)
