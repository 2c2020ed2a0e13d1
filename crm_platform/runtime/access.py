"""Who may do what with records: the rights a user's roles grant, applied by the record service.

Roles are definitions (``metadata/roles.py``). A user holds a list of role keys; per entity, each
right (create, read, update, delete) is the widest scope any of those roles grants, and a field is
hidden or read-only only if every role that grants reading (or writing) the entity says so. A role
names an entity explicitly or falls back to its ``"*"`` entry. Administrators (the user's flag or a
role's ``admin``) have every right.

The record service is the one place that applies these rights, so the API, the screens, the admin
data views, imports and exports all see the same thing. Rights are compiled once per metadata
revision and role set (``CompiledModel.rights_cache``).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import Forbidden, NotFound, error
from ..metadata.roles import OPERATIONS, SCOPES
from .compiled import CompiledEntity, CompiledModel, Runtime

_WIDTH = {scope: n for n, scope in enumerate(SCOPES)}


@dataclass(frozen=True)
class Rights:
    """One user's rights on one entity."""

    create: str = "none"
    read: str = "none"
    update: str = "none"
    delete: str = "none"
    #: fields that may not be read (absent from every answer, refused in filters and writes)
    hidden: frozenset = frozenset()
    #: fields that may not be written (a superset of ``hidden``)
    readonly: frozenset = frozenset()

    def scope(self, op: str) -> str:
        return getattr(self, op)


FULL = Rights("all", "all", "all", "all")
NONE = Rights()


def _denied(grant: dict, what: str) -> set[str]:
    rules = grant.get("fields") or {}
    if what == "read":
        return {k for k, rule in rules.items() if rule.get("read") is False}
    return {k for k, rule in rules.items() if rule.get("write") is False or rule.get("read") is False}


def compile_rights(model: CompiledModel, role_keys: tuple[str, ...], entity_key: str) -> Rights:
    grants = []
    for key in role_keys:
        role = model.state.roles.get(key)
        if role is None or role.archived:
            continue
        entities = role.doc.get("entities") or {}
        grant = entities.get(entity_key, entities.get("*"))
        if grant:
            grants.append(grant)
    if not grants:
        return NONE
    scopes = {op: max((g.get(op, "none") for g in grants), key=_WIDTH.__getitem__) for op in OPERATIONS}
    readers = [g for g in grants if g.get("read", "none") != "none"]
    writers = [g for g in grants if g.get("create", "none") != "none" or g.get("update", "none") != "none"]
    hidden = frozenset.intersection(*(frozenset(_denied(g, "read")) for g in readers)) if readers else frozenset()
    readonly = frozenset.intersection(*(frozenset(_denied(g, "write")) for g in writers)) if writers else frozenset()
    return Rights(**scopes, hidden=hidden, readonly=readonly | hidden)


def _unchanged(new, old) -> bool:
    """A written value against the stored one (both as the validator gives them)."""
    if isinstance(new, list) and isinstance(old, list):  # tags and multi-choice: order is not a change
        return sorted(map(str, new)) == sorted(map(str, old))
    return new == old


class Access:
    """The rights of whoever is acting. ``Access.system()`` (scripts, hooks, templates) may do anything."""

    def __init__(self, user_id: int | None, *, admin: bool = False, roles: tuple[str, ...] | list[str] = (),
                 runtime: Runtime | None = None):
        self.user_id = user_id
        self.roles = tuple(sorted(set(roles)))
        self._admin_flag = admin
        self._runtime = runtime

    @classmethod
    def system(cls) -> "Access":
        return cls(None, admin=True)

    @classmethod
    def for_user(cls, user, runtime: Runtime) -> "Access":
        return cls(user.id, admin=user.is_admin, roles=user.roles, runtime=runtime)

    # ---- questions (screens ask these to decide what to show) ------------------------------------
    def _model(self, model: CompiledModel | None) -> CompiledModel:
        return model if model is not None else self._runtime.current()

    def is_admin(self, model: CompiledModel | None = None) -> bool:
        if self._admin_flag:
            return True
        if not self.roles:
            return False
        state = self._model(model).state
        return any(not r.archived and r.doc.get("admin") for k, r in state.roles.items() if k in self.roles)

    @property
    def admin(self) -> bool:
        return self.is_admin()

    def may_create_reports(self, model: CompiledModel | None = None) -> bool:
        """Whether the user may build and save reports (``"reports": {"create": true}`` on one of
        their roles; administrators always)."""
        if self.is_admin(model):
            return True
        state = self._model(model).state
        return any(not r.archived and (r.doc.get("reports") or {}).get("create") is True
                   for k, r in state.roles.items() if k in self.roles)

    @property
    def rights_key(self) -> tuple:
        """What this user's rights follow from, besides the revision: screens key what they keep by it."""
        return self._admin_flag, self.roles

    def rights(self, entity_key: str, model: CompiledModel | None = None) -> Rights:
        if self._admin_flag:
            return FULL
        model = self._model(model)
        cache_key = (self.roles, entity_key)
        found = model.rights_cache.get(cache_key)
        if found is None:
            found = FULL if self.is_admin(model) else compile_rights(model, self.roles, entity_key)
            model.rights_cache[cache_key] = found
        return found

    def can(self, op: str, entity_key: str, model: CompiledModel | None = None) -> bool:
        return self.rights(entity_key, model).scope(op) != "none"

    def can_read_field(self, entity_key: str, field_key: str, model: CompiledModel | None = None) -> bool:
        rights = self.rights(entity_key, model)
        return rights.read != "none" and field_key not in rights.hidden

    def can_write_field(self, entity_key: str, field_key: str, model: CompiledModel | None = None) -> bool:
        """Whether the user may write the field: never a computed one (roll-ups, formulas), which forms
        then show read-only and imports do not offer."""
        rights = self.rights(entity_key, model)
        if not (rights.create != "none" or rights.update != "none") or field_key in rights.readonly:
            return False
        entity = self._model(model).entities.get(entity_key) if model is not None or self._runtime else None
        return entity is None or field_key not in entity.computed_keys

    def allows(self, op: str, entity_key: str, record: dict, model: CompiledModel | None = None) -> bool:
        """Whether ``op`` is allowed on this particular record (its owner decides for scope own)."""
        scope = self.rights(entity_key, model).scope(op)
        return scope == "all" or (scope == "own" and self.user_id is not None and record.get("owner_id") == self.user_id)

    # ---- enforcement (the record service calls these) -------------------------------------------
    def require(self, op: str, entity: CompiledEntity, model: CompiledModel) -> Rights:
        rights = self.rights(entity.key, model)
        if rights.scope(op) == "none":
            raise Forbidden([error(None, "forbidden", f"you may not {op} {entity.key} records")])
        return rights

    def read_clause(self, entity: CompiledEntity, model: CompiledModel):
        """The SQL condition limiting a list to readable records, or None when all are readable."""
        self.require("read", entity, model)
        return self.readable_clause(entity, model)

    def readable_clause(self, entity: CompiledEntity, model: CompiledModel):
        """The SQL condition for the records this user may read: None when all, false when none.

        It never refuses, for questions about records of another entity: a reference to a record
        the user may not read is answered exactly like one to a record that does not exist.
        """
        scope = self.rights(entity.key, model).read
        if scope == "all":
            return None
        if scope == "own" and self.user_id is not None:
            return entity.table.c.owner_id == self.user_id
        return sa.false()

    def readable(self, entity: CompiledEntity, model: CompiledModel, record: dict) -> dict:
        """The record as this user may see it; NotFound if they may not see it at all.

        404 rather than 403, so that ids of other people's records cannot be probed.
        """
        self.require("read", entity, model)
        if not self.allows("read", entity.key, record, model):
            raise NotFound([error(None, "not_found", f"no {entity.key} record with id {record.get('id')}")])
        return self.redact(entity, model, record)

    def redact(self, entity: CompiledEntity, model: CompiledModel, record: dict) -> dict:
        for key in self.rights(entity.key, model).hidden:
            record.pop(key, None)
        return record

    def check_writable(self, entity: CompiledEntity, model: CompiledModel, sent: dict,
                       before: dict | None = None, values: dict | None = None) -> None:
        """Refuse (403, naming each field) a write that touches a field the user may not write.

        On update, a read-only field sent with its current value is not a change and passes (a form
        may post every field it shows); a hidden field is refused whatever its value, or comparing
        would reveal it.
        """
        rights = self.rights(entity.key, model)
        problems = []
        for key in sent:
            if key in rights.hidden:
                problems.append(error(key, "forbidden", f"you may not read or write '{key}'"))
            elif key in rights.readonly:
                unchanged = before is not None and values is not None and key in values and \
                    _unchanged(values[key], before.get(key))
                if not unchanged:
                    problems.append(error(key, "forbidden", f"you may not change '{key}'"))
        if problems:
            raise Forbidden(problems)

    def check_owner(self, op: str, entity: CompiledEntity, model: CompiledModel, owner_id, current_owner) -> None:
        """Handing a record to another owner needs scope ``all`` (create: assign; update: reassign)."""
        if owner_id == current_owner or self.rights(entity.key, model).scope(op) == "all":
            return
        raise Forbidden([error("owner_id", "forbidden", f"you may not give {entity.key} records to another owner")])

    def check_query_fields(self, entity: CompiledEntity, model: CompiledModel, keys) -> None:
        """Filtering or sorting by a hidden field would reveal it: refuse, naming the field."""
        hidden = self.rights(entity.key, model).hidden
        bad = [k for k in keys if k in hidden]
        if bad:
            raise Forbidden([error(k, "forbidden", f"you may not filter or sort by '{k}'") for k in bad])


SYSTEM = Access.system()
