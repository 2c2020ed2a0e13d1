"""Saved list views: /api/views (see runtime/views.py)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import BadRequest, error
from ..http.context import access, platform
from ..http.errors import json_object
from ..runtime import views

views_api = Blueprint("views_api", __name__, url_prefix="/api/views")


@views_api.get("")
def list_views():
    entity = request.args.get("entity", "")
    if not entity:
        raise BadRequest([error("entity", "required", "'entity' must name the list whose views you want")])
    svc = platform().records
    with svc.engine.connect() as conn:
        svc.runtime.current(conn).entity(entity)
        return jsonify({"views": views.list_views(conn, access(), entity)})


@views_api.post("")
def create_view():
    body = json_object()
    entity = body.get("entity")
    if not isinstance(entity, str) or not entity:
        raise BadRequest([error("entity", "required", "'entity' must name the list the view belongs to")])
    svc = platform().records
    with svc.engine.begin() as conn:
        model = svc.runtime.current(conn)
        model.entity(entity)
        view = views.create_view(conn, model, access(), entity, body)
    response = jsonify(view)
    response.status_code = 201
    response.headers["Location"] = f"/api/views/{view['id']}"
    return response


@views_api.get("/<id:view_id>")
def get_view(view_id):
    with platform().engine.connect() as conn:
        return jsonify(views.get_view(conn, access(), view_id))


@views_api.patch("/<id:view_id>")
def update_view(view_id):
    body = json_object()
    if "entity" in body:
        raise BadRequest([error("entity", "read_only", "a view stays with its list; create a new view instead")])
    svc = platform().records
    with svc.engine.begin() as conn:
        return jsonify(views.update_view(conn, svc.runtime.current(conn), access(), view_id, body))


@views_api.delete("/<id:view_id>")
def delete_view(view_id):
    svc = platform().records
    with svc.engine.begin() as conn:
        views.delete_view(conn, svc.runtime.current(conn), access(), view_id)
    return "", 204
