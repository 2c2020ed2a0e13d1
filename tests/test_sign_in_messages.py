"""The sign-in page speaks Chinese and English side by side, its refusals too."""
from __future__ import annotations

NO_AUTH = {"Authorization": None}


def test_a_wrong_password_is_told_in_chinese_and_english(app):
    page = app.test_client()
    r = page.post("/login", data={"username": "admin", "password": "not-the-password"},
                  headers={**NO_AUTH, "Accept-Language": "zh-CN"})
    assert r.status_code == 401
    assert '<p class="error" role="alert">Wrong user name or password. / 用户名或密码错误。</p>' in r.get_data(as_text=True)
    r = page.post("/login", data={"username": "", "password": ""}, headers=NO_AUTH)
    assert r.status_code == 401 and "请填写用户名和密码。" in r.get_data(as_text=True)
    assert page.get("/app", headers=NO_AUTH).status_code == 302  # still signed out
