"""The compiled record validator: one closure per field, built once per metadata revision.

It accepts exactly what the entity's record JSON Schema accepts (a hypothesis test holds them
together) and turns JSON values into Python values on the way, so records are checked and coerced
in one pass at tens of thousands per second; jsonschema stays the published contract and oracle.
"""
from __future__ import annotations

from ..errors import error
from ..metadata.field_types import REGISTRY, Invalid, defaults as dynamic_defaults
from ..metadata.field_types.temporal import parse_iso_datetime

READ_ONLY = ("id", "created_at", "updated_at", "created_by", "updated_by")
#: User ids are INTEGER (crm_users.id): a larger owner_id names no user, and is refused here rather
#: than overflowing in the database when it is looked up (PostgreSQL) or written (above 2**63).
MAX_USER_ID = 2**31 - 1


def _int_or_none(value, minimum=None):
    if value is None:
        return None
    if type(value) is not int:
        raise Invalid("type", "must be a whole number or null")
    if minimum is not None and value < minimum:
        raise Invalid("minimum", f"must be at least {minimum}")
    return value


def _system_checkers():
    def version(v):
        if type(v) is not int:
            raise Invalid("type", "must be a whole number")
        if v < 1:
            raise Invalid("minimum", "must be at least 1")
        return v

    def stamp(v):
        if type(v) is not str or parse_iso_datetime(v) is None:
            raise Invalid("format", "must be a date and time in ISO 8601 with an offset")
        return v

    def identity(v):
        if type(v) is not int:
            raise Invalid("type", "must be a whole number")
        return v

    def owner(v):
        v = _int_or_none(v, 1)
        if v is not None and v > MAX_USER_ID:
            raise Invalid("maximum", f"must be at most {MAX_USER_ID}")
        return v

    return {
        "id": identity, "version": version, "created_at": stamp, "updated_at": stamp,
        "created_by": _int_or_none, "updated_by": _int_or_none,
        "owner_id": owner,
    }


SYSTEM_CHECKERS = _system_checkers()


class RecordValidator:
    def __init__(self, doc: dict):
        fields = doc.get("fields", [])
        #: Computed fields (roll-ups, formulas): the platform writes them, a write naming one is refused.
        self.computed = frozenset(f["key"] for f in fields if REGISTRY[f["type"]].computed)
        fields = [f for f in fields if f["key"] not in self.computed]
        self.checkers = {f["key"]: REGISTRY[f["type"]].compile_checker(f) for f in fields}
        self.required = frozenset(f["key"] for f in fields if f.get("required"))
        self.must_send = tuple(f["key"] for f in fields if f.get("required") and f.get("default") is None)
        computed = dynamic_defaults.dynamic_fields(fields)
        #: Defaults computed at each create (``now``, ``today+N``, ``current_user``): field key → field.
        self.computed = {f["key"]: f for f in computed}
        self.defaults = {f["key"]: self.checkers[f["key"]](f["default"]) for f in fields
                         if f.get("default") is not None and f["key"] not in self.computed}

    def computed_defaults(self, data_keys, now, user_name) -> dict:
        """Values of the computed defaults of the fields a new record left out (``data_keys``: sent)."""
        return {k: dynamic_defaults.value_of(f, now, user_name) for k, f in self.computed.items() if k not in data_keys}

    def validate(self, data: dict, *, partial: bool = False, filled: dict | None = None) -> tuple[dict, dict, list[dict]]:
        """(field values, system values, errors). With ``partial`` (PATCH) nothing is required."""
        values: dict = {}
        system: dict = {}
        errors: list[dict] = []
        checkers = self.checkers
        for key, value in data.items():
            check = checkers.get(key)
            if check is None:
                if key in self.computed:
                    errors.append(error(key, "readOnly", f"'{key}' is computed by the platform and cannot be written"))
                    continue
                sys_check = SYSTEM_CHECKERS.get(key)
                if sys_check is None:
                    errors.append(error(key, "additionalProperties", f"'{key}' is not a field of this entity"))
                    continue
                try:
                    checked = sys_check(value)
                except Invalid as exc:
                    errors.append(error(key, exc.code, exc.message))
                    continue
                if key not in READ_ONLY:
                    system[key] = checked
                continue
            if value is None:
                if key in self.required:
                    errors.append(error(key, "required", "is required"))
                else:
                    values[key] = None
                continue
            try:
                values[key] = check(value)
            except Invalid as exc:
                errors.append(error(key, exc.code, exc.message))
        if not partial:
            for key in self.must_send:
                if key not in data:
                    errors.append(error(key, "required", "is required"))
            for key, default in self.defaults.items():
                if key not in data:
                    values[key] = default
            if filled:  # computed defaults (the record service's, for this write's moment and actor)
                for key, value in filled.items():
                    if key not in data:
                        values[key] = value
        return values, system, errors
