"""Security of signing in and of users (issue 12, items 10, 12, 13 and 14): where ``next`` may send
the browser, when a browser session ends, what a reference reveals, and which user names are one."""
from __future__ import annotations

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
