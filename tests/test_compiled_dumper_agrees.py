"""The compiled record dumper writes exactly the JSON the marshmallow schema writes.

``RecordDumper`` (crm_platform/runtime/serialise.py) is what every read runs; the marshmallow
schema (``CompiledEntity.output``) stays the declared contract and the oracle. For random records
of an entity holding a field of every type in the registry, stored and read back through the
database (SQLite and PostgreSQL), both must give the same keys, in the same order, with the same
values, down to the bytes of the JSON. The tags of a page, read in one query by ``LinkReader``,
must equal what the tags field type reads one field at a time.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_platform import jsonutil
from crm_platform.metadata.field_types import REGISTRY

TAXONOMY = {"key": "kind", "label": "Kind", "tags": [
    {"key": "zeta", "label": "Zeta"}, {"key": "alpha", "label": "Alpha"},
    {"key": "alpha_child", "label": "Alpha child", "parent": "alpha"}, {"key": "mid", "label": "Mid"}]}
TAG_KEYS = [t["key"] for t in TAXONOMY["tags"]]
CHOICES = ["red", "green", "blue"]
STAGES = ["new", "won", "lost"]
EVERY_TYPE = {
    "key": "thing", "label": "Thing", "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "notes", "type": "long_text"},
        {"key": "count", "type": "integer"},
        {"key": "amount", "type": "decimal", "scale": 2},
        {"key": "share", "type": "percent", "scale": 2},
        {"key": "done", "type": "boolean"},
        {"key": "due_on", "type": "date"},
        {"key": "seen_at", "type": "datetime"},
        {"key": "email", "type": "email"},
        {"key": "phone", "type": "phone"},
        {"key": "site", "type": "url"},
        {"key": "colour", "type": "select", "choices": [{"key": c, "label": c} for c in CHOICES]},
        {"key": "colours", "type": "multi_select", "choices": [{"key": c, "label": c} for c in CHOICES]},
        {"key": "account", "type": "reference", "target": "account"},
        {"key": "kinds", "type": "tags", "taxonomy": "kind"},
        {"key": "main_kind", "type": "tags", "taxonomy": "kind", "multiple": False},
        {"key": "stage", "type": "stage"},
        {"key": "parent", "type": "reference", "target": "thing"},
        # a stored roll-up (the count of the things whose parent this is) and formulas computed when
        # read: the dumper writes the value of the result type
        {"key": "children", "type": "rollup", "source": {"entity": "thing", "via": "parent"}, "aggregate": "count"},
        {"key": "worth", "type": "formula", "expression": "amount * share / 100", "result": "decimal", "scale": 2},
        {"key": "tagline", "type": "formula", "expression": "upper(name) & account.title", "result": "text"},
        {"key": "redo_on", "type": "formula", "expression": "add_days(due_on, count)", "result": "date"},
    ],
}
PIPELINE = {"key": "flow", "label": "Flow", "entity": "thing", "field": "stage",
            "stages": [{"key": "new", "label": "New", "category": "open", "allowed_next": ["won", "lost"]},
                       {"key": "won", "label": "Won", "category": "won", "allowed_next": []},
                       {"key": "lost", "label": "Lost", "category": "lost", "allowed_next": []}]}

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
utc8 = dt.timezone(dt.timedelta(hours=8))


def maybe(strategy):
    return st.one_of(st.none(), strategy)


VALUES = {  # values as the table stores them (what the record service writes after its checks)
    "notes": text, "email": text, "phone": text, "site": text,
    "count": st.integers(-(2**63), 2**63 - 1),
    "amount": st.integers(-(10**15), 10**15).map(lambda n: Decimal(n).scaleb(-2)),
    "share": st.integers(0, 10**4).map(lambda n: Decimal(n).scaleb(-2)),
    "done": st.booleans(),
    "due_on": st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)),
    "seen_at": st.datetimes(dt.datetime(1900, 1, 2), dt.datetime(2200, 12, 30),
                            timezones=st.sampled_from([dt.timezone.utc, utc8])),
    "colour": st.sampled_from(CHOICES),
    "colours": st.lists(st.sampled_from(CHOICES), unique=True),
    "account": st.just(1),
    "stage": st.sampled_from(STAGES),
}
records = st.fixed_dictionaries({"name": text, **{k: maybe(v) for k, v in VALUES.items()}})
links = st.fixed_dictionaries({"kinds": st.lists(st.sampled_from(TAG_KEYS), unique=True),
                               "main_kind": st.lists(st.sampled_from(TAG_KEYS), max_size=1)})
pages = st.lists(st.tuples(records, links), min_size=1, max_size=5)


def define(client) -> None:
    for path, doc in (("taxonomies", TAXONOMY),
                      ("entities", {"key": "account", "label": "Account", "fields": [{"key": "title", "type": "text"}]}),
                      ("entities", EVERY_TYPE), ("pipelines", PIPELINE)):
        r = client.post(f"/api/meta/{path}", json=doc)
        assert r.status_code == 201, r.get_json()
    assert client.post("/api/records/account", json={"title": "A"}).get_json()["id"] == 1


def test_the_entity_holds_every_field_type():
    assert {f["type"] for f in EVERY_TYPE["fields"]} == set(REGISTRY)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=pages)
def test_compiled_dumper_gives_the_json_of_the_marshmallow_schema(client, platform, page):
    if "thing" not in platform.runtime.current().entities:
        define(client)
    entity = platform.runtime.current().entity("thing")
    now = dt.datetime.now(dt.timezone.utc)
    with platform.engine.connect() as conn:
        with conn.begin() as tx:
            ids = []
            for values, tags in page:
                row = {**values, "created_at": now, "updated_at": now, "version": 1, "owner_id": None}
                ids.append(conn.execute(entity.table.insert().values(row).returning(entity.table.c.id)).scalar_one())
                for key, keys in tags.items():
                    if keys:
                        conn.execute(entity.link_tables[key].insert(), [{"record_id": ids[-1], "tag": k} for k in keys])
            select = sa.select(*entity.columns).where(entity.table.c.id.in_(ids)).order_by(entity.table.c.id)
            rows = conn.execute(select).all()
            expected = [entity.output.dump(r._mapping) for r in rows]
            assert [entity.dumper.one(r) for r in rows] == expected
            assert entity.dumper.many(conn.execute(select)) == expected
            # Same keys in the same order and the same bytes, not only equal dicts.
            assert [jsonutil.dumps(entity.dumper.one(r)) for r in rows] == [jsonutil.dumps(e) for e in expected]
            # Extra columns (the fast path's revision) are ignored, as marshmallow ignores them.
            with_revision = conn.execute(entity.get_with_revision_statement, {"record_id": ids[0]}).first()
            assert entity.dumper.one(with_revision) == entity.output.dump(with_revision._mapping) == expected[0]

            # Tags: one query for the page gives what the field type reads field by field.
            linked = entity.links.attach(conn, [{"id": i} for i in ids])
            for key, link in entity.link_tables.items():
                field = entity.field_map[key]
                one_by_one = REGISTRY[field["type"]].read_links(conn, link, field, ids)
                empty = [] if field.get("multiple", True) else None
                assert [r[key] for r in linked] == [one_by_one.get(i, empty) for i in ids]
            tx.rollback()
