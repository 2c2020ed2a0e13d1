"""Merging duplicate records into one, in one transaction, through the record service.

``{"survivor": 1, "others": [2, 3], "choices": {"phone": 3, "email": 2}}``: record 1 stays; for each
field named in ``choices`` it takes the value of the record named there (unnamed fields keep the
survivor's own); a field whose type ``unites`` (a tags field holding several tags) takes every
record's hand-set tags. Then, in this order, on one connection:

1. every live record of every entity that refers to one of the others (reference fields) is changed
   to refer to the survivor — an ordinary update through the record service, so its audit row, rule
   tags and hooks follow, with the reason "customer #2 was merged into #1"; these updates are the
   merge's consequence, not the user's own edits, so they are made with the system's rights, as a
   delete's ``on_delete`` rules are;
2. the others go to the recycle bin through ``RecordService.delete`` with the user's rights and the
   reason "merged into customer #1", so their audit rows name the survivor; their history (audit,
   stage history) stays with them and they can be restored;
3. the survivor is updated with the chosen values, with the user's rights (a field the user may not
   write is refused, 403 naming it), after the others left, so a unique value can move to it.

Anything refused rolls the whole merge back. Records in the recycle bin that refer to the others
keep their reference (as a delete leaves them); records of an archived entity that refer to them
stop the merge (409), as they would stop a delete.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import Conflict, CrmError, Forbidden, Invalid, NotFound, error
from ..metadata.field_types import REGISTRY
from .access import SYSTEM, Access
from .reasons import Reason

#: The most records merged into one at a time.
MAX_OTHERS = 50


def require_merge_rights(svc, entity_key: str, access: Access) -> None:
    """403 before anything else when the user may neither change nor delete records of the entity."""
    model = svc.runtime.current()
    entity = model.entity(entity_key)
    access.require("update", entity, model)
    access.require("delete", entity, model)


def parse_merge(body: dict) -> tuple[int, list[int], dict[str, int]]:
    """(survivor, others, choices) of a merge request; 422 naming each wrong part."""
    problems = []

    def record_id(value, where):
        if type(value) is not int or not 1 <= value <= 2**63 - 1:
            problems.append(error(where, "type", "must be the id of a record"))
            return None
        return value

    survivor = record_id(body.get("survivor"), "survivor")
    raw_others = body.get("others")
    others: list[int] = []
    if not isinstance(raw_others, list) or not raw_others:
        problems.append(error("others", "required", "name the records to merge into the survivor: a list of ids"))
    elif len(raw_others) > MAX_OTHERS:
        problems.append(error("others", "maxItems", f"at most {MAX_OTHERS} records can be merged at a time"))
    else:
        others = [i for n, v in enumerate(raw_others) if (i := record_id(v, f"others.{n}")) is not None]
        if len(set(others)) != len(others):
            problems.append(error("others", "uniqueItems", "names a record twice"))
        if survivor is not None and survivor in others:
            problems.append(error("others", "survivor", f"must not include the surviving record #{survivor}"))
    choices = body.get("choices", {})
    if not isinstance(choices, dict):
        problems.append(error("choices", "type", "must map field keys to the id of the record whose value is kept"))
        choices = {}
    allowed = {survivor, *others}
    for key, chosen in choices.items():
        if type(chosen) is not int or chosen not in allowed:
            problems.append(error(f"choices.{key}", "enum", "must be the id of the survivor or of a merged record"))
    if problems:
        raise Invalid(problems)
    return survivor, others, choices


def merge(svc, entity_key: str, survivor_id: int, other_ids: list[int], choices: dict[str, int], *,
          access: Access | None = None, actor_id: int | None = None, reason: str | None = None) -> dict:
    """Merge ``other_ids`` into ``survivor_id`` (see the module docstring); the survivor as it now reads,
    with ``merged`` (the ids that went to the recycle bin) and ``repointed`` (records changed, by
    ``entity.field``)."""
    access = access or SYSTEM
    actor_id = access.user_id if actor_id is None else actor_id
    with svc.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        model = svc.runtime.current(conn)
        entity = model.entity(entity_key)
        records = _read_all(svc, conn, entity_key, [survivor_id, *other_ids], access)
        _check_rights(access, entity_key, model, records[0], records[1:])
        values = _chosen_values(entity, records, choices, access, model)
        repointed = _repoint(svc, conn, model, entity_key, survivor_id, other_ids, actor_id)
        why = Reason(f"merged into {entity_key} #{survivor_id}" + (f": {reason}" if reason else ""), "merged_away",
                     entity=entity_key, survivor=survivor_id, comment=reason or None)
        for other in other_ids:
            svc.delete(entity_key, other, conn=conn, access=access, actor_id=actor_id, reason=why)
        if values:
            svc.update(entity_key, survivor_id, values, conn=conn, access=access, actor_id=actor_id,
                       reason=Reason(f"merged {', '.join(f'#{i}' for i in other_ids)} into this record"
                                     + (f": {reason}" if reason else ""), "merged_here",
                                     ids=", ".join(f"#{i}" for i in other_ids), comment=reason or None))
        survivor = svc.get(entity_key, survivor_id, conn=conn, access=access)
    return {**survivor, "_merge": {"merged": other_ids, "repointed": repointed}}


def _read_all(svc, conn, entity_key: str, ids: list[int], access: Access) -> list[dict]:
    """The records as the user reads them; one they may not read is named like one that does not exist."""
    found, problems = [], []
    for n, record_id in enumerate(ids):
        try:
            found.append(svc.get(entity_key, record_id, conn=conn, access=access))
        except NotFound:
            where = "survivor" if n == 0 else f"others.{n - 1}"
            problems.append(error(where, "not_found", f"there is no {entity_key} record with id {record_id}",
                                  record=record_id))
    if problems:
        raise Invalid(problems)
    return found


def _check_rights(access: Access, entity_key: str, model, survivor: dict, others: list[dict]) -> None:
    problems = []
    if not access.allows("update", entity_key, survivor, model):
        problems.append(error("survivor", "forbidden", f"you may not change {entity_key} #{survivor['id']}, "
                                                       "so it cannot take in other records", record=survivor["id"]))
    for n, other in enumerate(others):
        if not access.allows("delete", entity_key, other, model):
            problems.append(error(f"others.{n}", "forbidden", f"you may not delete {entity_key} #{other['id']}, "
                                                              "so it cannot be merged away", record=other["id"]))
    if problems:
        raise Forbidden(problems)


def _chosen_values(entity, records: list[dict], choices: dict[str, int], access: Access, model) -> dict:
    """What the survivor is updated with: the chosen values that differ from its own, and united tags."""
    survivor = records[0]
    by_id = {r["id"]: r for r in records}
    problems, values = [], {}
    for key, chosen in choices.items():
        field = entity.field_map.get(key)
        if field is None:
            problems.append(error(f"choices.{key}", "unknown_field", f"no field '{key}'"))
        elif REGISTRY[field["type"]].computed:
            problems.append(error(f"choices.{key}", "readOnly", f"'{key}' is computed: the merged record's "
                                                                f"value follows from its data"))
        elif REGISTRY[field["type"]].unites(field):
            problems.append(error(f"choices.{key}", "united", "the tags of every merged record are kept; "
                                                              "there is no value to choose"))
        elif not access.can_read_field(entity.key, key, model):
            problems.append(error(f"choices.{key}", "forbidden", f"you may not read or write '{key}'"))
        elif chosen != survivor["id"] and by_id[chosen].get(key) != survivor.get(key):
            values[key] = by_id[chosen].get(key)
    if problems:
        raise Invalid(problems)
    for field in entity.fields:
        ftype = REGISTRY[field["type"]]
        key = field["key"]
        if ftype.unites(field) and access.can_write_field(entity.key, key, model):
            united = ftype.unite(field, [r.get(key) for r in records])
            if not ftype.same_value(field, united, survivor.get(key)):
                values[key] = united
    return values


def _repoint(svc, conn, model, entity_key: str, survivor_id: int, other_ids: list[int], actor_id) -> dict:
    """Refer every live record that refers to one of ``other_ids`` to the survivor instead."""
    counts: dict[str, int] = {}
    for other, field in model.referencing(entity_key):
        t, key = other.table, field["key"]
        live = sa.select(t.c.id, t.c[key]).where(t.c[key].in_(other_ids), t.c.archived_at.is_(None)).order_by(t.c.id)
        rows = conn.execute(live).all()
        if not rows:
            continue
        if other.archived:
            raise Conflict([error(None, "referenced", f"{len(rows)} {other.key} records (an archived entity) refer to "
                                                      f"these records through '{key}'; restore the entity first")])
        for record_id, old in rows:
            try:
                svc.update(other.key, record_id, {key: survivor_id}, conn=conn, access=SYSTEM, actor_id=actor_id,
                           reason=Reason(f"{entity_key} #{old} was merged into #{survivor_id}", "merged_reference",
                                         entity=entity_key, old=old, survivor=survivor_id))
            except CrmError as exc:  # e.g. a pipeline or a unique rule of the referring record
                raise Conflict([{**e, "message": f"{other.key} #{record_id} cannot refer to #{survivor_id}: {e['message']}"}
                                for e in exc.errors]) from None
        counts[f"{other.key}.{key}"] = len(rows)
    return counts
