"""Global search: every searchable value of every record in one index, kept by the writes.

``crm_search`` holds one row per (record, searchable field) with the value folded for matching
(``FieldType.search_text``: text width- and case-folded, phones as national digits). An after-write
hook keeps it current; rights and the recycle bin are never copied into it: a search joins each
entity's own table and applies the reader's ``Access.readable_clause``, so a search finds exactly
what the reader's lists would show, and a field hidden from the reader is never matched.

Substring matching is indexed: SQLite runs an FTS5 trigram query (``crm_search_fts``, kept in step by
triggers) for needles of three characters or more, PostgreSQL a pg_trgm GIN index behind LIKE; a
shorter needle (two Chinese characters, "张三") falls back to LIKE over the index table.
bench/bench_search.py measures both.

A write indexes what it wrote in its own transaction, unless its batch holds more than
``INLINE_LIMIT`` records (a bulk create, an import's batch): folding and indexing every value made
``create_many`` four times slower (bench/bench_create_records.py), so such a batch only marks its
records in ``crm_search_pending``, in the same transaction (nothing is lost if the process dies).
The worker indexes them within the minute (``drain``, a periodic job), and a search drains what is
still pending before it runs, so a search never misses a committed record.
"""
from __future__ import annotations

import re
from typing import Callable

import sqlalchemy as sa

from ..db import writing
from ..match_keys import phone_digits, text_key
from ..metadata.field_types import REGISTRY
from ..metadata.keys import table_name
from ..tables import search_index as S, search_pending as P
from .access import Access
from .compiled import CompiledEntity, CompiledModel

#: What a typed phone number may contain; a query of this shape is also searched as digits.
PHONE_LIKE = re.compile(r"^[0-9\s()+\-./]+$")
#: Results per entity unless the caller asks for fewer or more (at most MAX_LIMIT).
LIMIT = 10
MAX_LIMIT = 50
MAX_QUERY = 100
CHUNK = 500
#: A batch writing more records than this leaves their indexing to ``drain``.
INLINE_LIMIT = 200
#: Records ``drain`` indexes per transaction.
DRAIN_BATCH = 5000


def searched_fields(entity: CompiledEntity) -> list[dict]:
    # a virtual field (a formula computed when read) has no stored value to index
    return [f for f in entity.fields if REGISTRY[f["type"]].searchable and not getattr(REGISTRY[f["type"]], "virtual", False)]


def index_rows(entity: CompiledEntity, records, keys: set[str] | None = None) -> list[dict]:
    """The index rows of ``records`` (stored values, as hooks see them), only of ``keys`` when given."""
    fields = [f for f in searched_fields(entity) if keys is None or f["key"] in keys]
    rows = []
    for record in records:
        for f in fields:
            text = REGISTRY[f["type"]].search_text(f, record.get(f["key"]))
            if text:
                rows.append({"entity": entity.key, "record_id": record["id"], "field": f["key"], "text": text})
    return rows


def after_write(conn: sa.Connection, batch) -> None:
    """Index what a batch wrote: new records whole, updated records' changed searchable fields.

    Deletes and restores change nothing here: a record in the recycle bin is left out by the join
    with its table (``archived_at``), and comes back with its rows on restore.
    """
    entity = batch.entity
    if batch.op == "create":
        written, keys = list(batch), None
    elif batch.op == "update":
        searched = {f["key"] for f in searched_fields(entity)}
        written = [w for w in batch if searched.intersection(w.changes)]
        if not written:
            return
        keys = set().union(*(searched.intersection(w.changes) for w in written))
    else:
        return
    ids = [w.id for w in written]
    if len(ids) > INLINE_LIMIT:
        _mark_pending(conn, entity.key, ids)
        return
    if keys is not None:
        for start in range(0, len(ids), CHUNK):
            conn.execute(S.delete().where(S.c.entity == entity.key, S.c.record_id.in_(ids[start:start + CHUNK]),
                                          S.c.field.in_(sorted(keys))))
    rows = index_rows(entity, [w.after for w in written], keys)
    if rows:
        conn.execute(S.insert(), rows)


def _mark_pending(conn: sa.Connection, entity_key: str, ids: list[int]) -> None:
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        conn.execute(P.delete().where(P.c.entity == entity_key, P.c.record_id.in_(chunk)))
        conn.execute(P.insert(), [{"entity": entity_key, "record_id": i} for i in chunk])


def has_pending(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(P.c.record_id).limit(1)).first() is not None


def index_pending(conn: sa.Connection, model: CompiledModel, limit: int = DRAIN_BATCH) -> int:
    """Index up to ``limit`` pending records whole, in the caller's (write) transaction; how many.
    A record of an entity no longer active is only taken off the list."""
    pending = conn.execute(sa.select(P.c.entity, P.c.record_id).order_by(P.c.entity, P.c.record_id)
                           .limit(limit)).all()
    by_entity: dict[str, list[int]] = {}
    for key, record_id in pending:
        by_entity.setdefault(key, []).append(record_id)
    for key, ids in by_entity.items():
        entity = model.entities.get(key)
        fields = searched_fields(entity) if entity is not None and not entity.archived else []
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            conn.execute(S.delete().where(S.c.entity == key, S.c.record_id.in_(chunk)))
            if fields:
                t = entity.table  # the recycle bin too, as ``rebuild``: a search's join leaves it out
                found = conn.execute(sa.select(t.c.id, *(t.c[f["key"]] for f in fields)).where(t.c.id.in_(chunk)))
                rows = index_rows(entity, [dict(r._mapping) for r in found])
                if rows:
                    conn.execute(S.insert(), rows)
            conn.execute(P.delete().where(P.c.entity == key, P.c.record_id.in_(chunk)))
    return len(pending)


def drain(engine: sa.Engine, runtime) -> int:
    """Index every pending record, ``DRAIN_BATCH`` per write transaction; how many."""
    done = 0
    while True:
        with writing(engine) as conn:
            indexed = index_pending(conn, runtime.current(conn))
        done += indexed
        if indexed < DRAIN_BATCH:
            return done


def rebuild(conn: sa.Connection, model: CompiledModel, entity_keys: list[str] | None = None) -> int:
    """Index every record (recycle bin included) of the given entities, or of all: after an upgrade
    from a release without search, or a field whose type became searchable. Returns rows written."""
    written = 0
    for entity in model.active():
        if entity_keys is not None and entity.key not in entity_keys:
            continue
        conn.execute(S.delete().where(S.c.entity == entity.key))
        conn.execute(P.delete().where(P.c.entity == entity.key))  # indexed whole below
        fields = searched_fields(entity)
        if not fields:
            continue
        t = entity.table
        last = 0
        while True:  # keyset pages: the inserts share the connection, so no server-side cursor stays open
            part = conn.execute(sa.select(t.c.id, *(t.c[f["key"]] for f in fields)).where(t.c.id > last)
                                .order_by(t.c.id).limit(5000)).all()
            if not part:
                break
            last = part[-1].id
            rows = index_rows(entity, [dict(r._mapping) for r in part])
            if rows:
                conn.execute(S.insert(), rows)
                written += len(rows)
    return written


def reindex_field(conn: sa.Connection, entity_key: str, field: dict) -> None:
    """A field's index rows again, after its type changed (the values are now the new type's)."""
    conn.execute(S.delete().where(S.c.entity == entity_key, S.c.field == field["key"]))
    ftype = REGISTRY[field["type"]]
    if not ftype.searchable:
        return
    t = sa.table(table_name(entity_key), sa.column("id"), sa.column(field["key"]))
    last = 0
    while True:
        part = conn.execute(sa.select(t.c.id, t.c[field["key"]]).where(t.c.id > last, t.c[field["key"]].is_not(None))
                            .order_by(t.c.id).limit(5000)).all()
        if not part:
            break
        last = part[-1][0]
        rows = [{"entity": entity_key, "record_id": rid, "field": field["key"], "text": text}
                for rid, value in part if (text := ftype.search_text(field, value))]
        if rows:
            conn.execute(S.insert(), rows)


def rename_field(conn: sa.Connection, entity_key: str, old_key: str, new_key: str) -> None:
    conn.execute(S.update().where(S.c.entity == entity_key, S.c.field == old_key).values(field=new_key))


def needles(query: str) -> list[str]:
    """The folded forms a query is searched as: its text, and for something typed like a phone
    number its national digits and its bare digits ("+86 155-1565" → "1551565")."""
    out = []
    text = text_key(query[:MAX_QUERY])
    if text:
        out.append(text)
    raw = query.strip()
    if PHONE_LIKE.match(raw) and sum(ch.isdigit() for ch in raw) >= 3:
        digits = "".join(ch for ch in raw if ch.isdigit())
        if raw.startswith("+86"):
            digits = digits[2:]
        elif digits.startswith("0086"):
            digits = digits[4:]
        for candidate in (phone_digits(raw), digits):
            if candidate and candidate not in out:
                out.append(candidate)
    return out


def _like(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_FTS: dict[str, bool] = {}


def _has_fts(conn: sa.Connection) -> bool:
    key = str(conn.engine.url)
    if key not in _FTS:
        _FTS[key] = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'crm_search_fts'").first() is not None
    return _FTS[key]


def match_clause(conn: sa.Connection, found: list[str]):
    """The WHERE clause of ``crm_search`` rows matching any needle, through the dialect's index."""
    if conn.dialect.name == "sqlite" and all(len(n) >= 3 for n in found) and _has_fts(conn):
        phrase = " OR ".join('"' + n.replace('"', '""') + '"' for n in found)
        fts = sa.text("SELECT rowid FROM crm_search_fts WHERE crm_search_fts MATCH :phrase").bindparams(phrase=phrase)
        return S.c.id.in_(fts)
    return sa.or_(*(S.c.text.like(_like(n), escape="\\") for n in found))


def search(conn: sa.Connection, model: CompiledModel, access: Access, query: str, *,
           title_key: Callable[[dict], str | None], limit: int = LIMIT, entities: list[str] | None = None) -> list[dict]:
    """Records the reader may read matching ``query``, up to ``limit`` per entity, entities in
    model order: ``{"entity", "id", "title", "matches": [{"field", "value"}]}`` (``value`` as stored,
    for the screens to highlight)."""
    found = needles(query)
    if not found:
        return []
    match = match_clause(conn, found)
    results = []
    for entity in model.active():
        if entities is not None and entity.key not in entities:
            continue
        if not access.can("read", entity.key, model):
            continue
        hidden = access.rights(entity.key, model).hidden
        fields = [f for f in searched_fields(entity) if f["key"] not in hidden]
        if not fields:
            continue
        t = entity.table
        only = access.readable_clause(entity, model)
        where = [S.c.entity == entity.key, S.c.field.in_([f["key"] for f in fields]), t.c.archived_at.is_(None), match]
        if only is not None:
            where.append(only)
        hits = conn.execute(sa.select(S.c.record_id, S.c.field).select_from(S.join(t, t.c.id == S.c.record_id))
                            .where(*where).limit(limit * len(fields))).all()
        matched: dict[int, list[str]] = {}
        for record_id, field in hits:
            if record_id in matched or len(matched) < limit:
                matched.setdefault(record_id, []).append(field)
        if not matched:
            continue
        title = title_key(entity.doc)
        title = title if title and title not in hidden and title in t.c else None
        columns = {f["key"] for f in fields} | ({title} if title else set())
        records = {r.id: r._mapping for r in conn.execute(
            sa.select(t.c.id, *(t.c[k] for k in sorted(columns))).where(t.c.id.in_(list(matched))))}
        for record_id in sorted(matched, reverse=True):  # newest first
            record = records.get(record_id)
            if record is None:
                continue
            value = record[title] if title else None
            results.append({"entity": entity.key, "id": record_id,
                            "title": str(value) if value not in (None, "") else f"#{record_id}",
                            "matches": [{"field": k, "value": record[k]} for k in dict.fromkeys(matched[record_id])]})
    return results
