"""Roles: who may create, read, update and delete which records, and read or write which fields.

A role is a definition like any other (stored, revisioned, carried in bundles). What it *means*
at run time is computed in ``runtime/access.py``; here it is only validated and planned.
"""
from __future__ import annotations

from ..errors import error
from . import plan as planning
from .definitions import MetaState
from .kinds import Kind, register

OPERATIONS = ("create", "read", "update", "delete")
#: Widening order of scopes: a user's right is the widest any of their roles grants.
SCOPES = ("none", "own", "all")


def roles_naming_field(state: MetaState, entity: str, field: str) -> list[str]:
    """Active roles with a rule for ``entity.field``."""
    return sorted(key for key, r in state.roles.items()
                  if not r.archived and field in ((r.doc.get("entities") or {}).get(entity) or {}).get("fields", {}))


def renamed_field_refusals(state: MetaState, entity: str, renames: dict) -> list:
    """A field a role restricts may not be renamed: the rule would silently stop applying."""
    out = []
    for old in renames:
        for role in roles_naming_field(state, entity, old):
            out.append(planning.Refusal(f"fields.{old}", "role",
                                        f"role '{role}' has a rule for field '{old}': change the role first"))
    return out


class RoleKind(Kind):
    name = "role"
    schema = "role"

    def problems(self, doc: dict, state: MetaState) -> list[dict]:
        problems = []
        for entity, rights in (doc.get("entities") or {}).items():
            if entity == "*":
                if rights.get("fields"):
                    problems.append(error("entities.*.fields", "invalid",
                                          "field rules name fields of one entity; put them under that entity"))
                continue
            found = state.entities.get(entity)
            if found is None or found.archived:
                problems.append(error(f"entities.{entity}", "invalid", f"there is no active entity '{entity}'"))
                continue
            keys = {f["key"] for f in found.fields}
            for field, rule in (rights.get("fields") or {}).items():
                where = f"entities.{entity}.fields.{field}"
                if field not in keys:
                    problems.append(error(where, "invalid", f"'{field}' is not a field of {entity}"))
                elif rule.get("write") and rule.get("read") is False:
                    problems.append(error(where, "invalid", "a field that may not be read may not be written either"))
        return problems


ROLE = register(RoleKind())
