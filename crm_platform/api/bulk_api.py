"""Bulk actions on records: POST /api/records/<entity>/bulk-update (see runtime/bulk.py)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.datastructures import MultiDict

from ..errors import BadRequest, Forbidden, error
from ..http.context import access, platform
from ..http.errors import json_object
from ..runtime import bulk
from ..runtime.query import parse_list_args
from .records_api import _reason

bulk_api = Blueprint("bulk_api", __name__, url_prefix="/api/records")

ACTIONS = ("set", "add_tags", "remove_tags", "delete", "email")


def filter_args(flt: dict) -> MultiDict:
    """A JSON filter as list parameters: ``{"q": "li", "stage": "won", "amount": {"gte": 100},
    "status": ["new", "won"], "email": null}`` is ``q=li&filter[stage]=won&filter[amount][gte]=100
    &filter[status][in]=new&filter[status][in]=won&filter[email][is_empty]``."""
    args = MultiDict()

    def text(value):
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    for key, value in flt.items():
        if key == "q":
            if not isinstance(value, str):
                raise BadRequest([error("filter.q", "type", "'filter.q' must be text")])
            args.add("q", value)
        elif value is None:
            args.add(f"filter[{key}][is_empty]", "")
        elif isinstance(value, list):
            for v in value:
                args.add(f"filter[{key}][in]", text(v))
        elif isinstance(value, dict):
            for op, v in value.items():
                for one in (v if isinstance(v, list) else [v]):
                    args.add(f"filter[{key}][{op}]", "" if one is None else text(one))
        else:
            args.add(f"filter[{key}]", text(value))
    return args


def _targets(entity: str, body: dict) -> list[int]:
    svc = platform().records
    if ("ids" in body) == ("filter" in body):
        raise BadRequest([error("ids", "required", "send either 'ids' (a list of record ids) or 'filter' (an object)")])
    if "ids" in body:
        ids = body["ids"]
        if not isinstance(ids, list) or not all(type(i) is int and 0 < i < 2**63 for i in ids):
            raise BadRequest([error("ids", "type", "'ids' must be a list of record ids (positive whole numbers)")])
        if len(ids) > bulk.MAX_RECORDS:
            raise BadRequest([error("ids", "too_many", f"at most {bulk.MAX_RECORDS} ids")], status=413)
        svc.runtime.current().entity(entity)  # 404 for an unknown entity
        return ids
    flt = body["filter"]
    if not isinstance(flt, dict):
        raise BadRequest([error("filter", "type", "'filter' must be an object of field conditions")])
    model = svc.runtime.current()
    try:
        query = parse_list_args(filter_args(flt), model.entity(entity))
    except BadRequest as exc:
        raise BadRequest([{**e, "field": f"filter.{e['field']}" if e.get("field") else "filter"}
                          for e in exc.errors]) from None
    return bulk.matching_ids(svc, entity, query, access())


def _action(body: dict) -> bulk.BulkAction:
    unknown = sorted(set(body) - {"ids", "filter", *ACTIONS})
    if unknown:
        raise BadRequest([error(unknown[0], "unknown_property",
                                f"unknown property '{unknown[0]}'; send ids or filter and one of {', '.join(ACTIONS)}")])
    for name in ("set", "add_tags", "remove_tags"):
        if name in body and not isinstance(body[name], dict):
            raise BadRequest([error(name, "type", f"'{name}' must be an object keyed by field")])
    if "delete" in body and body["delete"] is not True:
        raise BadRequest([error("delete", "type", "'delete' must be true")])
    email = body.get("email")
    if email is not None:
        if not isinstance(email, dict) or set(email) - {"to", "subject", "body", "unless"}:
            raise BadRequest([error("email", "type", "'email' must be {\"to\": field, \"subject\", \"body\", "
                                                     "\"unless\": field}")])
        for name in ("to", "subject", "body"):
            if not isinstance(email.get(name), str) or not email[name].strip():
                raise BadRequest([error(f"email.{name}", "required", f"'email.{name}' must be non-empty text")])
        if "unless" in email and not isinstance(email["unless"], str):
            raise BadRequest([error("email.unless", "type", "'email.unless' must name a field")])
    action = bulk.BulkAction(set=body.get("set") or {}, add_tags=body.get("add_tags") or {},
                             remove_tags=body.get("remove_tags") or {}, delete=body.get("delete") is True, email=email)
    changes = action.set or action.add_tags or action.remove_tags
    if action.delete and (changes or email is not None):
        raise BadRequest([error("delete", "exclusive", "'delete' cannot be combined with other changes")])
    if email is not None and changes:
        raise BadRequest([error("email", "exclusive", "'email' cannot be combined with changes")])
    if not (action.delete or changes or email is not None):
        raise BadRequest([error("set", "required",
                                "say what to do: 'set', 'add_tags', 'remove_tags', 'delete' or 'email'")])
    return action


@bulk_api.post("/<entity>/bulk-update")
def bulk_update(entity):
    svc = platform().records
    model = svc.runtime.current()
    model.entity(entity)  # 404 for an unknown entity
    changes = access().can("update", entity, model) or access().can("delete", entity, model)
    if not (changes or access().can("read", entity, model)):
        raise Forbidden([error(None, "forbidden", f"you may not change {entity} records")])
    body = json_object()
    reason = _reason(body)
    action = _action(body)
    if action.email is None and not changes:  # an e-mail writes no record: reading them is enough
        raise Forbidden([error(None, "forbidden", f"you may not change {entity} records")])
    ids = _targets(entity, body)
    return jsonify(bulk.run(platform().records, entity, ids, action, access=access(), reason=reason))
