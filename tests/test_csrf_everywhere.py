"""CSRF on every state-changing browser route, with CSRF on (the shared fixtures turn it off).

The routes are enumerated from ``app.url_map``: every non-API rule accepting POST, PUT, PATCH or
DELETE — screens, board moves, the admin designer and data views, public forms, sign-in and
sign-out. A route added later is covered without editing this file; one whose URL takes an argument
this file cannot fill makes the test fail, asking for a value. Each post without a token must be
refused (400, naming the CSRF token) with every table exactly as before; a few are posted again
with the token, to show that the same request does change something (so "nothing changed" is not
vacuous).
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from conftest import ADMIN_PASSWORD, STUDENT, make_app

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PIPELINE = {"key": "funnel", "label": "Funnel", "entity": "student", "field": "stage",
            "stages": [{"key": "new", "label": "New"}, {"key": "won", "label": "Won", "category": "won"}]}
TAXONOMY = {"key": "segment", "label": "Segment", "tags": [{"key": "vip", "label": "VIP"}]}
FORM = {"key": "trial", "label": "Trial", "entity": "student", "public": True, "slug": "trial",
        "success_message": "Thanks", "layout": [{"title": "You", "fields": ["name", "age"]}]}
#: What each URL argument is filled with; the blueprint decides which definition a ``key`` names.
KEY_BY_BLUEPRINT = {"entities": "student", "forms": "trial", "pipelines": "funnel", "taxonomies": "segment",
                    "automations": "nudge", "roles": "seller"}
ARGUMENTS = {"entity": "student", "record_id": 1, "field": "name", "slug": "trial", "report": "by_stage",
             "notification_id": 1, "job_id": 1, "approval_id": 1, "user_id": 1,
             "template": "b2b", "name": "b2b"}
#: Form data that would change something on most routes, were the token not checked.
FORM_DATA = {"f-name": "Changed", "f-age": "9", "name": "Changed", "version": "1", "reason": "csrf test",
             "stage": "won", "username": "admin", "password": ADMIN_PASSWORD, "key": "other", "label": "Other",
             "new_key": "renamed", "type": "text", "_confirm": "1"}


@pytest.fixture
def csrf_app(database_url):
    app = make_app(database_url)
    api = app.test_client()  # the administrator's Bearer token: arranging only
    assert api.post("/api/meta/entities", json={**STUDENT, "fields": [
        *STUDENT["fields"], {"key": "stage", "type": "stage"}]}).status_code == 201
    for url, doc in (("/api/meta/pipelines", PIPELINE), ("/api/meta/taxonomies", TAXONOMY), ("/api/meta/forms", FORM)):
        r = api.post(url, json=doc)
        assert r.status_code == 201, r.get_json()
    for name in ("Li", "Wang"):
        assert api.post("/api/records/student", json={"name": name, "age": 8, "stage": "new"}).status_code == 201
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.extensions["crm"].engine.dispose()


def browser(app) -> FlaskClient:
    """A cookie-keeping client that sends no Bearer token (a person's browser)."""
    return FlaskClient(app, app.response_class, use_cookies=True)


def token_of(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="(?:\w+-)?csrf_token"[^>]*value="([^"]+)"', page).group(1)


def signed_in(app) -> tuple[FlaskClient, str]:
    c = browser(app)
    token = token_of(c, "/login")
    r = c.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    return c, token_of(c, "/app/student/new")


def snapshot(app) -> dict:
    """Every row of every table, platform and generated alike."""
    engine = app.extensions["crm"].engine
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {name: sorted(map(repr, conn.execute(sa.select(t)).all())) for name, t in meta.tables.items()}


def write_routes(app) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) of every browser route that changes state."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api") or rule.endpoint == "static" or not (rule.methods & WRITE_METHODS):
            continue
        values = {}
        for arg in rule.arguments:
            if arg == "key":
                blueprint = rule.endpoint.split(".")[0]
                assert blueprint in KEY_BY_BLUEPRINT, f"{rule.rule}: add a definition key for blueprint {blueprint!r}"
                values[arg] = KEY_BY_BLUEPRINT[blueprint]
            else:
                assert arg in ARGUMENTS, f"{rule.rule}: add a value for the URL argument {arg!r} to ARGUMENTS"
                values[arg] = ARGUMENTS[arg]
        with app.test_request_context():
            from flask import url_for
            url = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods & WRITE_METHODS):
            out.append((method, url, rule.endpoint))
    return sorted(out)


def post_without_token(client, method, url, endpoint):
    if endpoint.endswith("move_card"):  # the board posts JSON, its token in X-CSRFToken
        return client.open(url, method=method, json={"stage": "won", "version": 1})
    return client.open(url, method=method, data=FORM_DATA)


def refused_for_csrf(r) -> bool:
    return r.status_code == 400 and "csrf" in r.get_data(as_text=True).lower()


def test_every_browser_write_without_a_csrf_token_is_refused_and_changes_nothing(csrf_app):
    routes = write_routes(csrf_app)
    endpoints = {e for _, _, e in routes}
    # The enumeration reaches every area the issue names (so an empty url_map cannot pass).
    for expected in ("screens.new_record", "screens.edit_record", "screens.delete_record", "screens.restore_record",
                     "screens.move_card", "screens.report_builder", "screens.pin_report", "public_forms.fill", "auth.login", "auth.logout", "entities.create",
                     "records.edit_view", "history.restore"):
        assert expected in endpoints, (expected, sorted(endpoints))
    signed, _ = signed_in(csrf_app)
    anonymous = browser(csrf_app)
    before = snapshot(csrf_app)
    let_through = []
    for method, url, endpoint in routes:
        for who, client in (("signed in", signed), ("anonymous", anonymous)):
            r = post_without_token(client, method, url, endpoint)
            if not refused_for_csrf(r):
                let_through.append((who, method, url, r.status_code, r.get_data(as_text=True)[:200]))
    assert let_through == []
    assert snapshot(csrf_app) == before
    # Still signed in: the refused sign-out did not sign the user out.
    assert signed.get("/app").status_code == 200


def test_a_wrong_token_is_refused_like_a_missing_one(csrf_app):
    signed, token = signed_in(csrf_app)
    before = snapshot(csrf_app)
    r = signed.post("/app/student/1/edit", data={"f-name": "Changed", "version": "1", "csrf_token": token[:-2] + "xx"})
    assert refused_for_csrf(r)
    r = signed.post("/app/student/1/stage", json={"stage": "won", "version": 1}, headers={"X-CSRFToken": "forged"})
    assert refused_for_csrf(r)
    assert snapshot(csrf_app) == before


def stored(app, record_id: int) -> dict:
    return app.extensions["crm"].records.get("student", record_id)


def test_the_same_posts_with_the_token_do_change_things(csrf_app):
    """The positive control: the requests refused above are real writes once they carry the token."""
    c, token = signed_in(csrf_app)
    r = c.post("/app/student/1/edit", data={"f-name": "Changed", "version": "1", "csrf_token": token})
    assert r.status_code == 303, r.get_data(as_text=True)
    assert stored(csrf_app, 1)["name"] == "Changed"
    r = c.post("/app/student/2/stage", json={"stage": "won", "version": 1}, headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert stored(csrf_app, 2)["stage"] == "won"
    r = c.post("/app/student/new", data={"f-name": "New", "csrf_token": token})
    assert r.status_code == 303 and stored(csrf_app, 3)["name"] == "New"
    public = browser(csrf_app)
    r = public.post("/f/trial", data={"f-name": "Visitor", "f-age": "9", "csrf_token": token_of(public, "/f/trial")})
    assert r.status_code == 200 and stored(csrf_app, 4)["name"] == "Visitor"
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/app").status_code == 302  # signed out


def test_a_session_keeps_one_signed_token_and_each_session_its_own(csrf_app):
    """The token is signed once per session and worker (``auth/csrf.py``): every page of a session
    carries the same token, which saves a record; another session's token is another and is
    refused for this one; a configured time limit signs afresh, as Flask-WTF does."""
    one, token = signed_in(csrf_app)
    assert token_of(one, "/app/student") == token_of(one, "/app/student/1/edit") == token
    other, other_token = signed_in(csrf_app)
    assert other_token != token
    refused = one.post("/app/student/1/edit", data={"f-name": "Other's", "version": "1", "f-csrf_token": other_token})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    saved = one.post("/app/student/1/edit", data={"f-name": "Kept token", "version": "1", "f-csrf_token": token})
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:500]
    api = csrf_app.test_client()
    assert api.get("/api/records/student/1").get_json()["name"] == "Kept token"
    csrf_app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    import time
    first = token_of(one, "/app/student")
    time.sleep(1.1)  # the signature carries the second it was made
    assert token_of(one, "/app/student") != first
