"""Users on screen: list, create with a temporary password (shown once), roles and the administrator
flag, password reset, deactivation, and handing records over to another user.

Everything goes through the services the API uses: ``UserService`` (which audits each change and,
on deactivation or a new password, revokes tokens and ends sessions) and ``RecordService`` for the
hand-over (rights, versions, one audit row per record with the reason given).
"""
from __future__ import annotations

import secrets

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose

from crm_platform.errors import CrmError
from crm_platform.runtime.handover import hand_over, owned_by

from .common import AdminOnly, access, actor_id, label_text, platform
from .i18n import language, t

#: Records listed for a hand-over preview (the hand-over itself moves all that were chosen).
PREVIEW = 20


def temporary_password() -> str:
    """12 characters the new user types once and then changes (or keeps, at their risk)."""
    return secrets.token_urlsafe(9)


def _roles() -> list[dict]:
    """Active roles with their labels in the admin's language."""
    state = platform().metadata.state()
    return [{"key": k, "label": label_text(r.doc.get("label"), language()) or k, "admin": bool(r.doc.get("admin"))}
            for k, r in sorted(state.roles.items()) if not r.archived]


def _admin_roles() -> frozenset:
    return frozenset(r["key"] for r in _roles() if r["admin"])


def _errors(exc: CrmError) -> list[str]:
    return [_message(e) for e in exc.errors]


def _message(e: dict) -> str:
    field = e.get("field")
    words = {"username": t("u_username"), "password": t("u_password"), "roles": t("u_roles"),
             "is_admin": t("u_is_admin"), "active": t("u_active"), "owner_id": t("h_to")}
    if e.get("code") == "last_administrator":
        return t("u_last_admin")
    if e.get("code") == "exists" and field == "username":
        return t("u_exists")
    return f"{words.get(field, field)}: {e['message']}" if field else e["message"]


class UsersView(AdminOnly, BaseView):
    @expose("/")
    def index(self):
        roles = {r["key"]: r["label"] for r in _roles()}
        people = platform().users.list()
        for u in people:
            u["role_labels"] = [roles.get(k, k) for k in u["roles"]]
        return self.render("crm_admin/users.html", users=people, roles=_roles(), errors=[], form={}, chosen=[])

    @expose("/new", methods=("POST",))
    def create(self):
        form = request.form
        chosen = [r for r in form.getlist("roles") if r in {x["key"] for x in _roles()}]
        password = temporary_password()
        try:
            user = platform().users.create(form.get("username", ""), password, is_admin=form.get("is_admin") == "1",
                                           roles=chosen, actor_id=actor_id())
        except CrmError as exc:
            people = platform().users.list()
            for u in people:
                u["role_labels"] = u["roles"]
            return self.render("crm_admin/users.html", users=people, roles=_roles(), errors=_errors(exc),
                               form=form, chosen=chosen), exc.status
        return self.render("crm_admin/user_password.html", user=user.username, password=password,
                           heading=t("u_created", name=user.username), user_id=user.id)

    def _user(self, user_id: int) -> dict:
        try:
            return platform().users.public(platform().users.row(user_id))
        except CrmError:
            abort(404)

    @expose("/<int:user_id>/", methods=("GET", "POST"))
    def edit(self, user_id: int):
        user = self._user(user_id)
        errors, status = [], 200
        if request.method == "POST":
            known = {r["key"] for r in _roles()}
            # Roles this page does not offer (archived since) stay as they are: they grant nothing.
            kept = [r for r in user["roles"] if r not in known]
            patch = {"roles": kept + [r for r in request.form.getlist("roles") if r in known],
                     "is_admin": request.form.get("is_admin") == "1"}
            try:
                platform().users.update(user_id, patch, admin_roles=_admin_roles(), actor_id=actor_id())
            except CrmError as exc:
                errors, status = _errors(exc), exc.status
            else:
                flash(t("u_saved", name=user["username"]), "success")
                return redirect(url_for(".edit", user_id=user_id))
        return self._edit_page(user, errors, status)

    def _edit_page(self, user: dict, errors: list[str], status: int = 200):
        roles = {r["key"]: r["label"] for r in _roles()}
        trail = platform().users.trail(user["id"])
        for item in trail:
            item["text"] = _trail_text(item, roles)
        return self.render("crm_admin/user_edit.html", user=user, roles=_roles(), errors=errors, trail=trail), status

    @expose("/<int:user_id>/password", methods=("POST",))
    def reset_password(self, user_id: int):
        user = self._user(user_id)
        password = temporary_password()
        platform().users.update(user_id, {"password": password}, actor_id=actor_id())
        return self.render("crm_admin/user_password.html", user=user["username"], password=password,
                           heading=t("u_password_reset", name=user["username"]), user_id=user_id)

    @expose("/<int:user_id>/active", methods=("POST",))
    def set_active(self, user_id: int):
        user = self._user(user_id)
        active = request.form.get("active") == "1"
        try:
            platform().users.update(user_id, {"active": active}, admin_roles=_admin_roles(), actor_id=actor_id())
        except CrmError as exc:
            return self._edit_page(user, _errors(exc), exc.status)
        flash(t("u_activated" if active else "u_deactivated", name=user["username"]), "success")
        return redirect(url_for(".edit", user_id=user_id))

    # ---- hand records over ------------------------------------------------------------------------
    @expose("/handover", methods=("GET", "POST"))
    def handover(self):
        """Choose entity, from whom (all their records) or which ids, and to whom; preview, then apply."""
        model = platform().records.runtime.current()
        entities = [{"key": k, "label": label_text(e.doc.get("label"), language()) or k}
                    for k, e in model.entities.items() if not e.archived]
        people = [u for u in platform().users.list() if u["active"]]
        form = request.values
        entity = form.get("entity") or (entities[0]["key"] if entities else "")
        chosen, errors, moved = [], [], None
        if entity and entity not in {e["key"] for e in entities}:
            abort(404)
        from_user, to_user = _int(form.get("from_user")), _int(form.get("to_user"))
        ids_text = (form.get("ids") or "").strip()
        if entity and (from_user is not None or ids_text):
            if ids_text:
                chosen = [int(x) for x in ids_text.replace("，", ",").replace(" ", ",").split(",") if x.strip().isdigit()]
            else:
                chosen = owned_by(platform().records, entity, from_user, limit=_int(form.get("count")))
        if request.method == "POST":
            if to_user is None:
                errors.append(t("h_need_to"))
            elif not chosen:
                errors.append(t("h_need_records"))
            else:
                try:
                    moved = hand_over(platform().records, entity, chosen, to_user, access=access(), actor_id=actor_id(),
                                      reason=(form.get("reason") or "").strip() or None)
                except CrmError as exc:
                    errors.extend(_errors(exc))
                else:
                    to_name = next((u["username"] for u in people if u["id"] == to_user), str(to_user))
                    flash(t("h_done", n=moved, name=to_name), "success")
                    return redirect(url_for(".handover", entity=entity, to_user=to_user))
        preview = _titles(entity, chosen[:PREVIEW]) if chosen else []
        return self.render("crm_admin/handover.html", entities=entities, users=people, entity=entity,
                           from_user=from_user, to_user=to_user, ids=ids_text, count=form.get("count", ""), chosen=len(chosen), preview=preview,
                           reason=form.get("reason", ""), errors=errors), (422 if errors else 200)


def _int(text) -> int | None:
    return int(text) if text and str(text).isdigit() else None


def _titles(entity_key: str, ids: list[int]) -> list[dict]:
    """The first chosen records by their title, as the preview lists them."""
    records = platform().records
    entity = records.runtime.current().entity(entity_key)
    title = entity.doc.get("title_field")
    out = []
    for record_id in ids:
        try:
            r = records.get(entity_key, record_id, access=access())
        except CrmError:
            out.append({"id": record_id, "title": t("h_missing")})
            continue
        out.append({"id": record_id, "title": str(r.get(title) if title else "") or f"#{record_id}"})
    return out


def _trail_text(item: dict, roles: dict) -> str:
    """One audited change of a user as a sentence in the admin's language."""
    parts = []
    for key, (old, new) in item["changes"].items():
        if key == "roles":
            parts.append(t("u_t_roles", roles="、".join(roles.get(r, r) for r in new or []) or "—"))
        elif key == "is_admin":
            parts.append(t("u_t_admin_on" if new else "u_t_admin_off"))
        elif key == "active":
            parts.append(t("u_activated_short" if new else "u_deactivated_short"))
        elif key == "password":
            parts.append(t("u_t_password"))
        elif key == "totp":  # the second factor: set up by the user, reset by an administrator
            parts.append(t("u_t_totp_on" if new else "u_t_totp_off"))
        elif key == "username":
            parts.append(t("u_t_created", name=new))
    return ("；" if language() == "zh" else "; ").join(parts)
