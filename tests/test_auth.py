"""Sign-in: API tokens, the /login page, administrators, rate limits and cookie flags."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from conftest import ADMIN_PASSWORD, make_app

NO_AUTH = {"Authorization": None}


@pytest.fixture
def csrf_app(database_url):
    app = make_app(database_url)
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.extensions["crm"].engine.dispose()


@pytest.mark.parametrize("path", ["/api/meta/entities", "/api/records/student", "/api/openapi.json", "/api/meta/revisions",
                                  "/api"])
def test_api_without_a_token_is_401(client, student, path):
    r = client.get(path, headers=NO_AUTH)
    assert r.status_code == 401 and r.get_json()["errors"][0]["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Basic YWRtaW46eA==", "token", "Bearer ' OR 1=1 --"])
def test_wrong_or_malformed_tokens_are_401(client, student, header):
    r = client.get("/api/records/student", headers={"Authorization": header})
    assert r.status_code == 401


def test_token_issue_and_use(client, student):
    r = client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}, headers=NO_AUTH)
    assert r.status_code == 201
    token = r.get_json()["token"]
    assert client.get("/api/records/student", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.post("/api/auth/token", json={"username": "admin", "password": "wrong-one"}, headers=NO_AUTH).status_code == 401
    assert client.post("/api/auth/token", json={"username": "ghost", "password": "whatever1"}, headers=NO_AUTH).status_code == 401
    assert client.post("/api/auth/token", json={"username": 1}, headers=NO_AUTH).status_code == 400
    assert client.post("/api/auth/token", data="nope", headers=NO_AUTH).status_code == 400


def test_only_administrators_change_definitions(app, client, student):
    users = app.extensions["crm"].users
    clerk = users.create("clerk", "clerk-password", roles=["sales"])
    headers = {"Authorization": f"Bearer {users.issue_token(clerk)}"}
    assert client.get("/api/meta/entities", headers=headers).status_code == 200
    r = client.post("/api/meta/entities/student/fields", json={"key": "x", "type": "text"}, headers=headers)
    assert r.status_code == 403 and "administrators" in r.get_json()["errors"][0]["message"]
    assert client.delete("/api/meta/entities/student", headers=headers).status_code == 403
    assert client.post("/api/meta/taxonomies", json={"key": "t", "label": "T", "tags": []}, headers=headers).status_code == 403
    assert client.get("/api/meta/entities/student").get_json()["archived"] is False


def test_revisions_say_who_changed_the_metadata(client, student):
    assert client.get("/api/meta/revisions").get_json()["items"][0]["actor"] == "admin"


def test_records_remember_who_created_them(app, client, student):
    admin_id = app.extensions["crm"].users.get_by_name("admin").id
    body = client.post("/api/records/student", json={"name": "Li"}).get_json()
    assert body["created_by"] == admin_id and body["owner_id"] == admin_id


def test_login_page_with_csrf_then_session(csrf_app):
    c = csrf_app.test_client()
    assert c.get("/", headers=NO_AUTH).status_code == 302
    page = c.get("/login", headers=NO_AUTH)
    assert page.status_code == 200 and b'name="username"' in page.data and b'name="password"' in page.data
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    r = c.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}, headers=NO_AUTH)
    assert r.status_code == 400  # no CSRF token
    r = c.post("/login", data={"username": "admin", "password": "wrong-password", "csrf_token": token}, headers=NO_AUTH)
    assert r.status_code == 401 and b"Wrong user name or password" in r.data
    r = c.post("/login?next=//evil.example/x", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
               headers=NO_AUTH)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = c.get("/", headers=NO_AUTH)
    assert home.status_code == 200
    # the session cookie alone never opens the API (it is Bearer-only, so no CSRF through it)
    assert c.get("/api/meta/entities", headers=NO_AUTH).status_code == 401
    # sign-in started a fresh session, so the sign-out form carries a new CSRF token
    assert c.post("/logout", data={"csrf_token": token}, headers=NO_AUTH).status_code == 400
    token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', home.data).group(1).decode()
    assert c.post("/logout", data={"csrf_token": token}, headers=NO_AUTH).status_code == 302
    assert c.get("/", headers=NO_AUTH).status_code == 302


def test_the_session_cookie_is_secure_over_https_only(client):
    def cookie(base_url, **headers):
        r = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}, base_url=base_url,
                        headers={**NO_AUTH, **headers})
        assert r.status_code == 302
        return r.headers["Set-Cookie"]

    assert "Secure" not in cookie("http://localhost")
    assert "; Secure" in cookie("https://crm.example")
    # A TLS proxy in front of gunicorn is honoured by gunicorn itself (it sets the request's scheme);
    # the header alone, from anyone, does not make the cookie Secure here.
    assert "Secure" not in cookie("http://localhost", **{"X-Forwarded-Proto": "https"})


def test_the_api_neither_reads_nor_writes_the_session_cookie(csrf_app):
    c = csrf_app.test_client()
    page = c.get("/login", headers=NO_AUTH)
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    assert c.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
                  headers=NO_AUTH).status_code == 302
    r = c.get("/api/meta/entities", headers=NO_AUTH)
    assert r.status_code == 401 and "Set-Cookie" not in r.headers
    r = c.get("/api/meta/entities")  # with a token: answered, and still no cookie
    assert r.status_code == 200 and "Set-Cookie" not in r.headers and "Cookie" not in r.headers.get("Vary", "")
    assert c.get("/", headers=NO_AUTH).status_code == 200  # the page session is untouched


def test_sign_in_is_rate_limited(client):
    codes = [client.post("/api/auth/token", json={"username": "admin", "password": "wrong-pass"}, headers=NO_AUTH).status_code
             for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[-1] == 429


def test_behind_a_trusted_proxy_the_limit_counts_each_client_not_the_proxy(database_url):
    from crm_platform.app import create_app
    from crm_platform.auth.web import limiter
    make_app(database_url)  # the platform's tables and the administrator
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test", "CRM_PROXIES": 1})
    limiter.reset()
    c = app.test_client()

    def sign_in_from(client_address):
        return c.post("/api/auth/token", json={"username": "admin", "password": "wrong-pass"},
                      headers={"X-Forwarded-For": client_address}, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code
    assert [sign_in_from("203.0.113.5") for _ in range(11)][-1] == 429
    assert sign_in_from("198.51.100.7") == 401  # another client behind the same proxy is not locked out
    app.extensions["crm"].engine.dispose()


def test_cli_user_create(database_url, tmp_path, monkeypatch):
    from crm_platform.cli import main
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["user", "create", "wang", "--password", "wang-password", "--role", "sales", "--admin"])
    assert result.exit_code == 0 and "user wang created" in result.output and "administrator" in result.output
    assert "there is no active role 'sales' yet" in result.output
    assert runner.invoke(main, ["user", "create", "wang", "--password", "wang-password"]).exit_code != 0
    assert "at least 8" in runner.invoke(main, ["user", "create", "li", "--password", "short"]).output
    app = make_app(database_url)
    user = app.extensions["crm"].users.authenticate("wang", "wang-password")
    assert user is not None and user.is_admin and user.roles == ["sales"]
    app.extensions["crm"].engine.dispose()


def test_workers_without_a_secret_key_share_one_kept_in_the_instance_folder(database_url, tmp_path, monkeypatch):
    """Each gunicorn worker used to make its own key: a person was signed out whenever the next
    request reached the other worker (the README's run command sets no SECRET_KEY)."""
    from crm_platform.app import create_app
    from crm_platform.migrate import upgrade
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # the instance folder is ./instance
    config = {"DATABASE_URL": database_url, "TESTING": True, "WTF_CSRF_ENABLED": False}
    one, two = create_app(config), create_app(config)  # two workers
    try:
        key_file = tmp_path / "instance" / "secret_key"
        assert one.secret_key == two.secret_key == key_file.read_text()
        assert key_file.stat().st_mode & 0o777 == 0o600 and len(one.secret_key) == 64
        assert not list(key_file.parent.glob(".secret_key.*"))  # nothing left aside
        upgrade(one.extensions["crm"].engine)
        one.extensions["crm"].users.create("mei", "mei-password-1")
        first, second = one.test_client(), two.test_client()
        assert first.post("/login", data={"username": "mei", "password": "mei-password-1"}).status_code == 302
        second.set_cookie("session", first.get_cookie("session").value)
        assert second.get("/app").status_code == 200  # still signed in on the other worker
        restarted = create_app(config)
        assert restarted.secret_key == one.secret_key  # and after a restart
        restarted.extensions["crm"].engine.dispose()
    finally:
        one.extensions["crm"].engine.dispose()
        two.extensions["crm"].engine.dispose()
