"""Templates and configurations in the browser: the template gallery, install and upgrade, export as a
download, upload of a bundle, and the bundles installed here.

Every install goes through ``bundles.importer.run`` as the CLI and the API do: a dry run shows the
plan (what each definition gets, name clashes and conflicts with the three versions), the admin
settles each conflict on the plan page, and Apply runs it for real with the plan's revision
(``expect_revision``): if the configuration changed in between, nothing is applied and the plan
is shown again as it stands now.
"""
from __future__ import annotations

from flask import Response, abort, current_app, flash, request, url_for
from flask_admin import BaseView, expose

from crm_platform import jsonutil
from crm_platform.bundles import exporter, importer, installs, templates
from crm_platform.bundles.format import parse, serialise
from crm_platform.errors import CrmError
from crm_platform.metadata.kinds import KINDS

from .common import AdminOnly, actor, actor_id, label_text, platform
from .i18n import kind_name, language, t

#: The form input naming how one conflict is settled: ``resolve::kind:key:path``.
RESOLVE = "resolve::"


def _version(text: str) -> tuple:
    try:
        return tuple(int(p) for p in str(text).split("."))
    except ValueError:
        return (0,)


def gallery() -> list[dict]:
    """Each template: what it brings (definitions by label), its sample data, what is installed here."""
    with platform().engine.connect() as conn:
        here = {b["name"]: b for b in installs.listing(conn)}
    lang, out = language(), []
    for name in templates.names():
        b = templates.load(name)
        installed = here.get(b["name"])
        brings = [{"kind": kind_name(kind), "names": [label_text(d.get("label"), lang) or d["key"] for d in docs]}
                  for kind, docs in sorted(b["definitions"].items(), key=lambda kv: _kind_order(kv[0]))]
        out.append({"name": name, "label": label_text(b.get("label"), lang) or name,
                    "description": label_text(b.get("description"), lang) or "", "version": b["version"],
                    "installed": installed["version"] if installed else None,
                    "upgrade": installed is not None and _version(b["version"]) > _version(installed["version"]),
                    "brings": brings, "sample": sum(len(v) for v in b.get("sample_data", {}).values())})
    return out


def _kind_order(kind: str) -> int:
    order = list(KINDS)
    return order.index(kind) if kind in order else len(order)


def _short(value) -> str:
    text = value if isinstance(value, str) else jsonutil.dumps(value, sort_keys=True)
    return text if len(text) <= 300 else text[:297] + "..."


def _names(bundle: dict) -> dict:
    """(kind, key) → label, from the bundle and from this instance."""
    lang, state = language(), platform().metadata.state()
    out = {}
    for kind in KINDS:
        for key, s in state.of_kind(kind).items():
            out[(kind, key)] = label_text(s.doc.get("label"), lang) or key
    for kind, docs in (bundle.get("definitions") or {}).items():
        for d in docs:
            if isinstance(d, dict) and d.get("label"):
                out[(kind, d.get("key"))] = label_text(d["label"], lang) or d.get("key")
    return out


def readable_result(result: dict, bundle: dict) -> dict:
    """The import plan as the admin reads it, in her language: the CLI's plan (``report.lines``)
    with labels, each conflict with the three versions and its own choice."""
    names, s = _names(bundle), result["summary"]
    out = {"summary": t("b_summary", **s), "definitions": [], "conflicts": [], "json": jsonutil.dumps(
        result, sort_keys=True, indent=2)}
    for d in result["definitions"]:
        if d["action"] == "unchanged" and not d.get("conflicts"):
            continue
        out["definitions"].append({
            "verb": t("b_verb_" + d["action"]), "kind": kind_name(d["kind"]), "key": d["key"],
            "label": names.get((d["kind"], d["key"]), d["key"]), "clash": d.get("clash", False),
            "shared": ", ".join(d.get("shared_with") or []), "from_bundle": ", ".join(d.get("from_bundle") or []),
            "kept_here": ", ".join(d.get("kept_here") or [])})
    for c in result["conflicts"]:
        out["conflicts"].append({
            "name": f"{RESOLVE}{c['kind']}:{c['key']}:{c.get('path') or ''}",
            "where": f"{kind_name(c['kind'])}「{names.get((c['kind'], c['key']), c['key'])}」" + (
                f" {c['path']}" if c.get("path") else ""),
            "note": c.get("note") or "", "resolution": c["resolution"],
            "installed": _short(c["installed"]) if "installed" in c else None,
            "local": _short(c["local"]), "incoming": _short(c["incoming"])})
    sd = result.get("sample_data")
    if sd:
        out["sample"] = (t("b_sample_loaded", records=", ".join(f"{names.get(('entity', k), k)} {n}"
                                                                for k, n in sorted(sd["records"].items())))
                         if "records" in sd else t("b_sample_skipped"))
    out["demo_users"] = result.get("demo_users") or []
    return out


def resolutions() -> dict[str, str]:
    """The choices made on the plan page, one per conflict."""
    return {k[len(RESOLVE):]: v for k, v in request.form.items() if k.startswith(RESOLVE) and v in importer.ON_CONFLICT}


class BundlesView(AdminOnly, BaseView):
    @expose("/")
    def index(self):
        with platform().engine.connect() as conn:
            installed = installs.listing(conn)
        state, lang = platform().metadata.state(), language()
        definitions = [{"id": f"{kind}:{key}", "kind": kind_name(kind),
                        "label": label_text(s.doc.get("label"), lang) or key, "key": key}
                       for kind in KINDS for key, s in sorted(state.of_kind(kind).items()) if not s.archived]
        return self.render("crm_admin/bundles.html", templates=gallery(), installed=installed,
                           definitions=definitions)

    # ---- install a template, or an uploaded bundle -------------------------------------------------
    @expose("/templates/<template>", methods=("POST",))
    def install_template(self, template):
        name = template  # Flask-Admin's views take "name" for themselves
        if name not in templates.names():
            abort(404)
        bundle = templates.load(name)
        title = t("b_install_title", name=label_text(bundle.get("label"), language()) or name)
        return self._run(bundle, title, demo_users=True, action=url_for(".install_template", template=name))

    @expose("/upload", methods=("POST",))
    def upload(self):
        raw = request.form.get("bundle_text")
        if raw is None:
            file = request.files.get("bundle")
            raw = file.read().decode("utf-8", "replace") if file is not None else ""
        try:
            bundle = parse(raw.encode("utf-8"))
        except CrmError as exc:
            return self._refused(exc, t("b_upload_title"))
        title = t("b_upload_title_of", name=bundle.get("name", "?"), version=bundle.get("version", "?"))
        return self._run(bundle, title, action=url_for(".upload"), carried=raw)

    def _run(self, bundle: dict, title: str, *, action: str, demo_users: bool = False, carried: str | None = None):
        form = request.form
        confirm = form.get("_confirm") == "1"
        sample = form.get("sample_data") == "1"
        try:
            if sample:
                _within_sample_limit(bundle)
            expected = form.get("_revision")
            result = importer.run(platform(), bundle, actor=actor(), actor_id=actor_id(), dry_run=not confirm,
                                  sample_data=sample, demo_users=demo_users, resolutions=resolutions(),
                                  expect_revision=int(expected) if confirm and expected and expected.isdigit() else None)
        except CrmError as exc:
            plan = (exc.extra or {}).get("plan")
            if any(e.get("field") == "expect_revision" for e in exc.errors):  # stale: the plan as it stands now
                return self._run_again(bundle, title, action, demo_users, carried, exc)
            if plan is None:
                return self._refused(exc, title)
            return self.render("crm_admin/bundle_plan.html", plan=readable_result(plan, bundle), title=title,
                               errors=[_error_text(e) for e in exc.errors], action=action, sample=sample,
                               revision=plan.get("revision"), carried=carried), exc.status
        shown = readable_result(result, bundle)
        if confirm:
            flash(t("b_applied", name=bundle["name"], version=bundle["version"]), "success")
            return self.render("crm_admin/bundle_done.html", plan=shown, title=title)
        return self.render("crm_admin/bundle_plan.html", plan=shown, title=title, errors=[], action=action,
                           sample=sample, revision=result.get("revision"), carried=carried)

    def _run_again(self, bundle, title, action, demo_users, carried, exc):
        sample = request.form.get("sample_data") == "1"
        result = importer.run(platform(), bundle, actor=actor(), actor_id=actor_id(), dry_run=True, sample_data=sample,
                              demo_users=demo_users, resolutions=resolutions())
        return self.render("crm_admin/bundle_plan.html", plan=readable_result(result, bundle), title=title,
                           errors=[t("b_stale")], action=action, sample=sample, revision=result.get("revision"),
                           carried=carried), exc.status

    def _refused(self, exc: CrmError, title: str):
        return self.render("crm_admin/bundle_plan.html", plan=None, title=title,
                           errors=[_error_text(e) for e in exc.errors], action=None, sample=False, revision=None,
                           carried=None), exc.status

    # ---- export ------------------------------------------------------------------------------------
    @expose("/export")
    def export(self):
        only = request.args.getlist("only") or None
        name = (request.args.get("name") or "").strip() or "export"
        version = (request.args.get("version") or "").strip() or "1.0.0"
        try:
            bundle = exporter.export(platform(), name=name, version=version, only=only,
                                     sample_data=request.args.get("sample_data") == "1")
        except CrmError as exc:
            return self._refused(exc, t("b_export"))
        response = Response(serialise(bundle), mimetype="application/json")
        response.headers["Content-Disposition"] = f'attachment; filename="{bundle["name"]}-{bundle["version"]}.json"'
        return response


def _within_sample_limit(bundle: dict) -> None:
    """The API's limit on sample records loaded through a request (the CLI has none)."""
    from crm_platform.errors import error
    limit = current_app.config["BUNDLE_MAX_SAMPLE_RECORDS"]
    n = sum(len(rows) for rows in (bundle.get("sample_data") or {}).values() if isinstance(rows, list))
    if n > limit:
        raise CrmError([error("sample_data", "too_many_records", t("b_too_many", n=n, limit=limit))], status=413)


def _error_text(e: dict) -> str:
    if e.get("code") == "conflict":
        return t("b_unsettled", where=e.get("field") or "")
    return f"{e['field']}: {e['message']}" if e.get("field") else e["message"]
