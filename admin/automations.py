"""Automation rules in the admin: each rule with its trigger and how its runs went, and a rule's page
with its definition, a dry run (how many records it would act on now) and its run log.

Rules are written as JSON (``POST /api/meta/automations``, a bundle, or the definition box here);
this page is where an administrator watches them run (流程监控).
"""
from __future__ import annotations

import json

from flask import abort, request
from flask_admin import BaseView, expose

from crm_platform.clock import utcnow
from crm_platform.errors import BadRequest
from crm_platform.ids import ROW_ID_MAX
from crm_platform.runtime.automation import runlog
from crm_platform.runtime.automation.preview import would_act
from crm_platform.runtime.query import int_param

from .common import AdminOnly, label_text, platform
from .i18n import language

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
