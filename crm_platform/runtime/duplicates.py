"""*Find duplicates*: groups of records that share the match key of a field.

``by`` names fields whose type is ``matchable``; the type's ``match_key`` decides what "the same"
means (``match_keys``: a phone in E.164, an e-mail case-folded, a name with spacing, width, case,
punctuation and company endings such as 有限公司 / Co., Ltd. ignored). A group is one field and one
key shared by two or more records: a record may be in a phone group and in an e-mail group.

The keys are computed in Python (phonenumbers has no SQL form), so the records are streamed from
the list's own query (``RecordService.stream``: its filters, search and rights, a batch at a time)
and each key is looked up in a dictionary: one pass, memory in proportion to the distinct keys,
never a comparison of every pair. Only records the user may read, by fields they may read, count.
"""
from __future__ import annotations

from ..errors import BadRequest, error
from ..metadata.field_types import REGISTRY
from .access import SYSTEM, Access
from .query import ListQuery

#: The most groups one answer lists (the rest are counted in ``total``).
MAX_GROUPS = 500


def parse_by(raw: str | None, entity) -> list[str]:
    """The fields of ``by=phone,email,name``; 400 naming ``by`` for an unknown or unmatchable one."""
    keys = list(dict.fromkeys(k.strip() for k in (raw or "").split(",") if k.strip()))
    if not keys:
        matchable = [f["key"] for f in entity.fields if REGISTRY[f["type"]].matchable]
        raise BadRequest([error("by", "required", "name the fields to compare, e.g. by=" + ",".join(matchable[:3]))])
    problems = []
    for k in keys:
        field = entity.field_map.get(k)
        if field is None:
            problems.append(error("by", "unknown_field", f"no field '{k}'"))
        elif not REGISTRY[field["type"]].matchable:
            problems.append(error("by", "not_matchable", f"records cannot be compared by '{k}' (a "
                                                         f"{field['type']} field); use a text, phone or e-mail field"))
    if problems:
        raise BadRequest(problems)
    return keys


def find_groups(svc, entity_key: str, by: list[str], query: ListQuery, *, conn, access: Access | None = None,
                limit: int = MAX_GROUPS) -> dict:
    """``{"groups": [{"key", "field", "ids"}], "total": n}``: groups in the order of ``by``, then of
    their first record; ids ascending."""
    access = access or SYSTEM
    model = svc.runtime.current(conn)
    entity = model.entity(entity_key)
    access.check_query_fields(entity, model, by)  # comparing by a hidden field would reveal it (403)
    fields = [(k, entity.field_map[k], REGISTRY[entity.field_map[k]["type"]]) for k in by]
    seen: list[dict] = [{} for _ in fields]  # per field: key -> ids
    for records in svc.stream(entity_key, query, conn=conn, access=access, model=model, columns=by):
        for r in records:
            for n, (key, field, ftype) in enumerate(fields):
                match = ftype.duplicate_key(field, r.get(key))
                if match is not None:
                    seen[n].setdefault(match, []).append(r["id"])
    groups = []
    for n, (key, _, _) in enumerate(fields):
        found = [(sorted(ids), match) for match, ids in seen[n].items() if len(ids) > 1]
        groups.extend({"key": match, "field": key, "ids": ids} for ids, match in sorted(found))
    return {"groups": groups[:limit], "total": len(groups)}
