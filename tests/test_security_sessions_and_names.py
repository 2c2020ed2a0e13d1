"""Security of signing in and of users (issue 12, items 10, 12, 13 and 14): where ``next`` may send
the browser, when a browser session ends, what a reference reveals, and which user names are one."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from conftest import ADMIN_PASSWORD

NO_AUTH = {"Authorization": None}


def sign_in(app, username, password, next_=None):
    """A browser signed in through the /login form; (client, the answer to the form)."""
    c = app.test_client()
    url = "/login" if next_ is None else f"/login?next={next_}"
    r = c.post(url, data={"username": username, "password": password}, headers=NO_AUTH)
    return c, r


def signed_in(c) -> bool:
    r = c.get("/app", headers=NO_AUTH)
    assert r.status_code in (200, 302), r.status_code
    return r.status_code == 200


# ---- 10. only same-site paths after sign-in and the language switch ----------------------------------

FOREIGN = ["%2F%09%2Fevil.example", "%2F%0D%0A%2Fevil.example", "%2F%0A%2Fevil.example", "%2F%5Cevil.example",
           "%2F%2Fevil.example", "https%3A%2F%2Fevil.example%2F", "%2F%2F%2Fevil.example", "javascript%3Aalert(1)",
           "%09%2F%2Fevil.example", "%2Fapp%0D%0ASet-Cookie%3A%20x%3D1", "evil.example"]


@pytest.mark.parametrize("next_", FOREIGN)
def test_sign_in_never_sends_the_browser_to_another_site(app, next_):
    c, r = sign_in(app, "admin", ADMIN_PASSWORD, next_)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert signed_in(c)


@pytest.mark.parametrize("next_", FOREIGN)
def test_the_language_switch_never_sends_the_browser_to_another_site(app, next_):
    browser, _ = sign_in(app, "admin", ADMIN_PASSWORD)
    r = browser.get(f"/lang/zh?next={next_}", headers=NO_AUTH)
    assert r.status_code == 302 and r.headers["Location"] == "/app"


def test_same_site_paths_are_followed_after_sign_in_and_the_language_switch(app):
    browser, r = sign_in(app, "admin", ADMIN_PASSWORD, "%2Fapp%2Fstudent%3Fpage%3D2")
    assert r.status_code == 302 and r.headers["Location"] == "/app/student?page=2"
    r = browser.get("/lang/en?next=%2Fapp%2Fstudent%2F3", headers=NO_AUTH)
    assert r.status_code == 302 and r.headers["Location"] == "/app/student/3"


# ---- 12. signing out and changing the password end browser sessions ---------------------------------

def test_a_session_cookie_replayed_after_sign_out_signs_nobody_in(app):
    c, r = sign_in(app, "admin", ADMIN_PASSWORD)
    assert r.status_code == 302 and signed_in(c)
    stolen = c.get_cookie("session").value
    assert c.post("/logout", headers=NO_AUTH).status_code == 302
    assert not signed_in(c)

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    r = replay.get("/app", headers=NO_AUTH)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    # Signing in again works, with a new session.
    again, r = sign_in(app, "admin", ADMIN_PASSWORD)
    assert r.status_code == 302 and signed_in(again) and again.get_cookie("session").value != stolen


def test_signing_out_ends_the_users_sessions_on_every_browser_but_not_other_users(app, platform):
    platform.users.create("clerk", "clerk-password")
    desk, _ = sign_in(app, "admin", ADMIN_PASSWORD)
    laptop, _ = sign_in(app, "admin", ADMIN_PASSWORD)
    clerk, _ = sign_in(app, "clerk", "clerk-password")
    assert signed_in(desk) and signed_in(laptop) and signed_in(clerk)
    desk.post("/logout", headers=NO_AUTH)
    assert not signed_in(desk) and not signed_in(laptop)
    assert signed_in(clerk)


def test_a_password_change_ends_the_users_browser_sessions(app, client, platform):
    clerk_id = platform.users.create("clerk", "clerk-password").id
    browser, _ = sign_in(app, "clerk", "clerk-password")
    admin_browser, _ = sign_in(app, "admin", ADMIN_PASSWORD)

    # A refused change changes nothing: the session goes on.
    r = client.patch(f"/api/users/{clerk_id}", json={"password": "short"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "password"
    assert signed_in(browser)

    r = client.patch(f"/api/users/{clerk_id}", json={"password": "a-new-password"})
    assert r.status_code == 200
    assert not signed_in(browser)
    assert signed_in(admin_browser)  # only the clerk's sessions end
    assert sign_in(app, "clerk", "clerk-password")[1].status_code == 401
    fresh, r = sign_in(app, "clerk", "a-new-password")
    assert r.status_code == 302 and signed_in(fresh)


def test_a_session_of_a_deactivated_user_stays_ended_after_reactivation(app, client, platform):
    clerk_id = platform.users.create("clerk", "clerk-password").id
    browser, _ = sign_in(app, "clerk", "clerk-password")
    assert signed_in(browser)
    assert client.patch(f"/api/users/{clerk_id}", json={"active": False}).status_code == 200
    assert not signed_in(browser)
    assert client.patch(f"/api/users/{clerk_id}", json={"active": True}).status_code == 200
    assert not signed_in(browser)


def test_sign_in_starts_a_fresh_session(app):
    c = app.test_client()
    c.get("/login", headers=NO_AUTH)
    with c.session_transaction() as s:
        s["planted"] = "by someone before sign-in"
        s["_fresh"] = False
    r = c.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}, headers=NO_AUTH)
    assert r.status_code == 302
    with c.session_transaction() as s:
        assert "planted" not in s and s["_fresh"] is True
    assert signed_in(c)


# ---- 14. user names that look alike are one name; the last administrator stays ------------------------

def user_names(platform) -> list[str]:
    with platform.engine.connect() as conn:
        return conn.execute(sa.text("SELECT username FROM crm_user ORDER BY id")).scalars().all()


@pytest.mark.parametrize("name", ["Admin", "admin ", " ADMIN", "ａｄｍｉｎ", "Ａｄｍｉｎ", "admin\u00a0", "admin\u3000"])
def test_a_name_differing_from_an_existing_one_in_case_width_or_spaces_is_taken(client, platform, name):
    r = client.post("/api/users", json={"username": name, "password": "long-enough"})
    assert r.status_code == 409, r.get_json()
    e = r.get_json()["errors"][0]
    assert e["field"] == "username" and "exists already" in e["message"]
    assert user_names(platform) == ["admin"]


@pytest.mark.parametrize("name", ["admin\u200b", "ad\nmin", "admin\r", "a\x00b", "\u202eadmin", "ad\tmin", "\u2060admin",
                                  "admin\ufeff", "\u3164", "admin\u180e", "", "   ", "x" * 151])
def test_control_and_invisible_characters_in_user_names_are_refused(client, platform, name):
    r = client.post("/api/users", json={"username": name, "password": "long-enough"})
    assert r.status_code == 422, r.get_json()
    assert [e["field"] for e in r.get_json()["errors"]] == ["username"]
    assert user_names(platform) == ["admin"]


def test_user_names_are_stored_normalised_and_sign_in_by_any_spelling(app, client, platform):
    r = client.post("/api/users", json={"username": "  Li\u3000\u3000Wei ", "password": "li-wei-password"})
    assert r.status_code == 201 and r.get_json()["username"] == "Li Wei"
    r = client.post("/api/users", json={"username": "ｌｉｌｙ", "password": "lily-password"})
    assert r.status_code == 201 and r.get_json()["username"] == "lily"
    assert user_names(platform) == ["admin", "Li Wei", "lily"]
    assert client.post("/api/users", json={"username": "li wei", "password": "long-enough"}).status_code == 409

    for name in ["li wei", "LI WEI", "Ｌｉ Ｗｅｉ"]:
        r = client.post("/api/auth/token", json={"username": name, "password": "li-wei-password"}, headers=NO_AUTH)
        assert r.status_code == 201, name
    _, r = sign_in(app, "LILY", "lily-password")
    assert r.status_code == 302
    # A name nobody can have is simply a wrong name; a NUL is refused before that, as in any text
    # input (422 naming the field: no 500 on PostgreSQL, which cannot store it).
    r = client.post("/api/auth/token", json={"username": "lily\u200b", "password": "lily-password"}, headers=NO_AUTH)
    assert r.status_code == 401
    _, r = sign_in(app, "lily\u200b", "lily-password")
    assert r.status_code == 401
    r = client.post("/api/auth/token", json={"username": "li\x00wei", "password": "lily-password"}, headers=NO_AUTH)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "username"
    _, r = sign_in(app, "li\x00wei", "lily-password")
    assert r.status_code == 422


def test_the_cli_refuses_lookalike_and_invisible_user_names(database_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from crm_platform.cli import main
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert runner.invoke(main, ["user", "create", "wang", "--password", "wang-password"]).exit_code == 0
    result = runner.invoke(main, ["user", "create", "WANG", "--password", "wang-password"])
    assert result.exit_code != 0 and "username: user 'WANG' exists already as 'wang'" in result.output
    result = runner.invoke(main, ["user", "create", "li\u200b", "--password", "li-password"])
    assert result.exit_code != 0 and "username: a user name may not contain control or invisible" in result.output
    result = runner.invoke(main, ["user", "create", "li", "--password", "x" * 1001])
    assert result.exit_code != 0 and "password: a password has at most 1000 characters" in result.output


def test_one_password_length_limit_for_the_api_and_the_sign_in_page(app, client, platform):
    longest, too_long = "p" * 1000, "p" * 1001
    r = client.post("/api/users", json={"username": "clerk", "password": too_long})
    assert r.status_code == 422 and r.get_json()["errors"][0] == {
        "field": "password", "code": "maxLength", "message": "a password has at most 1000 characters"}
    assert user_names(platform) == ["admin"]
    clerk = client.post("/api/users", json={"username": "clerk", "password": longest}).get_json()
    r = client.patch(f"/api/users/{clerk['id']}", json={"password": too_long})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "password"
    # The longest password that can be set signs in on both doors; a longer one on neither.
    assert client.post("/api/auth/token", json={"username": "clerk", "password": longest}, headers=NO_AUTH).status_code == 201
    assert sign_in(app, "clerk", longest)[1].status_code == 302
    assert client.post("/api/auth/token", json={"username": "clerk", "password": too_long}, headers=NO_AUTH).status_code == 401
    assert sign_in(app, "clerk", too_long)[1].status_code == 401


def test_the_last_active_administrator_cannot_be_demoted_or_deactivated(app, client, platform):
    admin_id = platform.users.get_by_name("admin").id
    browser, _ = sign_in(app, "admin", ADMIN_PASSWORD)
    for change in [{"is_admin": False}, {"active": False}, {"active": False, "is_admin": False, "password": "new-password"}]:
        r = client.patch(f"/api/users/{admin_id}", json=change)
        assert r.status_code == 409, r.get_json()
        e = r.get_json()["errors"][0]
        assert e["code"] == "last_administrator" and "'admin' is the last active administrator" in e["message"]
    # Nothing changed: still an active administrator, same password, token and session still good.
    me = client.get(f"/api/users/{admin_id}").get_json()
    assert me["is_admin"] is True and me["active"] is True
    assert signed_in(browser)
    assert client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD},
                       headers=NO_AUTH).status_code == 201

    # With another administrator, either may step down, but not both.
    other = client.post("/api/users", json={"username": "boss", "password": "boss-password", "is_admin": True}).get_json()
    assert client.patch(f"/api/users/{admin_id}", json={"is_admin": False}).status_code == 200
    boss = {"Authorization": "Bearer " + client.post("/api/auth/token", json={"username": "boss", "password": "boss-password"},
                                                     headers=NO_AUTH).get_json()["token"]}
    r = client.patch(f"/api/users/{other['id']}", json={"active": False}, headers=boss)
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "active"
    assert client.get(f"/api/users/{other['id']}", headers=boss).get_json()["active"] is True


def test_a_role_that_makes_administrators_counts_as_an_administrator(client, platform):
    r = client.post("/api/meta/roles", json={"key": "designer", "label": "Designer", "admin": True})
    assert r.status_code == 201, r.get_json()
    admin_id = platform.users.get_by_name("admin").id
    designer = client.post("/api/users", json={"username": "dora", "password": "dora-password",
                                               "roles": ["designer"]}).get_json()
    assert client.patch(f"/api/users/{admin_id}", json={"is_admin": False}).status_code == 200
    as_dora = {"Authorization": "Bearer " + client.post("/api/auth/token", json={"username": "dora", "password": "dora-password"},
                                                        headers=NO_AUTH).get_json()["token"]}
    r = client.patch(f"/api/users/{designer['id']}", json={"roles": []}, headers=as_dora)
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "roles"
    assert client.get(f"/api/users/{designer['id']}", headers=as_dora).get_json()["roles"] == ["designer"]
    # A user who is not an administrator may be changed freely meanwhile.
    assert client.patch(f"/api/users/{admin_id}", json={"active": False}, headers=as_dora).status_code == 200


def test_users_stored_before_names_were_normalised_keep_signing_in(database_url):
    """An instance upgraded with 'Admin' beside 'admin' (once accepted): both keep their names and
    sign in by them; no third spelling can be added."""
    import datetime as dt

    from alembic import command

    from conftest import make_app
    from crm_platform.db import create_engine
    from crm_platform.migrate import alembic_config

    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0006_session_generation")
        from argon2 import PasswordHasher
        hashed = PasswordHasher().hash("old-password")
        for name in ["admin", "Admin", "ｗａｎｇ"]:
            conn.execute(sa.text("INSERT INTO crm_user (username, password_hash, is_admin, roles, active, created_at) "
                                 "VALUES (:n, :h, :a, '[]', :t, :c)"),
                         {"n": name, "h": hashed, "a": name == "admin", "t": True, "c": dt.datetime.now(dt.timezone.utc)})
    engine.dispose()
    app = make_app(database_url)  # upgrades to the newest revision
    try:
        c = app.test_client()
        for name in ["Admin", "ｗａｎｇ", "wang", "WANG"]:
            r = c.post("/api/auth/token", json={"username": name, "password": "old-password"}, headers=NO_AUTH)
            assert r.status_code == 201, name
        users = app.extensions["crm"].users
        assert users.get_by_name("Admin").id != users.get_by_name("admin").id
        assert users.get_by_name("ADMIN").id == users.get_by_name("admin").id  # the oldest holds the name
        for name in ["ADMIN", "Wang"]:
            assert c.post("/api/users", json={"username": name, "password": "long-enough"}).status_code == 409
        with app.extensions["crm"].engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM crm_user")).scalar() == 3
    finally:
        app.extensions["crm"].engine.dispose()


# ---- 13. a reference never reveals a record the user may not read -------------------------------------

OWN = {"create": "own", "read": "own", "update": "own", "delete": "own"}


class Office:
    """Companies and contacts; alice and bob sell (each sees their own), mia manages (sees all)."""

    def __init__(self, app, client):
        self.app, self.admin = app, client
        for doc in [{"key": "company", "label": "Company", "title_field": "name",
                     "fields": [{"key": "name", "type": "text", "label": "Name", "required": True}]},
                    {"key": "contact", "label": "Contact", "title_field": "name",
                     "fields": [{"key": "name", "type": "text", "label": "Name", "required": True},
                                {"key": "company", "type": "reference", "label": "Company", "target": "company"}]}]:
            assert client.post("/api/meta/entities", json=doc).status_code == 201
        for role in [{"key": "sales", "label": "Sales", "entities": {"company": OWN, "contact": OWN}},
                     {"key": "manager", "label": "Manager", "entities": {"*": {"create": "all", "read": "all",
                                                                               "update": "all"}}},
                     {"key": "clerk", "label": "Clerk", "entities": {"contact": OWN}}]:
            assert client.post("/api/meta/roles", json=role).status_code == 201
        users = app.extensions["crm"].users
        self.tokens = {}
        for name, role in [("alice", "sales"), ("bob", "sales"), ("mia", "manager"), ("carl", "clerk")]:
            self.tokens[name] = users.issue_token(users.create(name, f"{name}-password", roles=[role]))

    def as_(self, name, method, url, **kw):
        return self.admin.open(url, method=method, headers={"Authorization": f"Bearer {self.tokens[name]}"}, **kw)

    def company(self, owner, name):
        r = self.as_(owner, "POST", "/api/records/company", json={"name": name})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def contacts(self):
        return [(r["name"], r["company"]) for r in self.admin.get("/api/records/contact?sort=id").get_json()["items"]]


@pytest.fixture
def office(app, client):
    return Office(app, client)


def missing(company_id) -> dict:
    return {"field": "company", "code": "reference", "message": f"there is no company record with id {company_id}"}


def test_a_reference_to_a_record_the_user_may_not_read_is_refused_like_a_missing_one(office):
    alices, bobs = office.company("alice", "Alice Trading"), office.company("bob", "Bob Foods")
    gone = office.company("alice", "Gone Ltd")
    assert office.admin.delete(f"/api/records/company/{gone}").status_code == 204  # in the recycle bin
    for company in [bobs, 987654, gone]:
        r = office.as_("alice", "POST", "/api/records/contact", json={"name": "Wang", "company": company})
        assert r.status_code == 422 and r.get_json()["errors"] == [missing(company)], (company, r.get_json())
    assert office.contacts() == []
    # Her own company, and anyone's for a manager who reads them all.
    assert office.as_("alice", "POST", "/api/records/contact", json={"name": "Wang", "company": alices}).status_code == 201
    assert office.as_("mia", "POST", "/api/records/contact", json={"name": "Li", "company": bobs}).status_code == 201
    # A user who may not read companies at all links to none of them.
    r = office.as_("carl", "POST", "/api/records/contact", json={"name": "Zhao", "company": alices})
    assert r.status_code == 422 and r.get_json()["errors"] == [missing(alices)]
    assert office.contacts() == [("Wang", alices), ("Li", bobs)]


def test_changing_a_reference_to_a_record_the_user_may_not_read_is_refused_like_a_missing_one(office):
    alices, bobs = office.company("alice", "Alice Trading"), office.company("bob", "Bob Foods")
    contact = office.as_("alice", "POST", "/api/records/contact", json={"name": "Wang", "company": alices}).get_json()
    for company in [bobs, 987654]:
        r = office.as_("alice", "PATCH", f"/api/records/contact/{contact['id']}", json={"company": company})
        assert r.status_code == 422 and r.get_json()["errors"] == [missing(company)]
    after = office.admin.get(f"/api/records/contact/{contact['id']}").get_json()
    assert after["company"] == alices and after["version"] == 1

    # A link an administrator made to a company alice cannot see stays, and her edits still save.
    office.admin.patch(f"/api/records/contact/{contact['id']}", json={"company": bobs})
    r = office.as_("alice", "PATCH", f"/api/records/contact/{contact['id']}", json={"name": "Wang Wei", "company": bobs})
    assert r.status_code == 200 and r.get_json()["company"] == bobs and r.get_json()["name"] == "Wang Wei"


def test_a_bulk_create_with_a_reference_the_user_may_not_read_creates_nothing(office):
    alices, bobs = office.company("alice", "Alice Trading"), office.company("bob", "Bob Foods")
    for company in [bobs, 987654]:
        r = office.as_("alice", "POST", "/api/records/contact/bulk",
                       json={"records": [{"name": "Wang", "company": alices}, {"name": "Li", "company": company}]})
        assert r.status_code == 422 and r.get_json()["errors"] == [{**missing(company), "row": 1}], r.get_json()
    assert office.contacts() == []


def test_the_form_refuses_a_reference_the_user_may_not_read_like_a_missing_one(app, office):
    alices, bobs = office.company("alice", "Alice Trading"), office.company("bob", "Bob Foods")
    browser, _ = sign_in(app, "alice", "alice-password")
    for company in [bobs, 987654]:
        r = browser.post("/app/contact/new", data={"f-name": "Wang", "f-company": str(company)}, headers=NO_AUTH)
        assert r.status_code == 422
        page = r.get_data(as_text=True)
        shown = re.search(r'id="error-company" role="alert">([^<]*)<', page)
        assert shown and shown.group(1) == f"there is no company record with id {company}", page
        assert "Bob Foods" not in page
    assert office.contacts() == []
    r = browser.post("/app/contact/new", data={"f-name": "Wang", "f-company": str(alices)}, headers=NO_AUTH)
    assert r.status_code == 303 and office.contacts() == [("Wang", alices)]


def test_bulk_rows_created_one_by_one_for_a_pipeline_are_checked_alike(office):
    """Bulk creates of an entity with a stage field go row by row through the hooks: same rule."""
    r = office.admin.post("/api/meta/entities", json={
        "key": "deal", "label": "Deal", "title_field": "title",
        "fields": [{"key": "title", "type": "text", "label": "Title", "required": True},
                   {"key": "stage", "type": "stage", "label": "Stage"},
                   {"key": "company", "type": "reference", "label": "Company", "target": "company"}]})
    assert r.status_code == 201, r.get_json()
    r = office.admin.post("/api/meta/pipelines", json={"key": "sales", "label": "Sales", "entity": "deal", "field": "stage",
                                                       "stages": [{"key": "new", "label": "New"}]})
    assert r.status_code == 201, r.get_json()
    r = office.admin.patch("/api/meta/roles/sales", json={"entities": {"company": OWN, "contact": OWN, "deal": OWN}})
    assert r.status_code == 200, r.get_json()
    alices, bobs = office.company("alice", "Alice Trading"), office.company("bob", "Bob Foods")
    r = office.as_("alice", "POST", "/api/records/deal/bulk", json={"records": [
        {"title": "A", "stage": "new", "company": alices}, {"title": "B", "stage": "new", "company": bobs}]})
    assert r.status_code == 422 and r.get_json()["errors"] == [{**missing(bobs), "row": 1}], r.get_json()
    assert office.admin.get("/api/records/deal").get_json()["total"] == 0
