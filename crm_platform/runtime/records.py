"""The record service: the only code that writes to generated tables.

coerce and validate with the entity's compiled validator → access rights (``access.py``) →
before-write hooks → write → after-write hooks (stage history, tags and audit plug in here) — in
one transaction. The API, screens, admin data views, imports and public forms all call this class,
each passing the ``Access`` of whoever acts; without one (scripts, hooks) everything is allowed.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..errors import Conflict, CrmError, Forbidden, Invalid, NotFound, error
from ..metadata.field_types import REGISTRY
from ..metadata.keys import table_name
from ..tables import users
from .access import SYSTEM, Access
from .compiled import CompiledEntity, CompiledModel, Runtime
from .query import ListQuery, list_statements, pages


@dataclass
class WriteEvent:
    """What an after-write hook is told. ``before`` is None on create, ``after`` None on delete."""

    conn: sa.Connection
    model: CompiledModel
    entity: CompiledEntity
    action: str
    record_id: int
    before: dict | None
    after: dict | None
    actor_id: int | None
    reason: str | None


Hook = Callable[[WriteEvent], None]


@dataclass
class PendingWrite:
    """What a before-write hook is told: the validated changes, before they reach the table.

    Hooks may refuse the write (raise a CrmError) or add to ``values`` (e.g. a stage change's
    bookkeeping). ``before`` is None on create.
    """

    conn: sa.Connection
    model: CompiledModel
    entity: CompiledEntity
    action: str
    record_id: int | None
    before: dict | None
    values: dict
    actor_id: int | None
    reason: str | None = None


BeforeHook = Callable[[PendingWrite], None]


class RecordService:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.engine = runtime.engine
        self.before_write: list[BeforeHook] = []
        self.after_write: list[Hook] = []
        #: Predicates (model, entity) -> bool: entities whose bulk creates must go row by row
        #: through ``create`` (e.g. a stage field bound to a pipeline: entry checks per record).
        self.row_by_row: list[Callable[[CompiledModel, CompiledEntity], bool]] = []

    # ---- helpers --------------------------------------------------------------------------------
    def _model(self, conn) -> CompiledModel:
        return self.runtime.current(conn)

    def _dump(self, entity: CompiledEntity, row, conn=None) -> dict:
        record = entity.dumper.one(row)
        if conn is not None and entity.link_tables:
            self._attach_linked(conn, entity, [record])
        return record

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
            ids = sorted(wanted)
            for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
                chunk = ids[start:start + 900]
                q = sa.select(t.c.id).where(t.c.id.in_(chunk), t.c.archived_at.is_(None))
                found.update(conn.execute(q if readable is None else q.where(readable)).scalars())
            for n, r in enumerate(rows):
                if r.get(key) is not None and r[key] not in found:
                    e = error(key, "reference", f"there is no {target} record with id {r[key]}")
                    if index_of is not None:
                        e["row"] = index_of(n)
                    errors.append(e)

    @staticmethod
    def _check_owners(conn, sent: list[tuple[int, int]], errors: list[dict], index_of=None) -> None:
        """Each ``owner_id`` sent, as (position, user id), must name a user: 422 naming owner_id otherwise.

        owner_id is no foreign key (users live in the platform's own table), so it is checked here.
        """
        wanted = sorted({owner for _, owner in sent})
        found = set()
        for start in range(0, len(wanted), 900):  # stay under SQLite's bound-parameter limit
            found.update(conn.execute(sa.select(users.c.id).where(users.c.id.in_(wanted[start:start + 900]))).scalars())
        for n, owner in sent:
            if owner not in found:
                e = error("owner_id", "reference", f"there is no user with id {owner}")
                if index_of is not None:
                    e["row"] = index_of(n)
                errors.append(e)

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

    def _run_hooks(self, event: WriteEvent) -> None:
        for hook in self.after_write:
            hook(event)

    def _run_hooks_many(self, conn, model: CompiledModel, entity: CompiledEntity, rows: list[dict],
                        actor_id: int | None, reason: str | None = None) -> None:
        """The after-write hooks of a batch of bulk-created records, so a bulk row ends like a single one.

        A hook with a batch form (``hook.many(conn, model, entity, rows, actor_id)``; ``rows`` are
        the written column values with their ``id``) gets the whole batch; any other hook gets one
        ``create`` event per record, as ``create`` would give it.
        """
        events = None
        for hook in self.after_write:
            many = getattr(hook, "many", None)
            if many is not None:
                many(conn, model, entity, rows, actor_id, reason=reason)
                continue
            if events is None:
                events = [WriteEvent(conn, model, entity, "create", r["id"], None, r, actor_id, reason)
                          for r in self.read_back(conn, entity, [row["id"] for row in rows])]
            for event in events:
                hook(event)

    def read_back(self, conn, entity: CompiledEntity, ids: list[int]) -> list[dict]:
        """Records as ``create`` returns them (tags included), in the order of ``ids``."""
        t, found = entity.table, {}
        for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
            chunk = ids[start:start + 900]
            found.update((r.id, self._dump(entity, r)) for r in conn.execute(
                sa.select(*entity.columns).where(t.c.id.in_(chunk))))
        return self._attach_linked(conn, entity, [found[i] for i in ids])

    def _run_before(self, pending: PendingWrite) -> None:
        for hook in self.before_write:
            hook(pending)

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
             model: CompiledModel | None = None) -> dict:
        """A page of records and the total, both limited to what ``access`` may read.

        ``model``: the model the caller already read on ``conn`` (it parsed the query with it),
        which spares a second revision check.
        """
        query = query or ListQuery()
        access = access or SYSTEM
        with self._conn(conn) as c:
            model = model if model is not None and conn is not None else self._model(c)
            entity = model.entity(entity_key)
            only = access.read_clause(entity, model)
            hidden = access.rights(entity_key, model).hidden
            access.check_query_fields(entity, model, [f.field["key"] for f in query.filters] + [k for k, _ in query.sort])
            rows_q, count_q = list_statements(entity, query, c.dialect.name, conn=c, only=only, hidden=hidden)
            total = c.execute(count_q).scalar_one()
            exact = query.count_limit is None or total <= query.count_limit
            total = total if exact else query.count_limit
            items = self._attach_linked(c, entity, entity.dumper.many(c.execute(rows_q)))
            if hidden:
                items = [access.redact(entity, model, r) for r in items]
        return {"items": items, "total": total, "total_exact": exact, "page": query.page, "per_page": query.per_page,
                "pages": pages(total, query.per_page)}

    # ---- writes ---------------------------------------------------------------------------------
    def create(self, entity_key: str, data: dict, *, actor_id: int | None = None, reason: str | None = None,
               conn: sa.Connection | None = None, access: Access | None = None) -> dict:
        """Create a record. With ``conn``, inside the caller's transaction (follow-ups, imports).

        The creator owns the record unless ``owner_id`` names another owner, which needs the right
        to create records for anyone.
        """
        if not isinstance(data, dict):
            raise Invalid([error(None, "type", "a record must be a JSON object")])
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            model = self._model(conn)
            entity = model.entity(entity_key)
            if access is not SYSTEM:
                self._check_create(access, entity, model, data, actor_id)
            values, system = self._validated(conn, model, entity, data, access=access)
            self._run_before(PendingWrite(conn, model, entity, "create", None, None, values, actor_id, reason))
            linked = self._split_linked(entity, values)
            now = utcnow()
            row = {**values, "created_at": now, "updated_at": now, "created_by": actor_id, "updated_by": actor_id,
                   "owner_id": system.get("owner_id", actor_id), "version": 1}
            try:
                with conn.begin_nested():
                    created = conn.execute(entity.table.insert().values(row).returning(*entity.columns)).first()
            except IntegrityError:
                raise self._unique_clash(conn, entity, values, None) from None
            self._write_linked(conn, entity, created.id, linked)
            record = self._dump(entity, created, conn)
            self._run_hooks(WriteEvent(conn, model, entity, "create", record["id"], None, record, actor_id, reason))
            self._attach_linked(conn, entity, [record])  # hooks may have applied rule tags
        return self._as_seen(access, entity, model, record)

    @staticmethod
    def _check_create(access: Access, entity: CompiledEntity, model: CompiledModel, data: dict, actor_id) -> None:
        access.require("create", entity, model)
        access.check_writable(entity, model, [k for k in data if k in entity.field_map])
        if "owner_id" in data:
            access.check_owner("create", entity, model, data["owner_id"], actor_id)

    @staticmethod
    def _as_seen(access: Access, entity: CompiledEntity, model: CompiledModel, record: dict) -> dict:
        """What the writer gets back: the record without the fields they may not read."""
        return record if access is SYSTEM else access.redact(entity, model, record)

    def create_many(self, entity_key: str, rows: Iterable[dict], *, actor_id: int | None = None,
                    batch_size: int = 5000, access: Access | None = None, conn: sa.Connection | None = None,
                    created_ids: list[int] | None = None, reason: str | None = None) -> int:
        """Validate every row, then insert them in batches with Core executemany; all or nothing.

        With ``conn``, inside the caller's transaction (sample data of a bundle import); ``created_ids``,
        when given, receives the new records' ids in the order of ``rows``.

        Errors carry ``row`` (0-based position in ``rows``). The after-write hooks run for each
        batch (rule tags, audit: ``_run_hooks_many``); entities a ``row_by_row`` predicate names go
        through ``create`` one row at a time, with every hook.
        """
        rows = list(rows)
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            model = self._model(conn)
            entity = model.entity(entity_key)
            if access is not SYSTEM:
                for n, data in enumerate(rows):
                    if isinstance(data, dict):
                        try:
                            self._check_create(access, entity, model, data, actor_id)
                        except CrmError as exc:
                            for e in exc.errors:
                                e["row"] = n
                            raise
            if any(wants(model, entity) for wants in self.row_by_row):
                return self._create_each(conn, entity_key, rows, actor_id, created_ids, access, reason)
            validate = entity.validator.validate
            keys = [f["key"] for f in entity.fields]
            now = utcnow()
            prepared, errors, owners = [], [], []
            for n, data in enumerate(rows):
                if not isinstance(data, dict):
                    errors.append({**error(None, "type", "a record must be a JSON object"), "row": n})
                    continue
                values, system, errs = validate(data)
                if errs:
                    for e in errs:
                        e["row"] = n
                    errors.extend(errs)
                    if len(errors) > 1000:
                        break
                    continue
                row = dict.fromkeys(keys)
                row.update(values)
                row["created_at"] = row["updated_at"] = now
                row["created_by"] = row["updated_by"] = actor_id
                row["owner_id"] = system.get("owner_id", actor_id)
                row["version"] = 1
                prepared.append(row)
                if system.get("owner_id") is not None:
                    owners.append((n, system["owner_id"]))
            if not errors and entity.references:
                self._check_references(conn, model, entity, prepared, errors, index_of=lambda n: n, access=access)
            if not errors and owners:
                self._check_owners(conn, owners, errors, index_of=lambda n: n)
            if errors:
                raise Invalid(errors[:1000])
            linked = [self._split_linked(entity, row) for row in prepared] if entity.link_tables else None
            try:
                for start in range(0, len(prepared), batch_size):
                    chunk = prepared[start:start + batch_size]
                    ids = self._insert_many(conn, entity.table, chunk)
                    if created_ids is not None:
                        created_ids.extend(ids)
                    if linked is not None:
                        for key, link in entity.link_tables.items():
                            REGISTRY[entity.field_map[key]["type"]].write_new_links(
                                conn, link, entity.field_map[key],
                                [(i, values.get(key)) for i, values in zip(ids, linked[start:start + batch_size])])
                    written = [{**row, **(linked[start + n] if linked else {}), "id": record_id}
                               for n, (row, record_id) in enumerate(zip(chunk, ids))]
                    self._run_hooks_many(conn, model, entity, written, actor_id, reason)
            except IntegrityError:
                raise Conflict([error(None, "unique", "some rows repeat a value that must be unique")]) from None
        return len(prepared)

    @staticmethod
    def _insert_many(conn, table: sa.Table, rows: list[dict]) -> list[int]:
        """Insert rows with one executemany; their ids, in the order of ``rows``.

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
            conn.execute(table.insert(), [{**row, "id": record_id} for row, record_id in zip(rows, ids)])
            return ids
        if conn.dialect.name != "sqlite":
            return conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
        last = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        conn.execute(table.insert(), rows)
        ids = conn.execute(sa.select(table.c.id).where(table.c.id > last).order_by(table.c.id)).scalars().all()
        if len(ids) != len(rows):  # not expected while we hold the write lock; never audit the wrong rows
            raise RuntimeError(f"inserted {len(rows)} rows into {table.name} but found {len(ids)} new ids")
        return ids

    def _validated(self, conn, model, entity, data: dict, partial: bool = False, access: Access = SYSTEM,
                   references: bool = True) -> tuple[dict, dict]:
        """The record's values and system values, checked by the compiled validator and (unless told
        not to) against the records its references name, which ``access`` must be able to read;
        ``Invalid`` with every error otherwise."""
        values, system, errors = entity.validator.validate(data, partial=partial)
        if not errors and references:
            self._check_references(conn, model, entity, [values], errors, access=access)
        if not errors and system.get("owner_id") is not None:
            self._check_owners(conn, [(0, system["owner_id"])], errors)
        if errors:
            raise Invalid(errors)
        return values, system

    def _create_each(self, conn, entity_key: str, rows: list, actor_id: int | None, ids: list | None = None,
                     access: Access = SYSTEM, reason: str | None = None) -> int:
        """Bulk rows one at a time through ``create`` (hooks run); all or nothing, errors carry ``row``."""
        for n, data in enumerate(rows):
            try:
                record = self.create(entity_key, data, actor_id=actor_id, conn=conn, access=access, reason=reason)
                if ids is not None:
                    ids.append(record["id"])
            except CrmError as exc:
                for e in exc.errors:
                    e.setdefault("row", n)
                raise
        return len(rows)

    def update(self, entity_key: str, record_id: int, data: dict, *, expected_version: int | None = None,
               actor_id: int | None = None, reason: str | None = None, conn: sa.Connection | None = None,
               access: Access | None = None) -> dict:
        if not isinstance(data, dict):
            raise Invalid([error(None, "type", "a record must be a JSON object")])
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write(conn) as conn:
            model = self._model(conn)
            entity = model.entity(entity_key)
            if access is not SYSTEM:
                access.require("update", entity, model)
            # References are checked below, against the record: one left as it is passes.
            values, system = self._validated(conn, model, entity, data, partial=True, references=False)
            t = entity.table
            current = conn.execute(sa.select(*entity.columns).where(t.c.id == record_id, t.c.archived_at.is_(None))
                                   .with_for_update()).first()
            if current is None:
                raise NotFound([error(None, "not_found", f"no {entity_key} record with id {record_id}")])
            if access is not SYSTEM:
                self._check_update(conn, access, entity, model, record_id, current, data, values, system)
            self._check_changed_references(conn, model, entity, values, current, access)
            expected = system.get("version", expected_version)
            if expected is not None and expected != current.version:
                raise Conflict([error("version", "stale", f"the record was changed by someone else (now version "
                                                          f"{current.version}, you sent {expected}); reload it")],
                               extra={"current": self._dump(entity, current, conn)})
            before = self._dump(entity, current, conn)
            if self._changes_nothing(conn, entity, current, values, system):
                return self._as_seen(access, entity, model, before)  # no new version, no audit row, no hooks
            self._run_before(PendingWrite(conn, model, entity, "update", record_id, before, values, actor_id, reason))
            linked = self._split_linked(entity, values)
            changes = {**values}
            if "owner_id" in system:
                changes["owner_id"] = system["owner_id"]
            changes.update(updated_at=utcnow(), updated_by=actor_id, version=t.c.version + 1)
            try:
                with conn.begin_nested():
                    row = conn.execute(t.update().where(t.c.id == record_id, t.c.version == current.version)
                                       .values(changes).returning(*entity.columns)).first()
            except IntegrityError:
                raise self._unique_clash(conn, entity, values, record_id) from None
            if row is None:  # a concurrent writer won between our read and write
                raise Conflict([error("version", "stale", "the record was changed by someone else; reload it")])
            self._write_linked(conn, entity, record_id, linked)
            after = self._dump(entity, row, conn)
            self._run_hooks(WriteEvent(conn, model, entity, "update", record_id, before, after, actor_id, reason))
            self._attach_linked(conn, entity, [after])
        return self._as_seen(access, entity, model, after)

    def _check_changed_references(self, conn, model, entity, values: dict, current, access: Access) -> None:
        """A changed reference must name a record the user may read; an unchanged one passes (a form
        may post back a link an administrator made to a record its user cannot see)."""
        changed = {k: v for k, v in values.items() if k in entity.references and v != getattr(current, k)}
        errors: list[dict] = []
        if changed:
            self._check_references(conn, model, entity, [changed], errors, access=access)
        if errors:
            raise Invalid(errors)

    def _changes_nothing(self, conn, entity: CompiledEntity, current, values: dict, system: dict) -> bool:
        """Whether an update would leave the record as it is (``{}``, only read-only keys, the stored values)."""
        if "owner_id" in system and system["owner_id"] != current.owner_id:
            return False
        stored = dict(current._mapping)
        if any(k in entity.link_tables for k in values):
            self._attach_linked(conn, entity, [stored])
        return all(entity.types[k].same_value(entity.field_map[k], v, stored.get(k)) for k, v in values.items())

    def _check_update(self, conn, access: Access, entity, model, record_id, current, data, values, system) -> None:
        owner = {"owner_id": current.owner_id}
        if not access.allows("read", entity.key, owner, model):
            raise NotFound([error(None, "not_found", f"no {entity.key} record with id {record_id}")])
        if not access.allows("update", entity.key, owner, model):
            raise Forbidden([error(None, "forbidden", f"you may only change your own {entity.key} records")])
        before = dict(current._mapping)
        if any(k in entity.link_tables for k in data):
            self._attach_linked(conn, entity, [before])
        access.check_writable(entity, model, [k for k in data if k in entity.field_map], before, values)
        if "owner_id" in system:
            access.check_owner("update", entity, model, system["owner_id"], current.owner_id)

    def delete(self, entity_key: str, record_id: int, *, actor_id: int | None = None, reason: str | None = None,
               access: Access | None = None) -> None:
        """Move a record to the recycle bin, applying each reference field's ``on_delete`` rule.

        Rights are checked on this record; the ``on_delete`` rules then apply as defined, to
        records the user may not see as well (the design, not the user, chose them).
        """
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write() as conn:
            model = self._model(conn)
            entity = model.entity(entity_key)
            if access is not SYSTEM:
                self._check_owned_op(conn, access, "delete", entity, model, record_id, archived=False)
            self._delete(conn, model, entity, record_id, actor_id, reason, depth=0)

    @staticmethod
    def _check_owned_op(conn, access: Access, op: str, entity, model, record_id: int, *, archived: bool) -> None:
        access.require(op, entity, model)
        t = entity.table
        live = t.c.archived_at.is_not(None) if archived else t.c.archived_at.is_(None)
        owner = conn.execute(sa.select(t.c.owner_id).where(t.c.id == record_id, live)).first()
        if owner is None:
            return  # the operation itself reports the missing record
        record = {"owner_id": owner.owner_id}
        if not access.allows("read", entity.key, record, model):
            raise NotFound([error(None, "not_found", f"no {entity.key} record with id {record_id}")])
        if not access.allows(op, entity.key, record, model):
            raise Forbidden([error(None, "forbidden", f"you may only {op} your own {entity.key} records")])

    def _delete(self, conn, model, entity, record_id, actor_id, reason, depth):
        t = entity.table
        current = conn.execute(sa.select(*entity.columns).where(t.c.id == record_id, t.c.archived_at.is_(None))).first()
        if current is None:
            raise NotFound([error(None, "not_found", f"no {entity.key} record with id {record_id}")])
        before = self._dump(entity, current, conn)
        self._run_before(PendingWrite(conn, model, entity, "delete", record_id, before, {}, actor_id, reason))
        now = utcnow()
        for other, f in model.referencing(entity.key):
            ot, col = other.table, other.table.c[f["key"]]
            live = sa.and_(col == record_id, ot.c.archived_at.is_(None))
            rule = REGISTRY[f["type"]].on_delete(f)
            if rule == "restrict":
                n = conn.execute(sa.select(sa.func.count()).select_from(ot).where(live)).scalar_one()
                if n:
                    hint = f" (entity '{other.key}' is archived: restore it to reach them)" if other.archived else ""
                    raise Conflict([error(None, "referenced", f"{n} {other.key} records refer to this record through "
                                                              f"'{f['key']}'; change or delete them first{hint}", rows=n)])
            elif rule == "set_null":
                # Each cleared record is an update like any other: its audit row and rule tags follow.
                befores = [self._dump(other, r, conn) for r in conn.execute(sa.select(*other.columns).where(live))]
                if befores:
                    ids = [b["id"] for b in befores]
                    conn.execute(ot.update().where(live).values({f["key"]: None, "updated_at": now,
                                                                 "updated_by": actor_id, "version": ot.c.version + 1}))
                    afters = {r.id: r for r in conn.execute(sa.select(*other.columns).where(ot.c.id.in_(ids)))}
                    why = reason or f"{entity.key} {record_id} was deleted"
                    for before in befores:
                        after = self._dump(other, afters[before["id"]], conn)
                        self._run_hooks(WriteEvent(conn, model, other, "update", before["id"], before, after,
                                                   actor_id, why))
            elif rule == "cascade" and depth < 20:
                for child in conn.execute(sa.select(ot.c.id).where(live)).scalars().all():
                    self._delete(conn, model, other, child, actor_id, reason, depth + 1)
        conn.execute(t.update().where(t.c.id == record_id).values(archived_at=now, updated_at=now, updated_by=actor_id,
                                                                   version=t.c.version + 1))
        self._run_hooks(WriteEvent(conn, model, entity, "delete", record_id, before, None, actor_id, reason))

    def restore(self, entity_key: str, record_id: int, *, actor_id: int | None = None, reason: str | None = None,
                access: Access | None = None) -> dict:
        access = access or SYSTEM
        actor_id = access.user_id if actor_id is None else actor_id
        with self._write() as conn:
            model = self._model(conn)
            entity = model.entity(entity_key)
            if access is not SYSTEM:
                self._check_owned_op(conn, access, "delete", entity, model, record_id, archived=True)
            t = entity.table
            current = conn.execute(sa.select(*entity.columns).where(t.c.id == record_id, t.c.archived_at.is_not(None))).first()
            if current is None:
                raise NotFound([error(None, "not_found", f"no {entity_key} record with id {record_id} in the recycle bin")])
            values = dict(current._mapping)
            try:
                with conn.begin_nested():
                    row = conn.execute(t.update().where(t.c.id == record_id).values(
                        archived_at=None, updated_at=utcnow(), updated_by=actor_id, version=t.c.version + 1)
                        .returning(*entity.columns)).first()
            except IntegrityError:
                raise self._unique_clash(conn, entity, values, record_id) from None
            after = self._dump(entity, row, conn)
            self._run_hooks(WriteEvent(conn, model, entity, "restore", record_id, None, after, actor_id, reason))
        return self._as_seen(access, entity, model, after)

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


__all__ = ["RecordService", "WriteEvent", "table_name"]
