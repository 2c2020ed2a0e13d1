"""The role editor: the entity × operation grid (create / read / update / delete, each with its scope)
and per-field read / write switches, saved as a role definition through the plan flow.

The role document (``metadata/schemas/role.json``): ``entities`` maps an entity key (or ``*`` for
every entity not named) to its scopes and ``fields`` rules; a field not named may be read and
written, so only the switches turned off are stored.
"""
from __future__ import annotations

from flask import request
from flask_admin import expose

from crm_platform.metadata.keys import key_problem, propose_key
from crm_platform.metadata.roles import OPERATIONS, SCOPES

from .common import label_from, label_text, platform
from .definition_view import DefinitionDesignerView
from .i18n import language, t

EVERY_ENTITY = "*"


def _entities(state) -> list[dict]:
    """Active entities with their fields, in the admin's language, and the "every other entity" row."""
    out = [{"key": EVERY_ENTITY, "label": t("r_every_entity"), "fields": []}]
    for key, e in state.entities.items():
        if e.archived:
            continue
        out.append({"key": key, "label": label_text(e.doc.get("label"), language()) or key,
                    "fields": [{"key": f["key"], "label": label_text(f.get("label"), language()) or f["key"]}
                               for f in e.fields]})
    return out


def role_doc(form, entities: list[dict], key: str) -> dict:
    """The role definition from the posted grid."""
    doc = {"key": key, "label": label_from(form, "label") or {language(): key}}
    if form.get("admin") == "1":
        doc["admin"] = True
    if form.get("reports_create") == "1":
        doc["reports"] = {"create": True}
    rights = {}
    for e in entities:
        entry = {}
        for op in OPERATIONS:
            scope = form.get(f"op-{e['key']}-{op}", "")
            if scope in SCOPES:
                entry[op] = scope
        fields = {}
        for f in e["fields"]:
            read = form.get(f"fr-{e['key']}-{f['key']}") == "1"
            write = form.get(f"fw-{e['key']}-{f['key']}") == "1"
            if not read:
                fields[f["key"]] = {"read": False}  # a field not read is not written either
            elif not write:
                fields[f["key"]] = {"write": False}
        if fields:
            entry["fields"] = fields
        if entry:
            rights[e["key"]] = entry
    doc["entities"] = rights
    return doc


class RoleDesignerView(DefinitionDesignerView):
    kind = "role"

    @expose("/")
    def index(self):
        state = platform().metadata.state()
        holders: dict[str, int] = {}
        for u in platform().users.list():
            for r in u["roles"]:
                holders[r] = holders.get(r, 0) + (1 if u["active"] else 0)
        entity_names = {e["key"]: e["label"] for e in _entities(state)}
        items = []
        for key, r in sorted(state.roles.items()):
            rights = r.doc.get("entities") or {}
            items.append({"key": key, "label": label_text(r.doc.get("label"), language()) or key,
                          "archived": r.archived, "admin": bool(r.doc.get("admin")), "users": holders.get(key, 0),
                          "entities": [entity_names.get(k, k) for k in rights]})
        return self.render("crm_admin/roles.html", items=items)

    def _edit(self, doc: dict | None):
        state = platform().metadata.state()
        entities = _entities(state)
        creating = doc is None
        posted = request.method == "POST"
        values = request.form if posted else _form_of(doc, entities)

        def render_form(errors=(), plan=None):
            return self.render("crm_admin/role_form.html", entities=entities, values=values, errors=list(errors),
                               plan=plan, creating=creating, key=None if creating else doc["key"],
                               operations=OPERATIONS, scopes=SCOPES)

        if not posted or "_back" in request.form:
            return render_form()
        if creating:
            key = (request.form.get("key") or "").strip() or propose_key(
                request.form.get("label_en") or request.form.get("label_zh") or "", set(state.roles))
            problem = key_problem(key)
            if problem:
                return render_form([{"field": "key", "message": problem}]), 422
        else:
            key = doc["key"]
        new = role_doc(request.form, entities, key)
        patch = {k: v for k, v in new.items() if k != "key"}
        if not creating:  # flags turned off are removed, not left as they were
            patch = {**{k: None for k in ("admin", "reports") if k in doc and k not in new}, **patch}
        return self.save(doc, new, patch, render_form)


def _form_of(doc: dict | None, entities: list[dict]) -> dict:
    """The grid's inputs for a stored role (a new role: nothing granted, every field switch on)."""
    values = {}
    doc = doc or {}
    for code, text in ((doc.get("label") or {}).items() if isinstance(doc.get("label"), dict) else []):
        values[f"label_{code}"] = text
    if doc.get("admin"):
        values["admin"] = "1"
    if (doc.get("reports") or {}).get("create"):
        values["reports_create"] = "1"
    rights = doc.get("entities") or {}
    for e in entities:
        entry = rights.get(e["key"]) or {}
        for op in OPERATIONS:
            if op in entry:
                values[f"op-{e['key']}-{op}"] = entry[op]
        rules = entry.get("fields") or {}
        for f in e["fields"]:
            rule = rules.get(f["key"], {})
            read = rule.get("read", True)
            values[f"fr-{e['key']}-{f['key']}"] = "1" if read else ""
            values[f"fw-{e['key']}-{f['key']}"] = "1" if read and rule.get("write", True) else ""
    return values
