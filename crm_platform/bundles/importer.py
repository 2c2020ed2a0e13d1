"""Importing a bundle: compare it with the instance, show the plan, apply it all or nothing.

Every definition change goes through the metadata choke point (``MetadataService``) inside one
``batch``: the same validation and DDL as a change made by hand, one revision per change, one
transaction for the whole import (sample data included). A dry run runs the very same steps and
rolls them back, so its plan is exact.

Order of the steps, so that every change finds what it refers to (references between entities in
both directions, tags fields and tag rules, pipelines on stage fields...):

1. restore definitions archived here that the import takes back;
2. create new taxonomies without their rules, then new entities in the order of their references
   (an entity is created whole once the entities it refers to exist; where entities refer to each
   other in a circle, one is created without those references first);
3. bring every entity to its full definition (completes those; upgrades existing entities);
4. bring every taxonomy to its full definition (rules may use any field now);
5. every other kind (pipelines, roles, forms, and kinds added later), retried until none can move;
6. archive what an earlier version of the bundle installed and this one dropped, and apply new or
   changed tag rules to the records already here;
7. load the sample data through the record service, once per bundle name.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field as dc_field

from .. import faults
from ..clock import utcnow
from ..errors import Conflict, CrmError, Invalid, error
from ..metadata.field_types import REGISTRY
from ..metadata.service import check_expected_revision
from ..metadata.store import load_state
from ..runtime.automation.engine import suspended as automations_suspended
from . import demo_users as demo, installs, sample
from .format import check, kinds
from .merge import KEEP_LOCAL, TAKE_INCOMING, merge

ON_CONFLICT = (KEEP_LOCAL, TAKE_INCOMING)
#: Kinds with a dependency-free first form (created in step 2, completed in steps 3 and 4).
SKELETON_KINDS = ("taxonomy", "entity")  # the order of step 2 (step 3 and 4 run it backwards)


def normalised(kind: str, doc: dict) -> dict:
    """The definition as the instance would store it, so equal definitions compare equal."""
    from ..metadata.kinds import KINDS
    return KINDS[kind].normalise(doc)


def _targets(doc: dict) -> set[str]:
    """Other entities an entity definition refers to."""
    return {_target(f) for f in doc.get("fields", [])} - {doc["key"], None}


def _target(field: dict) -> str | None:
    """The entity a field refers to (a reference's target), or None. Bundles are checked against
    the meta-schemas first, so every field's type is a registered one."""
    return REGISTRY[field["type"]].target_entity(field)


def skeleton(kind: str, doc: dict, entities: set[str] = frozenset()) -> dict:
    """The definition without what refers to definitions not there yet (``entities``: those that are)."""
    if kind == "entity":
        # Computed fields (roll-ups over entities created later) come with the full definition, step 3.
        fields = [f for f in doc.get("fields", []) if not REGISTRY[f["type"]].computed and (
            _target(f) is None or _target(f) == doc["key"] or _target(f) in entities)]
        out = {**doc, "fields": fields}
        if out.get("title_field") not in {f["key"] for f in fields}:
            out.pop("title_field", None)
        return out
    if kind == "taxonomy":
        return {**doc, "tags": [{k: v for k, v in t.items() if k != "rule"} for t in doc.get("tags", [])]}
    return doc


@dataclass
class Item:
    """One definition the import touches (or leaves alone), with what it will do to it."""

    kind: str
    key: str
    action: str  # create | update | restore | archive | unchanged | kept
    target: dict | None = None
    conflicts: list[dict] = dc_field(default_factory=list)
    shared_with: list[str] = dc_field(default_factory=list)
    #: the instance has a different definition of this key that this bundle did not install
    clash: bool = False
    #: what the merge kept from this instance and took from the bundle (paths such as fields.city)
    notes: dict = dc_field(default_factory=dict)

    def public(self) -> dict:
        out = {"kind": self.kind, "key": self.key, "action": self.action}
        if self.clash:
            out["clash"] = True
        if self.conflicts:
            out["conflicts"] = self.conflicts
        if self.shared_with:
            out["shared_with"] = self.shared_with
        out.update({k: v for k, v in self.notes.items() if v})
        return out


def _local(kind: str, stored: dict) -> tuple[dict, dict[str, set[str]]]:
    """(the local definition as a bundle would carry it, keys of its items archived here)."""
    doc = copy.deepcopy(stored)
    archived = {}
    if kind == "entity":
        archived["fields"] = {f["key"] for f in doc.pop("archived_fields", [])}
    return doc, archived


def settled_by(on_conflict: str | None, resolutions: dict[str, str] | None):
    """``choice(kind, key, path)``: how one conflict is settled. ``resolutions`` settle conflicts one
    by one (the admin's plan page): ``kind:key:path`` for one difference (``entity:student:fields.city``),
    ``kind:key:`` for a whole definition (a name clash, an archived one), ``kind:key`` for every
    conflict of that definition; what they leave open ``on_conflict`` settles, or nobody."""
    resolutions = resolutions or {}

    def choice(kind: str, key: str, path: str | None) -> str | None:
        return resolutions.get(f"{kind}:{key}:{path or ''}") or resolutions.get(f"{kind}:{key}") or on_conflict
    return choice


def compare(bundle: dict, state, installed: installs.Installed | None, owners: dict, on_conflict: str | None,
            resolutions: dict[str, str] | None = None) -> list[Item]:
    """What importing ``bundle`` does to each definition: a pure function of its inputs."""
    choice = settled_by(on_conflict, resolutions)
    items = []
    incoming = {(kind, doc["key"]): normalised(kind, doc) for kind, docs in bundle["definitions"].items() for doc in docs}
    base_of = installed.definitions if installed is not None else {}
    for (kind, key), doc in sorted(incoming.items(), key=lambda kv: (kinds().index(kv[0][0]), kv[0][1])):
        others = [b for b in owners.get((kind, key), []) if b != bundle["name"]]
        found = state.of_kind(kind).get(key)
        base = base_of.get((kind, key))
        if found is None:
            items.append(Item(kind, key, "create", doc, shared_with=others))
            continue
        local, archived = _local(kind, found.doc)
        if found.archived:
            if base is not None and doc == base:
                items.append(Item(kind, key, "kept", None, shared_with=others))  # archived here on purpose
                continue
            settled = choice(kind, key, None)
            conflict = {"path": None, "local": "archived in this instance", "incoming": doc,
                        "resolution": settled or "unresolved",
                        "note": "taking the bundle's version restores it"}
            if base is not None:
                conflict["installed"] = base
            target = merge(base, local, doc, resolve=TAKE_INCOMING)[0] if settled == TAKE_INCOMING else None
            items.append(Item(kind, key, "restore" if target is not None else "kept", target, [conflict], others))
            continue
        target, conflicts, notes = merge(base, local, doc, archived=archived,
                                         resolve=lambda path, kind=kind, key=key: choice(kind, key, path))
        action = "unchanged" if target == local else "update"
        clash = base is None and action == "update"
        if clash:
            # Changing a definition this bundle did not install needs the admin's say, even when the
            # merge only adds: the clash is shown with both versions before anything is applied.
            conflicts.insert(0, {"path": None, "local": local, "incoming": doc,
                                 "resolution": choice(kind, key, None) or "unresolved",
                                 "note": "defined here and not installed by this bundle: the additions of both are "
                                         "merged, any difference is settled by on_conflict"})
        items.append(Item(kind, key, action, target if action == "update" else None, conflicts, others,
                          clash=clash, notes=notes))
    for (kind, key), base in sorted(base_of.items()):
        if (kind, key) in incoming:
            continue
        found = state.of_kind(kind).get(key)
        if found is None or found.archived:
            continue
        others = [b for b in owners.get((kind, key), []) if b != bundle["name"]]
        if others:  # another installed bundle still carries it
            items.append(Item(kind, key, "kept", shared_with=others))
            continue
        local, _ = _local(kind, found.doc)
        if local == base:
            items.append(Item(kind, key, "archive"))
            continue
        conflict = {"path": None, "local": local, "incoming": None, "installed": base,
                    "note": "changed in this instance since it was installed; the new version of the bundle drops it",
                    "resolution": choice(kind, key, None) or "unresolved"}
        items.append(Item(kind, key, "archive" if choice(kind, key, None) == TAKE_INCOMING else "kept", None,
                          [conflict]))
    return items


def _static_problems(bundle: dict, state) -> list[dict]:
    """References the bundle makes that neither it nor the instance can satisfy."""
    entities = {d["key"] for d in bundle["definitions"].get("entity", [])} | {
        k for k, s in state.entities.items() if not s.archived}
    taxonomies = {d["key"] for d in bundle["definitions"].get("taxonomy", [])} | {
        k for k, s in state.taxonomies.items() if not s.archived}
    problems = []
    for doc in bundle["definitions"].get("entity", []):
        for f in doc.get("fields", []):
            where = f"definitions.entity.{doc['key']}.fields.{f['key']}"
            if _target(f) is not None and _target(f) not in entities:
                problems.append(error(where + ".target", "reference", f"field '{f['key']}' refers to entity "
                                                                      f"'{f.get('target')}', which is neither in the "
                                                                      f"bundle nor in this instance"))
            taxonomy = REGISTRY[f["type"]].taxonomy_of(f)
            if taxonomy is not None and taxonomy not in taxonomies:
                problems.append(error(where + ".taxonomy", "reference", f"field '{f['key']}' uses taxonomy "
                                                                        f"'{f.get('taxonomy')}', which is neither in "
                                                                        f"the bundle nor in this instance"))
    for key in sorted(bundle.get("sample_data", {})):
        if key not in entities:
            problems.append(error(f"sample_data.{key}", "reference", f"sample records for entity '{key}', which is "
                                                                     f"neither in the bundle nor in this instance"))
    return problems


class _Runner:
    """Runs the steps through the metadata service; each error names the definition it came from."""

    def __init__(self, metadata, actor: str):
        self.metadata, self.actor = metadata, actor
        self.steps: list[dict] = []

    def _call(self, kind: str, key: str, fn):
        try:
            plan = fn()
        except CrmError as exc:
            for e in exc.errors:
                e["field"] = f"definitions.{kind}.{key}" + (f".{e['field']}" if e.get("field") else "")
            raise
        self.steps.append(plan.public())

    def create(self, kind, doc):
        m, a = self.metadata, self.actor
        self._call(kind, doc["key"], lambda: m.create_definition(kind, doc, actor=a))

    def update(self, kind, key, target, current):
        patch = {**target, **{k: None for k in current if k not in target and k not in ("key", "archived_fields")}}
        m, a = self.metadata, self.actor
        self._call(kind, key, lambda: m.update_definition(kind, key, patch, actor=a))

    def restore(self, kind, key):
        m, a = self.metadata, self.actor
        self._call(kind, key, lambda: m.restore_definition(kind, key, actor=a))

    def archive(self, kind, key):
        m, a = self.metadata, self.actor
        self._call(kind, key, lambda: m.archive_definition(kind, key, actor=a))

    def until_settled(self, pending: list[tuple[str, str, object]]):
        """Run steps whose order is not known in advance: retry those that fail while others succeed."""
        while pending:
            failed, last = [], None
            for kind, key, step in pending:
                try:
                    step()
                except CrmError as exc:
                    failed.append((kind, key, step))
                    last = exc
            if len(failed) == len(pending):
                raise last
            pending = failed


def _current(conn, kind, key) -> dict:
    return load_state(conn).of_kind(kind)[key].doc


def run(platform, bundle: dict, *, actor: str, actor_id: int | None = None, dry_run: bool = False,
        on_conflict: str | None = None, sample_data: bool = False, today: dt.date | None = None,
        expect_revision: int | None = None, demo_users: bool = False, resolutions: dict[str, str] | None = None) -> dict:
    """Plan and (unless ``dry_run``) apply ``bundle``; the answer is the plan. All or nothing.

    ``demo_users`` (template installs): when the sample data is loaded, create demo users for the
    bundle's roles and spread the sample records' owners over them (``demo_users.py``); the answer
    lists them with their passwords, shown this once.

    ``resolutions`` settle conflicts one by one (``settled_by``); ``on_conflict`` settles the rest.

    ``expect_revision``: the ``revision`` of a plan shown earlier; if any definition changed since,
    the import is refused (409) instead of applying something other than what was shown.
    """
    check(bundle)
    if on_conflict is not None and on_conflict not in ON_CONFLICT:
        raise Invalid([error("on_conflict", "enum", f"on_conflict is {' or '.join(ON_CONFLICT)}")])
    wrong = [k for k, v in (resolutions or {}).items() if v not in ON_CONFLICT]
    if wrong:
        raise Invalid([error(f"resolutions.{k}", "enum", f"a conflict is settled by {' or '.join(ON_CONFLICT)}")
                       for k in wrong])
    today = today or utcnow().date()
    with platform.metadata.batch(dry_run=dry_run) as conn:
        state = load_state(conn)
        check_expected_revision(state.revision, expect_revision)
        installed = installs.load(conn, bundle["name"])
        problems = _static_problems(bundle, state)
        if problems:
            raise Invalid(problems)
        items = compare(bundle, state, installed, installs.owners(conn), on_conflict, resolutions)
        runner = _Runner(platform.metadata, actor)
        _apply(runner, conn, items)
        retagged = _refresh_rule_tags(platform, conn, items)
        loaded, skipped, made = {}, None, []
        if sample_data and bundle.get("sample_data"):
            if installed is not None and installed.sample_data_at is not None:
                skipped = (f"the sample data of '{bundle['name']}' was loaded on "
                           f"{installed.sample_data_at.date().isoformat()}; it is loaded only once")
            else:
                if demo_users:
                    made = demo.create(platform.users, conn, bundle["definitions"].get("role", []), dry_run=dry_run)
                faults.reach("bundle.before_sample_data")
                # A demo's records are a snapshot, not events: no automation acts on them (no e-mail for
                # a made-up customer, no reassignment of the owners spread over the demo salespeople).
                with automations_suspended():
                    loaded = sample.load(platform.records, conn, bundle["sample_data"], actor_id=actor_id,
                                         today=today, owners=demo.owner_pool(made))
        result = _report(bundle, installed, items, runner.steps, dry_run, loaded, skipped)
        if demo_users and loaded:
            result["demo_users"] = demo.public(made)
        result["revision"] = state.revision
        if retagged:
            result["rule_tags"] = retagged
        unresolved = [c for i in items for c in i.conflicts if c["resolution"] == "unresolved"]
        if unresolved and not dry_run:
            raise Conflict([error(f"definitions.{i.kind}.{i.key}" + (f".{c['path']}" if c["path"] else ""), "conflict",
                                  _conflict_message(c)) for i in items for c in i.conflicts
                            if c["resolution"] == "unresolved"], extra={"plan": result})
        changed = any(i.action not in ("unchanged", "kept") for i in items) or loaded
        if not dry_run and (changed or installed is None or installed.checksum != bundle["checksum"]):
            docs = {(kind, d["key"]): normalised(kind, d) for kind, ds in bundle["definitions"].items() for d in ds}
            installs.record(conn, bundle, docs, actor=actor, now=utcnow(),
                            sample_data_loaded=bool(loaded))
    return result


def _refresh_rule_tags(platform, conn, items: list[Item]) -> dict:
    """Apply the rules of taxonomies the import created or changed to the records already here
    (sample records get their rule tags as they are written)."""
    from ..runtime import tag_rules
    changed = [i.key for i in items if i.kind == "taxonomy" and i.action in ("create", "update", "restore")
               and any(t.get("rule") for t in (i.target or {}).get("tags", []))]
    report = {}
    for key in changed:
        found = tag_rules.refresh(conn, platform.runtime.current(conn), key)
        report.update({tag: counts for tag, counts in found.items() if counts["gained"] or counts["lost"]})
    return report


def _conflict_message(conflict: dict) -> str:
    why = conflict.get("note") or ("changed here and in the bundle since it was installed" if "installed" in conflict
                                   else "defined differently here, and this bundle did not install it")
    return f"{why}: settle it with keep-local or take-incoming (--on-conflict, or ?on_conflict= in the API)"


def _apply(runner: _Runner, conn, items: list[Item]) -> None:
    by_action = lambda action, kind=None: [i for i in items if i.action == action and (kind is None or i.kind == kind)]  # noqa: E731
    for i in by_action("restore"):
        runner.restore(i.kind, i.key)
    for i in by_action("create", "taxonomy"):
        runner.create("taxonomy", skeleton("taxonomy", i.target))
    # Entities whose references can be met are created whole, in dependency order; only where they
    # refer to each other in a circle is one created without those references and completed below.
    available = {k for k, e in load_state(conn).entities.items() if not e.archived}
    pending = by_action("create", "entity")
    while pending:
        ready = next((i for i in pending if _targets(i.target) <= available), pending[0])
        runner.create("entity", skeleton("entity", ready.target, available))
        available.add(ready.key)
        pending.remove(ready)
    for kind in SKELETON_KINDS[::-1]:  # entities complete first: taxonomy rules test their fields
        for i in items:
            if i.kind == kind and i.action in ("create", "update", "restore"):
                current = _current(conn, kind, i.key)
                if _local(kind, current)[0] != i.target:
                    runner.update(kind, i.key, i.target, current)
    pending = []
    for i in items:
        if i.kind in SKELETON_KINDS or i.action not in ("create", "update", "restore"):
            continue
        if i.action == "create":
            pending.append((i.kind, i.key, lambda i=i: runner.create(i.kind, i.target)))
        else:
            pending.append((i.kind, i.key, lambda i=i: runner.update(i.kind, i.key, i.target,
                                                                     _current(conn, i.kind, i.key))))
    runner.until_settled(pending)
    order = {k: n for n, k in enumerate(["entity", "taxonomy"])}
    archives = sorted(by_action("archive"), key=lambda i: (order.get(i.kind, -1), i.key))
    runner.until_settled([(i.kind, i.key, lambda i=i: runner.archive(i.kind, i.key)) for i in archives])


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _report(bundle, installed, items, steps, dry_run, loaded, skipped) -> dict:
    count = lambda *actions: sum(1 for i in items if i.action in actions)  # noqa: E731
    columns = sum(1 for s in steps for op in s["operations"] if op["op"] in ("add_column", "restore_column"))
    tables = [op for s in steps for op in s["operations"] if op["op"] == "create_table"]
    rows = sum(op.get("rows") or 0 for s in steps for op in s["operations"])
    conflicts = [{"kind": i.kind, "key": i.key, **c} for i in items for c in i.conflicts]
    out = {
        "bundle": {"name": bundle["name"], "version": bundle["version"], "checksum": bundle["checksum"]},
        "installed_version": installed.version if installed is not None else None,
        "older_than_installed": installed is not None and _version(bundle["version"]) < _version(installed.version),
        "dry_run": dry_run,
        "summary": {"created": count("create"), "changed": count("update", "restore"), "archived": count("archive"),
                    "unchanged": count("unchanged", "kept"), "tables_created": len(tables), "columns_added": columns,
                    "rows_affected": rows, "clashes": sum(1 for i in items if i.clash), "conflicts": len(conflicts),
                    "unresolved": sum(1 for c in conflicts if c["resolution"] == "unresolved")},
        "definitions": [i.public() for i in items],
        "conflicts": conflicts,
        "steps": steps,
    }
    if loaded or skipped:
        out["sample_data"] = {"records": loaded} if loaded else {"skipped": skipped}
    return out


__all__ = ["run", "compare", "ON_CONFLICT"]
