"""Automation rules in the admin: each rule with its trigger and how its runs went, and a rule's page
with its definition, a dry run (how many records it would act on now) and its run log.

Rules are written as JSON (``POST /api/meta/automations``, a bundle, or the definition box here);
this page is where an administrator watches them run (流程监控).
"""
from __future__ import annotations

import json

from flask import abort, request, url_for
from flask_admin import BaseView, expose

from crm_platform.clock import utcnow
from crm_platform.errors import BadRequest, error
from crm_platform.ids import ROW_ID_MAX
from crm_platform.runtime.automation import runlog
from crm_platform.runtime.automation.preview import would_act
from crm_platform.runtime.query import int_param

from .common import AdminOnly, actor, label_text, platform
from .i18n import language, t
from .plan_flow import going_back, run_change

PAGE = 50


def _trigger_text(trigger: dict) -> str:
    more = ", ".join(f"{k}={v}" for k, v in sorted(trigger.items()) if k != "on")
    return f"{trigger['on']}" + (f" ({more})" if more else "")


class AutomationView(AdminOnly, BaseView):
    @expose("/")
    def index(self):
        state = platform().metadata.state()
        with platform().engine.connect() as conn:
            counts = runlog.counts(conn)
        rules = [{"key": key, "label": label_text(s.doc.get("label"), language()) or key,
                  "entity": s.doc["entity"], "trigger": _trigger_text(s.doc["trigger"]),
                  "active": s.doc.get("active", True) and not s.archived, "archived": s.archived,
                  "counts": counts.get(key, {})}
                 for key, s in sorted(state.of_kind("automation").items())]
        return self.render("crm_admin/automations.html", rules=rules)

    @expose("/<key>", methods=("GET", "POST"))
    def detail(self, key):
        found = platform().metadata.state().of_kind("automation").get(key)
        if found is None:
            abort(404)
        try:
            before = int_param(request.args, "before", None, 0, ROW_ID_MAX)
        except BadRequest:
            abort(400)
        svc = platform()
        matches = None
        with svc.engine.connect() as conn:
            if request.method == "POST":  # the dry run: counted now, nothing written
                matches = would_act(conn, svc.runtime.current(conn), found.doc, utcnow())
            runs = runlog.runs(conn, key, limit=PAGE, before=before)
        older = runs[-1]["id"] if len(runs) == PAGE else None
        return self.render("crm_admin/automation.html", key=key, rule=found.doc, archived=found.archived,
                           label=label_text(found.doc.get("label"), language()) or key,
                           trigger=_trigger_text(found.doc["trigger"]), matches=matches, runs=runs, older=older,
                           definition=json.dumps(found.doc, ensure_ascii=False, indent=2, sort_keys=True))

    # ---- writing a rule as JSON: a dry run (the plan) first, applied on confirmation -------------
    @expose("/new", methods=("GET", "POST"))
    def new(self):
        return self._edit(None)

    @expose("/<key>/edit", methods=("GET", "POST"))
    def edit(self, key):
        if key not in platform().metadata.state().of_kind("automation"):
            abort(404)
        return self._edit(key)

    def _edit(self, key: str | None):
        metadata = platform().metadata
        before = metadata.state().of_kind("automation")[key].doc if key else None
        title = t("edit_automation", rule=key) if key else t("new_automation")
        text = request.form.get("definition") if request.method == "POST" else (
            json.dumps(before, ensure_ascii=False, indent=2, sort_keys=True) if before else json.dumps(
                EXAMPLE, ensure_ascii=False, indent=2))

        def render_form(errors=(), plan=None):
            return self.render("crm_admin/automation_form.html", title=title, text=text, errors=list(errors),
                               plan=plan, cancel_url=url_for(".detail", key=key) if key else url_for(".index"))

        if request.method == "GET" or going_back():
            return render_form()
        try:
            doc = json.loads(text or "")
        except ValueError as exc:
            return render_form([error("definition", "json", f"not JSON: {exc}")]), 400
        if not isinstance(doc, dict):
            return render_form([error("definition", "type", "a rule is a JSON object")]), 422
        if key is None:
            change = lambda **apply: metadata.create_definition("automation", doc, actor=actor(), **apply)  # noqa: E731
            done = url_for(".detail", key=doc.get("key")) if isinstance(doc.get("key"), str) else url_for(".index")
        else:
            patch = {**{k: None for k in before if k not in doc}, **doc}  # the JSON is the whole rule
            change = lambda **apply: metadata.update_definition("automation", key, patch, actor=actor(), **apply)  # noqa: E731
            done = url_for(".detail", key=key)
        return run_change(self, change, render_form=render_form, done_url=done, title=title)


#: What the editor of a new rule starts from.
EXAMPLE = {"key": "new_rule", "label": {"en": "New rule", "zh": "新规则"}, "entity": "", "active": False,
           "trigger": {"on": "created"}, "conditions": [],
           "actions": [{"type": "notify", "owner": True, "message": {"en": "New record {id}", "zh": "新记录 {id}"}}]}
