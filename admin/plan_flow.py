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

import json

from flask import flash, redirect, request

from crm_platform.errors import BadRequest, CrmError, error
from crm_platform.metadata.describe import describe_plan
from crm_platform.metadata.plan import Plan

from .common import platform
from .i18n import language, t
from .refusals import localise_refusals

NOT_RESUBMITTED = ("csrf_token", "_confirm", "_back", "_revision")


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


def readable(plan: dict | None, *, before: dict | None = None, after: dict | None = None,
             entity: str | None = None, doc: dict | None = None) -> dict | None:
    """The plan as the admin reads it: a sentence per operation (``sentences``), refusals naming
    labels, and the raw plan as JSON (``json``) one click away for consultants."""
    if plan is None:
        return None
    lang, state = language(), platform().metadata.state()
    if after is None and doc is not None:
        # The definition being saved: a field being added has no other home yet.
        after = {"key": entity, "fields": [doc]} if "type" in doc and entity else doc
    return {**plan, "sentences": describe_plan(plan, lang, state=state, before=before, after=after),
            "refusals": localise_refusals(plan.get("refusals"), lang, state=state, entity=entity or plan.get("key"),
                                          doc=after),
            "json": json.dumps(plan, ensure_ascii=False, indent=2, sort_keys=True, default=str)}


def run_change(view, change: Callable[..., Plan], *, render_form: Callable[[list, dict | None], object],
               done_url: str, title: str, entity: str | None = None, doc: dict | None = None):
    """Dry-run or apply ``change`` as the request asks; see the module docstring. ``entity`` and
    ``doc`` (the entity changed and the definition posted) let refusals and sentences name labels."""
    confirm = request.form.get("_confirm") == "1"
    try:
        expected = expected_revision() if confirm else None
        plan = change(dry_run=not confirm, expect_revision=expected)
    except CrmError as exc:
        if _stale(exc):
            # The plan as it stands now, with an Apply that carries its own revision.
            return view.render("crm_admin/plan.html", plan=readable(exc.extra["plan"], entity=entity, doc=doc),
                               revision=exc.extra["revision"],
                               stale=t("stale_plan", expected=expected, revision=exc.extra["revision"]),
                               title=title, fields=resubmitted_fields(), action=request.path,
                               cancel_url=done_url), exc.status
        errors = localise_refusals(exc.errors, language(), state=platform().metadata.state(),
                                   entity=entity, doc=_doc_for_names(entity, doc))
        response = render_form(errors, readable(exc.extra.get("plan"), entity=entity, doc=doc))
        return response, exc.status
    shown = readable(plan.public(), before=plan.before, after=plan.after, entity=entity, doc=doc)
    if confirm:
        flash(t("applied", summary=("；" if language() == "zh" else "; ").join(shown["sentences"])), "success")
        return redirect(done_url)
    return view.render("crm_admin/plan.html", plan=shown, revision=plan.revision, title=title,
                       fields=resubmitted_fields(), action=request.path, cancel_url=done_url)


def _doc_for_names(entity: str | None, doc: dict | None) -> dict | None:
    if doc is not None and "type" in doc and entity:
        return {"key": entity, "fields": [doc]}
    return doc


def _stale(exc: CrmError) -> bool:
    return "plan" in exc.extra and any(e.get("field") == "expect_revision" for e in exc.errors)
