"""Definition kinds (entities, taxonomies, pipelines, forms, roles): how each is validated, merged and planned.

Each kind plugs into the one metadata choke point (``MetadataService.apply``) through ``prepare``,
which returns the normalised definition and its plan. Entities override it with their own, richer
planner (``entities.py``); the others share the one below.
"""
from __future__ import annotations

import copy
from typing import ClassVar

from ..errors import Conflict, Invalid, error
from . import plan as planning
from .definitions import MetaState, schema_errors
from .keys import key_problem


class Kind:
    name: ClassVar[str]
    #: the meta-schema file under schemas/
    schema: ClassVar[str]
    #: for messages: "a taxonomy", "an entity"
    article: ClassVar[str] = "a"

    def normalise(self, doc: dict) -> dict:
        return copy.deepcopy(doc)

    def problems(self, doc: dict, state: MetaState) -> list[dict]:
        """Rules beyond the meta-schema (references to other definitions, trees, ...)."""
        return []

    def plan(self, change, state: MetaState, before: dict | None, after: dict | None, probe) -> planning.Plan:
        key = (after or before)["key"]
        plan = planning.Plan(self.name, key, change.action, before, after)
        verb = {True: "archive", False: "restore", None: "create" if before is None else "update"}[change.archive]
        plan.operations.append(planning.Operation(f"{verb}_{self.name}", key, detail=f"{verb} {self.name} {key} (no DDL)"))
        return plan

    def archive_problems(self, key: str, state: MetaState) -> list[dict]:
        return []

    def fixed_key(self) -> str:
        """The refusal of a change that sends another key."""
        return f"{self.article} {self.name} key cannot be changed"

    def merge(self, before: dict, patch: dict) -> dict:
        """The definition after a change of top-level attributes: null removes one; lists (tags,
        stages...) are replaced whole."""
        after = copy.deepcopy(before)
        for k, v in patch.items():
            if v is None:
                after.pop(k, None)
            else:
                after[k] = v
        return after

    def entities_after(self, state: MetaState, key: str, after: dict | None) -> list[dict]:
        """The entity definitions the DDL of this kind's plan is built against."""
        return [s.doc for s in state.entities.values()]

    def prepare(self, change, state: MetaState, before, after, probe):
        if change.archive is False and before is not None:
            # What it refers to may have changed while it was archived: restore only what is still valid.
            problems = self.problems(before, state)
            if problems:
                raise Conflict(problems)
        if after is not None and change.archive is None:
            if not isinstance(after, dict):
                raise Invalid([error(None, "type", f"a {self.name} definition must be a JSON object")])
            after = self.normalise(after)
            problems = schema_errors(self.schema, after)
            if not problems:
                why = key_problem(after["key"])
                if why:
                    problems.append(error("key", "key", f"{self.name} key {why}"))
                problems += self.problems(after, state)
            if problems:
                raise Invalid(problems)
        return after, self.plan(change, state, before, after if change.archive is None else before, probe)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


# Each kind registers itself when its module is imported; those modules import this one, so they
# come last. Importing kinds therefore always yields every kind, entities first.
from . import entities, forms, pipelines, roles, taxonomies, reports, automations  # noqa: E402,F401
