"""Quick actions on a record page: "Log communication", "New task"… for each entity that refers to it.

Each button opens the related entity's new-record form with the reference to this record filled,
and returns to this record after saving. Other references of the new record are filled where the
platform can tell (one rule for every entity, no names):

1. the record being viewed refers to the same target (an opportunity's company and contact are
   copied onto the communication logged from it);
2. else the newest record of the same kind about this record names one (the contact of the last
   communication with this company: who one talks to next is usually who one talked to last);
3. else exactly one record of the target refers to this record (a company's only contact).

Owner (the creator) and ``now`` / ``today`` come from the field defaults (``field_types/defaults.py``),
which every new form applies (``form_defaults``).
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import g, request, url_for
from werkzeug.datastructures import MultiDict

from ..clock import utcnow
from ..metadata.field_types import REGISTRY, defaults as dynamic_defaults
from ..runtime.query import parse_list_args
from .i18n import label as label_of, translate
from .pages import Screen, entity_label, reading

#: ``/app/<entity>/new?prefill[company]=5&next=/app/company/5``
PREFILL = "prefill[{}]"


def form_defaults(fields: list[dict], tz: dt.tzinfo, user_name: str | None) -> dict:
    """A new form's starting values: each field's default, computed ones (``now``, ``today+N``,
    ``current_user``) for this reader at this moment in their time zone."""
    now = utcnow().astimezone(tz)
    out = {}
    for f in fields:
        if f.get("default") is None:
            continue
        out[f["key"]] = dynamic_defaults.value_of(f, now, user_name) if dynamic_defaults.token_of(f) else f["default"]
    return out


def current_user_name() -> str | None:
    user = g.get("user")
    return getattr(user, "username", None)


def prefilled(screen: Screen) -> dict:
    """``prefill[<field>]=<value>`` of the address, for fields of the form the user may write (a
    reference as its id); anything else is left for the form to refuse or ignore."""
    out = {}
    if not any(name.startswith("prefill[") for name in request.args):
        return out
    for f in screen.fields:
        raw = request.args.get(PREFILL.format(f["key"]))
        if raw is None or not screen.writable(f["key"]) or REGISTRY[f["type"]].multi_valued:
            continue  # one value per field: a list (choices, tags) is chosen on the form
        if REGISTRY[f["type"]].target_entity(f) is not None:
            if raw.isdigit() and len(raw) < 19:
                out[f["key"]] = int(raw)
        else:
            out[f["key"]] = raw[:2000]
    return out


def _refs(entity) -> list[dict]:
    return [f for f in entity.fields if REGISTRY[f["type"]].target_entity(f) is not None]


def _newest(screen: Screen, entity_key: str, field_key: str, record_id: int, *, per_page: int = 1) -> list[dict]:
    args = MultiDict([(f"filter[{field_key}]", str(record_id)), ("per_page", str(per_page))])
    entity = screen.model.entity(entity_key)
    return screen.svc.list(entity_key, parse_list_args(args, entity, count_limit=per_page + 1), **reading())["items"]


def _fill(screen: Screen, record: dict, other, via: dict) -> dict:
    """The prefill of a new ``other`` record made from ``record`` (through ``via``), by the rules above."""
    values = {via["key"]: record["id"]}
    mine = {REGISTRY[f["type"]].target_entity(f): f["key"] for f in _refs(screen.entity)
            if screen.readable(f["key"]) and isinstance(record.get(f["key"]), int)}
    wanted = [f for f in _refs(other) if f["key"] != via["key"] and screen.readable(f["key"], other.key)]
    last = None
    for f in wanted:
        target = REGISTRY[f["type"]].target_entity(f)
        if target in mine:
            values[f["key"]] = record[mine[target]]
            continue
        if last is None:
            found = _newest(screen, other.key, via["key"], record["id"])
            last = found[0] if found else {}
        if isinstance(last.get(f["key"]), int):
            values[f["key"]] = last[f["key"]]
            continue
        if target not in screen.model.entities or not screen.can("read", target):
            continue
        back = [b for b in _refs(screen.model.entity(target))
                if REGISTRY[b["type"]].target_entity(b) == screen.key and screen.readable(b["key"], target)]
        if len(back) == 1:
            found = _newest(screen, target, back[0]["key"], record["id"], per_page=2)
            if len(found) == 1:
                values[f["key"]] = found[0]["id"]
    return values


def quick_actions(screen: Screen, record: dict) -> list[dict]:
    """One button per active entity referring to this one that the user may create records of."""
    here = url_for("screens.record_page", entity=screen.key, record_id=record["id"])
    actions = []
    for other, via in screen.model.referencing(screen.key):
        if other.archived or not screen.can("create", other.key) or \
                not screen.access.can_write_field(other.key, via["key"], screen.model):
            continue
        values = _fill(screen, record, other, via)
        query = urlencode([(PREFILL.format(k), str(v)) for k, v in values.items()] + [("next", here)])
        own = other.doc.get("action_label")
        label = label_of(own, screen.lang) if own else \
            translate("quick_new", screen.lang, entity=entity_label(other.doc, screen.lang))
        actions.append({"entity": other.key, "via": via["key"], "label": label,
                        "href": url_for("screens.new_record", entity=other.key) + "?" + query})
    return actions
