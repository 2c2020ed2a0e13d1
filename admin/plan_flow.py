"""Plan before apply: every designer save is a dry run first, shown to the admin, applied on confirm.

A designer action is a function ``change(**apply) -> Plan`` that calls a ``MetadataService`` method
with ``apply`` (``dry_run``, ``expect_revision``). The first post runs it with ``dry_run=True`` and
shows the plan (operations, rows affected); the plan page re-posts the same form data with
``_confirm=1`` and the revision the plan was made at (``_revision``), which runs it for real — or,
if anyone changed the configuration in between, refuses (409), applies nothing and shows the plan
as it stands now, to be applied in its turn. A refusal (409) or an invalid definition (422) changes
nothing: the form comes back with the messages next to its inputs.
"""
from __future__ import annotations

from typing import Callable

from flask import flash, redirect, request

from crm_platform.errors import BadRequest, CrmError, error
from crm_platform.metadata.plan import Plan

NOT_RESUBMITTED = ("csrf_token", "_confirm", "_back", "_revision")

#: Shown when the Apply was refused because the configuration changed after the plan was shown.
STALE_PLAN = ("The configuration was changed by someone else after this plan was shown (revision {expected}, now "
              "{revision}): nothing was applied. The plan below is what Apply would do now. "
              "配置在预览之后已被他人修改（修订号 {expected}，现为 {revision}）：未做任何更改。下面是按当前配置重新生成的计划，"
              "确认无误后请再次应用。")


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


def expected_revision() -> int | None:
    """The revision the confirmed plan was made at; None for a post that never showed a plan."""
    posted = request.form.get("_revision")
    if posted is None or posted == "":
        return None
    if not posted.isdigit():
        raise BadRequest([error("_revision", "type", "_revision is the revision number of the plan shown")])
    return int(posted)


def run_change(view, change: Callable[..., Plan], *, render_form: Callable[[list, dict | None], object],
               done_url: str, title: str):
    """Dry-run or apply ``change`` as the request asks; see the module docstring."""
    confirm = request.form.get("_confirm") == "1"
    try:
        expected = expected_revision() if confirm else None
        plan = change(dry_run=not confirm, expect_revision=expected)
    except CrmError as exc:
        if _stale(exc):
            # The plan as it stands now, with an Apply that carries its own revision.
            return view.render("crm_admin/plan.html", plan=exc.extra["plan"], revision=exc.extra["revision"],
                               stale=STALE_PLAN.format(expected=expected, revision=exc.extra["revision"]),
                               title=title, fields=resubmitted_fields(), action=request.path,
                               cancel_url=done_url), exc.status
        response = render_form(exc.errors, exc.extra.get("plan"))
        return response, exc.status
    if confirm:
        flash(f"Applied: {plan.summary}", "success")
        return redirect(done_url)
    return view.render("crm_admin/plan.html", plan=plan.public(), revision=plan.revision, title=title,
                       fields=resubmitted_fields(), action=request.path, cancel_url=done_url)


def _stale(exc: CrmError) -> bool:
    return "plan" in exc.extra and any(e.get("field") == "expect_revision" for e in exc.errors)
