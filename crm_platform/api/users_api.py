"""Users for administrators: /api/users[/<id>] (list, create, change roles, flags and passwords)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..errors import Forbidden, Invalid, error
from ..http.context import access, actor_id, platform
from ..http.errors import json_object

users_api = Blueprint("users_api", __name__, url_prefix="/api/users")


@users_api.before_request
def administrators_only():
    if not access().admin:
        raise Forbidden([error(None, "forbidden", "only administrators manage users")])


@users_api.get("")
def list_users():
    return jsonify({"items": platform().users.list()})


@users_api.post("")
def create_user():
    body = json_object()
    svc = platform().users
    problems = [error(key, "required", f"'{key}' is required text") for key in ("username", "password")
                if not isinstance(body.get(key), str)]
    if not isinstance(body.get("is_admin", False), bool):
        problems.append(error("is_admin", "type", "is_admin is true or false"))
    problems += _role_problems(body.get("roles", []))
    if problems:
        raise Invalid(problems)
    created = svc.create(body["username"], body["password"], is_admin=body.get("is_admin", False),
                         roles=body.get("roles", []), actor_id=actor_id())
    return jsonify(svc.public(svc.row(created.id))), 201


@users_api.get("/<id(bits=32):user_id>")
def get_user(user_id):
    svc = platform().users
    return jsonify(svc.public(svc.row(user_id)))


@users_api.patch("/<id(bits=32):user_id>")
def update_user(user_id):
    body = json_object()
    problems = _role_problems(body["roles"]) if "roles" in body else []
    if problems:
        raise Invalid(problems)
    roles = platform().metadata.state().roles
    admin_roles = frozenset(k for k, r in roles.items() if not r.archived and r.doc.get("admin"))
    return jsonify(platform().users.update(user_id, body, admin_roles=admin_roles, actor_id=actor_id()))


@users_api.delete("/<id(bits=32):user_id>/totp")
def reset_totp(user_id):
    """Forget the user's second factor (auth/totp.py); audited with the administrator as actor."""
    return jsonify(platform().users.reset_totp(user_id, actor_id=actor_id()))


def _role_problems(roles) -> list[dict]:
    """Roles named through the API must exist: a misspelt role would silently grant nothing."""
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return [error("roles", "type", "roles is a list of role keys")]
    known = platform().metadata.state().roles
    return [error("roles", "unknown", f"there is no active role '{r}'") for r in roles
            if r not in known or known[r].archived]
