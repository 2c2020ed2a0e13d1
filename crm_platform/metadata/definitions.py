"""Validation of definitions: the meta-schema first, then the rules that span definitions."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field as dc_field

from ..errors import Invalid, error
from . import meta_schemas
from .field_types import REGISTRY, Invalid as ValueInvalid, defaults as dynamic_defaults
from .keys import POSTGRESQL_SYSTEM_COLUMNS, SYSTEM_COLUMNS, key_problem


@dataclass
class EntityState:
    doc: dict
    archived: bool = False

    @property
    def fields(self) -> list[dict]:
        return self.doc.get("fields", [])

    @property
    def archived_fields(self) -> list[dict]:
        return self.doc.get("archived_fields", [])


@dataclass
class MetaState:
    """Every definition as stored, at one revision. Plans are pure functions of it."""

    revision: int = 0
    #: kind → key → stored definition; any kind (roles, forms, ...) lands here without code changes
    by_kind: dict[str, dict[str, EntityState]] = dc_field(default_factory=dict)

    def of_kind(self, kind: str) -> dict[str, EntityState]:
        return self.by_kind.setdefault(kind, {})

    @property
    def entities(self) -> dict[str, EntityState]:
        return self.of_kind("entity")

    @property
    def taxonomies(self) -> dict[str, EntityState]:
        return self.of_kind("taxonomy")

    @property
    def pipelines(self) -> dict[str, EntityState]:
        return self.of_kind("pipeline")

    @property
    def roles(self) -> dict[str, EntityState]:
        return self.of_kind("role")

    def entity_is_available(self, key: str) -> bool:
        state = self.entities.get(key)
        return state is not None and not state.archived

    def taxonomy_is_available(self, key: str) -> bool:
        state = self.taxonomies.get(key)
        return state is not None and not state.archived


class _Context:
    def __init__(self, state: MetaState, own_key: str):
        self.state, self.own_key = state, own_key

    def entity_is_available(self, key: str) -> bool:
        return key == self.own_key or self.state.entity_is_available(key)

    def taxonomy_is_available(self, key: str) -> bool:
        return self.state.taxonomy_is_available(key)


def schema_errors(kind: str, doc: object, prefix: str = "") -> list[dict]:
    out = []
    for err in sorted(meta_schemas.validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = _path(doc, list(err.absolute_path))
        leaf = err
        if err.context:  # oneOf/anyOf: report the most specific branch error
            leaf = max(err.context, key=lambda e: len(e.absolute_path))
            path = _path(doc, list(err.absolute_path) + list(leaf.relative_path)) or path
        out.append(error(prefix + path if path else (prefix.rstrip(".") or None), leaf.validator, leaf.message))
    return out


def _path(doc, parts: list) -> str:
    """A readable path: ``fields.age.max_length`` rather than ``fields/3/max_length``."""
    names, node = [], doc
    for part in parts:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            item = node[part]
            names.append(item["key"] if isinstance(item, dict) and isinstance(item.get("key"), str) else str(part))
            node = item
        else:
            names.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(names)


def normalise_entity(doc: dict) -> dict:
    """Drop what the platform manages and what is left at its default, so stored docs are canonical."""
    doc = copy.deepcopy(doc)
    doc.pop("archived_fields", None)
    doc.setdefault("fields", [])
    for f in doc["fields"]:
        for flag in ("required", "unique", "indexed", "personal"):
            if f.get(flag) is False:
                del f[flag]
    return doc


def validate_entity(doc: object, state: MetaState) -> list[dict]:
    """All the reasons ``doc`` cannot be the new definition of its entity (empty when it can)."""
    if not isinstance(doc, dict):
        return [error(None, "type", "an entity definition must be a JSON object")]
    problems = schema_errors("entity", doc)
    if problems:
        return problems
    key = doc["key"]
    why = key_problem(key, entity=True)
    if why:
        problems.append(error("key", "key", f"entity key {why}"))
    elif key.endswith("_id_seq") and key not in state.entities:
        # PostgreSQL names the id sequence of entity "x"'s table ent_x_id_seq: the table of an
        # entity "x_id_seq" would take the same name. New entities only: one already here stays.
        problems.append(error("key", "key", f"entity key '{key}' ends in '_id_seq', which PostgreSQL uses for the "
                                            f"id sequences of tables: choose another key"))
    seen: set[str] = set()
    context = _Context(state, key)
    context.own_doc = doc  # computed fields may refer to the entity's own fields (a cycle check needs them)
    for f in doc.get("fields", []):
        fkey, ftype = f["key"], REGISTRY[f["type"]]
        where = f"fields.{fkey}"
        why = key_problem(fkey)
        if why:
            problems.append(error(where + ".key", "key", f"field key {why}"))
        if fkey in SYSTEM_COLUMNS:
            problems.append(error(where + ".key", "key", f"'{fkey}' is a system column every record has"))
        if fkey in POSTGRESQL_SYSTEM_COLUMNS:
            problems.append(error(where + ".key", "key", f"field key '{fkey}' is a system column PostgreSQL gives "
                                                        f"every table ({', '.join(POSTGRESQL_SYSTEM_COLUMNS)}): "
                                                        f"choose another key"))
        if fkey in seen:
            problems.append(error(where + ".key", "unique", f"two fields have the key '{fkey}'"))
        seen.add(fkey)
        for option, message in ftype.definition_problems(f, context):
            problems.append(error(f"{where}.{option}", "invalid", message))
        if ftype.computed:
            for option in ("required", "unique", "default"):
                if f.get(option) not in (None, False):
                    problems.append(error(f"{where}.{option}", "invalid", f"a {ftype.name} field is computed by "
                                                                          f"the platform: it cannot be {option}"
                                          if option != "default" else
                                          f"a {ftype.name} field is computed by the platform: it has no default"))
        if (f.get("unique") or f.get("indexed")) and not ftype.indexable:
            problems.append(error(f"{where}.unique" if f.get("unique") else f"{where}.indexed", "invalid",
                                  f"a {ftype.name} field cannot be unique or indexed"))
        if "default" in f and f["default"] is not None and not [p for p in problems if p["field"].startswith(where)]:
            try:
                if dynamic_defaults.token_of(f) is None:
                    ftype.compile_checker(f)(f["default"])
            except ValueInvalid as exc:
                why = dynamic_defaults.problem(f)
                problems.append(error(f"{where}.default", "invalid" if why else exc.code,
                                      f"the default {why or exc.message}"))
    title = doc.get("title_field")
    if title is not None and title not in seen:
        problems.append(error("title_field", "invalid", f"title_field '{title}' is not a field of this entity"))
    for n, column in enumerate(doc.get("list_columns") or []):
        if column not in seen:
            problems.append(error(f"list_columns.{n}", "invalid", f"list_columns names '{column}', not a field of this entity"))
    problems += _reminder_problems(doc)
    return problems


def _reminder_problems(doc: dict) -> list[dict]:
    """A reminder names a date or datetime field of the entity, and an exclude field with values it holds."""
    fields = {f["key"]: f for f in doc.get("fields", [])}
    problems = []
    for i, reminder in enumerate(doc.get("reminders", [])):
        where = f"reminders.{i}"
        field = fields.get(reminder["field"])
        if field is None or not REGISTRY[field["type"]].temporal:
            problems.append(error(f"{where}.field", "invalid",
                                  f"'{reminder['field']}' is not a date or datetime field of this entity"))
        exclude = reminder.get("exclude")
        if exclude is None:
            continue
        other = fields.get(exclude["field"])
        if other is None or REGISTRY[other["type"]].multi_valued:
            problems.append(error(f"{where}.exclude.field", "invalid",
                                  f"'{exclude['field']}' is not a single-valued field of this entity"))
            continue
        ftype = REGISTRY[other["type"]]
        check = ftype.compared_checker(other)
        for j, value in enumerate(exclude["values"]):
            try:
                check(value)
            except ValueInvalid as exc:
                problems.append(error(f"{where}.exclude.values.{j}", exc.code, f"'{exclude['field']}' {exc.message}"))
    return problems


def check_entity(doc: object, state: MetaState) -> dict:
    problems = validate_entity(doc, state)
    if problems:
        raise Invalid(problems)
    return doc
