"""/api/bundle: export the configuration, import a bundle (dry run first), the template library.

Administrators only, reads included: a bundle exposes the whole design of the instance.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from ..errors import BadRequest, CrmError, Forbidden, error
from ..http.context import actor_id, actor_name, platform
from ..http.errors import flag
from ..bundles import exporter, importer, installs, templates
from ..bundles.format import meta_schema, parse, serialise

bundle_api = Blueprint("bundle_api", __name__, url_prefix="/api/bundle")


@bundle_api.before_request
def administrators_only():
    user = g.get("user")
    if user is None or not user.is_admin:
        raise Forbidden([error(None, "forbidden", "only administrators export or import bundles")])


def _import_options() -> dict:
    on_conflict = request.args.get("on_conflict") or None
    if on_conflict is not None and on_conflict not in importer.ON_CONFLICT:
        raise BadRequest([error("on_conflict", "enum", f"on_conflict is {' or '.join(importer.ON_CONFLICT)}")])
    expect = request.args.get("expect_revision")
    if expect is not None and not expect.isdigit():
        raise BadRequest([error("expect_revision", "type", "expect_revision is the revision number of a plan")])
    return {"actor": actor_name(), "actor_id": actor_id(), "dry_run": flag("dry_run"), "on_conflict": on_conflict,
            "sample_data": flag("sample_data"), "expect_revision": int(expect) if expect is not None else None}


def _within_sample_limit(bundle: dict, options: dict) -> dict:
    """Refuse (413) loading more sample records than an HTTP request may take; the CLI has no limit."""
    limit = current_app.config["BUNDLE_MAX_SAMPLE_RECORDS"]
    sample = bundle.get("sample_data") if isinstance(bundle, dict) else None
    if options["sample_data"] and isinstance(sample, dict):
        n = sum(len(rows) for rows in sample.values() if isinstance(rows, list))
        if n > limit:
            raise CrmError([error("sample_data", "too_many_records",
                                  f"the bundle carries {n:,} sample records; at most {limit:,} are loaded through the "
                                  f"API (CRM_BUNDLE_MAX_SAMPLE_RECORDS): import larger bundles on the server with "
                                  f"`crm import FILE --sample-data`, which has no limit", records=n, limit=limit)],
                           status=413)
    return bundle


@bundle_api.get("")
def export_bundle():
    only = [k.strip() for k in request.args.get("only", "").split(",") if k.strip()] or None
    bundle = exporter.export(platform(), name=request.args.get("name") or "export",
                             version=request.args.get("version") or "1.0.0", only=only,
                             sample_data=flag("sample_data"))
    response = Response(serialise(bundle), mimetype="application/json")
    response.headers["ETag"] = f"\"{bundle['checksum']}\""
    return response


@bundle_api.post("")
def import_bundle():
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise BadRequest([error(None, "body", "send the bundle (JSON) as the request body")])
    options = _import_options()
    return jsonify(importer.run(platform(), _within_sample_limit(parse(raw), options), **options))


@bundle_api.get("/installed")
def installed_bundles():
    with platform().engine.connect() as conn:
        return jsonify({"items": installs.listing(conn)})


@bundle_api.get("/schema")
def bundle_schema():
    return jsonify(meta_schema())


@bundle_api.get("/templates")
def template_list():
    items = []
    for name in templates.names():
        b = templates.load(name)
        items.append({"name": name, "version": b["version"], "label": b.get("label"), "description": b.get("description"),
                      "checksum": b["checksum"], "definitions": {k: len(v) for k, v in b["definitions"].items()},
                      "sample_records": sum(len(v) for v in b.get("sample_data", {}).values())})
    return jsonify({"items": items})


@bundle_api.post("/templates/<name>/install")
def template_install(name):
    options = _import_options()
    return jsonify(importer.run(platform(), _within_sample_limit(templates.load(name), options), demo_users=True,
                                **options))
