"""Bundles: deterministic export, round trips, idempotent installs, upgrades that keep local changes,
conflicts shown with both versions, and bad bundles refused with nothing applied (SQLite and PostgreSQL)."""
from __future__ import annotations

import copy
from decimal import Decimal

import pytest
import sqlalchemy as sa

from conftest import HAS_PG, make_app
from crm_platform.bundles import exporter, importer
from crm_platform.bundles.format import parse, seal, serialise
from crm_platform.errors import BadRequest, Conflict, Invalid
from crm_platform.tables import revisions

CUSTOMER = {
    "key": "customer", "label": {"en": "Customer", "zh": "客户"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True},
        {"key": "spend", "type": "decimal", "scale": 2, "label": {"en": "Total spend", "zh": "累计消费"}},
        {"key": "last_purchase_on", "type": "date"},
        {"key": "referrer", "type": "reference", "target": "customer", "on_delete": "set_null"},
        {"key": "account_manager", "type": "reference", "target": "manager", "on_delete": "set_null"},
        {"key": "segment", "type": "tags", "taxonomy": "segment"},
        {"key": "stage", "type": "stage"},
    ],
}
MANAGER = {  # refers back to customer: the two entities need each other
    "key": "manager", "label": {"en": "Account manager", "zh": "客户经理"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "top_customer", "type": "reference", "target": "customer", "on_delete": "set_null"},
    ],
}
SEGMENT = {
    "key": "segment", "label": {"en": "Segment", "zh": "客户分层"},
    "tags": [
        {"key": "vip", "label": {"en": "VIP", "zh": "重要客户"}},
        {"key": "big", "label": {"en": "High value", "zh": "高价值客户"},
         "rule": {"entity": "customer", "all": [{"field": "spend", "op": "gte", "value": 1000}]}},
    ],
}
LIFECYCLE = {
    "key": "lifecycle", "label": {"en": "Lifecycle", "zh": "客户生命周期"}, "entity": "customer", "field": "stage",
    "stages": [{"key": "lead", "label": "Lead", "allowed_next": ["won"]}, {"key": "won", "label": "Won", "category": "won"}],
}
SAMPLE = {
    "manager": [{"_key": "m1", "name": "Zhao", "top_customer": {"ref": "c2"}}],
    "customer": [
        {"_key": "c1", "name": "Li", "spend": Decimal("1200.50"), "last_purchase_on": {"days": -3}, "segment": ["vip"],
         "account_manager": {"ref": "m1"}, "stage": "won"},
        {"_key": "c2", "name": "Wang", "spend": Decimal("80.00"), "referrer": {"ref": "c1"}, "stage": "lead"},
    ],
}


def make_bundle(*, version="1.0.0", name="shop", sample=True, **definitions) -> dict:
    defs = {"entity": [CUSTOMER, MANAGER], "taxonomy": [SEGMENT], "pipeline": [LIFECYCLE]}
    defs.update(definitions)
    doc = {"format": "crm-bundle", "format_version": 1, "name": name, "version": version,
           "definitions": copy.deepcopy(defs)}
    if sample:
        doc["sample_data"] = copy.deepcopy(SAMPLE)
    return seal(doc)


def revision_count(platform) -> int:
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(revisions)).scalar_one()


def tables(platform) -> set[str]:
    return {t for t in sa.inspect(platform.engine).get_table_names() if t.startswith(("ent_", "tl_"))}


def install(platform, bundle, **options):
    return importer.run(platform, bundle, actor="test", **options)


def export_text(platform, **options) -> str:
    return serialise(exporter.export(platform, name="shop", **options))


# ---- determinism and round trips -------------------------------------------------------------------

def test_export_is_deterministic_and_round_trips_byte_for_byte(platform, database_url, tmp_path):
    install(platform, make_bundle(), sample_data=True)
    first = export_text(platform, sample_data=True)
    assert first == export_text(platform, sample_data=True)
    assert "created_at" not in first and '"id"' not in first  # no timestamps, no database ids
    other = make_app(f"sqlite:///{tmp_path / 'other.sqlite'}").extensions["crm"]
    install(other, parse(first), sample_data=True)
    assert export_text(other, sample_data=True) == first
    other.engine.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not HAS_PG, reason="DATABASE_URL names no PostgreSQL database")
def test_round_trip_from_sqlite_to_postgresql_and_back(tmp_path, request):
    from conftest import _reset_pg
    pg_url = request.getfixturevalue("pg_database")
    _reset_pg(pg_url)
    source = make_app(f"sqlite:///{tmp_path / 'source.sqlite'}").extensions["crm"]
    install(source, make_bundle(), sample_data=True)
    text = export_text(source, sample_data=True)
    on_pg = make_app(pg_url).extensions["crm"]
    install(on_pg, parse(text), sample_data=True)
    assert export_text(on_pg, sample_data=True) == text
    back = make_app(f"sqlite:///{tmp_path / 'back.sqlite'}").extensions["crm"]
    install(back, parse(export_text(on_pg, sample_data=True)), sample_data=True)
    assert export_text(back, sample_data=True) == text
    for p in (source, on_pg, back):
        p.engine.dispose()


def test_mutual_references_tags_rules_and_pipelines_install_in_one_go(platform):
    import datetime as dt

    def utc_today():  # the importer dates sample data by the UTC day, whatever the local time zone
        return dt.datetime.now(dt.timezone.utc).date()
    days = {utc_today()}
    result = install(platform, make_bundle(), sample_data=True)
    days.add(utc_today())  # both days, should the install straddle midnight UTC
    assert result["summary"]["created"] == 4 and result["summary"]["unresolved"] == 0
    customers = {r["name"]: r for r in platform.records.list("customer")["items"]}
    li, wang = customers["Li"], customers["Wang"]
    assert sorted(li["segment"]) == ["big", "vip"]  # the rule tag applied on load
    assert li["spend"] == Decimal("1200.50")
    assert wang["referrer"] == li["id"]
    zhao = platform.records.list("manager")["items"][0]
    assert zhao["top_customer"] == wang["id"] and li["account_manager"] == zhao["id"]
    assert li["last_purchase_on"] in {(d - dt.timedelta(days=3)).isoformat() for d in days}


# ---- idempotence, upgrades, conflicts ----------------------------------------------------------------

def test_installing_the_same_version_twice_changes_nothing(platform):
    install(platform, make_bundle(), sample_data=True)
    revs, rows = revision_count(platform), platform.records.list("customer")["total"]
    again = install(platform, make_bundle(), sample_data=True)
    assert {d["action"] for d in again["definitions"]} == {"unchanged"}
    assert again["steps"] == [] and "loaded only once" in again["sample_data"]["skipped"]
    assert revision_count(platform) == revs and platform.records.list("customer")["total"] == rows


def test_an_upgrade_keeps_the_fields_and_tags_the_admin_added(platform):
    install(platform, make_bundle())
    platform.metadata.add_field("customer", {"key": "wechat", "type": "text"}, actor="admin")
    segment = platform.metadata.state().taxonomies["segment"].doc
    platform.metadata.update_definition("taxonomy", "segment", {"tags": segment["tags"] + [
        {"key": "local_only", "label": "Ours"}]}, actor="admin")
    v2_customer = copy.deepcopy(CUSTOMER)
    v2_customer["fields"].append({"key": "city", "type": "text", "label": {"en": "City", "zh": "城市"}})
    v2_customer["label"] = {"en": "Client", "zh": "客户"}
    result = install(platform, make_bundle(version="1.1.0", entity=[v2_customer, MANAGER]))
    assert result["installed_version"] == "1.0.0" and result["conflicts"] == []
    assert result["older_than_installed"] is False
    assert install(platform, make_bundle(version="1.0.0"), dry_run=True)["older_than_installed"] is True
    customer = next(d for d in result["definitions"] if d["key"] == "customer")
    assert customer["from_bundle"] == ["label.en", "fields.city"] and customer["kept_here"] == ["fields.wechat"]
    doc = platform.metadata.state().entities["customer"].doc
    assert [f["key"] for f in doc["fields"]][-2:] == ["city", "wechat"]
    assert doc["label"] == {"en": "Client", "zh": "客户"}
    assert "local_only" in [t["key"] for t in platform.metadata.state().taxonomies["segment"].doc["tags"]]


def test_a_definition_changed_on_both_sides_is_a_conflict_shown_with_both_versions(platform, client):
    install(platform, make_bundle())
    platform.metadata.update_field("customer", "spend", {"label": "Spend (ours)"}, actor="admin")
    v2 = copy.deepcopy(CUSTOMER)
    v2["fields"][1]["label"] = {"en": "Lifetime spend", "zh": "累计消费金额"}
    v2["fields"].append({"key": "city", "type": "text"})
    bundle = make_bundle(version="2.0.0", entity=[v2, MANAGER])
    revs = revision_count(platform)
    with pytest.raises(Conflict) as refused:
        install(platform, bundle)
    assert refused.value.errors[0]["field"] == "definitions.entity.customer.fields.spend"
    conflict = refused.value.extra["plan"]["conflicts"][0]
    assert conflict["local"]["label"] == "Spend (ours)"
    assert conflict["incoming"]["label"] == {"en": "Lifetime spend", "zh": "累计消费金额"}
    assert conflict["installed"]["label"] == {"en": "Total spend", "zh": "累计消费"}
    assert revision_count(platform) == revs  # nothing applied, not even the new field
    assert "city" not in [f["key"] for f in platform.metadata.state().entities["customer"].doc["fields"]]
    # The same through the API: 409 with the plan.
    r = client.post("/api/bundle", data=serialise(bundle))
    assert r.status_code == 409 and r.get_json()["plan"]["summary"]["unresolved"] == 1

    plan = install(platform, bundle, on_conflict="keep-local", dry_run=True)
    assert plan["conflicts"][0]["resolution"] == "keep-local" and plan["summary"]["unresolved"] == 0
    install(platform, bundle, on_conflict="take-incoming")
    fields = {f["key"]: f for f in platform.metadata.state().entities["customer"].doc["fields"]}
    assert fields["spend"]["label"] == {"en": "Lifetime spend", "zh": "累计消费金额"} and "city" in fields


def test_keeping_the_local_version_is_remembered_by_the_next_install(platform):
    install(platform, make_bundle())
    platform.metadata.update_field("customer", "spend", {"label": "Spend (ours)"}, actor="admin")
    v2 = copy.deepcopy(CUSTOMER)
    v2["fields"][1]["label"] = "Lifetime spend"
    bundle = make_bundle(version="2.0.0", entity=[v2, MANAGER])
    install(platform, bundle, on_conflict="keep-local")
    again = install(platform, bundle)  # no conflict now: the bundle has not changed the field since
    assert again["conflicts"] == []
    fields = {f["key"]: f for f in platform.metadata.state().entities["customer"].doc["fields"]}
    assert fields["spend"]["label"] == "Spend (ours)"


def test_a_local_definition_of_the_same_key_is_a_name_clash_in_the_plan(platform):
    platform.metadata.create_definition("entity", {"key": "manager", "label": "Our managers", "fields": [
        {"key": "name", "type": "text", "required": True, "max_length": 50}]}, actor="admin")
    plan = install(platform, make_bundle(), dry_run=True)
    manager = next(d for d in plan["definitions"] if d["key"] == "manager")
    assert manager["clash"] is True and manager["action"] == "update"
    paths = {c["path"] for c in plan["conflicts"]}
    assert paths == {None, "label", "fields.name"}  # the clash itself, with both versions, and each difference
    clash = next(c for c in plan["conflicts"] if c["path"] is None)
    assert clash["local"]["label"] == "Our managers" and clash["incoming"]["label"]["zh"] == "客户经理"
    assert tables(platform) == {"ent_manager"}  # the dry run changed nothing
    with pytest.raises(Conflict):
        install(platform, make_bundle())
    assert tables(platform) == {"ent_manager"}
    install(platform, make_bundle(), on_conflict="keep-local")
    manager = platform.metadata.state().entities["manager"].doc
    assert manager["label"] == "Our managers" and [f["key"] for f in manager["fields"]] == ["name", "top_customer"]


def test_a_definition_dropped_by_a_new_version_is_archived_unless_changed_here(platform):
    extra = {"key": "note", "label": "Note", "fields": [{"key": "text", "type": "text"}]}
    install(platform, make_bundle(entity=[CUSTOMER, MANAGER, extra]))
    result = install(platform, make_bundle(version="1.1.0"))
    assert {"kind": "entity", "key": "note", "action": "archive"} in result["definitions"]
    assert platform.metadata.state().entities["note"].archived
    assert "ent_note" in tables(platform)  # archived, not dropped: the rows are kept


def test_a_dry_run_shows_the_exact_plan_and_changes_nothing(platform):
    revs = revision_count(platform)
    plan = install(platform, make_bundle(), dry_run=True, sample_data=True)
    assert plan["dry_run"] is True and plan["sample_data"]["records"] == {"customer": 2, "manager": 1}
    assert plan["summary"]["tables_created"] == 2
    assert revision_count(platform) == revs and tables(platform) == set()
    real = install(platform, make_bundle(), sample_data=True)
    assert [s["summary"] for s in real["steps"]] == [s["summary"] for s in plan["steps"]]


# ---- bad bundles: a clear message, nothing applied -------------------------------------------------

def refused(platform, bundle_or_text, exc_type=Invalid):
    revs = revision_count(platform)
    with pytest.raises(exc_type) as caught:
        bundle = parse(bundle_or_text) if isinstance(bundle_or_text, (str, bytes)) else bundle_or_text
        install(platform, bundle, sample_data=True)
    assert revision_count(platform) == revs and tables(platform) == set()
    return caught.value.errors


def test_a_wrong_format_version_is_refused(platform):
    bundle = make_bundle()
    bundle["format_version"] = 2
    errors = refused(platform, seal(bundle))
    assert errors[0]["field"] == "format_version" and "format 1" in errors[0]["message"]


def test_a_checksum_mismatch_is_refused(platform):
    bundle = make_bundle()
    bundle["definitions"]["entity"][0]["label"] = "Tampered"
    errors = refused(platform, bundle)
    assert errors[0]["field"] == "checksum" and "does not match" in errors[0]["message"]


def test_a_field_referring_to_a_missing_entity_is_refused(platform):
    bundle = make_bundle(entity=[CUSTOMER], sample=False)  # customer refers to manager, which is missing
    errors = refused(platform, bundle)
    assert [e["field"] for e in errors] == ["definitions.entity.customer.fields.account_manager.target"]
    assert "'manager'" in errors[0]["message"]


def test_malformed_json_is_refused_with_its_position(platform):
    errors = refused(platform, '{"format": "crm-bundle",\n "name": }', BadRequest)
    assert errors[0]["code"] == "json" and "line 2" in errors[0]["message"]


def test_an_unknown_definition_kind_and_a_bad_definition_are_refused(platform):
    bundle = make_bundle()
    bundle["definitions"]["gadget"] = [{"key": "x"}]  # no such kind ("report" is one since issue 17)
    bundle["definitions"]["entity"][1]["fields"][0]["type"] = "colour"
    errors = refused(platform, seal(bundle))
    fields = [e["field"] for e in errors]
    assert "definitions.gadget" in fields
    assert any(f.startswith("definitions.entity.manager.fields.name") for f in fields)


def test_a_failing_late_step_rolls_back_every_earlier_one(platform):
    bad_pipeline = {**LIFECYCLE, "field": "name"}  # not a stage field: refused after the entities were made
    errors = refused(platform, make_bundle(pipeline=[bad_pipeline]))
    assert errors[0]["field"] == "definitions.pipeline.lifecycle.field"


def test_bad_sample_data_names_the_record_and_field_and_applies_nothing(platform):
    bundle = make_bundle()
    bundle["sample_data"]["customer"][1]["spend"] = "a lot"
    errors = refused(platform, seal(bundle))
    assert errors[0]["field"] == "sample_data.customer.1.spend"


def test_a_field_the_admin_archived_stays_archived_unless_the_import_is_told_otherwise(platform):
    install(platform, make_bundle())
    platform.metadata.archive_field("customer", "last_purchase_on", actor="admin")
    again = install(platform, make_bundle())  # the same version: the admin's archive stands
    assert again["conflicts"] == [] and again["steps"] == []
    v2 = copy.deepcopy(CUSTOMER)
    v2["fields"][2]["label"] = "Last purchase"
    bundle = make_bundle(version="2.0.0", entity=[v2, MANAGER])
    with pytest.raises(Conflict) as refused:
        install(platform, bundle)
    assert refused.value.errors[0]["field"] == "definitions.entity.customer.fields.last_purchase_on"
    assert "archived in this instance" in refused.value.errors[0]["message"]
    install(platform, bundle, on_conflict="keep-local")
    assert "last_purchase_on" not in [f["key"] for f in platform.metadata.state().entities["customer"].doc["fields"]]


def test_take_incoming_restores_a_field_the_admin_archived(platform):
    install(platform, make_bundle(), sample_data=True)
    platform.metadata.archive_field("customer", "last_purchase_on", actor="admin")
    v2 = copy.deepcopy(CUSTOMER)
    v2["fields"][2]["label"] = "Last purchase"
    install(platform, make_bundle(version="2.0.0", entity=[v2, MANAGER]), on_conflict="take-incoming")
    li = next(r for r in platform.records.list("customer")["items"] if r["name"] == "Li")
    assert li["last_purchase_on"] is not None  # restored with its stored values


def test_a_sample_reference_to_a_missing_record_names_the_field(platform):
    bundle = make_bundle()
    bundle["sample_data"]["customer"][1]["referrer"] = {"ref": "m1"}  # a manager's _key, not a customer's
    errors = refused(platform, seal(bundle))
    assert errors[0]["field"] == "sample_data.customer.1.referrer" and "no sample customer record" in errors[0]["message"]


def test_deeply_nested_json_is_a_clear_400(platform):
    errors = refused(platform, "[" * 100_000 + "]" * 100_000, BadRequest)
    assert errors[0]["code"] == "json"


def test_new_rules_tag_the_records_already_here(platform):
    install(platform, make_bundle(), sample_data=True)
    wang = next(r for r in platform.records.list("customer")["items"] if r["name"] == "Wang")
    assert wang["segment"] == []
    segment = copy.deepcopy(SEGMENT)
    segment["tags"].append({"key": "small", "label": {"en": "Small", "zh": "小客户"},
                            "rule": {"entity": "customer", "all": [{"field": "spend", "op": "lt", "value": 100}]}})
    result = install(platform, make_bundle(version="1.1.0", taxonomy=[segment]))
    assert result["rule_tags"] == {"segment.small": {"gained": 1, "lost": 0}}
    wang = next(r for r in platform.records.list("customer")["items"] if r["name"] == "Wang")
    assert wang["segment"] == ["small"]


def test_two_imports_at_once_each_apply_whole_one_after_the_other(platform):
    import threading
    notes = seal({"format": "crm-bundle", "format_version": 1, "name": "notes", "version": "1.0.0",
                  "definitions": {"entity": [{"key": "note", "label": "Note", "fields": [
                      {"key": "text", "type": "text"}]}]}, "sample_data": {"note": [{"text": "hello"}] * 50}})
    results, errors = {}, []

    def run(bundle):
        try:
            results[bundle["name"]] = install(platform, bundle, sample_data=True)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in (make_bundle(), notes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and set(results) == {"shop", "notes"}
    assert platform.records.list("note")["total"] == 50 and platform.records.list("customer")["total"] == 2
    with platform.engine.connect() as conn:
        ids = conn.execute(sa.select(revisions.c.id, revisions.c.key).order_by(revisions.c.id)).all()
    keys = [k for _, k in ids]
    # Each import's revisions are contiguous: one batch never interleaves with the other.
    assert keys == sorted(keys, key=lambda k: k == "note") or keys == sorted(keys, key=lambda k: k != "note")
