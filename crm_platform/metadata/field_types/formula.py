"""Formula fields: ``{"key": "weighted_amount", "type": "formula", "expression": "amount * probability
/ 100", "result": "decimal", "scale": 2}``.

The value is computed from the record's own fields (and, through a reference, one level, from the
referenced record's: ``company.name``) by SQL when the record is read: the table has no column for
it (the ``virtual`` trait), so ``today()`` and a referenced record's changes are always reflected
and nothing needs maintaining. The expression is parsed and typed at definition time
(``metadata/formulas.py``); ``runtime/formulas.py`` compiles it. Everything about the values — their
JSON, filters, sorts, report groups, display — is that of the ``result`` type (``result(field)``).
"""
from __future__ import annotations

import datetime as dt

from .. import formulas
from .base import REGISTRY, FieldType, Invalid, register
from .derived import DerivedValues

RESULTS = {"decimal": "decimal", "integer": "integer", "text": "text", "boolean": "boolean", "date": "date"}
#: the formula grammar's kind of each result (metadata/formulas.py Type)
KINDS = {"decimal": "num", "integer": "num", "text": "str", "boolean": "bool", "date": "day"}


def scope(context) -> formulas.Scope:
    """What a formula of the entity under validation may read: its own new fields, and other
    active entities' fields as stored."""
    own_doc = getattr(context, "own_doc", None) or {}

    def doc_of(entity):
        if entity == context.own_key:
            return own_doc
        if not context.entity_is_available(entity):
            return None
        return context.state.entities[entity].doc

    def fields(entity):
        doc = doc_of(entity)
        return None if doc is None else {f["key"]: f for f in doc.get("fields", [])}

    def archived(entity):
        doc = doc_of(entity) or {}
        return {f["key"] for f in doc.get("archived_fields", [])}

    docs = {k: st.doc for k, st in context.state.entities.items()}
    docs[context.own_key] = own_doc
    return formulas.Scope(entity=context.own_key, fields=fields, archived=archived,
                          operand=lambda f: _operand(f, docs),
                          expression=lambda f: REGISTRY[f["type"]].formula_expression(f),
                          target=lambda f: REGISTRY[f["type"]].target_entity(f),
                          declared=lambda f: REGISTRY[f["type"]].formula_result(f)[:2])


def scope_of_docs(entity: str, docs: dict[str, dict]) -> formulas.Scope:
    """The same scope from entity documents by key (the compiled model has them)."""
    return formulas.Scope(
        entity=entity,
        fields=lambda e: None if e not in docs else {f["key"]: f for f in docs[e].get("fields", [])},
        archived=lambda e: {f["key"] for f in (docs.get(e) or {}).get("archived_fields", [])},
        operand=lambda f: _operand(f, docs),
        expression=lambda f: REGISTRY[f["type"]].formula_expression(f),
        target=lambda f: REGISTRY[f["type"]].target_entity(f),
        declared=lambda f: REGISTRY[f["type"]].formula_result(f)[:2])


def _operand(field: dict, docs: dict):
    """How a formula reads ``field``, bound to the definitions it uses (a roll-up's result type)."""
    ftype = REGISTRY[field["type"]]
    return ftype.formula_operand(ftype.bind_docs(field, docs))


@register
class Formula(DerivedValues, FieldType):
    name = "formula"
    title = {"en": "Formula", "zh": "公式"}
    computed = True
    virtual = True
    # Sorting and comparing follow the result type; every result has an order in SQL.
    orderable = True
    indexable = False
    operators = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "contains", "starts_with", "ends_with")

    # ---- definition -----------------------------------------------------------------------------
    def options_schema(self):
        return {
            "expression": {"type": "string", "minLength": 1, "maxLength": formulas.MAX_LENGTH,
                           "description": "e.g. amount * probability / 100 (docs/computed-fields.md, Formulas)"},
            "result": {"enum": list(RESULTS), "description": "The type of the value"},
            "scale": {"type": "integer", "minimum": 0, "maximum": 10,
                      "description": "Decimal places of a decimal result (2 unless given)"},
        }

    def definition_problems(self, field, context):
        if field.get("result") not in RESULTS:
            return [("result", "a formula needs a result: " + ", ".join(RESULTS))]
        if not isinstance(field.get("expression"), str):
            return [("expression", "a formula needs an expression")]
        if field.get("scale") is not None and field["result"] != "decimal":
            return [("scale", "only a decimal result has a scale")]
        try:
            tree = formulas.check(field["expression"], scope(context), field["key"])
        except formulas.FormulaError as exc:
            return [("expression", exc.message)]
        problem = formulas.result_problem(tree, KINDS[field["result"]], field["result"])
        return [("result", problem)] if problem else []

    def formula_expression(self, field):
        return field.get("expression")

    def drifts(self, field):
        try:
            tree = formulas.parse(field.get("expression") or "")
        except formulas.FormulaError:
            return False, []
        drifting, reads = False, []
        for t in tree.iter_subtrees():
            if t.data == "related" or (t.data == "call" and str(t.children[0]).lower() == "today"):
                drifting = True
            elif t.data == "field":
                reads.append(str(t.children[0]))
        return drifting, reads

    def formula_result(self, field):
        result = field.get("result")
        scale = 0 if result == "integer" else field.get("scale", 2)
        return KINDS.get(result, "str"), scale, result == "integer"

    def depends_on(self, field: dict, entity_key: str) -> list[tuple[str, str]]:
        try:
            tree = formulas.parse(field.get("expression") or "")
        except formulas.FormulaError:
            return []
        out = []
        for t in tree.iter_subtrees():
            if t.data == "field":
                out.append((entity_key, str(t.children[0])))
            elif t.data == "related":
                out.append((entity_key, str(t.children[0])))
        return out

    # ---- values: those of the result type (DerivedValues), and what a formula says itself ---------
    def result(self, field):
        out = {"key": field.get("key", "value"), "type": RESULTS.get(field.get("result"), "text")}
        if out["type"] == "decimal":
            out["scale"] = field.get("scale", 2)
        return out

    def formula_operand(self, field):
        return None  # read through formula_expression

    def operators_of(self, field):
        return self._r(field)[0].operators

    def storage_signature(self, field):
        return ("formula",)  # no column: any change is a metadata change only

    def answer_schema(self, field):
        rtype, rf = self._r(field)
        schema = rtype.answer_schema(rf)
        if rf["type"] == "decimal":
            # a computed decimal may hold any value of its scale: no range of a typed field applies
            schema = {"type": "number"}
        return schema

    def compile_checker(self, field):
        def refuse(value):
            raise Invalid("readOnly", "is a formula: its value is computed and cannot be written")
        return refuse

    def to_json(self, value):
        # The value alone (no field here): a date result is the only one whose JSON differs.
        return value.isoformat() if isinstance(value, dt.date) else value

    def export_text(self, field, value, lang="en", tz=None):
        rtype, rf = self._r(field)
        return rtype.export_text(rf, value, lang, tz) if tz is not None else rtype.export_text(rf, value, lang)

    def form_text(self, field, value, tz=None):
        rtype, rf = self._r(field)
        return rtype.form_text(rf, value, tz) if tz is not None else rtype.form_text(rf, value)

    def parse_compared(self, field, text):
        rtype, rf = self._r(field)
        return rtype.parse_compared(rf, text)

    def compared_checker(self, field):
        rtype, rf = self._r(field)
        return rtype.compared_checker(rf)
