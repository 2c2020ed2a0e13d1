"""Field types own their traits: code outside ``crm_platform/metadata/field_types/`` never decides by
a field's type name; it asks the type object (``REGISTRY[field["type"]].summable``).

``test_no_code_outside_field_types_decides_by_type_name`` reads the source of the product packages
(``crm_platform``, ``admin``, ``templates_library``; the field-type package itself excepted) with
``ast`` and fails, naming file, line and code, on any of:

1. a comparison (``==``, ``!=``, ``in``, ``not in``, ``is``, ``is not``) where one side is a
   registered type name as a string literal, or a tuple / list / set literal holding one, and
   another side mentions "type" or reads a ``.name`` (``f["type"] == "reference"``,
   ``field.get("type") != "stage"``, ``ftype in ("date", "datetime")``, ``t.name == "tags"``);
2. a tuple / list / set literal, or the keys of a dict literal, made of two or more type names
   and nothing else (``AMOUNT_TYPES = ("integer", "decimal")``, a ``{"text": ..., "email": ...}``
   table): the constants such decisions hide behind;
3. reaching a type by naming it: ``REGISTRY["decimal"]``, ``field_type("decimal")``;
4. ``match`` on something that mentions "type" with a ``case "<type name>":``;
5. in a Jinja template, a test such as ``{% if type_name == 'stage' %}`` or
   ``{% if f.type in ('date', 'datetime') %}``: something that mentions "type", compared with
   quoted type names (``test_no_template_decides_by_type_name``).

Allowed, because they are not decisions about a field's type: comparisons of control kinds
(``control == "decimal"``: the type chose the control, the form layer renders controls), of a
JSON Schema's ``type`` keyword (a side that reads a ``schema``), and dicts describing a field or
a schema (``{"key": "id", "type": "integer"}``: keyed by "key" and "type", not by type names).
``bench/`` is not scanned: its baselines are hand-written on purpose.

The other tests hold the traits to what the code asked by name before, and show that types
register themselves.
"""
from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from crm_platform.metadata.field_types import REGISTRY
from crm_platform.metadata.field_types.base import FieldType, register

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("crm_platform", "admin", "templates_library")
OWNER = Path("crm_platform", "metadata", "field_types")


def _literals(node: ast.AST) -> list[str] | None:
    """The strings of a string literal or of a tuple / list / set of literals; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return None


def _asks_about_a_type(source: str) -> bool:
    text = source.lower()
    if "schema" in text:  # a JSON Schema's own "type" keyword, not a field type
        return False
    return "type" in text or source.rstrip().endswith(".name")


def type_name_decisions(source: str, names: set[str], where: str = "<code>") -> list[str]:
    """Every place in ``source`` that decides by a field type's name (see the module docstring)."""
    tree = ast.parse(source)
    found = []

    def report(node, why):
        found.append(f"{where}:{node.lineno}: {why}: {ast.get_source_segment(source, node)}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for n, side in enumerate(sides):
                named = set(_literals(side) or ()) & names
                others = [ast.get_source_segment(source, s) or "" for m, s in enumerate(sides) if m != n]
                if named and any(_asks_about_a_type(o) for o in others):
                    report(node, f"compares a field's type with {sorted(named)}")
                    break
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            strings = _literals(node)
            if len(node.elts) >= 2 and len(strings) == len(node.elts) and set(strings) <= names:
                report(node, "a collection of type names")
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if len(node.keys) >= 2 and len(keys) == len(node.keys) and set(keys) <= names:
                report(node, "a table keyed by type names")
        elif isinstance(node, ast.Subscript):
            if (isinstance(node.value, ast.Name) and node.value.id == "REGISTRY"
                    and set(_literals(node.slice) or ()) & names):
                report(node, "reaches a type by its name")
        elif isinstance(node, ast.Call):
            if (isinstance(node.func, ast.Name) and node.func.id == "field_type" and node.args
                    and set(_literals(node.args[0]) or ()) & names):
                report(node, "reaches a type by its name")
        elif isinstance(node, ast.Match):
            if _asks_about_a_type(ast.get_source_segment(source, node.subject) or ""):
                for case in node.cases:
                    for pattern in ast.walk(case.pattern):
                        if isinstance(pattern, ast.MatchValue) and set(_literals(pattern.value) or ()) & names:
                            report(case.pattern, "matches a field's type against a type name")
    return found


#: ``<something mentioning type> ==|!=|in|not in <quoted name, or a list / tuple of them>`` in a template.
TEMPLATE_TEST = re.compile(r"""(?P<subject>[\w.\[\]'"]*type[\w.\[\]'"]*)\s*(?:==|!=|(?:not\s+)?in)\s*"""
                           r"""(?P<other>'[^']*'|"[^"]*"|\([^)]*\)|\[[^\]]*\])""", re.IGNORECASE)


def template_decisions(source: str, names: set[str], where: str = "<template>") -> list[str]:
    found = []
    for m in TEMPLATE_TEST.finditer(source):
        named = set(re.findall(r"""['"]([^'"]*)['"]""", m.group("other"))) & names
        if named and "schema" not in m.group("subject").lower():
            found.append(f"{where}:{source.count(chr(10), 0, m.start()) + 1}: {m.group(0)}")
    return found


def product_sources(root: Path = ROOT):
    for package in SCANNED:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if relative.parts[:len(OWNER.parts)] != OWNER.parts:
                yield relative, path.read_text(encoding="utf-8")


def test_no_code_outside_field_types_decides_by_type_name():
    names = set(REGISTRY)
    sources = list(product_sources())
    assert len(sources) > 50, "the scan found too few files: wrong root?"
    found = [hit for relative, source in sources for hit in type_name_decisions(source, names, str(relative))]
    assert found == [], ("code outside crm_platform/metadata/field_types/ decides by a type name; ask the type "
                         "(REGISTRY[field['type']].<trait>) instead, adding the trait to FieldType if it is "
                         "missing:\n" + "\n".join(found))


def test_no_template_decides_by_type_name():
    names = set(REGISTRY)
    templates = [p for package in SCANNED for p in sorted((ROOT / package).rglob("*.html"))]
    assert len(templates) > 10, "the scan found too few templates: wrong root?"
    found = [hit for p in templates
             for hit in template_decisions(p.read_text(encoding="utf-8"), names, str(p.relative_to(ROOT)))]
    assert found == [], "a template decides by a type name; pass the type's trait instead:\n" + "\n".join(found)


@pytest.mark.parametrize("code, decides", [
    ("{% if type_name == 'stage' %}", True),
    ('{% if f.type != "reference" %}', True),
    ("{% if field['type'] in ('date', 'datetime') %}", True),
    ("{% if f.type == 'SelectMultipleField' %}", False),  # a WTForms field class, not a field type
    ("{% if ftype.holds_stages %}", False),
    ("{% if control == 'decimal' %}", False),
])
def test_the_template_scan_catches_type_names_only(code, decides):
    assert bool(template_decisions(code, set(REGISTRY))) == decides


@pytest.mark.parametrize("code", [
    'if f["type"] == "reference": pass',
    'x = field.get("type") != "stage"',
    'x = fields[k]["type"] not in ("integer", "decimal")',
    'x = "date" == target["type"]',
    'x = ftype in DATE_TYPES or ftype == "date"',
    'x = type_name in {"multi_select", "tags"}',
    'x = old_type.name == "multi_select"',
    'AMOUNT_TYPES = ("integer", "decimal")',
    'ORDERED = ["integer", "decimal", "date", "datetime"]',
    'TITLES = {"text": "Text", "email": "E-mail"}',
    'zero = REGISTRY["decimal"].scale(f)',
    'rule = field_type("reference").on_delete(f)',
    'match f["type"]:\n    case "date":\n        pass',
    'x = [f for f in fields if f["type"] in ("percent",)]',
])
def test_the_scan_catches_decisions_by_type_name(code):
    assert type_name_decisions(code, set(REGISTRY)) != []


@pytest.mark.parametrize("code", [
    'x = control == "decimal"',  # the type chose the control; the form layer renders controls
    'x = ctl in ("date", "datetime-local")',
    'x = schema.get("type") == "integer"',  # JSON Schema's type keyword
    'SYSTEM = {"id": {"key": "id", "type": "integer"}}',
    'INPUTS = {"text": 1, "number": 2, "decimal": 3}',  # controls, not only type names
    'x = REGISTRY[f["type"]].summable',
    'x = dialect.name == "postgresql"',
    'x = f["key"] == "date"',  # a field *key* may well be "date"
])
def test_the_scan_leaves_controls_schemas_and_field_keys_alone(code):
    assert type_name_decisions(code, set(REGISTRY)) == []


# ---- the traits say what the code used to ask by name --------------------------------------------

def _having(trait: str) -> set[str]:
    return {name for name, t in REGISTRY.items() if getattr(t, trait)}


def test_traits_give_the_type_sets_the_code_used_to_spell_out():
    assert _having("summable") == {"integer", "decimal"}  # AMOUNT_TYPES; a percent is not an amount
    assert _having("temporal") == {"date", "datetime"}  # DATE_TYPES
    # Computed types (roll-ups, formulas) order as their results do.
    assert _having("orderable") - _having("computed") == {"integer", "decimal", "date", "datetime", "percent"}
    assert {"rollup", "formula"} <= _having("computed")
    assert _having("multi_valued") == {"multi_select", "tags"}  # not sortable, not testable by rules
    assert _having("link_stored") == {"tags"}
    assert _having("always_indexed") == {"reference"}
    assert _having("holds_stages") == {"stage"}
    assert _having("may_hold_user_id") == {"integer"}  # an approval stage's approver field
    assert {n for n, t in REGISTRY.items() if t.target_entity({"target": "company"})} == {"reference"}
    assert {n for n, t in REGISTRY.items() if t.taxonomy_of({"taxonomy": "kind"})} == {"tags"}


def test_every_type_has_a_title_in_english_and_chinese():
    for name, ftype in REGISTRY.items():
        assert ftype.name == name
        assert ftype.title.get("en") and ftype.title.get("zh"), name


def test_summable_types_give_their_zero_and_temporal_types_their_moment():
    assert REGISTRY["integer"].sum_zero({}) == 0
    assert str(REGISTRY["decimal"].sum_zero({"scale": 3})) == "0.000"
    moment = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    assert REGISTRY["date"].to_json(REGISTRY["date"].moment_value({}, moment)) == "2026-11-30"  # its UTC day
    assert REGISTRY["datetime"].to_json(REGISTRY["datetime"].moment_value({}, moment)) == "2026-11-30T01:30:00Z"
    for name in set(REGISTRY) - _having("summable"):
        with pytest.raises(NotImplementedError):
            REGISTRY[name].sum_zero({})
    for name in set(REGISTRY) - _having("temporal"):
        with pytest.raises(NotImplementedError):
            REGISTRY[name].moment_value({}, moment)


def test_orderable_types_offer_range_filters_and_multi_valued_ones_list_filters():
    for name, ftype in REGISTRY.items():
        assert ("gt" in ftype.operators) == ftype.orderable, name
        assert ("has_any" in ftype.operators) == ftype.multi_valued, name


def test_relaxed_drops_size_and_range_rules_only():
    field = {"key": "n", "type": "integer", "required": True, "min": 1, "max": 5, "label": "N"}
    assert REGISTRY["integer"].relaxed(field) == {"key": "n", "type": "integer", "label": "N"}
    # A compared value (a filter, a rule, a form condition) is checked and read as the relaxed field.
    assert REGISTRY["integer"].compared_checker(field)(50) == 50
    assert REGISTRY["integer"].parse_compared(field, "50") == 50
    assert REGISTRY["decimal"].compared_checker({"max": 1})(Decimal("7")) == 7


def test_a_type_registers_itself_once():
    class Probe(FieldType):
        name = "probe_type_for_test"

    try:
        register(Probe)
        assert isinstance(REGISTRY["probe_type_for_test"], Probe)
        with pytest.raises(ValueError, match="registered twice"):
            register(Probe)
    finally:
        REGISTRY.pop("probe_type_for_test", None)


def test_the_designer_explains_stage_fields_by_their_trait(client):
    from test_admin_designer import sign_in
    admin = sign_in(client)
    admin.post("/admin/entities/new", data={"key": "course", "label_en": "Course", "_confirm": "1"})
    note = "takes its stages from the pipeline that binds it"
    assert note in admin.get("/admin/entities/course/fields/new?type=stage").get_data(as_text=True)
    assert note not in admin.get("/admin/entities/course/fields/new?type=text").get_data(as_text=True)
