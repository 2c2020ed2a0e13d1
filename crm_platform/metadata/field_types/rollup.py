"""Roll-up fields: a figure about the records of another entity that refer to this one.

``{"key", "type": "rollup", "source": {"entity": "order", "via": "customer"}, "aggregate": "avg",
"field": "amount", "filter": [{"field": "status", "op": "eq", "value": "paid"}]}`` keeps, in a real
column of the parent's table, the average amount of the customer's paid orders. The value is
maintained in the same transaction as every write of the child records by an after-write hook
(``runtime/rollups.py``) and filled by the plan when the field is added or its definition changes
(``recompute_column``).

What the value is depends on the aggregate and the child field: ``count`` and ``count_distinct`` are
whole numbers; ``sum`` and ``avg`` decimals (``scale``: the child field's for a sum, two more for an
average, unless the definition says); ``min``, ``max`` and ``latest`` (the most recent value of a
date or datetime field) are of the child field's type. The runtime binds that as ``_result``, a plain
field of the result type, and the roll-up answers every question about values (column, JSON, filters,
reports, display) as that field would.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from .base import END, FieldType, Invalid, REGISTRY, register
from .derived import DerivedValues

AGGREGATES = ("count", "sum", "avg", "min", "max", "latest", "count_distinct")
#: Filter operators: those of rule tags that do not depend on the day (a stored figure must not go
#: stale while nobody writes).
FILTER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "is_empty", "is_not_empty")
KEY = r"^[a-z][a-z0-9_]{0,62}" + END
MAX_SCALE = 10


def _default_result(field: dict) -> dict:
    """The result field as far as the definition alone tells (no child field known)."""
    aggregate = field.get("aggregate")
    if aggregate in ("count", "count_distinct"):
        return {"key": field.get("key", "value"), "type": "integer"}
    if aggregate in ("sum", "avg"):
        return {"key": field.get("key", "value"), "type": "decimal", "scale": field.get("scale", 2)}
    return {"key": field.get("key", "value"), "type": "text"}


def result_field(field: dict, child_field: dict | None) -> dict:
    """The plain field a roll-up's values are: its type decides the column, JSON and operators."""
    aggregate, key = field.get("aggregate"), field.get("key", "value")
    if aggregate in ("count", "count_distinct") or child_field is None:
        return _default_result(field)
    child_type = REGISTRY[child_field["type"]]
    if aggregate in ("sum", "avg"):
        child_scale = _scale_of(child_field)
        if aggregate == "sum":  # a sum keeps the child's decimal places: exact, and stored as they are
            return {"key": key, "type": "decimal", "scale": child_scale}
        scale = field.get("scale")
        scale = min(child_scale + 2, MAX_SCALE) if scale is None else max(scale, child_scale)
        return {"key": key, "type": "decimal", "scale": scale}
    if child_type.computed:  # min / max of another roll-up: of its result type
        return {**child_type.result(child_field), "key": key}
    keep = {k: v for k, v in child_field.items() if k in ("type", "scale", "options", "choices")}
    return {**keep, "key": key}


@register
class Rollup(DerivedValues, FieldType):
    name = "rollup"
    title = {"en": "Roll-up", "zh": "汇总"}
    computed = True
    orderable = True
    control = "number"
    operators = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")

    # ---- definition -----------------------------------------------------------------------------
    def options_schema(self):
        condition = {
            "type": "object", "required": ["field", "op"], "additionalProperties": False,
            "properties": {"field": {"type": "string", "pattern": KEY}, "op": {"enum": list(FILTER_OPS)},
                           "value": True},
        }
        return {
            "source": {"type": "object", "required": ["entity", "via"], "additionalProperties": False,
                       "description": "The child entity and its reference field that points at this entity",
                       "properties": {"entity": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}" + END},
                                      "via": {"type": "string", "pattern": KEY}}},
            "aggregate": {"enum": list(AGGREGATES)},
            "field": {"type": "string", "pattern": KEY, "description": "The child field aggregated (not for count)"},
            "filter": {"type": "array", "maxItems": 20, "items": condition,
                       "description": "Conditions on the child records, as in rule tags; all must hold"},
            "scale": {"type": "integer", "minimum": 0, "maximum": MAX_SCALE,
                      "description": "Decimal places of a sum or average"},
        }

    def definition_problems(self, field, context):
        source, aggregate = field.get("source"), field.get("aggregate")
        if not isinstance(source, dict) or not source.get("entity") or not source.get("via"):
            return [("source", "a roll-up needs source.entity and source.via")]
        if aggregate is None:
            return [("aggregate", "a roll-up needs an aggregate: " + ", ".join(AGGREGATES))]
        own = context.own_key
        child_doc = _child_doc(context, source["entity"])
        if child_doc is None:
            return [("source.entity", f"there is no active entity '{source['entity']}'")]
        fields = {f["key"]: f for f in child_doc.get("fields", [])}
        archived = {f["key"] for f in child_doc.get("archived_fields", [])}
        via = fields.get(source["via"])
        if via is None:
            why = "is archived" if source["via"] in archived else f"is not a field of {source['entity']}"
            return [("source.via", f"'{source['via']}' {why}")]
        if REGISTRY[via["type"]].target_entity(via) != own:
            return [("source.via", f"'{source['via']}' of {source['entity']} is not a reference to {own}")]
        problems = []
        key = field.get("field")
        if aggregate == "count":
            if key is not None:
                problems.append(("field", "a count counts records: it takes no field"))
        elif key is None:
            problems.append(("field", f"'{aggregate}' needs the child field it aggregates"))
        elif key not in fields:
            why = "is archived" if key in archived else f"is not a field of {source['entity']}"
            problems.append(("field", f"'{key}' {why}"))
        else:
            child = fields[key]
            ctype = REGISTRY[child["type"]]
            need = {"sum": (ctype.summable, "a number field"), "avg": (ctype.summable, "a number field"),
                    "min": (ctype.orderable, "a number, date or datetime field"),
                    "max": (ctype.orderable, "a number, date or datetime field"),
                    "latest": (ctype.temporal, "a date or datetime field"),
                    "count_distinct": (not (ctype.multi_valued or ctype.link_stored), "a single-valued field")}
            ok, what = need[aggregate]
            if ctype.computed and aggregate in ("sum", "avg") and ctype.result(child)["type"] in ("integer", "decimal"):
                ok = True
            if getattr(ctype, "virtual", False):  # a formula computed when read (h4): no column to aggregate
                problems.append(("field", f"'{key}' is computed when read; a roll-up aggregates stored fields"))
            elif not ok:
                problems.append(("field", f"'{aggregate}' needs {what}; '{key}' is a {child['type']} field"))
            elif ctype.computed:
                cycle = _cycle(context, own, field["key"], source["entity"], key)
                if cycle:
                    problems.append(("field", "a cycle through computed fields: " + " → ".join(cycle)))
        if field.get("scale") is not None and aggregate != "avg":
            problems.append(("scale", "only an average has a scale (a sum keeps its field's)"))
        bound = {k: REGISTRY[f["type"]].bind({**f, "_entity": source["entity"]}, context.state)
                 for k, f in fields.items()}
        problems += _filter_problems(field.get("filter") or [], bound, archived, source["entity"])
        return problems

    def depends_on(self, field: dict, entity_key: str) -> list[tuple[str, str]]:
        """The (entity, field) pairs the value is computed from (cycle checks walk them)."""
        source = field.get("source") or {}
        out = [(source.get("entity"), source.get("via"))]
        if field.get("field"):
            out.append((source.get("entity"), field["field"]))
        out += [(source.get("entity"), c.get("field")) for c in field.get("filter") or []]
        return out

    # ---- binding --------------------------------------------------------------------------------
    def bind(self, field, state):
        child = state.entities.get((field.get("source") or {}).get("entity"))
        child_field = None
        if child is not None:
            child_field = next((f for f in child.fields if f["key"] == field.get("field")), None)
            if child_field is not None and REGISTRY[child_field["type"]].computed:
                child_field = REGISTRY[child_field["type"]].bind(child_field, state)
        return {**field, "_result": result_field(field, child_field)}

    def bind_docs(self, field: dict, docs: dict[str, dict]) -> dict:
        """``bind`` from entity documents by key (the table builder and the plan applier have those)."""
        child = docs.get((field.get("source") or {}).get("entity")) or {}
        child_field = next((f for f in child.get("fields", []) if f["key"] == field.get("field")), None)
        if child_field is not None and REGISTRY[child_field["type"]].computed:
            child_field = REGISTRY[child_field["type"]].bind_docs(child_field, docs)
        return {**field, "_result": result_field(field, child_field)}

    def result(self, field: dict) -> dict:
        """The plain field of the values: bound by the runtime, else what the definition alone says."""
        return field.get("_result") or _default_result(field)

    def formula_operand(self, field):
        """A formula reads a roll-up as its result (the field bound, so a sum's scale is its child's)."""
        rtype, rf = self._r(field)
        return rtype.formula_operand(rf)

    def initial_value(self, field):
        """A parent with no children: a count of 0, a sum of 0; nothing to average or compare."""
        if field.get("aggregate") in ("count", "count_distinct"):
            return 0
        if field.get("aggregate") == "sum":
            rtype, rf = self._r(field)
            return rtype.sum_zero(rf)
        return None

    # ---- storage and values: those of the result type (DerivedValues), and what a roll-up says itself
    def storage_signature(self, field):
        rtype, rf = self._r(field)
        return ("rollup", *rtype.storage_signature(rf))

    def compile_checker(self, field):
        rtype, rf = self._r(field)
        return rtype.compile_checker(rf)

    def relaxed(self, field):
        return field

    def same_value(self, field, new, stored):
        return new == stored

    def to_json(self, value):
        if isinstance(value, dt.datetime):
            from .temporal import iso
            return iso(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def export_text(self, field, value, lang="en", tz=dt.timezone.utc):
        rtype, rf = self._r(field)
        return rtype.export_text(rf, value, lang, tz)

    def form_text(self, field, value, tz=dt.timezone.utc):
        rtype, rf = self._r(field)
        return rtype.form_text(rf, value, tz)

    def moment_value(self, field, moment):
        rtype, rf = self._r(field)
        return rtype.moment_value(rf, moment)

    # ---- the SQL of the value -------------------------------------------------------------------
    def rolls_up(self, field):
        source = field.get("source") or {}
        return source.get("entity"), source.get("via")

    def computed_sql(self, field, table, source, dialect):
        child, child_fields = source(field["source"]["entity"])
        # Aliased, so that a roll-up over records of the same entity (a parent company's branches)
        # still correlates with the row being updated.
        return self.value_expression(field, table, child.alias("rollup_child"), child_fields, dialect)

    def value_expression(self, field: dict, parent: sa.Table, child: sa.Table, child_fields: dict[str, dict],
                         dialect: str):
        """The correlated subquery computing the roll-up of each ``parent`` row from ``child`` rows:
        what the after-write hook and the backfill write with one UPDATE.

        Decimals stay exact: on SQLite a decimal column holds integers scaled by 10**scale
        (``sqltypes.ExactDecimal``), so a sum of them is the sum's stored form as it is, and an
        average is integer arithmetic on it; PostgreSQL works on NUMERIC. An average rounds half away
        from zero; a sum beyond 18 digits is null rather than an error.
        """
        source, aggregate = field["source"], field["aggregate"]
        where = [child.c[source["via"]] == parent.c.id, child.c.archived_at.is_(None)]
        where += [_condition(child.c[c["field"]], c, child_fields.get(c["field"])) for c in field.get("filter") or []]

        def sub(value):
            return sa.select(value).select_from(child).where(*where).scalar_subquery()

        if aggregate == "count":
            return sub(sa.func.count())
        col = child.c[field["field"]]
        if aggregate in ("sum", "avg"):
            # The stored form (scaled integers on SQLite), so that literals are not scaled again.
            col = sa.type_coerce(col, sa.BigInteger() if dialect == "sqlite" else sa.Numeric())
        if aggregate == "count_distinct":
            return sub(sa.func.count(sa.distinct(col)))
        if aggregate in ("min", "max", "latest"):
            return sub((sa.func.min if aggregate == "min" else sa.func.max)(col))
        return self._total_or_average(field, child_fields, dialect, sub(sa.func.sum(col)), sub(sa.func.count(col)))

    def grouped_sql(self, field: dict, child: sa.Table, child_fields: dict[str, dict], dialect: str):
        """The roll-up as an aggregate over the ``child`` rows of a ``GROUP BY <via>`` (the filter
        folded into CASE): the runtime recomputes many parents with one ``UPDATE ... FROM`` of it,
        which stays one pass over the children whatever the planner knows about their table."""
        aggregate = field["aggregate"]
        conds = [_condition(child.c[c["field"]], c, child_fields.get(c["field"])) for c in field.get("filter") or []]
        cond = sa.and_(*conds) if conds else None

        def only(col):
            return sa.case((cond, col)) if cond is not None else col

        if aggregate == "count":
            return sa.func.count(only(sa.literal(1))) if cond is not None else sa.func.count()
        col = child.c[field["field"]]
        if aggregate == "count_distinct":
            return sa.func.count(sa.distinct(only(col)))
        if aggregate in ("min", "max", "latest"):
            return (sa.func.min if aggregate == "min" else sa.func.max)(only(col))
        col = only(sa.type_coerce(col, sa.BigInteger() if dialect == "sqlite" else sa.Numeric()))
        return self._total_or_average(field, child_fields, dialect, sa.func.sum(col), sa.func.count(col))

    def _total_or_average(self, field, child_fields, dialect, total, count):
        rf = self.result(field)
        if field["aggregate"] == "sum":
            limit = 10 ** (18 - rf.get("scale", 0)) if dialect != "sqlite" else 10 ** 18
            total = sa.func.coalesce(total, 0)
            return sa.case((sa.func.abs(total) >= sa.literal(limit, sa.BigInteger()), None), else_=total)
        rscale, cscale = rf.get("scale", 2), _scale_of(child_fields.get(field["field"]) or {})
        if dialect == "sqlite":
            numerator = total * sa.literal(10 ** (rscale - cscale), sa.BigInteger())
            two = sa.literal(2, sa.BigInteger())
            magnitude = (sa.func.abs(numerator) * two + count) / (count * two)  # integers: half away from zero
            value = sa.case((numerator < 0, -magnitude), else_=magnitude)
        else:
            value = sa.func.round(sa.cast(total, sa.Numeric) / count, rscale)
        return sa.case((count == 0, None), else_=value)


def _scale_of(field: dict) -> int:
    """The decimal places a number field stores (0 for whole numbers)."""
    ftype = REGISTRY.get(field.get("type"))
    if ftype is None:
        return 0
    if ftype.computed:
        return _scale_of(ftype.result(field))
    return field.get("scale", 2) if ftype.name == "decimal" else 0


def _condition(column, cond: dict, field: dict | None):
    op, value = cond["op"], cond.get("value")
    if op == "is_empty":
        return column.is_(None)
    if op == "is_not_empty":
        return column.is_not(None)
    if field is not None:
        check = REGISTRY[field["type"]].compared_checker(field)
        try:
            value = [check(v) for v in value] if op == "in" else check(value)
        except Invalid:
            # A field bound without what other definitions add (a stage field read from documents
            # knows no pipeline): the definition was checked when saved, the stored keys compare as they are.
            pass
    return {"eq": lambda: column == value, "ne": lambda: sa.or_(column != value, column.is_(None)),
            "gt": lambda: column > value, "gte": lambda: column >= value, "lt": lambda: column < value,
            "lte": lambda: column <= value, "in": lambda: column.in_(value)}[op]()


def _child_doc(context, entity_key: str) -> dict | None:
    if entity_key == context.own_key:
        return getattr(context, "own_doc", None)
    if not context.entity_is_available(entity_key):
        return None
    return context.state.entities[entity_key].doc


def _filter_problems(conditions: list, fields: dict, archived: set, entity: str) -> list[tuple[str, str]]:
    from .base import Invalid as ValueInvalid
    out = []
    for n, cond in enumerate(conditions):
        where = f"filter.{n}"
        field = fields.get(cond.get("field"))
        if field is None:
            why = "is archived" if cond.get("field") in archived else f"is not a field of {entity}"
            out.append((where + ".field", f"'{cond.get('field')}' {why}"))
            continue
        ftype = REGISTRY[field["type"]]
        op = cond["op"]
        if getattr(ftype, "virtual", False):
            out.append((where + ".field", f"'{cond.get('field')}' is computed when read; a roll-up filter tests stored fields"))
            continue
        if ftype.multi_valued or ftype.link_stored:
            out.append((where + ".field", f"a roll-up filter cannot test {field['type']} fields"))
            continue
        if op in ("is_empty", "is_not_empty"):
            continue
        if op in ("gt", "gte", "lt", "lte") and not ftype.orderable:
            out.append((where + ".op", f"'{op}' needs a number, date or datetime field"))
            continue
        if ftype.holds_stages and not field.get("_stages"):
            continue  # its pipeline comes later (a bundle installs pipelines after entities)
        values = cond.get("value") if op == "in" else [cond.get("value")]
        if not isinstance(values, list) or not values:
            out.append((where + ".value", "'in' takes a non-empty list of values"))
            continue
        check = ftype.compared_checker(field)
        for v in values:
            try:
                check(v)
            except ValueInvalid as exc:
                out.append((where + ".value", f"the value {exc.message}"))
                break
    return out


def _cycle(context, own: str, own_field: str, entity: str, key: str) -> list[str] | None:
    """A path of computed fields from ``entity.key`` back to ``own.own_field``, if there is one."""
    seen = set()

    def fields_of(entity_key):
        doc = _child_doc(context, entity_key) or {}
        return {f["key"]: f for f in doc.get("fields", [])}

    def walk(node, path):
        if node == (own, own_field):
            return path
        if node in seen:
            return None
        seen.add(node)
        f = fields_of(node[0]).get(node[1])
        if f is None:
            return None
        ftype = REGISTRY[f["type"]]
        if not ftype.computed:
            return None
        for dep in ftype.depends_on(f, node[0]):
            found = walk(dep, path + [f"{dep[0]}.{dep[1]}"])
            if found:
                return found
        return None

    return walk((entity, key), [f"{own}.{own_field}", f"{entity}.{key}"])


__all__ = ["AGGREGATES", "Rollup", "result_field"]
