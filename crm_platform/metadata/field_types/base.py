"""The field-type contract: one class per type owns everything about that type.

A type knows its options (for the meta-schema), its SQL column, its record JSON Schema fragment,
its compiled checker (the fast validator the record service runs), its JSON output, its text
parsing (CSV import, query-string filters, conversions), its filter operators, the type changes
that are safe from it, and the traits the rest of the platform asks about (``orderable``,
``summable``, ``temporal``, ``multi_valued``, ``link_stored``, the control a form shows, what it
refers to). Nothing else in the code base switches on a field's type: it asks the type object
(``REGISTRY[field["type"]].summable``), and tests/test_field_type_traits.py fails when code outside
this package compares a field's type with a type name.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, ClassVar

import sqlalchemy as sa

from ...i18n import Locale
from ...match_keys import text_key

#: Anchor used at the end of every pattern. Python's ``$`` also matches before a final newline,
#: ECMAScript's does not; ``$(?!\n)`` means "end of text" in both, so the published schema and the
#: compiled checker agree.
END = r"$(?!\n)"


class Invalid(Exception):
    """A value breaks a rule. ``code`` is the JSON Schema keyword that expresses the rule."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Unconvertible(Exception):
    """A stored value cannot be carried over to a new field type or option set."""


Checker = Callable[[Any], Any]

#: Options that limit the size or range of a stored value (see FieldType.relaxed).
RELAXED_OPTIONS = ("required", "min", "max", "max_length")


class FieldType:
    name: ClassVar[str]
    #: What the designer calls the type, in each language.
    title: ClassVar[dict[str, str]] = {}
    #: Searched by the list endpoint's free-text ``q`` parameter.
    searchable: ClassVar[bool] = False
    #: Whether ``indexed`` / ``unique`` make sense for this type.
    indexable: ClassVar[bool] = True
    #: Types a field of this type may be changed to; the conversion itself is generic (see convert).
    converts_to: ClassVar[frozenset[str]] = frozenset()
    #: Filter operators accepted in list queries, besides is_empty / is_not_empty.
    operators: ClassVar[tuple[str, ...]] = ("eq", "ne", "in")

    # ---- definition -----------------------------------------------------------------------------
    def options_schema(self) -> dict:
        """JSON Schema properties of the options this type accepts in a field definition."""
        return {}

    def definition_problems(self, field: dict, context) -> list[tuple[str, str]]:
        """Rules about a definition that JSON Schema cannot express: (option, message) pairs."""
        return []

    # ---- traits the rest of the platform asks about --------------------------------------------
    #: Storage: values live in a link table of their own (``ent_x`` has no column for the field).
    link_stored: ClassVar[bool] = False
    #: A value may hold several items (a list): lists cannot be sorted by it, rules cannot test it.
    multi_valued: ClassVar[bool] = False
    #: Values are quantities or moments with a natural order: rules may compare them with
    #: gt/gte/lt/lte and take the ``latest`` of related records.
    orderable: ClassVar[bool] = False
    #: Values add up to a meaningful total: a pipeline may use the field as its amount.
    summable: ClassVar[bool] = False
    #: Values are days or moments: "within n days" rules, follow-up due dates, relative sample dates.
    temporal: ClassVar[bool] = False
    #: Its column is indexed even when the field does not ask (a reference's foreign key).
    always_indexed: ClassVar[bool] = False
    #: Its values are the stages of the pipeline that binds the field.
    holds_stages: ClassVar[bool] = False
    #: Its values identify a person whatever the field is called (an e-mail address, a phone
    #: number): exported and erased as personal data even without ``"personal": true``.
    personal: ClassVar[bool] = False
    #: Its values are computed by the platform (roll-ups, formulas), never written by anyone: a write
    #: naming it is a 422 naming the field (``runtime/validation.py``); the record JSON Schema marks it
    #: ``readOnly`` and leaves it out of request bodies (``runtime/record_schema.py``, hence OpenAPI);
    #: ``Access.can_write_field`` says no, so forms and screens show it read-only and imports do not
    #: offer it; public forms leave it out; bundles' sample data neither exports nor loads it; a
    #: definition may not make it required, unique or give it a default (``definitions.py``).
    computed: ClassVar[bool] = False
    #: Its value is computed by SQL when a record is read (a formula): the table has no column for
    #: it; reads, filters, sorts, reports and rules use ``CompiledEntity.column(key)``, the field's
    #: expression, where a stored field has its column.
    virtual: ClassVar[bool] = False

    def operators_of(self, field: dict) -> tuple[str, ...]:
        """The list filter operators of this field (a formula's are those of its result type)."""
        return self.operators

    def formula_operand(self, field: dict) -> tuple[str, int] | None:
        """How a formula reads this field's stored value: ("num", scale), ("str", 0), ("bool", 0),
        ("day", 0), ("moment", 0) (a datetime, read as its UTC day) or ("ref", 0) (a reference, read
        through: ``company.name``); None: it cannot."""
        return None

    def formula_expression(self, field: dict) -> str | None:
        """A formula field's expression (formulas read each other by inlining it); None otherwise."""
        return None

    def drifts(self, field: dict) -> tuple[bool, list[str]]:
        """Whether the value may change with no write to its record (a formula over ``today()`` or a
        referenced record's field), and the record's own fields it is computed from (whose drift it
        inherits): a rule testing such a field is refreshed by the daily job."""
        return False, []

    def formula_result(self, field: dict) -> tuple[str, int, bool] | None:
        """A formula field's result: (kind as the grammar says it, scale, whether a whole number)."""
        return None

    def result(self, field: dict) -> dict:
        """The plain field whose type a computed field's values have (``_result`` bound by the
        runtime); a stored field's values are its own."""
        return field

    def depends_on(self, field: dict, entity_key: str) -> list[tuple[str, str]]:
        """(entity, field key) pairs a computed field's value is computed from: cycle checks walk them."""
        return []

    def bind_docs(self, field: dict, docs: dict[str, dict]) -> dict:
        """``bind`` from entity documents by key, for what needs the field's storage before a model
        exists (the table builder, the plan applier): a roll-up learns its result type here."""
        return field

    def rolls_up(self, field: dict) -> tuple[str, str] | None:
        """(child entity, its reference field pointing here) whose records a roll-up's value is
        computed from, else None: the runtime recomputes the field when those records are written."""
        return None

    def computed_sql(self, field: dict, table, source, dialect: str):
        """A computed field's value for each row of ``table`` as an SQL expression (correlated with
        ``table``), for one set-based UPDATE; ``source(entity_key)`` gives another entity's (table,
        bound fields by key). None when the type has no SQL form."""
        return None

    def grouped_sql(self, field: dict, child, child_fields: dict, dialect: str):
        """A roll-up's value as an aggregate over its child rows grouped by the reference (see
        ``rolls_up``), for an ``UPDATE ... FROM (SELECT ... GROUP BY)``; None for other types."""
        return None

    def initial_value(self, field: dict) -> Any:
        """A computed field's value in a record just created, before anything is computed for it
        (a count of children: 0). A before-write hook may put a better one in ``w.changes``."""
        return None

    #: Default tokens computed when a record is made (``defaults.py``): "now", "today", "current_user".
    dynamic_defaults: ClassVar[frozenset[str]] = frozenset()
    #: A list cell of this type may be edited in place (one plain control, one value).
    inline_editable: ClassVar[bool] = False
    #: A value may be a user's id: an approval stage may name its approver by such a field.
    may_hold_user_id: ClassVar[bool] = False

    def dynamic_value(self, field: dict, token: str, moment: dt.datetime, user_name: str | None) -> Any:
        """The (Python) value of a default token at ``moment`` (already moved by its ±N days)."""
        raise NotImplementedError(f"a {self.name} field computes no default '{token}'")

    def target_entity(self, field: dict) -> str | None:
        """The entity whose records this field's values are (a reference's target), else None."""
        return None

    def taxonomy_of(self, field: dict) -> str | None:
        """The taxonomy this field's values come from (a tags field's), else None."""
        return None

    def erased_value(self, field: dict, record_id: int) -> Any:
        """What a required field holds once its personal value is erased (a blank would break the
        rule), unique per record so a unique field stays unique; None: this type has none."""
        return None

    def sum_zero(self, field: dict) -> Any:
        """The total of no values, as a summable field writes it (``0``, ``0.00``)."""
        raise NotImplementedError(f"a {self.name} field is not summable")

    def moment_value(self, field: dict, moment: dt.datetime) -> Any:
        """A temporal field's (Python) value for an aware instant; a date keeps its UTC day."""
        raise NotImplementedError(f"a {self.name} field is not temporal")

    def relaxed(self, field: dict) -> dict:
        """The field as a comparison sees it (a list filter, a rule, a form condition): a compared
        value is not stored, so size and range limits do not apply to it."""
        return {k: v for k, v in field.items() if k not in RELAXED_OPTIONS}

    def compared_checker(self, field: dict) -> Checker:
        """The checker of a value compared with the field's (see ``relaxed``)."""
        return self.compile_checker(self.relaxed(field))

    def parse_compared(self, field: dict, text: str) -> Any:
        """Text typed as a value to compare with the field's (a list filter, a rule) read as its value
        (see ``relaxed``)."""
        return self.parse_text(self.relaxed(field), text)

    # ---- binding to other definitions -----------------------------------------------------------
    def bind(self, field: dict, state) -> dict:
        """The field as the runtime sees it, with what other definitions contribute.

        A tags field learns its taxonomy's tags, a stage field its pipeline's stages. Keys the
        runtime adds start with ``_``; they are never stored or published.
        """
        return field

    # ---- storage --------------------------------------------------------------------------------
    def column_type(self, field: dict) -> sa.types.TypeEngine:
        raise NotImplementedError

    def storage_signature(self, field: dict) -> tuple:
        """Two fields with equal signatures store values identically: no data rewrite is needed."""
        return (type(self.column_type(field)).__name__,)

    def foreign_key(self, field: dict):
        return None

    # ---- validation -----------------------------------------------------------------------------
    def value_schema(self, field: dict) -> dict:
        """The JSON Schema of a non-null value of this field, as a write may send it."""
        raise NotImplementedError

    def answer_schema(self, field: dict) -> dict:
        """The JSON Schema of a non-null value as the API answers it: what a write may send, unless
        the platform itself sets values a write may not (rule-applied tags)."""
        return self.value_schema(field)

    def compile_checker(self, field: dict) -> Checker:
        """A function that returns the Python value for a JSON value, or raises Invalid.

        It must accept exactly what value_schema accepts: a property test holds the two together.
        """
        raise NotImplementedError

    def same_value(self, field: dict, new: Any, stored: Any) -> bool:
        """Whether writing ``new`` (a checked value) over ``stored`` (as read back) would change nothing.

        The record service writes nothing for a PATCH that changes nothing: no new version, no audit row.
        """
        return new == stored

    # ---- output ---------------------------------------------------------------------------------
    def to_json(self, value: Any) -> Any:
        return value

    def compile_output(self, field: dict) -> Callable[[Any], Any] | None:
        """The compiled record dumper's ``to_json`` for this field: a function from a stored non-null
        value to its JSON value, or None when the stored value already is its JSON value (the dumper
        then copies it). ``to_json``, which the marshmallow schema calls, stays the oracle: a
        property test holds the two together. A type that overrides ``to_json`` gets it here unless
        it says better."""
        return None if type(self).to_json is FieldType.to_json else self.to_json

    def format_text(self, field: dict, value: Any) -> str:
        """The value as text: CSV export and the source side of conversions."""
        return "" if value is None else str(value)

    def display_text(self, field: dict, value: Any, locale: Locale = Locale()) -> str:
        """A non-empty (JSON) value as a person reads it on a page, for ``locale`` (language, time
        zone), when its control has no labels of its own to show (choices, yes / no and references
        are named by the display layer, ``web/display.py``). Exports and the API write values raw
        (``format_text``, ``to_json``, ``export_value``); this is for eyes only."""
        return str(value)

    def export_value(self, field: dict, value: Any) -> Any:
        """A (JSON) value as a bundle's sample data carries it."""
        return value

    def export_text(self, field: dict, value: Any, lang: str = "en", tz: dt.tzinfo = dt.timezone.utc) -> str:
        """A (JSON) value as a spreadsheet export shows it: as on screens, moments in the reader's zone."""
        return self.display_text(field, value, Locale(lang=lang, tz=tz))

    # ---- duplicates -----------------------------------------------------------------------------
    def duplicate_key(self, field: dict, value: Any) -> str | None:
        """The key *Find duplicates* groups records by: ``match_key`` (what imports de-duplicate on),
        unless the type knows better (a text field compares names: ``match_keys.name_key``). Only
        fields whose type is ``matchable`` are offered."""
        return self.match_key(field, value)

    def search_text(self, field: dict, value: Any) -> str | None:
        """What global search stores for a value (``crm_search.text``), None when the field is not
        searched: a ``searchable`` type's text as ``match_keys.text_key`` folds it (width, case,
        spaces), so a query folded the same way finds it by any substring."""
        return text_key(value) if self.searchable and value not in (None, "") else None

    #: Records can be grouped as duplicates by this field (phones, e-mails, names).
    matchable: ClassVar[bool] = False

    def unites(self, field: dict) -> bool:
        """Whether merging records keeps every value of this field (``unite``) instead of one record's."""
        return False

    def unite(self, field: dict, values: list) -> Any:
        """The value a merged record holds: all of ``values`` (the records' values, survivor first)."""
        raise NotImplementedError(f"a {self.name} field is not united on a merge")

    # ---- text input (CSV, filters, conversions) ------------------------------------------------
    def parse_text(self, field: dict, text: str) -> Any:
        """Parse a human-typed string into a valid Python value, or raise Invalid."""
        return self.compile_checker(field)(text)

    def import_value(self, field: dict, cell: Any, resolve: Callable[[str, str], Any] | None = None) -> Any:
        """A spreadsheet cell as the JSON value a write sends (the record service then checks it), or
        raise Invalid.

        ``cell`` is text (a CSV cell) or what openpyxl reads from an XLSX cell (str, int, float, bool,
        datetime); blank cells never get here (an import leaves the field out). ``resolve(target,
        text)`` finds a record of another entity by its title or a unique field, for types that
        refer to records. Types whose cells come in more shapes than their text form override this.
        """
        return self.to_json(self.parse_text(field, cell_text(cell)))

    def compile_import(self, field: dict) -> Callable[[Any, Any], Any]:
        """``import_value`` for one field as a function ``(cell, resolve)``, with what it needs built
        once: an import converts a column of up to 100,000 cells with it. Types whose checker or
        lookup table is worth building once override it; it must agree with ``import_value``."""
        return lambda cell, resolve=None: self.import_value(field, cell, resolve)

    def match_key(self, field: dict, text: str | None) -> str | None:
        """The normal form under which two values are the same customer (imports de-duplicate on it):
        ``text`` is a value as ``format_text`` writes it. Text compares trimmed, width- and case-folded."""
        return text_key(text)

    def convert(self, old_type: "FieldType", old_field: dict, new_field: dict, value: Any) -> Any:
        """Carry a stored value over from ``old_field`` to this type; raise Unconvertible if lossy."""
        if value is None:
            return None
        try:
            return self.parse_text(new_field, old_type.format_text(old_field, value))
        except Invalid as exc:
            raise Unconvertible(exc.message) from None

    # ---- screens (generated forms, list filters) ------------------------------------------------
    #: The control a generated form shows for a value: an HTML input type (text, textarea, number,
    #: decimal, email, tel, url, date, datetime-local), "boolean" (yes / no / empty), "choice" (one
    #: of ``options``), "choices" (several of ``options``) or "record" (a record of another entity).
    control: ClassVar[str] = "text"

    def control_of(self, field: dict) -> str:
        """The control of this field (a tags field holding one tag is a "choice", several "choices")."""
        return self.control

    def options(self, field: dict, state) -> list[tuple[str, Any]]:
        """(value, label) pairs a choice control offers; labels are label objects ({"en", "zh"})."""
        return []

    def form_text(self, field: dict, value: Any, tz: dt.tzinfo = dt.timezone.utc) -> Any:
        """A record's value as the API writes it (JSON) as its form control shows it (a list for "choices")."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def from_form(self, field: dict, raw: Any, tz: dt.tzinfo = dt.timezone.utc) -> Any:
        """What a form posted (text, or a list for "choices") as the JSON value the record service checks.

        Text that does not parse is passed on unchanged, so the record service names the broken
        rule exactly as it does for the API; nothing here is a second validator.
        """
        if raw is None:
            return None
        text = raw.strip() if isinstance(raw, str) else raw
        return text if text != "" else None

    # ---- reports (runtime/reports.py asks these; see grouping.py) ------------------------------
    def grouping(self, field: dict, column, spec: str | None, ctx, link=None):
        """How a report groups records by this field: a ``grouping.Grouping``. ``spec`` is what
        follows the field in the group-by ("month", "bands:10,50"), None for the plain value;
        ``column`` is the field's column (None for a link-stored field, which gets ``link``)."""
        raise Invalid("group_by", f"a report cannot group by a {self.name} field")

    def group_specs(self, field: dict) -> tuple:
        """How a report builder may offer grouping by this field, without SQL: ``()`` not at all,
        ``None`` by the value, a bucket name ("month"), or "bands" (``<field>:bands:10,50``)."""
        return ()

    def measure_ops(self, field: dict) -> tuple[str, ...]:
        """The aggregates a report may take of this field (besides ``count`` of records)."""
        ops: tuple[str, ...] = () if self.multi_valued or self.link_stored else ("count_distinct",)
        if self.summable:
            ops += ("sum", "avg")
        if self.orderable:
            ops += ("min", "max")
        return ops

    def average(self, field: dict, total, count: int):
        """The exact average of ``count`` values adding up to ``total`` (None for no values): two
        more decimal places than the field keeps, rounded half to even."""
        from decimal import ROUND_HALF_EVEN, Decimal
        if not count or total is None:
            return None
        places = Decimal(1).scaleb(-(self.average_places(field)))
        return (Decimal(total) / Decimal(count)).quantize(places, rounding=ROUND_HALF_EVEN)

    def average_places(self, field: dict) -> int:
        return 2

    # ---- queries --------------------------------------------------------------------------------
    def empty_clause(self, column, dialect: str):
        """SQL condition for is_empty on the field's column (link-stored types have ``empty_filter``)."""
        return column.is_(None)

    def filter_clause(self, column, op: str, values: list, field: dict, dialect: str):
        """SQL condition for ``op``; ``values`` are already parsed with parse_text."""
        return generic_filter(column, op, values)


#: Every field type by name. A type registers itself with ``@register`` where it is defined; the
#: package imports its modules in the order the designer offers the types.
REGISTRY: dict[str, FieldType] = {}


def register(cls: type[FieldType]) -> type[FieldType]:
    """Class decorator: make ``cls`` the field type named ``cls.name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"field type {cls.name!r} is registered twice")
    REGISTRY[cls.name] = cls()
    return cls


def generic_filter(column, op: str, values: list):
    v = values[0] if values else None
    if op == "eq":
        return column == v
    if op == "ne":
        # "not X" includes the rows that have no value, as a user reading a list expects.
        return sa.or_(column != v, column.is_(None))
    if op == "in":
        return column.in_(values)
    if op == "not_in":
        return sa.or_(column.not_in(values), column.is_(None))
    if op == "lt":
        return column < v
    if op == "lte":
        return column <= v
    if op == "gt":
        return column > v
    if op == "gte":
        return column >= v
    raise ValueError(op)


def cell_text(cell: Any) -> str:
    """A spreadsheet cell as the text a person sees in it: whole numbers without ".0" (Excel stores
    every number as a float, so a phone number 13800138000 must not become "13800138000.0"), dates
    in ISO form, booleans as true/false, text trimmed."""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() and abs(cell) < 1e16 else repr(cell)
    if isinstance(cell, (dt.date, dt.time)):
        return cell.isoformat()
    return str(cell).strip()


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def type_error(expected: str) -> Invalid:
    return Invalid("type", f"must be {expected}")
