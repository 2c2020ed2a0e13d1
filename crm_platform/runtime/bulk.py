"""Bulk actions on many records: set fields (owner, stage ...), add or remove tags, delete to the bin,
and e-mail each record (the documents' outreach to a segment).

Each record goes through the record service on its own (``update`` / ``delete``, its own transaction),
so every check a single write meets — rights, validation, the pipeline's entry requirements, the
reason the entity requires, the version read — applies per record; a refused record is listed with
its errors and the others are written. The records are named by id or by a list query (the list's
own filters, limited to what the caller may read).

An e-mail writes no record: for each record the caller may read, one message whose subject and body
have the record's ``{field}`` values filled in goes to the outbox (sent by ``crm worker``, retried,
never failing the request); a record whose ``unless`` field is true (unsubscribed) or whose address
field is empty is listed among the refused with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import outbox
from ..errors import CrmError, Invalid, error
from ..metadata.field_types import REGISTRY
from .access import Access
from .automation.actions import PLACEHOLDER, render_text
from .query import ListQuery

#: The most records one bulk action touches; more is a 413 asking for a narrower filter.
MAX_RECORDS = 10_000


@dataclass
class BulkAction:
    set: dict = field(default_factory=dict)
    add_tags: dict = field(default_factory=dict)
    remove_tags: dict = field(default_factory=dict)
    delete: bool = False
    #: ``{"to": address field, "subject", "body", "unless": boolean field}`` (``{field}`` placeholders).
    email: dict | None = None


def matching_ids(svc, entity_key: str, query: ListQuery, access: Access) -> list[int]:
    """Ids of the records of a list query the caller may read, in the list's order (at most MAX_RECORDS)."""
    ids: list[int] = []
    with svc.engine.connect() as conn:
        for part in svc.stream(entity_key, query, conn=conn, access=access, columns=[]):
            ids.extend(r["id"] for r in part)
            if len(ids) > MAX_RECORDS:
                raise CrmError([error("filter", "too_many", f"the filter matches more than {MAX_RECORDS} records; "
                                                            "narrow it")], status=413)
    return ids


def check_action(model, entity_key: str, action: BulkAction) -> None:
    """Refuse (422) tag changes of fields that hold no list of values, before any record is touched."""
    entity = model.entity(entity_key)
    problems = []
    for name in ("add_tags", "remove_tags"):
        for key, values in getattr(action, name).items():
            f = entity.field_map.get(key)
            if f is None or not REGISTRY[f["type"]].multi_valued:
                problems.append(error(f"{name}.{key}", "not_multi_valued",
                                      f"'{key}' is not a tags or multiple-choice field of {entity_key}"))
            elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                problems.append(error(f"{name}.{key}", "type", "must be a list of tag keys"))
    if action.email is not None:
        problems += _email_problems(entity, action.email)
    if problems:
        raise Invalid(problems)


def _email_problems(entity, email: dict) -> list[dict]:
    problems = []
    for name in ("to", "unless"):
        key = email.get(name)
        if key is not None and key not in entity.field_map:
            problems.append(error(f"email.{name}", "unknown_field", f"'{key}' is not a field of {entity.key}"))
    for name in ("subject", "body"):
        for key in PLACEHOLDER.findall(email.get(name) or ""):
            if key not in entity.field_map and key not in ("id", "owner_id"):
                problems.append(error(f"email.{name}", "unknown_field",
                                      f"{{{key}}} names no field of {entity.key}"))
    return problems


def _send(svc, entity_key: str, ids: list[int], email: dict, access: Access) -> dict:
    """One outbox e-mail per record (read with the caller's rights), in one transaction."""
    queued, refused = 0, []
    with svc.engine.begin() as conn:
        for record_id in dict.fromkeys(ids):
            try:
                record = svc.get(entity_key, record_id, access=access, conn=conn)
            except CrmError as exc:
                refused.append({"id": record_id, "status": exc.status, "errors": exc.errors})
                continue
            unless, address = email.get("unless"), record.get(email["to"])
            if unless and record.get(unless):
                refused.append({"id": record_id, "status": 409, "errors": [error(
                    unless, "unsubscribed", f"record {record_id} asked not to be e-mailed ('{unless}' is set)")]})
            elif address in (None, "", []):
                refused.append({"id": record_id, "status": 422, "errors": [error(
                    email["to"], "no_address", f"record {record_id} has no address in '{email['to']}'")]})
            else:
                to = [str(a) for a in (address if isinstance(address, list) else [address])]
                outbox.add(conn, "email", {"to": to, "subject": render_text(email["subject"], record),
                                           "body": render_text(email["body"], record)}, origin=f"bulk:{entity_key}")
                queued += 1
    return {"updated": queued, "queued": queued, "refused": refused}


def run(svc, entity_key: str, ids: list[int], action: BulkAction, *, access: Access, reason: str | None) -> dict:
    """Apply ``action`` to each record of ``ids``: ``{"updated": n, "refused": [{"id", "errors"}]}``
    (a delete also answers ``deleted``, the same count)."""
    if len(ids) > MAX_RECORDS:
        raise CrmError([error("ids", "too_many", f"at most {MAX_RECORDS} records per bulk action")], status=413)
    check_action(svc.runtime.current(), entity_key, action)
    if action.email is not None:
        return _send(svc, entity_key, ids, action.email, access)
    done, refused = 0, []
    for record_id in dict.fromkeys(ids):
        try:
            if action.delete:
                svc.delete(entity_key, record_id, access=access, reason=reason)
            else:
                data, version = dict(action.set), None
                if action.add_tags or action.remove_tags:
                    current = svc.get(entity_key, record_id, access=access)
                    version = current["version"]
                    for key, tags in action.add_tags.items():
                        held = list(data.get(key, current.get(key)) or [])
                        data[key] = held + [t for t in tags if t not in held]
                    for key, tags in action.remove_tags.items():
                        data[key] = [t for t in (data.get(key, current.get(key)) or []) if t not in tags]
                svc.update(entity_key, record_id, data, expected_version=version, access=access, reason=reason)
            done += 1
        except CrmError as exc:
            refused.append({"id": record_id, "status": exc.status, "errors": exc.errors})
    answer = {"updated": done, "refused": refused}
    if action.delete:
        answer["deleted"] = done
    return answer
