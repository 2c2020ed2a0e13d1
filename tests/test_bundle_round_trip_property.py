"""Property: whatever configuration and records an instance holds, export → import into an empty
instance → export gives the same bytes, and the first export holds exactly the source records
(the oracle for the records is the bundle Hypothesis drew, not another export: an exporter that
dropped ``false`` or ``0`` would still give the same bytes twice). Hypothesis builds the instances
(SQLite, files per example)."""
from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import examples, make_app
from crm_platform.bundles import exporter, importer
from crm_platform.bundles.format import parse, seal, serialise

TAGS = {"key": "flags", "label": {"en": "Flags", "zh": "标记"},
        "tags": [{"key": k, "label": k} for k in ("red", "green", "blue")]}
CHOICES = [{"key": k, "label": {"en": k, "zh": k}} for k in ("a", "b", "c")]
SCALAR = {
    "text": (lambda f: f, st.text(st.characters(min_codepoint=0x20, max_codepoint=0x4E2F, exclude_characters="\x7f"),
                                  max_size=12)),
    "integer": (lambda f: f, st.integers(-10**12, 10**12)),
    "decimal": (lambda f: {**f, "scale": 2}, st.integers(-10**9, 10**9).map(lambda n: Decimal(n) / 100)),
    "boolean": (lambda f: f, st.booleans()),
    "date": (lambda f: f, st.dates(dt.date(1950, 1, 1), dt.date(2080, 12, 31)).map(dt.date.isoformat)),
    "datetime": (lambda f: f, st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2080, 1, 1)).map(
        lambda d: d.replace(second=0, microsecond=0).isoformat() + "Z")),
    "select": (lambda f: {**f, "choices": CHOICES}, st.sampled_from(["a", "b", "c"])),
    "multi_select": (lambda f: {**f, "choices": CHOICES}, st.lists(st.sampled_from(["a", "b", "c"]), unique=True)),
    "tags": (lambda f: {**f, "taxonomy": "flags"}, st.lists(st.sampled_from(["red", "green", "blue"]), unique=True)),
}


@st.composite
def bundles(draw):
    names = [f"e{n}" for n in range(draw(st.integers(1, 3)))]
    entities, sample = [], {}
    for name in names:
        fields = [{"key": "title", "type": "text", "required": True}]
        for n, ftype in enumerate(draw(st.lists(st.sampled_from(sorted(SCALAR) + ["reference"]), max_size=6))):
            f = {"key": f"f{n}", "type": ftype}
            if ftype == "reference":
                f.update(target=draw(st.sampled_from(names)), on_delete="set_null")
            else:
                f = SCALAR[ftype][0](f)
            fields.append(f)
        entities.append({"key": name, "label": {"en": name, "zh": name}, "title_field": "title", "fields": fields})
    for entity in entities:
        records = []
        for n in range(draw(st.integers(0, 4))):
            rec = {"_key": f"{entity['key']}-{n}", "title": f"#{n}"}
            for f in entity["fields"][1:]:
                if draw(st.booleans()):
                    continue
                if f["type"] == "reference":
                    rec[f["key"]] = {"ref": f"{f['target']}-{draw(st.integers(0, 3))}"}
                else:
                    rec[f["key"]] = draw(SCALAR[f["type"]][1])
            records.append(rec)
        sample[entity["key"]] = records
    # Keep only references to records that exist.
    keys = {r["_key"] for rs in sample.values() for r in rs}
    for rs in sample.values():
        for r in rs:
            for k in [k for k, v in r.items() if isinstance(v, dict) and v["ref"] not in keys]:
                del r[k]
    return seal({"format": "crm-bundle", "format_version": 1, "name": "prop", "version": "1.0.0",
                 "definitions": {"entity": entities, "taxonomy": [TAGS]},
                 "sample_data": {k: v for k, v in sample.items() if v}})


def comparable(records: dict[str, list[dict]], entities: list[dict]) -> dict:
    """Sample records with what the format leaves open made equal: list order, decimal trailing
    zeros, how a UTC datetime is spelt; empty lists and nulls are absent, as in an export."""
    types = {e["key"]: {f["key"]: f["type"] for f in e["fields"]} for e in entities}
    out = {}
    for entity_key, rows in records.items():
        out[entity_key] = []
        for row in rows:
            rec = {}
            for k, v in row.items():
                if v is None or v == []:
                    continue
                ftype = types[entity_key].get(k)
                if isinstance(v, list):
                    v = sorted(v)
                elif ftype == "decimal":
                    v = Decimal(v).normalize()
                elif ftype == "datetime":
                    v = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
                rec[k] = v
            out[entity_key].append(rec)
    return {k: v for k, v in out.items() if v}


def expected_export(bundle: dict) -> dict:
    """The source records as an export names them: ``_key`` is entity-ordinal from 1, in load order."""
    renamed = {}
    for entity_key, rows in bundle["sample_data"].items():
        for n, row in enumerate(rows, start=1):
            renamed[row["_key"]] = f"{entity_key}-{n}"
    return {entity_key: [{k: ({"ref": renamed[v["ref"]]} if isinstance(v, dict) else v) if k != "_key" else renamed[v]
                          for k, v in row.items()} for row in rows]
            for entity_key, rows in bundle["sample_data"].items()}


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bundles())
def test_export_import_export_gives_the_same_bytes(bundle):
    with tempfile.TemporaryDirectory() as tmp:
        first = make_app(f"sqlite:///{tmp}/a.sqlite").extensions["crm"]
        importer.run(first, bundle, actor="test", sample_data=True)
        text = serialise(exporter.export(first, name="prop", sample_data=True))
        entities = bundle["definitions"]["entity"]
        assert comparable(parse(text).get("sample_data", {}), entities) == comparable(expected_export(bundle), entities)
        second = make_app(f"sqlite:///{tmp}/b.sqlite").extensions["crm"]
        importer.run(second, parse(text), actor="test", sample_data=True)
        assert serialise(exporter.export(second, name="prop", sample_data=True)) == text
        for p in (first, second):
            p.engine.dispose()
