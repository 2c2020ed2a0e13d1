"""The compiled record validator accepts exactly what the published record JSON Schema accepts.

``RecordValidator`` (crm_platform/runtime/validation.py) is what the record service runs on every
write; ``record_schema`` / ``patch_schema`` (crm_platform/runtime/record_schema.py) is the contract
served to clients. jsonschema is the oracle: for random legal entity definitions (fields of every
type in the registry, with random options) and random records, valid-ish and invalid, both must
agree on validity and on which keys are wrong.

Numbers are int or Decimal only, as the API parses JSON (floats never reach the validator);
decimal fields also get text ("12.50", "1e5", "007", "-0"...), which the schema judges with the
pattern built from the field's scale, min and max, and the validator by reading the number. The
schema goes through ``jsonutil`` so that ``multipleOf`` is a Decimal, and the oracle runs with a
large decimal precision, so that its arithmetic is exact.
"""
from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from conftest import examples
from crm_platform import jsonutil
from crm_platform.metadata.definitions import EntityState, MetaState, validate_entity
from crm_platform.runtime.compiled import bind_entity
from crm_platform.metadata.field_types import REGISTRY
from crm_platform.metadata.field_types.numbers import INT64_MAX, INT64_MIN
from crm_platform.metadata.keys import SYSTEM_COLUMNS, key_problem
from crm_platform.runtime.record_schema import patch_schema, record_schema
from crm_platform.runtime.validation import RecordValidator
from crm_platform.sqltypes import DECIMAL_PRECISION

ENTITY = "thing"
TEXT_LIKE = ("text", "long_text", "email", "phone", "url")
SYSTEM_KEYS = ("id", "version", "created_at", "updated_at", "created_by", "updated_by", "owner_id")
FORMAT_CHECKER = FormatChecker()


# ---- definitions ------------------------------------------------------------------------------------

def _legal_key(k: str) -> bool:
    return key_problem(k) is None and k not in SYSTEM_COLUMNS


field_keys = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(_legal_key)
choice_keys = st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True)
label_line = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
                     min_size=1, max_size=12)
labels = st.one_of(label_line, st.fixed_dictionaries({"en": label_line}, optional={"zh": label_line}))


def decimals(max_abs_exp: int = 22, max_digits: int = 22) -> st.SearchStrategy[Decimal]:
    """Finite decimals built from text, so they are exact whatever the context precision."""
    return st.builds(lambda c, e: Decimal(f"{c}E{e}"), st.integers(-(10**max_digits), 10**max_digits),
                     st.integers(-max_abs_exp, max_abs_exp))


def _ordered(lo, hi):
    if lo is not None and hi is not None and lo > hi:
        return hi, lo
    return lo, hi


@st.composite
def field_defs(draw, key: str) -> dict:
    # Computed types (roll-ups, formulas) take no value a write may send: test_rollups covers their refusal.
    ftype = draw(st.sampled_from(sorted(n for n, t in REGISTRY.items() if not t.computed)))
    f: dict = {"key": key, "type": ftype}
    if draw(st.booleans()):
        f["label"] = draw(labels)
    if draw(st.booleans()):
        f["required"] = draw(st.booleans())
    if REGISTRY[ftype].indexable and draw(st.integers(0, 4)) == 0:
        f[draw(st.sampled_from(["unique", "indexed"]))] = True
    if ftype in TEXT_LIKE and draw(st.booleans()):
        f["max_length"] = draw(st.one_of(st.integers(1, 30), st.sampled_from([255, 1_000_000])))
    elif ftype == "integer":
        bound = st.one_of(st.none(), st.integers(-50, 50),
                          st.sampled_from([INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1, 2**64, -(2**64)]))
        lo, hi = _ordered(draw(bound), draw(bound))
        if lo is not None:
            f["min"] = lo
        if hi is not None:
            f["max"] = hi
    elif ftype == "decimal":
        if draw(st.booleans()):
            f["scale"] = draw(st.integers(0, 10))
        bound = st.one_of(st.none(), st.integers(-50, 50), decimals(max_abs_exp=12, max_digits=6),
                          st.sampled_from([Decimal("0.005"), Decimal("-1.5"), Decimal("1E+20"), Decimal("-99.999")]))
        lo, hi = _ordered(draw(bound), draw(bound))
        if lo is not None:
            f["min"] = lo
        if hi is not None:
            f["max"] = hi
    elif ftype in ("select", "multi_select"):
        keys = draw(st.lists(choice_keys, min_size=1, max_size=5, unique=True))
        f["choices"] = [{"key": k, "label": draw(labels)} for k in keys]
    elif ftype == "reference":
        f["target"] = ENTITY
        if draw(st.booleans()):
            f["on_delete"] = draw(st.sampled_from(["restrict", "set_null", "cascade"]))
    elif ftype == "tags":
        f["taxonomy"] = TAXONOMY["key"]
        if draw(st.booleans()):
            f["multiple"] = draw(st.booleans())
    return f


#: Definitions the generated entities may use (a tags field needs a taxonomy to bind to).
TAXONOMY = {"key": "tax", "label": "Tax", "tags": [
    {"key": "a", "label": "A"}, {"key": "b", "label": "B", "parent": "a"},
    {"key": "auto", "label": "Auto", "rule": {"entity": "thing", "all": [{"field": "x", "op": "is_empty"}]}}]}
STATE = MetaState(by_kind={"taxonomy": {"tax": EntityState(TAXONOMY)}})
MANUAL_TAGS = ["a", "b"]


@st.composite
def entity_defs(draw) -> dict:
    keys = draw(st.lists(field_keys, min_size=0, max_size=6, unique=True))
    return {"key": ENTITY, "label": draw(labels), "fields": [draw(field_defs(k)) for k in keys]}


# ---- values -------------------------------------------------------------------------------------------

nasty_text = st.text(st.one_of(st.characters(codec="utf-8"), st.sampled_from("\x00\n\r\t @.\u00a0\u2028")), max_size=12)
junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-3, 3), decimals(),
    nasty_text, st.sampled_from(["", " ", "\n", "\x00", "true", "1", "2024-01-01", "null"]),
    st.lists(st.one_of(st.text(max_size=3), st.integers(0, 2)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _with_suffix(strategy):
    """A value, sometimes with a trailing newline, a NUL or padding, sometimes upper-cased."""
    def mutate(s, how):
        return {"none": s, "nl": s + "\n", "nul": s + "\x00", "pad": f" {s} ", "upper": s.upper(),
                "crlf": s + "\r\n"}[how]
    return st.builds(mutate, strategy, st.sampled_from(["none"] * 6 + ["nl", "nul", "pad", "upper", "crlf"]))


def text_values(f: dict) -> st.SearchStrategy:
    n = REGISTRY[f["type"]].max_length(f)
    small = min(n, 40)
    plain = st.one_of(st.text(max_size=small + 2), st.text(st.sampled_from("ab \x00\n"), max_size=small + 2),
                      st.integers(max(0, n - 2), n + 2).map(lambda k: "x" * k) if n <= 1000 else st.just("x" * 1001))
    if f["type"] == "email":
        word = st.text(st.sampled_from("abcXYZ09_-+é"), min_size=0, max_size=5)
        addr = st.builds(lambda a, b, c: f"{a}@{b}.{c}", word, word, word)
        return _with_suffix(st.one_of(addr, st.builds(lambda a, b: f"{a}@{b}", word, word), plain))
    if f["type"] == "phone":
        body = st.text(st.sampled_from("0123456789 ().-/"), min_size=0, max_size=42)
        phone = st.builds(lambda plus, first, rest, ext: f"{plus}{first}{rest}{ext}", st.sampled_from(["", "+", "++"]),
                          st.sampled_from(["1", "0", " ", "("]), body,
                          st.sampled_from(["", " x12", "ext.5", " ext 123456", "x1234567", "x"]))
        return _with_suffix(st.one_of(phone, plain))
    if f["type"] == "url":
        host = st.text(st.sampled_from("abc.-:1é /?#"), min_size=0, max_size=8)
        url = st.builds(lambda scheme, h, rest: f"{scheme}{h}{rest}", st.sampled_from(["http://", "https://", "ftp://", "HTTP://", "http:/"]),
                        host, st.text(st.sampled_from("/?#=a \t"), max_size=5))
        return _with_suffix(st.one_of(url, plain))
    return st.one_of(plain, _with_suffix(st.text(max_size=small)))


def _two_digits(lo: int, hi: int):
    return st.integers(lo, hi).map(lambda n: f"{n:02d}")


def _year():
    return st.one_of(st.integers(1990, 2030), st.sampled_from([0, 1, 2, 1900, 2000, 2023, 2024, 9998, 9999])).map(lambda y: f"{y:04d}")


def date_texts():
    ymd = st.builds(lambda y, m, d: f"{y}-{m}-{d}", _year(), _two_digits(0, 13), _two_digits(0, 32))
    edges = st.sampled_from(["2024-02-29", "2023-02-29", "2024-02-30", "2024-04-31", "2024-1-01", "20240101",
                             "2024-01-01T00:00:00Z", "2024-W01-1", "２０２４-01-01", "0000-01-01", "0001-01-01",
                             "9999-12-31"])
    return _with_suffix(st.one_of(ymd, edges))


def datetime_texts():
    offset = st.one_of(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+24:00", "+01:60", "", "+0100", "+01"]),
                       st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), _two_digits(0, 24), _two_digits(0, 59)))
    frac = st.sampled_from(["", ".5", ".123456789", ".", ".1234567"])
    dt_text = st.builds(
        lambda y, mo, d, t, h, mi, s, fr, off: f"{y}-{mo}-{d}{t}{h}:{mi}:{s}{fr}{off}",
        _year(), _two_digits(0, 13), _two_digits(0, 32), st.sampled_from(["T", "t", " "]),
        _two_digits(0, 24), _two_digits(0, 60), _two_digits(0, 60), frac, offset)
    edges = st.builds(
        lambda day, h, off: f"{day}T{h}:30:00{off}",
        st.sampled_from(["0001-01-01", "9999-12-31", "0000-12-31", "2024-02-29", "2023-02-29"]),
        _two_digits(0, 23),
        st.one_of(st.sampled_from(["Z", "+00:00", "-00:00"]),
                  st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), _two_digits(0, 23), _two_digits(0, 59))))
    return _with_suffix(st.one_of(dt_text, edges))


def decimal_values(f: dict) -> st.SearchStrategy:
    scale = REGISTRY["decimal"].scale(f)
    limit = Decimal(10) ** (DECIMAL_PRECISION - scale)
    quantum = Decimal(1).scaleb(-scale)
    near = [limit, limit - quantum, -limit, -limit + quantum, limit - quantum / 10, Decimal("-0"),
            Decimal(0).scaleb(-30), Decimal("1E-30"), quantum, quantum / 10]
    for bound in (f.get("min"), f.get("max")):
        if bound is not None:
            b = Decimal(str(bound))
            near += [b, b + quantum, b - quantum, b + quantum / 10, b - quantum / 10]
    places = st.integers(0, scale + 2)
    numbers = st.one_of(
        st.builds(lambda c, p: Decimal(f"{c}E-{p}"), st.integers(-(10**20), 10**20), places),
        st.builds(lambda c, p: Decimal(f"{c}E-{p}"), st.integers(-1000, 1000), places),
        st.sampled_from(near), decimals(),
        st.integers(-(10**19), 10**19), st.integers(-100, 100),
    )
    return st.one_of(numbers, numbers.map(decimal_text), decimal_texts())


def decimal_text(n) -> str:
    """A number as a client writes it in a JSON string: fixed notation, every digit kept."""
    return f"{n:f}" if isinstance(n, Decimal) else str(n)


def decimal_texts() -> st.SearchStrategy[str]:
    """Text that looks like a decimal, or almost: exponents, signs, spaces, separators, stray digits."""
    edges = st.sampled_from(["0", "-0", "-0.00", "0.0", "00", "007", "1e5", "1E+2", "+1", ".5", "5.", "-.5", "1.",
                             "1,000", "1_000", " 1", "1 ", "1\n", "1\x00", "١٢", "１２", "NaN", "Infinity", "-",
                             "", "12.50", "12.500000", "0.005", "-1.5", "99.999", "1" * 17, "9" * 16 + ".99",
                             "9" * 18, "1" + "0" * 16])
    digits = st.text(st.sampled_from("0123456789"), min_size=1, max_size=20)
    built = st.builds(lambda sign, whole, dot, frac: f"{sign}{whole}{dot}{frac}", st.sampled_from(["", "-", "+"]),
                      digits, st.sampled_from(["", ".", "."]), st.text(st.sampled_from("0123456789"), max_size=12))
    return st.one_of(edges, built)


def integer_values(f: dict) -> st.SearchStrategy:
    lo, hi = REGISTRY["integer"].bounds(f)
    edges = [lo, hi, lo - 1, hi + 1, INT64_MIN, INT64_MAX, INT64_MIN - 1, INT64_MAX + 1, 0]
    return st.one_of(st.integers(-60, 60), st.sampled_from(edges), st.integers(),
                     st.sampled_from([True, False, Decimal("5"), Decimal("5.0"), "5"]))


def value_strategy(f: dict) -> st.SearchStrategy:
    t = f["type"]
    if t in TEXT_LIKE:
        specific = text_values(f)
    elif t == "integer":
        specific = integer_values(f)
    elif t == "decimal":
        specific = decimal_values(f)
    elif t == "boolean":
        specific = st.sampled_from([True, False, 0, 1, "true", "false", Decimal(1)])
    elif t == "date":
        specific = date_texts()
    elif t == "datetime":
        specific = datetime_texts()
    elif t in ("select", "multi_select"):
        keys = [c["key"] for c in f["choices"]]
        one = st.one_of(st.sampled_from(keys), st.sampled_from(keys).map(str.upper), _with_suffix(st.sampled_from(keys)),
                        st.text(max_size=4), st.sampled_from([c["label"] for c in f["choices"] if isinstance(c["label"], str)] or keys))
        specific = st.one_of(one, st.lists(one, max_size=4), st.lists(st.sampled_from(keys), max_size=4),
                             st.lists(st.sampled_from(keys), unique=True, max_size=4))
    elif t == "reference":
        specific = st.one_of(st.integers(-2, 5), st.sampled_from([2**63 - 1, 2**63, -(2**63), True, Decimal(1), "1"]))
    else:  # a type added to the registry later still gets junk
        specific = junk
    return st.one_of(specific, specific, specific, junk)


def valid_value(f: dict) -> st.SearchStrategy:
    """Values made to satisfy the field's rules (a few still break them, at the edges)."""
    t, required = f["type"], bool(f.get("required"))
    if t in ("text", "long_text"):
        n = REGISTRY[t].max_length(f)
        return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=int(required), max_size=min(n, 20))
    if t == "email":
        word = st.text(st.sampled_from("abcXYZ09_-+é"), min_size=1, max_size=6)
        return st.builds(lambda a, b, c: f"{a}@{b}.{c}", word, word, word)
    if t == "phone":
        return st.builds(lambda plus, d, rest: f"{plus}{d}{rest}", st.sampled_from(["", "+"]), st.sampled_from("0123456789"),
                         st.text(st.sampled_from("0123456789 -"), min_size=1, max_size=15))
    if t == "url":
        return st.builds(lambda s, h, p: f"{s}{h}{p}", st.sampled_from(["http://", "https://"]),
                         st.text(st.sampled_from("abc.-"), min_size=1, max_size=8), st.sampled_from(["", "/", "/a?b=1#c"]))
    if t == "integer":
        lo, hi = REGISTRY[t].bounds(f)
        return st.integers(lo, hi) if lo <= hi else st.integers()
    if t == "decimal":
        scale = REGISTRY[t].scale(f)
        with decimal.localcontext() as ctx:
            ctx.prec = 200
            limit = Decimal(10) ** (DECIMAL_PRECISION - scale)
            lo = max(Decimal(str(f.get("min", -limit))) * 10**scale, -limit * 10**scale + 1)
            hi = min(Decimal(str(f.get("max", limit))) * 10**scale, limit * 10**scale - 1)
            lo_n, hi_n = int(lo.to_integral_value(decimal.ROUND_CEILING)), int(hi.to_integral_value(decimal.ROUND_FLOOR))
        if lo_n > hi_n:
            return decimals()
        places = st.integers(0, scale)
        numbers = st.builds(lambda n, p: Decimal(f"{n}E-{scale}").quantize(Decimal(1).scaleb(-p), decimal.ROUND_DOWN)
                            if p < scale and lo_n <= 0 <= hi_n else Decimal(f"{n}E-{scale}"),
                            st.integers(lo_n, hi_n), places)
        return st.one_of(numbers, numbers.map(decimal_text))  # "12.50" as JavaScript clients send it
    if t == "boolean":
        return st.booleans()
    if t == "date":
        return st.dates().map(lambda d: d.isoformat())
    if t == "datetime":
        offset = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
            lambda m: "Z" if m == 0 else f"{'+' if m > 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}")
        return st.builds(lambda d, off: d.isoformat() + off, st.datetimes(), offset)
    if t == "select":
        return st.sampled_from([c["key"] for c in f["choices"]])
    if t == "multi_select":
        return st.lists(st.sampled_from([c["key"] for c in f["choices"]]), unique=True, min_size=int(required))
    if t == "reference":
        return st.integers(1, 2**63 - 1)
    if t == "tags":
        if f.get("multiple", True) is False:
            return st.sampled_from(MANUAL_TAGS + ["auto"])
        return st.lists(st.sampled_from(MANUAL_TAGS + ["auto"]), unique=True, min_size=int(required))
    return junk


system_values = {
    "id": st.one_of(st.integers(-2, 5), st.just(True), junk),
    "version": st.one_of(st.integers(-1, 3), st.just(True), junk),
    "created_at": st.one_of(datetime_texts(), junk),
    "updated_at": st.one_of(datetime_texts(), junk),
    "created_by": st.one_of(st.integers(-1, 3), st.none(), junk),
    "updated_by": st.one_of(st.integers(-1, 3), st.none(), junk),
    "owner_id": st.one_of(st.integers(-1, 3), st.none(), st.just(False), st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64]), junk),
}
unknown_keys = st.sampled_from(["archived_at", "unknown", "Name", "", "fields", "ID", "_reason", "name\n"])


@st.composite
def records(draw, doc: dict) -> dict:
    """A record that is clean (made from the rules), mixed, or dirty (anything goes)."""
    mode = draw(st.sampled_from(["clean", "mixed", "dirty"]))
    data = {}
    for f in doc["fields"]:
        if mode == "clean":
            include = f.get("required") or draw(st.booleans())
            strategy = st.one_of(valid_value(f), st.none()) if not f.get("required") else valid_value(f)
        else:
            include = draw(st.integers(0, 5)) > 0  # leave some out (missing required ones among them)
            strategy = (st.one_of(valid_value(f), valid_value(f), value_strategy(f)) if mode == "mixed"
                        else value_strategy(f))
        if include:
            data[f["key"]] = draw(strategy)
    if mode != "clean":
        for key in SYSTEM_KEYS:
            if draw(st.integers(0, 12)) == 0:
                data[key] = draw(system_values[key])
        if draw(st.integers(0, 9)) == 0:
            data[draw(unknown_keys)] = draw(junk)
    return data


@st.composite
def cases(draw):
    doc = draw(entity_defs())
    batch = draw(st.lists(st.tuples(records(doc), st.booleans()), min_size=1, max_size=8))
    return doc, batch


# ---- the oracle ---------------------------------------------------------------------------------------

def oracle_error_keys(validator: Draft202012Validator, schema: dict, data: dict) -> set[str]:
    keys: set[str] = set()
    for err in validator.iter_errors(data):
        path = list(err.absolute_path)
        if path:
            keys.add(path[0])
        elif err.validator == "required":
            # one error per missing property, its message names it: "'x' is a required property"
            keys.update(p for p in err.validator_value if p not in data and err.message == f"{p!r} is a required property")
        elif err.validator == "additionalProperties":
            keys.update(k for k in data if k not in schema["properties"])
        else:
            raise AssertionError(f"error about the record as a whole: {err.message}")
    return keys


def oracle(doc: dict, partial: bool):
    schema = (patch_schema if partial else record_schema)(doc)
    schema = jsonutil.loads(jsonutil.dumps(schema))  # numbers as Decimal, exactly as served
    assert isinstance(schema["properties"].get("version"), dict)
    Draft202012Validator.check_schema(schema)
    return schema, Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def check_agreement(doc: dict, batch: list[tuple[dict, bool]]) -> None:
    assert validate_entity(doc, STATE) == [], "the generator made an illegal definition"
    doc = bind_entity(doc, STATE)  # what the runtime compiles: fields bound to their taxonomy
    compiled = RecordValidator(doc)
    oracles = {False: oracle(doc, False), True: oracle(doc, True)}
    for data, partial in batch:
        _values, _system, errors = compiled.validate(data, partial=partial)
        ours = {e["field"] for e in errors}
        schema, validator = oracles[partial]
        with decimal.localcontext() as ctx:
            ctx.prec = 1000  # multipleOf is computed with %, exact at this precision for our magnitudes
            theirs = oracle_error_keys(validator, schema, data)
            valid = validator.is_valid(data)
        assert (not errors) == valid, (data, partial, errors, theirs)
        assert ours == theirs, (data, partial, errors, theirs)


# Cases found by this test and pinned. A date-time that is well formed but falls outside the years
# 1-9999 once moved to UTC (the platform stores UTC) was refused by the validator and accepted by
# the schema. The schema (and so the validator) now refuses a positive offset on 0001-01-01 and a
# negative one on 9999-12-31 (see DATETIME_PATTERN), the only days where an offset can do that.
_DT = {"key": ENTITY, "label": "Thing", "fields": [{"key": "at", "type": "datetime"}]}


@example(case=(_DT, [({"at": "0001-01-01T00:30:00+01:00"}, False), ({"at": "9999-12-31T23:30:00-01:00"}, True),
                     ({"at": "0001-01-01T05:00:00-05:00"}, False), ({"at": "9999-12-31T01:00:00+02:00"}, False),
                     ({"at": "0001-01-01T00:00:00Z"}, False), ({"at": "9999-12-31T23:59:59-00:00"}, False),
                     ({"created_at": "0001-01-01T00:00:00+00:01"}, True),
                     ({"at": "2024-02-30T00:00:00Z"}, False), ({"at": "2024-01-01T00:00:00Z\n"}, False)]))
@example(case=({"key": ENTITY, "label": "Thing", "fields": [
    {"key": "n", "type": "decimal", "scale": 2, "min": Decimal("0.005"), "required": True},
    {"key": "i", "type": "integer", "min": 2**64},
    {"key": "s", "type": "text", "max_length": 3, "required": True},
    {"key": "d", "type": "date"},
]}, [({"n": Decimal("0.01"), "i": 5, "s": "abc\n", "d": "2024-02-30"}, False),
     ({"n": Decimal("0.010000"), "s": "a\x00"}, False), ({"n": Decimal("0.001"), "s": ""}, True),
     ({"n": 10**16, "s": None}, True), ({"n": True, "i": True, "unknown": 1}, False),
     ({"n": Decimal("9999999999999999.99"), "s": "abc", "d": "2024-02-29"}, False)]))
# Decimals as text: the schema's pattern (built from scale, min and max) and the validator's reading.
@example(case=({"key": ENTITY, "label": "Thing", "fields": [
    {"key": "m", "type": "decimal", "scale": 2, "min": Decimal("-1.5"), "max": Decimal("99.999")},
    {"key": "z", "type": "decimal", "scale": 0, "min": 0},
    {"key": "n", "type": "decimal", "scale": 3, "min": Decimal("0.005"), "max": Decimal("0.006")},
    {"key": "p", "type": "decimal", "scale": 2, "min": Decimal("0.005"), "max": Decimal("0.019")},
]}, [({"p": "0.00"}, False), ({"p": "0.01"}, False), ({"p": "0.02"}, True), ({"p": "0.010"}, True),
     ({"p": "-0"}, False), ({"p": "0"}, True), ({"m": "-1.50", "z": "-0", "n": "0.005"}, False), ({"m": "-1.51"}, False), ({"m": "99.99", "z": "7.000"}, False),
     ({"m": "100"}, True), ({"m": "1e5", "z": "007"}, True), ({"m": "12.505", "z": "-1"}, True),
     ({"m": " 1", "z": "1.", "n": "0.0060"}, True), ({"m": "-0.001", "z": "9" * 18}, True),
     ({"z": "9" * 19, "n": "0.0065"}, True), ({"z": "+1", "m": ".5"}, False)]))
@settings(max_examples=examples(800), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases())
def test_compiled_validator_agrees_with_record_schema(case):
    doc, batch = case
    check_agreement(doc, batch)


# ---- a hand-written table of validity: an oracle independent of both implementations ----------------
# The property above checks that the validator and the published schema agree; both come from the
# field types, so a rule wrong in a field type would be wrong in both. These rows are written by
# hand from the README's rules, and both must give the same answer as the table.
VALIDITY = [
    ({"type": "integer"}, 5, True), ({"type": "integer"}, Decimal("5.5"), False), ({"type": "integer"}, True, False),
    ({"type": "integer"}, "5", False), ({"type": "integer"}, 2**63 - 1, True), ({"type": "integer"}, 2**63, False),
    ({"type": "integer"}, -(2**63), True), ({"type": "integer", "min": 3, "max": 120}, 2, False),
    ({"type": "integer", "min": 3, "max": 120}, 120, True),
    ({"type": "decimal", "scale": 2}, Decimal("9999999999999999.99"), True),
    ({"type": "decimal", "scale": 2}, Decimal("-9999999999999999.99"), True),
    ({"type": "decimal", "scale": 2}, Decimal("10000000000000000.00"), False),
    ({"type": "decimal", "scale": 2}, Decimal("0.001"), False), ({"type": "decimal", "scale": 2}, Decimal("0.010"), True),
    ({"type": "decimal", "scale": 2}, 7, True), ({"type": "decimal", "scale": 2}, "7", True),
    ({"type": "decimal", "scale": 2}, "7.001", False), ({"type": "decimal", "scale": 2}, "1e5", False),
    ({"type": "decimal", "scale": 10}, Decimal("99999999.9999999999"), True),
    ({"type": "decimal", "scale": 10}, Decimal("100000000"), False),
    ({"type": "decimal", "scale": 0}, Decimal("999999999999999999"), True),
    ({"type": "decimal", "scale": 0}, Decimal("1000000000000000000"), False),
    ({"type": "boolean"}, False, True), ({"type": "boolean"}, 0, False),
    ({"type": "text", "max_length": 3}, "abc", True), ({"type": "text", "max_length": 3}, "abcd", False),
    ({"type": "text"}, "a\x00b", False), ({"type": "text"}, "字段", True),
    ({"type": "email"}, "a@b.co", True), ({"type": "email"}, "a@b", False), ({"type": "email"}, "a b@c.co", False),
    ({"type": "date"}, "2024-02-29", True), ({"type": "date"}, "2023-02-29", False), ({"type": "date"}, "2024-2-1", False),
    ({"type": "select", "choices": [{"key": "a", "label": "A"}]}, "a", True),
    ({"type": "select", "choices": [{"key": "a", "label": "A"}]}, "z", False),
]


@pytest.mark.parametrize("options, value, valid", VALIDITY, ids=[f"{o['type']}:{v!r}"[:50] for o, v, _ in VALIDITY])
def test_validity_matches_the_hand_written_table(options, value, valid):
    doc = bind_entity({"key": ENTITY, "label": "Thing", "fields": [{"key": "x", "label": "X", **options}]}, STATE)
    _values, _system, errors = RecordValidator(doc).validate({"x": value}, partial=True)
    assert (not errors) is valid, (options, value, errors)
    schema, validator = oracle(doc, True)
    with decimal.localcontext() as ctx:
        ctx.prec = 1000
        assert validator.is_valid({"x": value}) is valid, (options, value)


@settings(max_examples=examples(600), deadline=None)
@given(scale=st.integers(0, 10), lo=st.one_of(st.none(), decimals(max_abs_exp=8, max_digits=8)),
       hi=st.one_of(st.none(), decimals(max_abs_exp=8, max_digits=8)), data=st.data())
def test_the_published_decimal_text_pattern_matches_exactly_what_the_checker_accepts(scale, lo, hi, data):
    """Many ranges, many texts: the pattern clients read and the checker the server runs say the same."""
    import re
    lo, hi = _ordered(lo, hi)
    f = {"key": "d", "type": "decimal", "scale": scale, **({"min": lo} if lo is not None else {}),
         **({"max": hi} if hi is not None else {})}
    text = REGISTRY["decimal"].value_schema(f)["anyOf"][1]
    check = REGISTRY["decimal"].compile_checker(f)
    texts = st.one_of(decimal_texts(), valid_value(f).map(decimal_text), decimal_values(f).map(decimal_text))
    for s in data.draw(st.lists(texts, min_size=1, max_size=30)):
        try:
            check(s)
            accepted = True
        except Exception:  # noqa: BLE001 - Invalid
            accepted = False
        assert (re.search(text["pattern"], s) is not None) == accepted, (f, s, text["pattern"])
