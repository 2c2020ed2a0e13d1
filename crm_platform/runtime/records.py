"""The record service: the only code that writes to generated tables.

Every write is a **batch** of pending writes (``Write``) that goes through the same stages, in this
order, in one transaction; ``create`` is a batch of one, ``create_many`` a batch of many, and
``update``, ``delete`` and ``restore`` are batches of one record (a cascading delete adds batches of
the records it reaches):

1. **gate** (``_gate``): the caller's right to the operation on the entity, and fields they may
   never write whatever the value (a hidden field; on create, a read-only one) — 403 before any
   value is looked at, so a caller without rights learns nothing about the data.
2. **validate** (``_validate_new`` / ``_validate_change``): each row a JSON object, coerced and
   checked by the entity's compiled validator — 422 naming the field (and the ``row`` in a bulk).
3. **load** (``_load``; update, delete, restore): the stored rows, locked; 404 when missing.
4. **authorise** (``_authorise``): the rights that depend on the record and the values — scope
   ``own`` (404 for a record the caller may not read, 403 otherwise), a read-only field changed,
   a record given to another owner (403).
5. **check stored data** (``_check_stored``): references name live records the caller may read
   and ``owner_id`` names a user (422); on update, the version the caller read (409).
6. **before-write hooks** ``hook(conn, batch)``: may refuse (raise a ``CrmError``) or add to an
   item's ``changes``.
7. **SQL**: one executemany per chunk of a create batch; an UPDATE for the others.
8. **after-write hooks** ``hook(conn, batch)``: rule tags, stage history and follow-ups, and the
   audit trail, registered last (``app.py``).

Hooks always get a batch, whatever path wrote it, so a bulk create is the single create done for
many rows at once. The API, screens, admin data views, imports and public forms all call this
class, each passing the ``Access`` of whoever acts; without one (scripts, hooks) everything is
allowed. docs/architecture.md ("Two choke points") describes the stages and how to add a hook.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..errors import Conflict, CrmError, Forbidden, Invalid, NotFound, error
from ..metadata.field_types import REGISTRY
from ..metadata.keys import table_name
from ..tables import users
from .reasons import Reason
from .access import SYSTEM, Access
from .compiled import CompiledEntity, CompiledModel, Runtime
from .fast_insert import insert_rows
from .query import ListQuery, all_rows_statement, list_statements, pages

#: Ids bound per statement: SQLite's old limit is 999 parameters.
CHUNK = 900
#: At most this many errors are reported for one batch.
MAX_ERRORS = 1000
#: The largest id a record can have (BIGINT).
MAX_ID = 2**63 - 1


@dataclass(slots=True)
class Write:
    """One record of a batch, as the hooks see it.

    ``before`` and ``after`` are the stored record (column values as Python values, link-stored
    fields such as tags as lists, bookkeeping columns included) before and after the write:
    ``before`` is None on create, ``after`` None on delete; on restore ``before`` is the record as
    it lay in the recycle bin. ``changes`` are the validated values being written: every field on
    create, the fields sent (and ``owner_id`` when it changes hands) on update, nothing on delete
    and restore. ``row`` is the record's position in the caller's list (bulk writes), None for a
    single write; errors about the record carry it (``Write.refuse``).
    """

    batch: Batch
    row: int | None
    id: int | None
    before: dict | None
    changes: dict
    system: dict | None = None  # system values sent (owner_id, version)
    after: dict | None = None

    @property
    def entity(self) -> CompiledEntity:
        return self.batch.entity

    @property
    def op(self) -> str:
        return self.batch.op

    @property
    def actor_id(self) -> int | None:
        return self.batch.actor_id

    @property
    def reason(self) -> str | None:
        return self.batch.reason

    def located(self, errors: list[dict]) -> list[dict]:
        """``errors`` about this record, each naming its ``row`` when it came in a bulk write."""
        return _located(self.row, errors)


@dataclass(slots=True)
class Batch:
    """Writes of one operation (create, update, delete, restore) on records of one entity, by one
    actor for one reason: what every stage and hook works on."""

    model: CompiledModel
    entity: CompiledEntity
    op: str
    actor_id: int | None
    reason: str | None
    items: list[Write] = field(default_factory=list)

    def __iter__(self) -> Iterator[Write]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def part(self, start: int, stop: int) -> Batch:
        """The same batch limited to ``items[start:stop]`` (a chunk of a large bulk create)."""
        return Batch(self.model, self.entity, self.op, self.actor_id, self.reason, self.items[start:stop])


#: A before- or after-write hook.
Hook = Callable[[sa.Connection, Batch], None]


def _located(row: int | None, errors: list[dict]) -> list[dict]:
    if row is not None:
        for e in errors:
            e["row"] = row
    return errors


def _chunks(ids: list) -> Iterator[list]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


class RecordService:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.engine = runtime.engine
        #: ``hook(conn, batch)`` before the SQL of every write batch, in order (``app.py``).
        self.before_write: list[Hook] = []
        #: ``hook(conn, batch)`` after the SQL of every write batch, in order (``app.py``).
        self.after_write: list[Hook] = []

    # ---- helpers --------------------------------------------------------------------------------
    def _model(self, conn) -> CompiledModel:
        return self.runtime.current(conn)

    def _dump(self, entity: CompiledEntity, row, conn=None) -> dict:
        record = entity.dumper.one(row)
        if conn is not None and entity.link_tables:
            self._attach_linked(conn, entity, [record])
        return record

    def dump_rows(self, conn, entity: CompiledEntity, rows) -> list[dict]:
        """Rows selected with ``entity.columns`` as the API shows records (tags and other linked
        values included), without any rights applied: for callers that decided who may see them."""
        return self._attach_linked(conn, entity, [entity.dumper.one(row) for row in rows]) if rows else []

    def _check_references(self, conn, model: CompiledModel, entity: CompiledEntity, rows: list[dict],
                          errors: list[dict], index_of=None, access: Access = SYSTEM) -> None:
        """Each reference names a live record that ``access`` may read; one it may not read is
        refused exactly like one that does not exist, so ids cannot be probed or linked blindly."""
        for key, target in entity.references.items():
            wanted = {r[key] for r in rows if r.get(key) is not None}
            if not wanted:
                continue
            t = model.entities[target].table
            readable = access.readable_clause(model.entities[target], model)
            found = set()
            for chunk in _chunks(sorted(wanted)):
                q = sa.select(t.c.id).where(t.c.id.in_(chunk), t.c.archived_at.is_(None))
                found.update(conn.execute(q if readable is None else q.where(readable)).scalars())
            for n, r in enumerate(rows):
                if r.get(key) is not None and r[key] not in found:
                    e = error(key, "reference", f"there is no {target} record with id {r[key]}")
                    errors.extend(_located(index_of(n) if index_of else None, [e]))

    @staticmethod
    def _check_owners(conn, sent: list[tuple[int | None, int]], errors: list[dict]) -> None:
        """Each ``owner_id`` sent, as (row, user id), must name a user: 422 naming owner_id otherwise.

        owner_id is no foreign key (users live in the platform's own table), so it is checked here.
        """
        found = set()
        for chunk in _chunks(sorted({owner for _, owner in sent})):
            found.update(conn.execute(sa.select(users.c.id).where(users.c.id.in_(chunk))).scalars())
        for row, owner in sent:
            if owner not in found:
                errors.extend(_located(row, [error("owner_id", "reference", f"there is no user with id {owner}")]))

    def _unique_clash(self, conn, entity: CompiledEntity, values: dict, record_id: int | None) -> Conflict:
        t = entity.table
        clashes = []
        for f in entity.fields:
            if f.get("unique") and values.get(f["key"]) is not None:
                q = sa.select(t.c.id).where(t.c[f["key"]] == values[f["key"]], t.c.archived_at.is_(None))
                if record_id is not None:
                    q = q.where(t.c.id != record_id)
                other = conn.execute(q.limit(1)).scalar()
                if other is not None:
                    clashes.append(error(f["key"], "unique", f"another record (id {other}) has this value", record=other))
        return Conflict(clashes or [error(None, "conflict", "the change conflicts with stored data")])

    # ---- values kept outside the main table (tags) ------------------------------------------
    @staticmethod
    def _split_linked(entity: CompiledEntity, values: dict) -> dict:
        """Take the values of link-stored fields out of ``values`` (they are not columns)."""
        return {k: values.pop(k) for k in list(values) if k in entity.link_tables}

    @staticmethod
    def _write_linked(conn, entity: CompiledEntity, record_id: int, linked: dict) -> None:
        for key, value in linked.items():
            REGISTRY[entity.field_map[key]["type"]].write_links(conn, entity.link_tables[key], entity.field_map[key],
                                                               record_id, value)

    @staticmethod
    def _attach_linked(conn, entity: CompiledEntity, records: list[dict]) -> list[dict]:
        return entity.links.attach(conn, records)

    # ---- reads ----------------------------------------------------------------------------------
    def get(self, entity_key: str, record_id: int, *, conn=None, access: Access | None = None) -> dict:
        access = access or SYSTEM
        with self._conn(conn) as c:
            if conn is None:  # our own connection: the fast path may roll it back
                record = self._get_fast(c, entity_key, record_id)
                if record is not None:
                    model = self.runtime.cached
                    return record if access is SYSTEM else access.readable(model.entities[entity_key], model, record)
            model = self._model(c)
            entity = model.entity(entity_key)
            access.require("read", entity, model)
            row = c.execute(entity.get_statement, {"record_id": record_id}).first()
            if row is None:
                raise NotFound([error(None, "not_found", f"no {entity_key} record with id {record_id}")])
            return access.readable(entity, model, self._dump(entity, row, c))

    def visible(self, conn, entity_key: str, record_id: int, access: Access | None = None):
        """(model, entity) of a record ``access`` may read, live or in the recycle bin; 404 otherwise.

        For endpoints about a record (its history, its stage moves) that must not reveal records
        the user may not see.
        """
        access = access or SYSTEM
        model = self._model(conn)
        entity = model.entity(entity_key)
        access.require("read", entity, model)
        t = entity.table
        row = None if record_id > 2**63 - 1 else conn.execute(sa.select(t.c.owner_id).where(t.c.id == record_id)).first()
        if row is None or not access.allows("read", entity_key, {"owner_id": row.owner_id}, model):
            raise NotFound([error(None, "not_found", f"no {entity_key} record with id {record_id}")])
        return model, entity

    def _get_fast(self, c, entity_key: str, record_id: int) -> dict | None:
        """One round trip instead of two: read the revision together with the record.

        Answers only when this process's compiled model is at the revision read in the same
        statement, which is exactly the model ``get`` would use; anything else (no model yet, a
        stale model, an unknown entity, no such record, an error because another process changed
        the table under a stale model) returns None and ``get`` takes the ordinary path, which
        raises any error that is real.
        """
        model = self.runtime.cached
        entity = model.entities.get(entity_key) if model is not None else None
        if entity is None or entity.archived:
            return None
        try:
            row = c.execute(entity.get_with_revision_statement, {"record_id": record_id}).first()
        except Exception:  # noqa: BLE001 - e.g. a stale model's column or result type; the ordinary path decides
            c.rollback()  # PostgreSQL refuses further statements in a failed transaction
            return None
        if row is None or row[0] != model.revision:
            return None
        return self._dump(entity, row, c)

    def list(self, entity_key: str, query: ListQuery | None = None, *, conn=None, access: Access | None = None,
             model: CompiledModel | None = None, fields: list[str] | None = None) -> dict:
        """A page of records and the total, both limited to what ``access`` may read.

        ``model``: the model the caller already read on ``conn`` (it parsed the query with it),
        which spares a second revision check. ``fields``: only these fields (and the id, owner and
        version) for a reader that shows no more, such as a list screen.
        """
        query = query or ListQuery()
        access = access or SYSTEM
        with self._conn(conn) as c:
            model = model if model is not None and conn is not None else self._model(c)
            entity = model.entity(entity_key)
            only, hidden = self._reading_scope(access, entity, model, query)
            fields = None if fields is None else tuple(fields)
            rows_q, count_q = list_statements(entity, query, c.dialect.name, fields, conn=c, only=only, hidden=hidden)
            total = c.execute(count_q).scalar_one()
            exact = query.count_limit is None or total <= query.count_limit
            total = total if exact else query.count_limit
            items = entity.dumper.many(c.execute(rows_q))
            if fields is None or any(k in entity.link_tables for k in fields):
                items = self._attach_linked(c, entity, items)
            if hidden:
                items = [access.redact(entity, model, r) for r in items]
        return {"items": items, "total": total, "total_exact": exact, "page": query.page, "per_page": query.per_page,
                "pages": pages(total, query.per_page)}

    @staticmethod
    def _reading_scope(access: Access, entity: CompiledEntity, model: CompiledModel, query: ListQuery):
        """(readable-records clause, hidden fields) of a list, refusing filters and sorts by hidden fields."""
        only = access.read_clause(entity, model)
        hidden = access.rights(entity.key, model).hidden
        access.check_query_fields(entity, model, [f.field["key"] for f in query.filters] + [k for k, _ in query.sort])
        return only, hidden

    def check_listing(self, entity_key: str, query: ListQuery, *, conn, access: Access | None = None,
                      model: CompiledModel | None = None) -> None:
        """Raise what ``list``/``stream`` would refuse (403), before a streamed answer has begun."""
        model = model or self._model(conn)
        self._reading_scope(access or SYSTEM, model.entity(entity_key), model, query)

    def stream(self, entity_key: str, query: ListQuery, *, conn, access: Access | None = None,
               model: CompiledModel | None = None, batch: int = 1000, columns: list[str] | None = None):
        """Every record of a list (no page), as ``list`` would answer them, in batches of ``batch``
        records: a generator of lists, reading through a server-side cursor so that a million rows
        never sit in memory. ``conn`` must stay open while the generator runs. ``columns``: only these
        fields (and the id and owner), for a reader that needs no more."""
        access = access or SYSTEM
        model = model or self._model(conn)
        entity = model.entity(entity_key)
        only, hidden = self._reading_scope(access, entity, model, query)
        links = columns is None or any(k in entity.link_tables for k in columns)
        selected = None if columns is None else entity.selection(columns)
        statement = all_rows_statement(entity, query, conn.dialect.name, columns=selected, conn=conn, only=only,
                                       hidden=hidden)
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(statement)
        dump = entity.dumper.plan(tuple(result.keys()))
        try:
            for part in result.partitions():
                items = [dump(row) for row in part]
                if links:  # tags, per batch, on a second cursor of the same connection
                    items = self._attach_linked(conn, entity, items)
                if hidden:
                    items = [access.redact(entity, model, r) for r in items]
                yield items
        finally:
            result.close()

    # ---- writes ---------------------------------------------------------------------------------
    def create(self, entity_key: str, data: dict, *, actor_id: int | None = None, reason: str | None = None,
               conn: sa.Connection | None = None, access: Access | None = None) -> dict:
        """Create a record. With ``conn``, inside the caller's transaction (follow-ups, imports).

        The creator owns the record unless ``owner_id`` names another owner, which needs the right
        to create records for anyone.
        """
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            batch = self._batch(conn, entity_key, "create", actor_id, reason)
            self._create(conn, batch, [data], access, single=True)
            entity = batch.entity
            record = self._dump(entity, conn.execute(entity.get_statement, {"record_id": batch.items[0].id}).first(),
                                conn)  # read after the hooks: rule tags included
        return self._as_seen(access, entity, batch.model, record)

    def create_many(self, entity_key: str, rows: Iterable[dict], *, actor_id: int | None = None,
                    reason: str | None = None, batch_size: int = 5000, access: Access | None = None,
                    conn: sa.Connection | None = None, created_ids: list[int] | None = None) -> int:
        """Create many records: the stages of ``create`` for all rows at once; all or nothing.

        Every row is validated and checked, and the before-write hooks see the whole batch, before
        anything is written; then the rows are inserted ``batch_size`` at a time with the driver's
        executemany (``fast_insert``), each chunk followed by the after-write hooks. With ``conn``, inside the caller's transaction (sample data of a bundle, imports);
        ``created_ids``, when given, receives the new records' ids in the order of ``rows``.
        Errors carry ``row`` (0-based position in ``rows``).
        """
        rows = list(rows)
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            batch = self._batch(conn, entity_key, "create", actor_id, reason)
            self._create(conn, batch, rows, access, single=False, batch_size=batch_size, created_ids=created_ids)
        return len(batch)

    def update(self, entity_key: str, record_id: int, data: dict, *, expected_version: int | None = None,
               actor_id: int | None = None, reason: str | None = None, conn: sa.Connection | None = None,
               access: Access | None = None) -> dict:
        """Change the fields sent. ``expected_version`` (or ``version`` in ``data``): 409 when the
        record has moved on since. A change that changes nothing writes nothing and runs no hook."""
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            batch = self._batch(conn, entity_key, "update", actor_id, reason)
            entity, model = batch.entity, batch.model
            self._gate(batch, access, [data])
            item = self._validate_change(batch, record_id, data)
            self._load(conn, batch, archived=False)
            self._authorise(conn, batch, access, sent=data)
            self._check_stored(conn, batch, access)
            expected = item.system.get("version", expected_version)
            if expected is not None and expected != item.before["version"]:
                current = self._dump(entity, conn.execute(entity.get_statement, {"record_id": record_id}).first(), conn)
                raise Conflict([error("version", "stale", f"the record was changed by someone else (now version "
                                                          f"{item.before['version']}, you sent {expected}); reload it")],
                               extra={"current": current})
            if "owner_id" in item.system and item.system["owner_id"] != item.before["owner_id"]:
                item.changes["owner_id"] = item.system["owner_id"]  # handed over: audited like a field
            elif self._changes_nothing(entity, item):
                row = conn.execute(entity.get_statement, {"record_id": record_id}).first()
                return self._as_seen(access, entity, model, self._dump(entity, row, conn))
            self._run_before(conn, batch)
            if not item.changes:  # a before-write hook took every change (a stage move held for approval)
                row = conn.execute(entity.get_statement, {"record_id": record_id}).first()
                return self._as_seen(access, entity, model, self._dump(entity, row, conn))
            row = self._apply_update(conn, batch)
            self._run_after(conn, batch)
            record = self._dump(entity, row, conn)  # links read after the hooks: rule tags included
        return self._as_seen(access, entity, model, record)

    def delete(self, entity_key: str, record_id: int, *, actor_id: int | None = None, reason: str | None = None,
               access: Access | None = None, conn: sa.Connection | None = None) -> None:
        """Move a record to the recycle bin, applying each reference field's ``on_delete`` rule.

        Rights are checked on this record; the ``on_delete`` rules then apply as defined, to
        records the user may not see as well (the design, not the user, chose them).
        """
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            batch = self._batch(conn, entity_key, "delete", actor_id, reason)
            batch.items.append(Write(batch, None, record_id, None, {}))
            self._gate(batch, access, [])
            self._load(conn, batch, archived=False)
            self._authorise(conn, batch, access)
            self._delete(conn, batch, depth=0)

    def restore(self, entity_key: str, record_id: int, *, actor_id: int | None = None, reason: str | None = None,
                access: Access | None = None, conn: sa.Connection | None = None) -> dict:
        """Bring a record back from the recycle bin (the right to delete is the right to restore)."""
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            batch = self._batch(conn, entity_key, "restore", actor_id, reason)
            entity, model = batch.entity, batch.model
            batch.items.append(Write(batch, None, record_id, None, {}))
            self._gate(batch, access, [])
            self._load(conn, batch, archived=True)
            self._authorise(conn, batch, access)
            self._run_before(conn, batch)
            t, item = entity.table, batch.items[0]
            try:
                with conn.begin_nested():
                    row = conn.execute(t.update().where(t.c.id == record_id).values(
                        archived_at=None, updated_at=utcnow(), updated_by=actor_id, version=t.c.version + 1)
                        .returning(*entity.columns)).first()
            except IntegrityError:
                raise self._unique_clash(conn, entity, item.before, record_id) from None
            item.after = self._attach_linked(conn, entity, [dict(row._mapping)])[0]
            self._run_after(conn, batch)
            record = self._dump(entity, row, conn)
        return self._as_seen(access, entity, model, record)

    # ---- the stages -----------------------------------------------------------------------------
    def _batch(self, conn, entity_key: str, op: str, actor_id, reason) -> Batch:
        model = self._model(conn)
        return Batch(model, model.entity(entity_key), op, actor_id, reason)

    def _create(self, conn, batch: Batch, rows: list, access: Access, *, single: bool, batch_size: int = 5000,
                created_ids: list[int] | None = None) -> None:
        """Every stage of a create batch; ``single``: errors name no row, a unique clash names the field."""
        self._gate(batch, access, rows, single)
        self._validate_new(batch, rows, single, self._computed_defaults(conn, batch))
        self._authorise(conn, batch, access)
        self._check_stored(conn, batch, access)
        self._run_before(conn, batch)
        for start in range(0, len(batch), batch_size):
            part = batch if len(batch) <= batch_size else batch.part(start, start + batch_size)
            self._insert(conn, part)
            if created_ids is not None:
                created_ids.extend(w.id for w in part)
            self._run_after(conn, part)

    @staticmethod
    def _gate(batch: Batch, access: Access, rows: list, single: bool = True) -> None:
        """Stage 1: refuse what the caller may not do whatever the values: the operation on the
        entity (restore needs the right to delete), a field they may not read, and on create a
        field they may not write (a read-only field sent with its current value passes an update,
        so that is judged in ``_authorise``)."""
        if access is SYSTEM:
            return
        op = "delete" if batch.op == "restore" else batch.op
        rights = access.require(op, batch.entity, batch.model)
        never = rights.readonly if op == "create" else rights.hidden
        if not never or op not in ("create", "update"):
            return
        for n, data in enumerate(rows):
            if isinstance(data, dict) and any(k in never for k in data):
                try:
                    access.check_writable(batch.entity, batch.model, [k for k in data if k in never])
                except CrmError as exc:
                    _located(None if single else n, exc.errors)
                    raise

    @staticmethod
    def _computed_defaults(conn, batch: Batch) -> dict | None:
        """The entity's computed defaults (``now``, ``today+N`` as the UTC day, ``current_user``: the
        actor's name) at this write, once per batch; None when it has none."""
        validator = batch.entity.validator
        if not validator.computed:
            return None
        name = None
        if batch.actor_id is not None:
            name = conn.execute(sa.select(users.c.username).where(users.c.id == batch.actor_id)).scalar()
        return validator.computed_defaults((), utcnow(), name)

    def _validate_new(self, batch: Batch, rows: list, single: bool, filled: dict | None = None) -> None:
        """Stage 2 of a create: each row a JSON object that the compiled validator accepts (the
        fields left out with a computed default get ``filled``'s value)."""
        validate = functools.partial(batch.entity.validator.validate, filled=filled)
        items, errors = batch.items, []
        for n, data in enumerate(rows):
            row = None if single else n
            if not isinstance(data, dict):
                errors.extend(_located(row, [error(None, "type", "a record must be a JSON object")]))
                continue
            values, system, errs = validate(data)
            if errs:
                errors.extend(_located(row, errs))
                if len(errors) > MAX_ERRORS:
                    break
                continue
            items.append(Write(batch, row, None, None, values, system))
        if errors:
            raise Invalid(errors[:MAX_ERRORS])

    @staticmethod
    def _validate_change(batch: Batch, record_id: int, data) -> Write:
        """Stage 2 of an update: the fields sent, checked by the compiled validator (nothing required)."""
        if not isinstance(data, dict):
            raise Invalid([error(None, "type", "a record must be a JSON object")])
        values, system, errors = batch.entity.validator.validate(data, partial=True)
        if errors:
            raise Invalid(errors)
        item = Write(batch, None, record_id, None, values, system)
        batch.items.append(item)
        return item

    def _load(self, conn, batch: Batch, *, archived: bool) -> None:
        """Stage 3: each item's stored record (``before``), locked until the transaction ends; 404
        when there is none (live, or in the recycle bin for a restore)."""
        entity, t = batch.entity, batch.entity.table
        where = t.c.archived_at.is_not(None) if archived else t.c.archived_at.is_(None)
        found = {}
        for chunk in _chunks([w.id for w in batch if w.id <= MAX_ID]):  # a larger id cannot be stored
            rows = conn.execute(sa.select(*entity.columns).where(t.c.id.in_(chunk), where).with_for_update())
            found.update((r.id, dict(r._mapping)) for r in rows)
        for w in batch:
            if w.id not in found:
                where_to = " in the recycle bin" if archived else ""
                raise NotFound([error(None, "not_found", f"no {entity.key} record with id {w.id}{where_to}")])
            w.before = found[w.id]
        if entity.link_tables:
            self._attach_linked(conn, entity, [w.before for w in batch])

    def _authorise(self, conn, batch: Batch, access: Access, sent: dict | None = None) -> None:
        """Stage 4: the rights that depend on the record or on the values.

        A record the caller may not read is answered 404 (its id cannot be probed), one they may
        read but not change 403; on update a read-only field may come back with its stored value
        (a form posts every field it shows); handing a record to another owner needs scope ``all``.
        """
        if access is SYSTEM:
            return
        entity, model, op = batch.entity, batch.model, batch.op
        for w in batch:
            try:
                if op == "create":
                    if "owner_id" in w.system:
                        access.check_owner("create", entity, model, w.system["owner_id"], batch.actor_id)
                    continue
                right = "delete" if op == "restore" else op
                owner = {"owner_id": w.before["owner_id"]}
                if not access.allows("read", entity.key, owner, model):
                    raise NotFound([error(None, "not_found", f"no {entity.key} record with id {w.id}")])
                if not access.allows(right, entity.key, owner, model):
                    verb = "change" if op == "update" else right
                    raise Forbidden([error(None, "forbidden", f"you may only {verb} your own {entity.key} records")])
                if op == "update":
                    access.check_writable(entity, model, [k for k in sent if k in entity.field_map], w.before,
                                          w.changes)
                    if "owner_id" in w.system:
                        access.check_owner("update", entity, model, w.system["owner_id"], w.before["owner_id"])
            except CrmError as exc:
                w.located(exc.errors)
                raise

    def _check_stored(self, conn, batch: Batch, access: Access) -> None:
        """Stage 5: references name live records the caller may read, and an ``owner_id`` sent
        names a user. On update only a changed reference is checked: a form may post back a link
        an administrator made to a record its user cannot see."""
        entity, errors = batch.entity, []
        if entity.references:
            if batch.op == "update":
                checked = [{k: v for k, v in w.changes.items() if k in entity.references and v != w.before.get(k)}
                           for w in batch]
            else:
                checked = [w.changes for w in batch]
            self._check_references(conn, batch.model, entity, checked, errors,
                                   index_of=lambda n: batch.items[n].row, access=access)
        owners = [(w.row, w.system["owner_id"]) for w in batch if w.system and w.system.get("owner_id") is not None]
        if not errors and owners:
            self._check_owners(conn, owners, errors)
        if errors:
            raise Invalid(errors[:MAX_ERRORS])

    def _run_before(self, conn, batch: Batch) -> None:
        """Stage 6."""
        for hook in self.before_write:
            hook(conn, batch)

    def _insert(self, conn, batch: Batch) -> None:
        """Stage 7 of a create: the rows in one executemany, their tags, and each item's ``after``."""
        entity, actor = batch.entity, batch.actor_id
        keys = entity.stored_keys
        link_keys = tuple(entity.link_tables)
        # The bookkeeping every new record of the batch shares; owner_id is each record's own.
        now = utcnow()
        shared = {"created_at": now, "updated_at": now, "created_by": actor, "updated_by": actor, "version": 1}
        rows, linked = [], []
        initial = entity.computed_initial
        for w in batch:
            row = dict.fromkeys(keys)
            if initial:  # computed fields no write may send; a before-write hook may have set them
                row.update(initial)
            row.update(w.changes)
            if link_keys:
                linked.append({k: row.pop(k) for k in link_keys})
            row.update(shared)
            row["owner_id"] = w.system.get("owner_id", actor)
            rows.append(row)
        if len(rows) == 1:  # one statement, and a clash named precisely
            try:
                with conn.begin_nested():
                    ids = [conn.execute(entity.table.insert().values(rows[0]).returning(entity.table.c.id)).scalar_one()]
            except IntegrityError:
                clash = self._unique_clash(conn, entity, batch.items[0].changes, None)
                batch.items[0].located(clash.errors)
                raise clash from None
        else:
            own = [k for k in keys if k not in link_keys] + ["owner_id"]
            try:
                ids = self._insert_many(conn, entity.table, own, rows, shared)
            except IntegrityError:
                raise Conflict([error(None, "unique", "some rows repeat a value that must be unique")]) from None
        for w, row, record_id in zip(batch, rows, ids):
            w.id = row["id"] = record_id
            w.after = row
        if entity.expressions:  # formulas: computed by SQL from what was just written
            self._read_formulas(conn, entity, rows)
        if link_keys:
            for key, link in entity.link_tables.items():
                REGISTRY[entity.field_map[key]["type"]].write_new_links(
                    conn, link, entity.field_map[key], [(i, values[key]) for i, values in zip(ids, linked)])
            self._attach_linked(conn, entity, rows)  # as stored: in the taxonomy's order

    @staticmethod
    def _read_formulas(conn, entity: CompiledEntity, rows: list[dict]) -> None:
        t, by_id = entity.table, {row["id"]: row for row in rows}
        exprs = [e.label(k) for k, e in entity.expressions.items()]
        for chunk in _chunks(list(by_id)):
            for found in conn.execute(sa.select(t.c.id, *exprs).where(t.c.id.in_(chunk))):
                by_id[found.id].update({k: found._mapping[k] for k in entity.expressions})

    @staticmethod
    def _insert_many(conn, table: sa.Table, keys: list[str], rows: list[dict], shared: dict) -> list[int]:
        """Insert rows (their ``keys``, and ``shared`` in every row) with one executemany; their
        ids, in the order of ``rows`` (``fast_insert.insert_rows`` converts shared values once).

        Neither database gives the ids of a fast executemany. PostgreSQL: the ids are taken from
        the table's sequence first and written with the rows (a batched INSERT ... RETURNING in
        parameter order makes psycopg parse a statement of tens of thousands of placeholders per
        batch: ten times slower). SQLite: SQLAlchemy would fall back to a statement per row, so the
        ids are read back: the transaction holds the write lock (BEGIN IMMEDIATE), nobody else
        inserts, and SQLite numbers new rows upwards from the current maximum id.
        """
        if conn.dialect.name == "postgresql":
            quoted = conn.dialect.identifier_preparer.format_table(table)
            ids = conn.execute(sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                               {"table": quoted, "n": len(rows)}).scalars().all()
            for row, record_id in zip(rows, ids):
                row["id"] = record_id
            insert_rows(conn, table, ["id", *keys], rows, shared)
            return ids
        if conn.dialect.name != "sqlite":
            return conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
        last = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        insert_rows(conn, table, keys, rows, shared)
        ids = conn.execute(sa.select(table.c.id).where(table.c.id > last).order_by(table.c.id)).scalars().all()
        if len(ids) != len(rows):  # not expected while we hold the write lock; never audit the wrong rows
            raise RuntimeError(f"inserted {len(rows)} rows into {table.name} but found {len(ids)} new ids")
        return ids

    def _apply_update(self, conn, batch: Batch):
        """Stage 7 of an update: the UPDATE (guarded by the version read), the tags, ``after``.
        Returns the written row."""
        entity, t, item = batch.entity, batch.entity.table, batch.items[0]
        values = dict(item.changes)
        linked = self._split_linked(entity, values)
        values.update(updated_at=utcnow(), updated_by=batch.actor_id, version=t.c.version + 1)
        try:
            with conn.begin_nested():
                row = conn.execute(t.update().where(t.c.id == item.id, t.c.version == item.before["version"])
                                   .values(values).returning(*entity.columns)).first()
        except IntegrityError:
            raise self._unique_clash(conn, entity, item.changes, item.id) from None
        if row is None:  # a concurrent writer won between our read and write
            raise Conflict([error("version", "stale", "the record was changed by someone else; reload it")])
        self._write_linked(conn, entity, item.id, linked)
        item.after = self._attach_linked(conn, entity, [dict(row._mapping)])[0]
        return row

    def _delete(self, conn, batch: Batch, depth: int) -> None:
        """Stages 6-8 of a delete batch, whose records are loaded: the ``on_delete`` rule of every
        reference to them (restrict: 409; set_null: an update batch of the records that refer;
        cascade: a delete batch of them), then the move to the recycle bin."""
        self._run_before(conn, batch)
        model, entity, t = batch.model, batch.entity, batch.entity.table
        ids = [w.id for w in batch]
        now = utcnow()
        for other, f in model.referencing(entity.key):
            ot, col = other.table, other.table.c[f["key"]]
            rule = REGISTRY[f["type"]].on_delete(f)
            if rule == "restrict":
                n = sum(conn.execute(sa.select(sa.func.count()).select_from(ot).where(
                    col.in_(chunk), ot.c.archived_at.is_(None))).scalar_one() for chunk in _chunks(ids))
                if n:
                    hint = f" (entity '{other.key}' is archived: restore it to reach them)" if other.archived else ""
                    raise Conflict([error(None, "referenced", f"{n} {other.key} records refer to this record through "
                                                              f"'{f['key']}'; change or delete them first{hint}", rows=n)])
                continue
            found = [r for chunk in _chunks(ids) for r in conn.execute(
                sa.select(*other.columns).where(col.in_(chunk), ot.c.archived_at.is_(None)).order_by(ot.c.id))]
            if not found:
                continue
            if rule == "set_null":
                # Each cleared record is an update like any other: hooks, rule tags and audit rows follow.
                for parent in sorted({getattr(r, f["key"]) for r in found}):
                    why = batch.reason or Reason(f"{entity.key} {parent} was deleted", "reference_deleted",
                                                 entity=entity.key, id=parent)
                    cleared = Batch(model, other, "update", batch.actor_id, why)
                    cleared.items = [Write(cleared, None, r.id, dict(r._mapping), {f["key"]: None})
                                     for r in found if getattr(r, f["key"]) == parent]
                    self._attach_linked(conn, other, [w.before for w in cleared])
                    self._clear_reference(conn, cleared, f["key"], now)
            elif rule == "cascade" and depth < 20:
                children = Batch(model, other, "delete", batch.actor_id, batch.reason)
                children.items = [Write(children, None, r.id, dict(r._mapping), {}) for r in found]
                self._attach_linked(conn, other, [w.before for w in children])
                self._delete(conn, children, depth + 1)
        for chunk in _chunks(ids):
            conn.execute(t.update().where(t.c.id.in_(chunk)).values(archived_at=now, updated_at=now,
                                                                    updated_by=batch.actor_id, version=t.c.version + 1))
        self._run_after(conn, batch)

    def _clear_reference(self, conn, batch: Batch, key: str, now) -> None:
        """Stages 6-8 of the update batch a set_null rule makes: ``key`` emptied in every record."""
        self._run_before(conn, batch)
        t, ids = batch.entity.table, [w.id for w in batch]
        after = {}
        for chunk in _chunks(ids):
            conn.execute(t.update().where(t.c.id.in_(chunk)).values(
                {key: None, "updated_at": now, "updated_by": batch.actor_id, "version": t.c.version + 1}))
            after.update((r.id, dict(r._mapping)) for r in conn.execute(
                sa.select(*batch.entity.columns).where(t.c.id.in_(chunk))))
        for w in batch:
            w.after = after[w.id]
        self._attach_linked(conn, batch.entity, [w.after for w in batch])
        self._run_after(conn, batch)

    def _run_after(self, conn, batch: Batch) -> None:
        """Stage 8."""
        for hook in self.after_write:
            hook(conn, batch)

    # ---- helpers of the stages --------------------------------------------------------------------
    @staticmethod
    def _changes_nothing(entity: CompiledEntity, item: Write) -> bool:
        """Whether an update's fields are those stored (``{}``, only read-only keys, the stored values)."""
        stored = item.before
        return all(entity.types[k].same_value(entity.field_map[k], v, stored.get(k)) for k, v in item.changes.items())

    @staticmethod
    def _as_seen(access: Access, entity: CompiledEntity, model: CompiledModel, record: dict) -> dict:
        """What the writer gets back: the record without the fields they may not read."""
        return record if access is SYSTEM else access.redact(entity, model, record)

    # ---- plumbing -------------------------------------------------------------------------------
    @contextmanager
    def _write(self, conn: sa.Connection | None = None):
        if conn is not None:  # the caller's transaction: commit or roll back with it
            yield conn
            return
        # IMMEDIATE on SQLite: a writer takes the write lock before it reads, so two writers queue
        # behind busy_timeout instead of one failing with "database is locked" on lock upgrade.
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
            with conn.begin():
                yield conn

    def _conn(self, conn):
        if conn is not None:
            from contextlib import nullcontext
            return nullcontext(conn)
        return self.engine.connect()


__all__ = ["Batch", "Hook", "RecordService", "Write", "table_name"]
