"""A template installed with its sample data brings demo users for its roles, and the sample records
are spread over the salespeople, so a newcomer signs in as one and sees a book of customers
(SQLite and PostgreSQL)."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from click.testing import CliRunner

from crm_platform.bundles import importer, templates
from crm_platform.cli import main
from crm_platform.runtime.query import ListQuery

NO_TOKEN = {"Authorization": None}
#: The entity a salesperson's book is made of, per template.
BOOK = {"b2b": "company", "education": "student", "ecommerce": "customer"}


def everything(platform, entity: str) -> list[dict]:
    return platform.records.list(entity, ListQuery(per_page=500, sort=[("id", False)], count_limit=None))["items"]


def token_of(client, username: str, password: str) -> dict:
    r = client.post("/api/auth/token", json={"username": username, "password": password}, headers=NO_TOKEN)
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


@pytest.mark.parametrize("name", sorted(BOOK))
def test_each_salesperson_of_a_template_sees_a_book_of_their_own(name, platform, client):
    plan = importer.run(platform, templates.load(name), actor="test", sample_data=True, demo_users=True)
    made = plan["demo_users"]
    assert [(u["username"], u["role"]) for u in made] == [
        ("manager1", "manager"), ("sales1", "sales"), ("sales2", "sales"), ("service1", "service")]
    passwords = [u["password"] for u in made]
    assert all(isinstance(p, str) and len(p) >= 16 for p in passwords) and len(set(passwords)) == len(passwords)
    ids = {u.username: u.id for u in (platform.users.get_by_name(m["username"]) for m in made)}
    assert [platform.users.get_by_name(m["username"]).roles for m in made] == [[m["role"]] for m in made]

    book = BOOK[name]
    every = everything(platform, book)
    seen = {}
    for who in ("sales1", "sales2"):
        r = client.get(f"/api/records/{book}?per_page=500", headers=token_of(client, who, passwords[
            [m["username"] for m in made].index(who)]))
        assert r.status_code == 200, r.get_json()
        seen[who] = {x["id"] for x in r.get_json()["items"]}
    assert seen["sales1"] and seen["sales2"] and not seen["sales1"] & seen["sales2"]
    assert seen["sales1"] | seen["sales2"] == {x["id"] for x in every}
    manager = token_of(client, "manager1", passwords[0])
    assert client.get(f"/api/records/{book}", headers=manager).get_json()["total"] == len(every)

    # Owners: dealt out in turn where a record refers to no other, otherwise the owner of what it refers to.
    model = platform.runtime.current()
    owner = {}
    for entity_key in templates.load(name)["sample_data"]:
        for r in everything(platform, entity_key):
            owner[(entity_key, r["id"])] = r["owner_id"]
    assert set(owner.values()) == {ids["sales1"], ids["sales2"]}
    for entity_key in templates.load(name)["sample_data"]:
        refs = [f for f in model.entity(entity_key).fields if f["type"] == "reference"]
        records = everything(platform, entity_key)
        dealt = [r["owner_id"] for r in records if not any(r.get(f["key"]) for f in refs)]
        assert dealt == [(ids["sales1"], ids["sales2"])[n % 2] for n in range(len(dealt))], entity_key
        for r in records:
            parent = next(((f["target"], r[f["key"]]) for f in refs if r.get(f["key"]) is not None), None)
            if parent is not None and parent in owner:
                assert r["owner_id"] == owner[parent], (entity_key, r["id"], parent)


def test_the_b2b_salesperson_signs_in_and_sees_their_companies_contacts_and_deals(app, platform, client):
    plan = importer.run(platform, templates.load("b2b"), actor="test", sample_data=True, demo_users=True)
    password = next(u["password"] for u in plan["demo_users"] if u["username"] == "sales1")
    sales1 = platform.users.get_by_name("sales1").id
    mine = [c for c in everything(platform, "company") if c["owner_id"] == sales1]
    theirs = [c for c in everything(platform, "company") if c["owner_id"] != sales1]
    browser = app.test_client()
    r = browser.post("/login", data={"username": "sales1", "password": password}, headers=NO_TOKEN)
    assert r.status_code == 302, r.get_data(as_text=True)
    page = browser.get("/app/company?per_page=200", headers=NO_TOKEN).get_data(as_text=True)
    assert mine and all(c["name"] in page for c in mine)
    assert not any(c["name"] in page for c in theirs)
    for entity in ("contact", "opportunity", "communication", "task"):
        r = client.get(f"/api/records/{entity}?per_page=500", headers=token_of(client, "sales1", password))
        got = r.get_json()
        assert r.status_code == 200 and got["total"] > 0, entity
        assert all(x["company"] in {c["id"] for c in mine} for x in got["items"] if x.get("company")), entity


def test_template_install_prints_the_demo_users_once_and_a_dry_run_makes_none(app, platform, database_url):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    dry = runner.invoke(main, ["template", "install", "b2b", "--sample-data", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "demo users (would be created): manager1 (manager), sales1 (sales), sales2 (sales)" in dry.output
    assert platform.users.get_by_name("sales1") is None

    done = runner.invoke(main, ["template", "install", "b2b", "--sample-data"], env=env)
    assert done.exit_code == 0, done.output
    printed = dict(re.findall(r"^ {4}(\w+) +(\S+)  role \w+$", done.output, re.M))
    assert sorted(printed) == ["manager1", "sales1", "sales2", "service1"]
    for username, password in printed.items():
        assert platform.users.authenticate(username, password) is not None, username
    again = runner.invoke(main, ["template", "install", "b2b", "--sample-data"], env=env)
    assert again.exit_code == 0 and "loaded only once" in again.output and "demo users" not in again.output
    assert [u["username"] for u in platform.users.list()].count("sales1") == 1


def test_demo_users_come_only_with_a_template_s_sample_data_and_never_take_an_existing_name(platform, client):
    platform.users.create("sales1", "a-password-of-her-own", roles=["someone"])
    r = client.post("/api/bundle/templates/education/install")  # no sample data: no demo users
    assert r.status_code == 200 and "demo_users" not in r.get_json()
    assert platform.users.get_by_name("sales2") is None
    r = client.post("/api/bundle/templates/education/install?sample_data=1")
    assert r.status_code == 200, r.get_json()
    assert [u["username"] for u in r.get_json()["demo_users"]] == ["manager1", "sales2", "sales3", "service1"]
    existing = platform.users.get_by_name("sales1")
    assert existing.roles == ["someone"] and platform.users.authenticate("sales1", "a-password-of-her-own")
    assert not any(s["owner_id"] == existing.id for s in everything(platform, "student"))
    assert Counter(s["owner_id"] for s in everything(platform, "student")).keys() == {
        platform.users.get_by_name("sales2").id, platform.users.get_by_name("sales3").id}
