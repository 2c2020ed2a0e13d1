"""The metadata choke point: every definition change goes through ``MetadataService.apply``.

validate (meta-schema, then across definitions) → plan → apply DDL, save the definition and bump
the revision in one transaction → drop compiled caches. No other code writes definitions or DDL.
Every kind, entities included, goes the same way: its ``Kind`` (``kinds.py``) validates, merges and
plans it; the field-level operations below are entity changes built here and planned by that kind.
"""
from __future__ import annotations

import copy
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field as dc_field
from typing import Callable

import sqlalchemy as sa

from .. import faults, jsonutil
from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound, error
from ..tables import definitions, meta_state, revisions
from . import plan as planning
from .definitions import MetaState
from .field_types import REGISTRY
from .keys import key_problem
from .kinds import KINDS
from .store import REVISION_QUERY, load_state

COMMON_FIELD_KEYS = frozenset({"key", "type", "label", "help", "required", "unique", "indexed", "default", "personal"})


@dataclass
class Change:
    """A proposed change of one definition of a kind: ``build`` gives it before and after (None when
    it is created or archived); ``renames`` are the entity fields it renames."""

    kind: str
    key: str
    action: str
    build: Callable[[MetaState], tuple[dict | None, dict | None]]
    renames: dict[str, str] = dc_field(default_factory=dict)
    archive: bool | None = None  # True: archive the definition; False: restore it


def check_expected_revision(revision: int, expected: int | None, plan: dict | None = None) -> None:
    """Apply exactly what was shown: refuse (409) when the configuration is no longer at the
    revision ``expected`` that a plan shown earlier was made at. The one rule behind a bundle
    import's ``expect_revision`` and the admin designer's Apply; ``plan`` (the plan as it stands
    now) rides along in the refusal so the caller can show what would happen instead."""
    if expected is not None and revision != expected:
        raise Conflict([error("expect_revision", "stale", f"the configuration changed since the plan was made "
                                                          f"(revision {expected}, now {revision}): plan again")],
                       extra={"plan": plan, "revision": revision} if plan is not None else None)


#: Runs a plan's operations on the live schema inside the change's transaction:
#: ``apply_plan(conn, plan, entity_docs_after)`` (``runtime.ddl.apply_plan``).
PlanApplier = Callable[[sa.Connection, planning.Plan, list[dict]], None]
#: Gives the row facts a plan needs, read on the change's connection (``runtime.probe.DatabaseProbe``).
ProbeFactory = Callable[[sa.Connection], planning.Probe]


class MetadataService:
    """The DDL applier and the probe come from the runtime, which sits above this layer: the wiring
    (``app.Platform``) hands them in."""

    def __init__(self, engine: sa.Engine, *, apply_plan: PlanApplier, probe: ProbeFactory,
                 on_change: Callable[[], None] | None = None):
        self.engine = engine
        self.apply_plan = apply_plan
        self.probe = probe
        self.on_change = on_change or (lambda: None)
        self._local = threading.local()  # the connection of a batch() in progress on this thread

    # ---- reads ----------------------------------------------------------------------------------
    def state(self) -> MetaState:
        with self.engine.connect() as conn:
            return load_state(conn)

    def revisions(self, limit: int = 100, before: int | None = None) -> list[dict]:
        q = sa.select(revisions).order_by(revisions.c.id.desc()).limit(limit)
        if before is not None:
            q = q.where(revisions.c.id < before)
        with self.engine.connect() as conn:
            return [{
                "revision": r.id, "created_at": r.created_at, "actor": r.actor, "kind": r.kind, "key": r.key,
                "action": r.action, "summary": r.summary,
                "before": jsonutil.loads(r.before) if r.before else None,
                "after": jsonutil.loads(r.after) if r.after else None,
                "plan": jsonutil.loads(r.plan),
            } for r in conn.execute(q)]

    # ---- the choke point ------------------------------------------------------------------------
    def apply(self, change: Change, *, actor: str, dry_run: bool = False,
              expect_revision: int | None = None) -> planning.Plan:
        """``expect_revision``: the revision of the plan the caller showed; refused if anything changed since."""
        with self._connection() as conn:
            with self._transaction(conn) as tx:
                if conn.dialect.name == "postgresql":
                    # Serialises metadata changes across every process sharing the database.
                    conn.execute(REVISION_QUERY.with_for_update())
                state = load_state(conn)
                before, after = change.build(state)
                kind = KINDS[change.kind]
                after, plan = kind.prepare(change, state, before, after, self.probe(conn))
                plan.action = change.action
                plan.revision = state.revision
                check_expected_revision(state.revision, expect_revision, plan.public())
                if plan.refusals:
                    raise Conflict([r.public() for r in plan.refusals], extra={"plan": plan.public()})
                if dry_run:
                    tx.rollback()
                    return plan
                if change.archive is None:
                    self.apply_plan(conn, plan, kind.entities_after(state, change.key, after))
                    faults.reach("metadata.after_ddl")
                revision = state.revision + 1
                self._save(conn, change, before, after, revision)
                conn.execute(revisions.insert().values(
                    id=revision, created_at=utcnow(), actor=actor, kind=change.kind, key=change.key, action=change.action,
                    summary=plan.summary, before=planning.canonical(before),
                    after=planning.canonical(after if change.archive is None else before),
                    plan=jsonutil.dumps(plan.public(), sort_keys=True)))
                conn.execute(meta_state.update().where(meta_state.c.id == 1).values(revision=revision))
        self.on_change()
        return plan

    # ---- several changes in one transaction (bundle imports) ------------------------------------
    @contextmanager
    def batch(self, *, dry_run: bool = False):
        """Every change applied inside the block commits together, or none does.

        Each change still goes through ``apply`` (same validation, DDL path and one revision per
        change, so the history says what happened to each definition); it runs in a savepoint of
        the batch's transaction and sees the changes before it. A refused change raises and rolls
        everything back. With ``dry_run`` the whole batch is rolled back at the end: its plans are
        exact because every step really ran. Yields the connection, so record writes (sample
        data) can join the same transaction.
        """
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
            tx = conn.begin()
            if conn.dialect.name == "postgresql":
                conn.execute(REVISION_QUERY.with_for_update())
            self._local.conn = conn
            try:
                yield conn
                tx.rollback() if dry_run else tx.commit()
            except BaseException:
                tx.rollback()
                raise
            finally:
                self._local.conn = None
                self.on_change()  # caches may have compiled uncommitted definitions: drop them

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return nullcontext(conn)
        return self.engine.connect().execution_options(sqlite_immediate=True)

    def _transaction(self, conn: sa.Connection):
        return conn.begin_nested() if getattr(self._local, "conn", None) is conn else conn.begin()

    def _save(self, conn, change: Change, before, after, revision: int) -> None:
        t = definitions
        where = sa.and_(t.c.kind == change.kind, t.c.key == change.key)
        if change.archive is not None:
            conn.execute(t.update().where(where).values(archived_at=utcnow() if change.archive else None,
                                                       revision=revision, updated_at=utcnow()))
        elif before is None:
            conn.execute(t.insert().values(kind=change.kind, key=change.key, body=planning.canonical(after),
                                           archived_at=None, revision=revision, updated_at=utcnow()))
        else:
            conn.execute(t.update().where(where).values(body=planning.canonical(after), revision=revision,
                                                       updated_at=utcnow()))

    # ---- field-level operations -----------------------------------------------------------------
    def add_field(self, entity: str, field: dict, *, actor: str, dry_run: bool = False,
                  expect_revision: int | None = None) -> planning.Plan:
        if not isinstance(field, dict):
            raise Invalid([error(None, "type", "a field definition must be a JSON object")])

        def build(state):
            before = self._active_of(state, "entity", entity)
            if any(f["key"] == field.get("key") for f in before.get("fields", [])):
                raise Conflict([error("key", "exists", f"entity '{entity}' has a field '{field.get('key')}' already")])
            if any(f["key"] == field.get("key") for f in before.get("archived_fields", [])):
                raise Conflict([error("key", "archived", f"an archived field of '{entity}' has the key "
                                                         f"'{field.get('key')}': restore it or choose another key")])
            after = copy.deepcopy(before)
            after["fields"] = after.get("fields", []) + [field]
            return before, after

        return self.apply(Change("entity", entity, "add_field", build),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    def update_field(self, entity: str, key: str, patch: dict, *, actor: str, dry_run: bool = False,
                     expect_revision: int | None = None) -> planning.Plan:
        if not isinstance(patch, dict):
            raise Invalid([error(None, "type", "the change must be a JSON object")])
        if "key" in patch and patch["key"] != key:
            raise Invalid([error("key", "const", "use POST .../fields/<key>/rename to rename a field")])

        def build(state):
            before = self._active_of(state, "entity", entity)
            after = copy.deepcopy(before)
            fields = after.get("fields", [])
            for i, f in enumerate(fields):
                if f["key"] == key:
                    merged = {**f, **patch}
                    if patch.get("type") not in (None, f["type"]) and patch["type"] in REGISTRY:
                        # Options of the old type mean nothing to the new one (choices on a text field).
                        keep = COMMON_FIELD_KEYS | set(REGISTRY[patch["type"]].options_schema())
                        merged = {k: v for k, v in merged.items() if k in keep and (k != "default" or k in patch)}
                    fields[i] = {k: v for k, v in merged.items() if v is not None}
                    break
            else:
                raise NotFound([error("field", "not_found", f"entity '{entity}' has no active field '{key}'")])
            return before, after

        return self.apply(Change("entity", entity, "update_field", build),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    def archive_field(self, entity: str, key: str, *, actor: str, dry_run: bool = False,
                      expect_revision: int | None = None) -> planning.Plan:
        def build(state):
            before = self._active_of(state, "entity", entity)
            if not any(f["key"] == key for f in before.get("fields", [])):
                raise NotFound([error("field", "not_found", f"entity '{entity}' has no active field '{key}'")])
            if before.get("title_field") == key:
                raise Conflict([error("field", "title_field", f"'{key}' is the title field of '{entity}': choose another title field first")])
            after = copy.deepcopy(before)
            after["fields"] = [f for f in after["fields"] if f["key"] != key]
            if key in after.get("list_columns", []):  # an archived field leaves the default columns
                after["list_columns"] = [c for c in after["list_columns"] if c != key]
                if not after["list_columns"]:
                    del after["list_columns"]
            return before, after

        return self.apply(Change("entity", entity, "archive_field", build),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    def restore_field(self, entity: str, key: str, *, actor: str, dry_run: bool = False,
                      expect_revision: int | None = None) -> planning.Plan:
        def build(state):
            before = self._active_of(state, "entity", entity)
            archived = [f for f in before.get("archived_fields", []) if f["key"] == key]
            if not archived:
                raise NotFound([error("field", "not_found", f"entity '{entity}' has no archived field '{key}'")])
            target = REGISTRY[archived[0]["type"]].target_entity(archived[0])
            if target is not None and not state.entity_is_available(target):
                raise Conflict([error("field", "target", f"restore entity '{target}' first")])
            after = copy.deepcopy(before)
            after["fields"] = after.get("fields", []) + archived
            after["archived_fields"] = [f for f in before["archived_fields"] if f["key"] != key]
            return before, after

        return self.apply(Change("entity", entity, "restore_field", build),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    def rename_field(self, entity: str, key: str, new_key: str, *, actor: str, dry_run: bool = False,
                     expect_revision: int | None = None) -> planning.Plan:
        why = key_problem(new_key)
        if why:
            raise Invalid([error("new_key", "key", f"field key {why}")])

        def build(state):
            before = self._active_of(state, "entity", entity)
            if not any(f["key"] == key for f in before.get("fields", [])):
                raise NotFound([error("field", "not_found", f"entity '{entity}' has no active field '{key}'")])
            taken = {f["key"] for f in before.get("fields", []) + before.get("archived_fields", [])}
            if new_key in taken:
                raise Conflict([error("new_key", "exists", f"'{new_key}' is taken by another field of '{entity}'")])
            after = copy.deepcopy(before)
            for f in after["fields"]:
                if f["key"] == key:
                    f["key"] = new_key
            if after.get("title_field") == key:
                after["title_field"] = new_key
            if key in after.get("list_columns", []):
                after["list_columns"] = [new_key if c == key else c for c in after["list_columns"]]
            for reminder in after.get("reminders", []):  # a reminder follows its fields
                for named in (reminder, reminder.get("exclude") or {}):
                    if named.get("field") == key:
                        named["field"] = new_key
            return before, after

        return self.apply(Change("entity", entity, "rename_field", build, renames={key: new_key}), actor=actor,
                          dry_run=dry_run, expect_revision=expect_revision)

    # ---- definitions of every kind (entities, taxonomies, pipelines, forms, roles) -------------
    def create_definition(self, kind: str, doc: dict, *, actor: str, dry_run: bool = False,
                          expect_revision: int | None = None) -> planning.Plan:
        a = KINDS[kind].article
        if not isinstance(doc, dict):
            raise Invalid([error(None, "type", f"{a} {kind} definition must be a JSON object")])
        key = doc.get("key")

        def build(state: MetaState):
            existing = state.of_kind(kind)
            if isinstance(key, str) and key in existing:
                where = " (archived: restore it instead)" if existing[key].archived else ""
                raise Conflict([error("key", "exists", f"{a} {kind} '{key}' exists already{where}")])
            return None, doc

        return self.apply(Change(kind, str(key), "create", build),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    def update_definition(self, kind: str, key: str, patch: dict, *, actor: str, dry_run: bool = False,
                          expect_revision: int | None = None) -> planning.Plan:
        """Merge top-level attributes into the definition as its kind merges them (``Kind.merge``)."""
        if not isinstance(patch, dict):
            raise Invalid([error(None, "type", "the change must be a JSON object")])
        if "key" in patch and patch["key"] != key:
            raise Invalid([error("key", "const", KINDS[kind].fixed_key())])

        def build(state):
            before = self._active_of(state, kind, key)
            return before, KINDS[kind].merge(before, patch)

        return self.apply(Change(kind, key, "update", build),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    def archive_definition(self, kind: str, key: str, *, actor: str, dry_run: bool = False,
                           expect_revision: int | None = None) -> planning.Plan:
        def build(state):
            before = self._active_of(state, kind, key)
            problems = KINDS[kind].archive_problems(key, state)
            if problems:
                raise Conflict(problems)
            return before, None

        return self.apply(Change(kind, key, "archive", build, archive=True),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    def restore_definition(self, kind: str, key: str, *, actor: str, dry_run: bool = False,
                           expect_revision: int | None = None) -> planning.Plan:
        def build(state):
            found = state.of_kind(kind).get(key)
            if found is None:
                raise NotFound([error(None, "not_found", f"no {kind} '{key}'")])
            if not found.archived:
                raise Conflict([error(None, "not_archived", f"{kind} '{key}' is not archived")])
            return found.doc, None

        return self.apply(Change(kind, key, "restore", build, archive=False),
                          actor=actor, dry_run=dry_run, expect_revision=expect_revision)

    @staticmethod
    def _active_of(state: MetaState, kind: str, key: str) -> dict:
        found = state.of_kind(kind).get(key)
        if found is None or found.archived:
            raise NotFound([error(None, "not_found", f"no active {kind} '{key}'")])
        return found.doc
