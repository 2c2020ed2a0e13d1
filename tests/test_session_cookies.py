"""Session cookies are verified once per worker (``auth/sessions.py``) without trusting more than a
full check would: a cookie changed by one character, or older than the session lifetime, signs
nobody in, even after the genuine cookie was seen; a session changed by a request does not change
what the next request with the same cookie finds."""
from __future__ import annotations

import datetime as dt
import time

from flask import session

from test_screens import Pages

NO_TOKEN = {"Authorization": None}


def cookie_of(client, app) -> str:
    return client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session")).value


def test_a_seen_cookie_still_cannot_be_altered_or_outlive_its_lifetime(app, student):
    pages = Pages(app)
    assert pages.get("/app/student").status_code == 200  # the genuine cookie is seen and kept
    genuine = cookie_of(pages.client, app)
    # (Not the last character: of a base64 signature it carries two bits, the rest is padding, so
    # some other letters decode to the very same signature.)
    middle = len(genuine) // 2
    other = "A" if genuine[middle] != "A" else "B"
    for forged in (genuine[:middle] + other + genuine[middle + 1:], genuine[:-5], genuine + "x"):
        other = app.test_client()
        other.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), forged)
        r = other.get("/app/student", headers=NO_TOKEN)
        assert r.status_code == 302 and "/login" in r.headers["Location"], forged
    assert pages.get("/app/student").status_code == 200
    app.permanent_session_lifetime = dt.timedelta(seconds=0)
    time.sleep(1.1)  # ages are counted in whole seconds
    r = pages.get("/app/student")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_what_a_request_does_to_its_session_is_not_kept_for_the_same_cookie(app):
    @app.get("/_touch_session")
    def touch():
        found = list(session.get("seen", []))
        session["seen"].append("x")  # changed in place: what the next request finds must not be
        session.modified = True
        return {"found": found}

    client = Pages(app).client  # signed in: the route is behind the sign-in like every page
    with client.session_transaction() as s:
        s["seen"] = ["first"]
    cookie = cookie_of(client, app)
    for _ in range(3):  # the same cookie, each time as signed
        client.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), cookie)
        r = client.get("/_touch_session", headers=NO_TOKEN)
        assert r.status_code == 200 and r.get_json() == {"found": ["first"]}
