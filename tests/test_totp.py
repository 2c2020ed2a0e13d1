"""The optional TOTP second factor (auth/totp.py, docs/access.md): enrolling, signing in with a code
on the pages and for API tokens, a role that requires it, an administrator's reset, wrong and reused
codes refused and rate-limited like passwords. Codes come from pyotp, as an authenticator app's would."""
from __future__ import annotations

import re
import time

import pyotp

NO_TOKEN = {"Authorization": None}


def browser(app):
    return app.test_client()


def get(c, path):
    return c.get(path, headers=NO_TOKEN)


def post(c, path, data):
    return c.post(path, data=data, headers=NO_TOKEN)


def signed_in(c) -> bool:
    r = get(c, "/app")
    return r.status_code != 302 or "/login" not in r.headers.get("Location", "")


def secret_on(page: str) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert found, page
    return found.group(1)


def code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def enrolled_user(app, name="mia"):
    """A user who set up the second factor through /account/totp; (user id, secret)."""
    users = app.extensions["crm"].users
    created = users.create(name, f"{name}-password")
    c = browser(app)
    assert post(c, "/login", {"username": name, "password": f"{name}-password"}).status_code == 302
    page = get(c, "/account/totp")
    assert page.status_code == 200
    secret = secret_on(page.get_data(as_text=True))
    assert post(c, "/account/totp", {"code": code(secret)}).status_code == 302
    return created.id, secret


def test_a_user_enrols_with_the_secret_shown_as_text_uri_and_qr_code_confirmed_by_a_code(app, client):
    users = app.extensions["crm"].users
    created = users.create("mia", "mia-password")
    c = browser(app)
    assert post(c, "/login", {"username": "mia", "password": "mia-password"}).status_code == 302
    page = get(c, "/account/totp").get_data(as_text=True)
    secret = secret_on(page)
    assert f"otpauth://totp/CRM:mia?secret={secret}&amp;issuer=CRM" in page and "<svg" in page
    assert "两步验证" in page
    wrong = post(c, "/account/totp", {"code": "000000" if code(secret) != "000000" else "111111"})
    assert wrong.status_code == 422 and users.get(created.id).totp is False
    assert post(c, "/account/totp", {"code": code(secret)}).status_code == 302
    assert users.get(created.id).totp is True
    assert client.get(f"/api/users/{created.id}").get_json()["totp"] is True
    assert "is on" in get(c, "/account/totp").get_data(as_text=True)


def test_signing_in_asks_for_the_code_after_the_password_and_a_code_is_good_once(app):
    _, secret = enrolled_user(app)
    c = browser(app)
    r = post(c, "/login?next=/app", {"username": "mia", "password": "mia-password"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/totp")
    assert not signed_in(c)  # a right password alone signs nobody in
    assert "Sign-in code" in get(c, "/login/totp").get_data(as_text=True)
    assert post(c, "/login/totp", {"code": "12345"}).status_code == 401
    good = code(secret, 1)
    r = post(c, "/login/totp", {"code": good})
    assert r.status_code == 302 and r.headers["Location"] == "/app"
    assert signed_in(c)
    # The same code again, in another sign-in, is refused: it was used.
    other = browser(app)
    post(other, "/login", {"username": "mia", "password": "mia-password"})
    assert post(other, "/login/totp", {"code": good}).status_code == 401
    assert not signed_in(other)
    # Without a right password first, the code page sends people to /login.
    assert get(browser(app), "/login/totp").headers["Location"].endswith("/login")


def test_wrong_codes_are_rate_limited_like_passwords(app):
    _, secret = enrolled_user(app)
    app.config["CRM_SIGNIN_RATE"] = "3 per minute"
    c = browser(app)
    post(c, "/login", {"username": "mia", "password": "mia-password"})
    statuses = [post(c, "/login/totp", {"code": "999999" if code(secret, 1) != "999999" else "888888"}).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 401]
    r = post(c, "/login/totp", {"code": code(secret, 1)})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert not signed_in(c)


def test_api_tokens_need_the_code_of_an_enrolled_user(app, client):
    user_id, secret = enrolled_user(app)
    sign_in = {"username": "mia", "password": "mia-password"}
    r = client.post("/api/auth/token", json=sign_in, headers=NO_TOKEN)
    assert r.status_code == 401 and r.get_json()["errors"][0]["code"] == "totp_required"
    r = client.post("/api/auth/token", json={**sign_in, "totp": "000000" if code(secret, 1) != "000000" else "1"},
                    headers=NO_TOKEN)
    assert r.status_code == 401 and r.get_json()["errors"][0]["code"] == "totp_invalid"
    r = client.post("/api/auth/token", json={**sign_in, "totp": code(secret, 1)}, headers=NO_TOKEN)
    assert r.status_code == 201
    token = r.get_json()["token"]
    assert client.get("/api/records/nothing", headers={"Authorization": f"Bearer {token}"}).status_code in (403, 404)


def test_a_role_that_requires_it_makes_its_holders_enrol_at_the_next_sign_in(app, client):
    role = {"key": "finance", "label": "Finance", "require_totp": True}
    assert client.post("/api/meta/roles", json=role).status_code == 201, client.post("/api/meta/roles", json=role)
    users = app.extensions["crm"].users
    created = users.create("ned", "ned-password", roles=["finance"])
    # The API refuses a token until the second factor exists.
    r = client.post("/api/auth/token", json={"username": "ned", "password": "ned-password"}, headers=NO_TOKEN)
    assert r.status_code == 401 and r.get_json()["errors"][0]["code"] == "totp_enrolment_required"
    c = browser(app)
    r = post(c, "/login", {"username": "ned", "password": "ned-password"})
    assert r.headers["Location"].endswith("/login/totp") and not signed_in(c)
    page = get(c, "/login/totp").get_data(as_text=True)
    assert "Set up two-step sign-in" in page
    secret = secret_on(page)
    assert post(c, "/login/totp", {"code": "000000" if code(secret) != "000000" else "1"}).status_code == 401
    assert post(c, "/login/totp", {"code": code(secret)}).status_code == 302
    assert signed_in(c) and users.get(created.id).totp is True


def test_an_administrator_resets_a_second_factor_and_only_an_administrator(app, client):
    user_id, secret = enrolled_user(app)
    users = app.extensions["crm"].users
    visitor = {"Authorization": f"Bearer {users.issue_token(users.create('visitor', 'visitor-password'))}"}
    assert client.delete(f"/api/users/{user_id}/totp", headers=visitor).status_code == 403
    assert client.delete("/api/users/99999/totp").status_code == 404
    r = client.delete(f"/api/users/{user_id}/totp")
    assert r.status_code == 200 and r.get_json()["totp"] is False
    c = browser(app)
    r = post(c, "/login", {"username": "mia", "password": "mia-password"})
    assert r.status_code == 302 and not r.headers["Location"].endswith("/login/totp") and signed_in(c)


def test_a_user_without_a_second_factor_signs_in_as_before(app, client):
    app.extensions["crm"].users.create("pat", "pat-password")
    c = browser(app)
    assert post(c, "/login", {"username": "pat", "password": "pat-password"}).headers["Location"] == "/"
    assert signed_in(c)
    r = client.post("/api/auth/token", json={"username": "pat", "password": "pat-password"}, headers=NO_TOKEN)
    assert r.status_code == 201


# ---- the user audit trail (entity "_user", docs/admin.md): set up, reset; never the secret ----------

def _user_audit(app, user_id):
    import sqlalchemy as sa
    from crm_platform.tables import audit_log
    with app.extensions["crm"].engine.connect() as conn:
        return conn.execute(sa.select(audit_log).where(audit_log.c.entity == "_user", audit_log.c.record_id == user_id)
                            .order_by(audit_log.c.id)).all()


def _admin_page(app, user_id) -> str:
    import html as html_lib
    from test_admin_designer import sign_in
    c = sign_in(app.test_client())
    c.set_cookie("crm_lang", "zh")
    r = c.get(f"/admin/users/{user_id}/")
    assert r.status_code == 200
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", r.get_data(as_text=True))))


def test_setting_up_the_second_factor_is_in_the_user_audit_trail_without_the_secret(app):
    user_id, secret = enrolled_user(app)
    rows = _user_audit(app, user_id)
    assert [(r.action, r.actor_id) for r in rows] == [("create", None), ("update", user_id)]
    assert '"totp": [false, true]' in rows[-1].changes
    assert all(secret not in (r.changes or "") and secret not in (r.reason or "") for r in rows)
    assert app.extensions["crm"].users.trail(user_id)[0]["changes"] == {"totp": [False, True]}
    page = _admin_page(app, user_id)
    assert "mia: 开启了两步验证" in page


def test_setting_up_at_sign_in_because_a_role_requires_it_is_audited_too(app, client):
    assert client.post("/api/meta/roles", json={"key": "finance", "label": "Finance", "require_totp": True}
                       ).status_code == 201
    created = app.extensions["crm"].users.create("ned", "ned-password", roles=["finance"])
    c = browser(app)
    post(c, "/login", {"username": "ned", "password": "ned-password"})
    secret = secret_on(get(c, "/login/totp").get_data(as_text=True))
    assert post(c, "/login/totp", {"code": code(secret)}).status_code == 302
    last = _user_audit(app, created.id)[-1]
    assert (last.action, last.actor_id) == ("update", created.id) and '"totp": [false, true]' in last.changes
    assert secret not in last.changes


def test_an_administrators_reset_is_in_the_user_audit_trail_and_on_the_admin_user_page(app, client):
    user_id, secret = enrolled_user(app)
    admin_id = app.extensions["crm"].users.get_by_name("admin").id
    assert client.delete(f"/api/users/{user_id}/totp").status_code == 200
    rows = _user_audit(app, user_id)
    assert [(r.action, r.actor_id) for r in rows][-1] == ("update", admin_id)
    assert '"totp": [true, false]' in rows[-1].changes and secret not in rows[-1].changes
    # Resetting a user who has no second factor changes nothing, and nothing is written.
    assert client.delete(f"/api/users/{user_id}/totp").status_code == 200
    assert len(_user_audit(app, user_id)) == len(rows)
    page = _admin_page(app, user_id)
    assert "admin: 重置了两步验证" in page and "mia: 开启了两步验证" in page


def test_the_command_lines_reset_is_audited_with_no_actor(app, database_url, monkeypatch, tmp_path):
    from click.testing import CliRunner
    from crm_platform.cli import main
    user_id, _ = enrolled_user(app)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["user", "reset-totp", "mia"])
    assert result.exit_code == 0 and "second factor reset" in result.output, result.output
    last = _user_audit(app, user_id)[-1]
    assert (last.action, last.actor_id) == ("update", None) and '"totp": [true, false]' in last.changes
    assert app.extensions["crm"].users.get(user_id).totp is False
