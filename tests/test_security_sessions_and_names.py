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
