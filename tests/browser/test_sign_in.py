"""The browser fixtures themselves: signing in through the real /login form, CSRF on."""
from __future__ import annotations


def test_admin_page_is_signed_in(page, live_server):
    assert any(c["name"] == "session" and c["httpOnly"] for c in page.context.cookies())
    response = page.request.get(f"{live_server.url}/app")  # follows redirects: /login if not signed in
    assert "/login" not in response.url


def test_wrong_password_is_refused_and_another_user_signs_in(browser, live_server, sign_in, context):
    live_server.platform.users.create("sales1", "sales-password")
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.fill("#username", "sales1")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong user name or password. / 用户名或密码错误。"
    other = sign_in("sales1", "sales-password")
    assert "/login" not in other.url
