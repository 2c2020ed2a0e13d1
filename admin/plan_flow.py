"""Plan before apply: every designer save is a dry run first, shown to the admin, applied on confirm.

A designer action is a function ``change(dry_run) -> Plan`` that calls ``MetadataService``. The
first post runs it with ``dry_run=True`` and shows the plan (operations, rows affected); the plan
page re-posts the same form data with ``_confirm=1``, which runs it for real. A refusal (409) or an
invalid definition (422) changes nothing: the form comes back with the messages next to its inputs.
"""
from __future__ import annotations

from typing import Callable

from flask import flash, redirect, request

from crm_platform.errors import CrmError
from crm_platform.metadata.plan import Plan

NOT_RESUBMITTED = ("csrf_token", "_confirm", "_back")


def resubmitted_fields() -> list[tuple[str, str]]:
    """The posted form data, to be posted again by the plan page's Apply button."""
    return [(k, v) for k, v in request.form.items(multi=True) if k not in NOT_RESUBMITTED]


def going_back() -> bool:
    """The plan page's "Change" button: show the form again with what was posted."""
    return request.method == "POST" and "_back" in request.form


def attach_errors(form, errors: list[dict], locate: Callable[[str], str | None] | None = None) -> list[dict]:
    """Put each error next to the form input it names (the page lists them all above the form too);
    return those that name no input."""
    loose = []
    for e in errors:
        name = locate(e.get("field") or "") if locate else e.get("field")
        target = _field(form, name) if name else None
        if target is None:
            loose.append(e)
        else:
            target.errors = list(target.errors or []) + [e["message"]]
    return loose


def _field(form, name: str):
    """A form input by dotted/dashed name, descending into FieldList/FormField entries."""
    node = form
    for part in name.replace(".", "-").split("-"):
        try:
            node = node[int(part)] if part.isdigit() else node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node if hasattr(node, "errors") else None


def run_change(view, change: Callable[[bool], Plan], *, render_form: Callable[[list, dict | None], object],
               done_url: str, title: str):
    """Dry-run or apply ``change`` as the request asks; see the module docstring."""
    confirm = request.form.get("_confirm") == "1"
    try:
        plan = change(not confirm)
    except CrmError as exc:
        response = render_form(exc.errors, exc.extra.get("plan"))
        return response, exc.status
    if confirm:
        flash(f"Applied: {plan.summary}", "success")
        return redirect(done_url)
    return view.render("crm_admin/plan.html", plan=plan.public(), title=title, fields=resubmitted_fields(),
                       action=request.path, cancel_url=done_url)
