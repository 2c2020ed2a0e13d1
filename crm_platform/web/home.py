"""The signed-in home page (``/`` and ``/app``): the user's dashboard, "my work", and every entity.

A dashboard is a definition (kind ``dashboard``) assigned to roles; the user sees those assigned to
any of their roles (an administrator sees all), the first by key unless ``?dashboard=`` picks
another. Each widget runs its report through the report service *as the user*, so a salesperson's
copy of the managers' dashboard counts only the records he may read, and each chart cell links to
the list of exactly those records.
"""
from __future__ import annotations

from flask import g, request

from ..errors import CrmError
from .i18n import current_language, label as label_of, localise, translate
from .my_work import recently_changed, sections
from ..http.context import access
from .pages import menu, platform, render
from .report_view import figure
from .reports_service import run_saved
from .screens import screens


class HomeScreen:
    """What ``Screen`` offers the report labeller, without one entity: the model, rights, language."""

    def __init__(self):
        self.svc = platform().records
        self.model = self.svc.runtime.current()
        self.state = self.model.state
        self.lang = current_language()
        self.access = access()

    def can(self, op: str, entity_key: str) -> bool:
        return self.access.can(op, entity_key, self.model)


def visible_dashboards(model, user) -> list[dict]:
    """The dashboards ``user`` may see, by key: assigned to one of their roles, to nobody in
    particular (no ``roles``), or any for an administrator."""
    if user is None:
        return []
    acc = access()
    is_admin = user.is_admin or acc.is_admin(model)
    mine = set(user.roles or [])
    out = []
    for key in sorted(model.state.of_kind("dashboard")):
        state = model.state.of_kind("dashboard")[key]
        if state.archived:
            continue
        roles = state.doc.get("roles") or []
        if is_admin or not roles or mine & set(roles):
            out.append(state.doc)
    return out


def widget_view(home: HomeScreen, widget: dict) -> dict | None:
    """One widget as the page shows it; None when the user may not read its report's records."""
    kind = "number" if "number" in widget else "report"
    key = widget.get(kind)
    state = home.state.of_kind("report").get(key)
    width = widget.get("width") or (3 if kind == "number" else 6)
    title = label_of(widget["title"], home.lang) if widget.get("title") else None
    if state is None or state.archived:
        return {"kind": kind, "key": key, "width": width, "title": title or key,
                "problem": translate("report_gone", home.lang)}
    doc = state.doc
    entity = doc.get("entity") or _pipeline_entity(home, doc)
    if entity and (entity not in home.model.entities or not home.can("read", entity)):
        return None  # not this user's data at all: the widget is left out, not shown empty
    if kind == "number":
        doc = {**doc, "chart": "number"}
    try:
        answer = run_saved(home, key)
    except CrmError as exc:
        return {"kind": kind, "key": key, "width": width, "title": title or label_of(doc.get("label"), home.lang),
                "problem": translate("report_failed", home.lang),
                "errors": localise(exc.errors, home.lang)}
    return {"kind": kind, "key": key, "width": width, "figure": figure(home, doc, answer, title=title)}


def _pipeline_entity(home: HomeScreen, doc: dict) -> str | None:
    pipeline = home.state.pipelines.get(doc.get("pipeline")) if doc.get("pipeline") else None
    return pipeline.doc.get("entity") if pipeline is not None else None


@screens.get("/")
@screens.get("/app")
def index():
    home = HomeScreen()
    user = g.get("user")
    boards = visible_dashboards(home.model, user)
    chosen = request.args.get("dashboard")
    dashboard = next((d for d in boards if d["key"] == chosen), boards[0] if boards else None)
    widgets = []
    if dashboard is not None:
        widgets = [w for w in (widget_view(home, widget) for widget in dashboard.get("widgets") or []) if w is not None]
    return render("web/index.html", dashboard=dashboard, dashboards=boards, widgets=widgets,
                  menu=menu(home.lang, home.model),
                  my_work=sections(home.model, user, home.lang),
                  recent=recently_changed(home.model, user, home.lang),
                  may_build=_may_build())


def _may_build() -> bool:
    from .reports_service import may_create_reports
    return may_create_reports()

