"""What definitions compile to, cached per metadata revision and rebuilt whole when it moves.

Every request asks ``Runtime.current(conn)``: one primary-key read of the revision counter. When
another process has changed the metadata, this process builds a fresh MetaData, tables, validators
and schemas, and swaps them in; a request in flight keeps the model it started with.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import sqlalchemy as sa

from ..errors import NotFound, error
from ..metadata.definitions import MetaState
from ..metadata.field_types import REGISTRY, FieldType
from ..metadata.keys import table_name
from ..metadata.store import REVISION_QUERY, current_revision, load_state
from .record_schema import record_schema
from .serialise import LinkReader, RecordDumper, build_output_schema
from ..metadata.field_types.tags import link_table_name
from .table_builder import build_metadata
from .validation import RecordValidator
from . import formulas
from ..metadata import formulas as formula_grammar
from ..metadata.field_types.formula import scope_of_docs


def formula_tree(field: dict, entity: str, docs: dict):
    """A formula field's typed tree (its definition was checked when stored)."""
    return formula_grammar.check(field["expression"], scope_of_docs(entity, docs), field["key"])


def bind_entity(doc: dict, state: MetaState) -> dict:
    """The entity with each field bound to the definitions it uses (taxonomies, pipelines)."""
    # ``_entity`` tells a field which entity it belongs to (a stage field finds its pipeline by it).
    return {**doc, "fields": [REGISTRY[f["type"]].bind({**f, "_entity": doc["key"]}, state)
                              for f in doc.get("fields", [])]}


@dataclass
class CompiledEntity:
    doc: dict
    table: sa.Table
    archived: bool
    metadata: sa.MetaData | None = None
    #: every entity's stored document by key (formulas read referenced entities' fields)
    docs: dict | None = None

    @cached_property
    def link_tables(self) -> dict[str, sa.Table]:
        """Tables holding the values of link-stored fields (tags), by field key."""
        return {f["key"]: self.metadata.tables[link_table_name(self.key, f["key"])]
                for f in self.fields if REGISTRY[f["type"]].link_stored}

    @property
    def key(self) -> str:
        return self.doc["key"]

    @cached_property
    def fields(self) -> list[dict]:
        return list(self.doc.get("fields", []))

    @cached_property
    def field_map(self) -> dict[str, dict]:
        return {f["key"]: f for f in self.fields}

    @cached_property
    def types(self) -> dict[str, FieldType]:
        return {f["key"]: REGISTRY[f["type"]] for f in self.fields}

    @cached_property
    def computed_keys(self) -> frozenset[str]:
        """Fields the platform computes (roll-ups, formulas: the type's ``computed`` trait): read-only."""
        return frozenset(f["key"] for f in self.fields if REGISTRY[f["type"]].computed)

    @cached_property
    def computed_initial(self) -> dict:
        """What a new record's computed fields hold until something computes them (a count: 0)."""
        return {f["key"]: REGISTRY[f["type"]].initial_value(f) for f in self.fields
                if REGISTRY[f["type"]].computed and not REGISTRY[f["type"]].virtual}

    @cached_property
    def stored_keys(self) -> list[str]:
        """Fields with a column of this table or a link table (not formulas, computed when read)."""
        return [f["key"] for f in self.fields if not REGISTRY[f["type"]].virtual]

    @cached_property
    def expressions(self) -> dict:
        """Formula fields' values as SQL expressions over this table's row, by field key."""
        out = {}
        docs = self.docs or {self.key: self.doc}
        for f in self.fields:
            if REGISTRY[f["type"]].virtual:
                try:
                    tree = formula_tree(f, self.key, docs)
                except formula_grammar.FormulaError:  # refused when stored; never a 500 on reads
                    out[f["key"]] = sa.type_coerce(sa.null(), formulas.sql_type(REGISTRY[f["type"]].formula_result(f)))
                    continue
                out[f["key"]] = formulas.to_sql(tree, REGISTRY[f["type"]].formula_result(f), self.table,
                                                lambda entity: self.metadata.tables[table_name(entity)])
        return out

    @cached_property
    def evaluators(self) -> dict:
        """Formula fields' values as Python functions ``f(record, related)`` (``runtime/formulas``)."""
        docs = self.docs or {self.key: self.doc}
        return {f["key"]: formulas.to_python(formula_tree(f, self.key, docs), REGISTRY[f["type"]].formula_result(f))
                for f in self.fields if REGISTRY[f["type"]].virtual}

    def column(self, key: str):
        """What SQL reads for a field (or a system column): its column, or a formula's expression."""
        found = self.expressions.get(key)
        return found if found is not None else self.table.c[key]

    @cached_property
    def validator(self) -> RecordValidator:
        return RecordValidator(self.doc)

    @cached_property
    def json_schema(self) -> dict:
        """The served schema: records as the API answers them (rule-applied tags included)."""
        return record_schema(self.doc, answer=True)

    @cached_property
    def output(self):
        """The marshmallow schema that writes records as JSON."""
        return build_output_schema(self)

    @cached_property
    def dumper(self) -> RecordDumper:
        """``output`` compiled to plain functions: what reads use (the schema is its oracle)."""
        return RecordDumper(self)

    @cached_property
    def links(self) -> LinkReader:
        """Reads the link-stored fields (tags) of many records in one query."""
        return LinkReader(self)

    @cached_property
    def columns(self) -> list[sa.Column]:
        """Columns the API reads: system columns and active fields (archived fields stay hidden)."""
        t = self.table
        return [t.c.id, t.c.version, t.c.created_at, t.c.updated_at, t.c.created_by, t.c.updated_by,
                t.c.owner_id] + [self.column(f["key"]).label(f["key"]) if f["key"] in self.expressions else t.c[f["key"]]
                                 for f in self.fields if not REGISTRY[f["type"]].link_stored]

    def selection(self, keys) -> list:
        """What a reader of only these fields selects: the id, the owner and the version (which
        rights and edits in place need) and each of ``keys`` that is a column or a formula; link-stored
        fields are read by ``links``."""
        t = self.table
        return [t.c.id, t.c.owner_id, t.c.version, *(
            t.c[k] if k in t.c else self.column(k).label(k) for k in dict.fromkeys(keys)
            if (k in t.c or k in self.expressions) and k not in ("id", "owner_id", "version"))]

    @cached_property
    def get_statement(self) -> sa.Select:
        """SELECT of one live record by ``:record_id``, built once per revision (RecordService.get)."""
        t = self.table
        return sa.select(*self.columns).where(t.c.id == sa.bindparam("record_id"), t.c.archived_at.is_(None))

    @cached_property
    def get_with_revision_statement(self) -> sa.Select:
        """``get_statement`` that also reads the metadata revision, as its first column ``_revision``.

        The revision check and the record read in one round trip; ``_revision`` cannot clash with
        a field key (keys start with a letter).
        """
        t = self.table
        return (sa.select(REVISION_QUERY.scalar_subquery().label("_revision"), *self.columns)
                .where(t.c.id == sa.bindparam("record_id"), t.c.archived_at.is_(None)))

    @cached_property
    def plain_list_statements(self) -> dict:
        """(page and sort) → the (rows, count) statements of an unfiltered list (``query.list_statements``)."""
        return {}

    @cached_property
    def references(self) -> dict[str, str]:
        return {f["key"]: REGISTRY[f["type"]].target_entity(f) for f in self.fields
                if REGISTRY[f["type"]].target_entity(f) is not None}


class CompiledModel:
    def __init__(self, state: MetaState):
        self.revision = state.revision
        self.state = state
        #: (role keys, entity key) → access.Rights, filled as users ask (roles are part of the state)
        self.rights_cache: dict = {}
        docs = [s.doc for s in state.entities.values()]
        self.metadata = build_metadata(docs)
        self.entities = {
            key: CompiledEntity(bind_entity(s.doc, state), self.metadata.tables[table_name(key)], s.archived,
                                self.metadata, {k: st.doc for k, st in state.entities.items()})
            for key, s in state.entities.items()
        }

    def entity(self, key: str) -> CompiledEntity:
        entity = self.entities.get(key)
        if entity is None or entity.archived:
            raise NotFound([error(None, "not_found", f"no entity '{key}'")])
        return entity

    def active(self) -> list[CompiledEntity]:
        return [e for e in self.entities.values() if not e.archived]

    def referencing(self, key: str) -> list[tuple[CompiledEntity, dict]]:
        """(entity, field) pairs of active reference fields that point at ``key``, archived entities included.

        An archived entity keeps its table and rows and comes back on restore, so deleting a record
        it refers to must still apply the field's ``on_delete`` rule to them (restrict, set_null,
        cascade); otherwise the restore would bring back references to records in the recycle bin.
        """
        return [(e, f) for e in self.entities.values() for f in e.fields
                if REGISTRY[f["type"]].target_entity(f) == key]


class Runtime:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._model: CompiledModel | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._model = None

    @property
    def cached(self) -> CompiledModel | None:
        """The last model compiled in this process, possibly stale: check its revision before use."""
        return self._model

    def current(self, conn: sa.Connection | None = None) -> CompiledModel:
        if conn is None:
            with self.engine.connect() as own:
                return self.current(own)
        revision = current_revision(conn)
        model = self._model
        if model is not None and model.revision == revision:
            return model
        with self._lock:
            model = self._model
            if model is None or model.revision != revision:
                model = CompiledModel(load_state(conn))
                self._model = model
        return model
