"""A formula's two compilations agree: on random records, the value SQL computes (what lists, filters
and rule tags see) equals the value the Python evaluator computes from the stored record, on SQLite
and PostgreSQL. Both come from one typed tree (metadata/formulas.py, runtime/formulas.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: Every operator and function, nulls, zero divisors, overflow, mixed scales, text order and case.
EXPRESSIONS = [
    ("e_weighted", "amount * probability / 100", "decimal", 2),
    ("e_div", "amount / qty", "decimal", 4),
    ("e_div_int", "qty / 7", "integer", None),
    ("e_mix", "-amount + qty * 3 - probability", "decimal", 3),
    ("e_big", "amount * amount * amount", "decimal", 2),
    ("e_round", "round(amount / 3, 1) + round(probability)", "decimal", 2),
    ("e_cmp", "amount > qty or (name < other and not flag)", "boolean", None),
    ("e_eq", "name = other", "boolean", None),
    ("e_if", "if(flag, amount, probability * 2)", "decimal", 4),
    ("e_coalesce", "coalesce(amount, probability, 0)", "decimal", 2),
    ("e_concat", "upper(name) & \"-\" & lower(other) & company.name", "text", None),
    ("e_len", "len(name) + len(company.name)", "integer", None),
    ("e_days", "days_between(starts, ends)", "integer", None),
    ("e_founded", "days_between(company.founded, starts) > 1000", "boolean", None),
    ("e_add", "add_days(starts, qty)", "date", None),
    ("e_moment", "days_between(seen, starts)", "integer", None),
    ("e_related", "company.rating * 2 + amount", "decimal", 2),
    ("e_null", "if(amount > 0, null, amount)", "decimal", 2),
    ("e_logic", "flag and (qty > 2 or amount = null)", "boolean", None),
]

COMPANY = {"key": "company", "label": "Company", "fields": [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "founded", "type": "date", "label": "Founded"},
    {"key": "rating", "type": "decimal", "label": "Rating", "scale": 3},
]}
DEAL = {"key": "deal", "label": "Deal", "fields": [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "other", "type": "text", "label": "Other"},
    {"key": "amount", "type": "decimal", "label": "Amount"},
    {"key": "probability", "type": "percent", "label": "Probability", "min": -1000, "max": 1000, "scale": 3},
    {"key": "qty", "type": "integer", "label": "Qty"},
    {"key": "flag", "type": "boolean", "label": "Flag"},
    {"key": "starts", "type": "date", "label": "Starts"},
    {"key": "ends", "type": "date", "label": "Ends"},
    {"key": "seen", "type": "datetime", "label": "Seen"},
    {"key": "company", "type": "reference", "target": "company", "label": "Company"},
] + [{"key": k, "type": "formula", "label": k, "expression": e, "result": r, **({"scale": s} if s is not None else {})}
     for k, e, r, s in EXPRESSIONS]}

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
days = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2150, 12, 31))


def decimals(places, digits):
    return st.decimals(min_value=-(10 ** digits) + 1, max_value=10 ** digits - 1, places=places,
                       allow_nan=False, allow_infinity=False)


def maybe(strategy):
    return st.one_of(st.none(), strategy, strategy, strategy)


deal_rows = st.fixed_dictionaries({
    "name": maybe(texts), "other": maybe(texts),
    "amount": maybe(st.one_of(decimals(2, 7), decimals(2, 15), st.just(Decimal("0.00")))),
    "probability": maybe(st.one_of(decimals(3, 3), st.just(Decimal(0)))),
    "qty": maybe(st.one_of(st.integers(-1000, 1000), st.just(0), st.integers(-(2 ** 62), 2 ** 62))),
    "flag": maybe(st.booleans()),
    "starts": maybe(days), "ends": maybe(days),
    "seen": maybe(st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1),
                               timezones=st.just(dt.timezone(dt.timedelta(hours=8))))),
})
company_rows = st.fixed_dictionaries({"name": maybe(texts), "founded": maybe(days),
                                      "rating": maybe(decimals(3, 6))})


SEEN: dict = {}


def to_json(row):
    out = {}
    for k, v in row.items():
        if v is None:
            continue
        out[k] = v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v
    return out


@pytest.fixture
def model(platform):
    for doc in (COMPANY, DEAL):
        platform.metadata.create_definition("entity", doc, actor="test")
    return platform


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(companies=st.lists(company_rows, min_size=1, max_size=3), deals=st.lists(deal_rows, min_size=1, max_size=6),
       picks=st.lists(st.integers(0, 10), min_size=6, max_size=6))
def test_sql_and_python_agree_on_random_records(model, companies, deals, picks):
    platform = model
    svc = platform.records
    company_ids = [svc.create("company", to_json(c))["id"] for c in companies]
    rows = []
    for i, d in enumerate(deals):
        pick = picks[i]
        row = to_json(d)
        if pick < 8:
            row["company"] = company_ids[pick % len(company_ids)]
        rows.append(row)
    ids = [svc.create("deal", row)["id"] for row in rows]
    entity = platform.runtime.current().entity("deal")
    companies_t = platform.runtime.current().entity("company").table
    t = entity.table
    with platform.engine.connect() as conn:
        stored = {r.id: dict(r._mapping) for r in conn.execute(
            sa.select(t).where(t.c.id.in_(ids)))}
        by_sql = {r.id: dict(r._mapping) for r in conn.execute(
            sa.select(t.c.id, *(entity.column(k).label(k) for k in entity.expressions)).where(t.c.id.in_(ids)))}
        related = {r.id: dict(r._mapping) for r in conn.execute(sa.select(companies_t))}
    for record_id in ids:
        record = stored[record_id]
        for key, evaluate in entity.evaluators.items():
            py = evaluate(record, lambda ref: related.get(record.get(ref)))
            got = by_sql[record_id][key]
            assert got == py and type(got) is type(py), (key, record, got, py)
            SEEN.setdefault(key, set()).add(py is not None)


def test_the_random_records_reach_every_formula_with_values():
    """Run after the property test: each formula gave a value (not only nulls) somewhere."""
    if not SEEN:
        pytest.skip("the property test did not run in this session")
    assert {k for k, seen in SEEN.items() if True not in seen} == set()
