"""Browser fixtures: the real app on a free port, and Debian's Chromium driven by Playwright.

- ``live_server``: a fresh app on a temporary SQLite file per test, served by werkzeug in a
  background thread, with CSRF on (the browser fills real forms). ``live_server.url``,
  ``live_server.platform``, and ``live_server.api`` (a test client on the same app that sends the
  administrator's Bearer token, for arranging definitions and checking rows).
- ``browser``: one Chromium for the session; ``context``: a fresh profile (cookies) per test.
- ``page``: a page signed in as the administrator ``admin``.
- ``sign_in(username, password)``: a new page, in its own browser context, signed in as that user
  (create the user first, e.g. ``live_server.platform.users.create(...)``).
- ``screenshot(page, name)``: saves ``artifacts/screenshots/<name>.png``; CI keeps that folder.

SQLite is enough here: the SQL of every screen is exercised on both databases by the API tests.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_platform.app import create_app
from crm_platform.migrate import upgrade

CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ADMIN_NAME, ADMIN_PASSWORD = "admin", "admin-password"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"



def pytest_collection_modifyitems(items):
    """Everything under tests/browser/ drives a browser: ``-m "not browser"`` leaves it out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    app: object
    api: object

    @property
    def platform(self):
        return self.app.extensions["crm"]


class _TokenClient:
    """Calls the app in-process with the administrator's Bearer token (arranging and checking only)."""

    def __init__(self, app, token: str):
        self._client = app.test_client()
        self._headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        call = getattr(self._client, method)

        def with_token(*args, headers=None, **kwargs):
            return call(*args, headers={**self._headers, **(headers or {})}, **kwargs)
        return with_token


def _wait_until_serving(url: str, thread: threading.Thread, timeout: float = 10.0) -> None:
    """Poll the live server until it answers; fail with what went wrong, never hang or skip."""
    import time
    import urllib.request
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail(f"the live server thread died before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.1)
    pytest.fail(f"the live server did not answer {url} with 200 within {timeout:.0f} s (last: {last})")


@pytest.fixture
def live_server(tmp_path):
    from werkzeug.serving import make_server
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'crm.sqlite'}", "SECRET_KEY": "browser-test"})
    platform = app.extensions["crm"]
    upgrade(platform.engine)
    from crm_platform.auth.web import limiter
    limiter.reset()
    admin = platform.users.get_by_name(ADMIN_NAME) or platform.users.create(ADMIN_NAME, ADMIN_PASSWORD, is_admin=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    _wait_until_serving(f"http://127.0.0.1:{server.server_port}/login", thread)
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, _TokenClient(app, platform.users.issue_token(admin)))
    server.shutdown()
    thread.join(timeout=5)
    platform.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI installs it")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _new_context(browser, **options):
    context = browser.new_context(locale=options.pop("locale", "en-US"), **options)
    context.set_default_timeout(10_000)
    return context


def _sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def context(browser):
    ctx = _new_context(browser)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, live_server):
    """A page signed in as the administrator."""
    page = context.new_page()
    _sign_in(page, live_server.url, ADMIN_NAME, ADMIN_PASSWORD)
    return page


@pytest.fixture
def sign_in(browser, live_server):
    """``sign_in(username, password, **context_options)`` → a page signed in as that user."""
    contexts = []

    def open_as(username: str, password: str, **options):
        ctx = _new_context(browser, **options)
        contexts.append(ctx)
        page = ctx.new_page()
        _sign_in(page, live_server.url, username, password)
        return page
    yield open_as
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def screenshot():
    def save(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return save
