"""The industry template library: valid bundles with Chinese and English labels, installed with
sample data on their own and side by side, idempotent, upgradable, reproducible from the generator."""
from __future__ import annotations

import copy
from collections import Counter

import pytest
from click.testing import CliRunner

from conftest import make_app
from crm_platform.bundles import importer, templates
from crm_platform.bundles.format import parse, seal
from crm_platform.cli import main
from crm_platform.errors import Conflict
from crm_platform.runtime.query import ListQuery
from test_bundles import export_text, revision_count

NAMES = ["b2b", "ecommerce", "education"]


def all_records(platform, entity: str) -> list[dict]:
    return platform.records.list(entity, ListQuery(per_page=500, count_limit=None))["items"]


def test_the_library_holds_the_three_templates_as_the_generator_writes_them():
    from templates_library._build.__main__ import main as build
    assert templates.names() == NAMES
    assert build(["--check"]) == 0  # bundle.json files are exactly what the generator writes


@pytest.mark.parametrize("name", NAMES)
def test_every_label_is_in_chinese_and_english_and_the_readme_speaks_both(name):
    bundle = templates.load(name)
    labelled = []
    for kind, docs in bundle["definitions"].items():
        for doc in docs:
            labelled.append((f"{kind}.{doc['key']}", doc["label"]))
            for item in doc.get("fields", []) + doc.get("tags", []) + doc.get("stages", []):
                labelled.append((f"{kind}.{doc['key']}.{item['key']}", item["label"]))
    missing = [where for where, label in labelled if not (isinstance(label, dict) and {"en", "zh"} <= set(label))]
    assert missing == []
    readme = templates.readme(name)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in readme) and "crm template install" in readme
    assert sum(len(v) for v in bundle["sample_data"].values()) >= 300


def test_the_three_templates_install_side_by_side_with_sample_data(platform):
    plans = {"b2b": importer.run(platform, templates.load("b2b"), actor="test", sample_data=True)}
    assert plans["b2b"]["summary"]["clashes"] == 0
    # Shared definitions (communication, task...) clash by name: nothing is applied until the admin
    # says how differences are settled; the additions of both templates are merged either way.
    revs = revision_count(platform)
    with pytest.raises(Conflict) as stopped:
        importer.run(platform, templates.load("ecommerce"), actor="test", sample_data=True)
    clashes = {(c["kind"], c["key"]) for c in stopped.value.extra["plan"]["conflicts"] if c["path"] is None}
    assert ("entity", "communication") in clashes and revision_count(platform) == revs
    for name in ("ecommerce", "education"):
        plans[name] = importer.run(platform, templates.load(name), actor="test", sample_data=True,
                                   on_conflict="keep-local")
    assert plans["ecommerce"]["summary"]["clashes"] > 0 and plans["ecommerce"]["summary"]["unresolved"] == 0
    communication = {f["key"] for f in platform.metadata.state().entities["communication"].doc["fields"]}
    assert {"company", "contact", "opportunity", "customer", "student"} <= communication

    stages = Counter(r["stage"] for r in all_records(platform, "opportunity"))
    assert len(stages) == 5 and sum(stages.values()) >= 100
    companies = all_records(platform, "company")
    assert {"key_account"} <= {t for c in companies for t in ([c["account_level"]] if c["account_level"] else [])}
    assert sum(1 for c in companies if c["pain_points"]) >= 20
    customers = all_records(platform, "customer")
    assert len(customers) >= 100
    assert Counter(c["value_segment"] for c in customers).keys() >= {"high_value", "ordinary"}
    assert Counter(c["activity"] for c in customers).keys() >= {"active", "dormant"}
    students = all_records(platform, "student")
    assert len({s["stage"] for s in students}) == 6 and len({s["age_group"] for s in students}) >= 4
    follow_ups = [t for t in all_records(platform, "task") if t.get("student") and t["content"].endswith("确认试听课")]
    assert follow_ups  # entering the trial-lesson stage created a task through the pipeline

    revs = revision_count(platform)
    again = importer.run(platform, templates.load("b2b"), actor="test", sample_data=True)
    assert again["steps"] == [] and "skipped" in again["sample_data"] and revision_count(platform) == revs


def test_the_b2b_roles_do_what_the_crm_documents_ask(app, platform, client):
    """Sales see and edit only their own customers; service see every deal and keep it up to date,
    but a change of its amount is refused naming the field and the amount stays."""
    importer.run(platform, templates.load("b2b"), actor="test", sample_data=True)
    platform.users.create("sally", "sally-password", roles=["sales"])
    platform.users.create("sam", "sam-password", roles=["service"])

    def as_(user):
        token = platform.users.issue_token(platform.users.get_by_name(user))
        return {"Authorization": f"Bearer {token}"}
    deal = client.get("/api/records/opportunity?per_page=1&sort=id").get_json()["items"][0]
    total = client.get("/api/records/opportunity").get_json()["total"]
    assert client.get("/api/records/opportunity", headers=as_("sam")).get_json()["total"] == total
    r = client.patch(f"/api/records/opportunity/{deal['id']}", json={"amount": 1}, headers=as_("sam"))
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "amount"
    r = client.patch(f"/api/records/opportunity/{deal['id']}", json={"contract_no": "HT-2026-001"}, headers=as_("sam"))
    assert r.status_code == 200 and r.get_json()["amount"] == deal["amount"]
    assert client.get("/api/records/company", headers=as_("sally")).get_json()["total"] == 0  # none of them hers
    mine = client.post("/api/records/company", json={"name": "Sally Co", "industry": "it", "size": "s"},
                       headers=as_("sally")).get_json()
    listed = client.get("/api/records/company", headers=as_("sally")).get_json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]] and listed["total"] == 1
    other = client.get("/api/records/company?per_page=1&sort=id").get_json()["items"][0]
    assert client.patch(f"/api/records/company/{other['id']}", json={"name": "Mine now"}, headers=as_("sally")).status_code == 404


def test_upgrading_a_template_keeps_what_the_admin_added(platform):
    importer.run(platform, templates.load("b2b"), actor="test")
    platform.metadata.add_field("company", {"key": "tax_id", "type": "text", "label": {"en": "Tax id", "zh": "税号"}},
                                actor="admin")
    pains = platform.metadata.state().taxonomies["pain_points"].doc["tags"]
    platform.metadata.update_definition("taxonomy", "pain_points", {"tags": pains + [
        {"key": "slow_payment", "label": {"en": "Pays late", "zh": "回款慢"}}]}, actor="admin")
    newer = copy.deepcopy(templates.load("b2b"))
    newer["version"] = "99.0.0"  # any version after the library's
    company = next(d for d in newer["definitions"]["entity"] if d["key"] == "company")
    company["fields"].append({"key": "employees", "type": "integer", "label": {"en": "Employees", "zh": "员工人数"}})
    plan = importer.run(platform, seal(newer), actor="test")
    assert plan["installed_version"] == templates.load("b2b")["version"] and plan["conflicts"] == []
    fields = [f["key"] for f in platform.metadata.state().entities["company"].doc["fields"]]
    assert fields[-2:] == ["employees", "tax_id"]
    tags = [t["key"] for t in platform.metadata.state().taxonomies["pain_points"].doc["tags"]]
    assert "slow_payment" in tags and "budget_tight" in tags


def test_the_configuration_of_all_templates_round_trips(platform, tmp_path):
    for name in NAMES:
        importer.run(platform, templates.load(name), actor="test", on_conflict="keep-local")
    text = export_text(platform)
    other = make_app(f"sqlite:///{tmp_path / 'other.sqlite'}").extensions["crm"]
    importer.run(other, parse(text), actor="test")
    assert export_text(other) == text
    other.engine.dispose()


def test_template_commands(app, database_url):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    version = templates.load("education")["version"]
    listed = runner.invoke(main, ["template", "list"], env=env)
    assert listed.exit_code == 0 and f"education  {version}" in listed.output and "not installed" in listed.output
    shown = runner.invoke(main, ["template", "show", "education"], env=env)
    assert shown.exit_code == 0 and "学员年龄段" in shown.output and "pipeline: enrolment" in shown.output
    done = runner.invoke(main, ["template", "install", "education", "--sample-data"], env=env)
    assert done.exit_code == 0, done.output
    assert "sample data:" in done.output and "160 student" in done.output
    assert f"installed {version}" in runner.invoke(main, ["template", "list"], env=env).output
    again = runner.invoke(main, ["template", "install", "education", "--sample-data"], env=env)
    assert "0 created, 0 changed" in again.output and "loaded only once" in again.output
    missing = runner.invoke(main, ["template", "install", "crm9000"], env=env)
    assert missing.exit_code == 1 and "no template 'crm9000'" in missing.output


def test_ecommerce_upgrade_turns_typed_figures_into_rollups_keeping_the_data(platform):
    """1.3.0 and before typed 复购次数 and 客单价 by hand; 1.4.0 computes them from the orders. The upgrade keeps
    every record, archives avg_order_value with its values, and fills the roll-ups from the orders."""
    import sqlalchemy as sa
    newer = templates.load("ecommerce")
    older = copy.deepcopy(newer)
    older["version"] = "1.2.0"
    customer = next(d for d in older["definitions"]["entity"] if d["key"] == "customer")
    for n, f in enumerate(customer["fields"]):
        if f["key"] == "average_order_value":
            customer["fields"][n] = {"key": "avg_order_value", "type": "decimal", "scale": 2, "min": 0, "label": f["label"]}
        elif f["key"] == "repeat_purchases":
            customer["fields"][n] = {"key": "repeat_purchases", "type": "integer", "min": 0, "label": f["label"]}
    for r in older["definitions"]["report"]:
        r["group_by"] = [g.replace("average_order_value", "avg_order_value") for g in r.get("group_by", [])]
    for n, c in enumerate(older["sample_data"]["customer"]):
        c.update(avg_order_value=100 + n, repeat_purchases=n % 5)
    importer.run(platform, seal(older), actor="test", sample_data=True)
    before = {r["id"]: r for r in all_records(platform, "customer")}
    assert before and all(r["avg_order_value"] is not None for r in before.values())
    plan = importer.run(platform, newer, actor="test")
    assert plan["conflicts"] == []
    after = {r["id"]: r for r in all_records(platform, "customer")}
    assert set(after) == set(before) and all(after[i]["name"] == before[i]["name"] for i in after)
    doc = platform.metadata.state().entities["customer"].doc
    assert "avg_order_value" in [f["key"] for f in doc.get("archived_fields", [])]
    model = platform.records.runtime.current()
    customers, orders = model.entities["customer"].table, model.entities["shop_order"].table
    with platform.records.engine.connect() as conn:
        kept = dict(conn.execute(sa.select(customers.c.id, customers.c.avg_order_value)).all())
        paid = dict(conn.execute(sa.select(orders.c.customer, sa.func.count()).where(
            orders.c.status.in_(["paid", "shipped", "completed"]), orders.c.archived_at.is_(None))
            .group_by(orders.c.customer)).all())
    assert all(kept[i] is not None for i in before)  # the typed values stay in the archived column
    assert {i: after[i]["repeat_purchases"] for i in after} == {i: paid.get(i, 0) for i in after}
    assert any(after[i]["average_order_value"] is not None for i in after)
