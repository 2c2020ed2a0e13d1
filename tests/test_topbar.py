"""The top bar of the screens (``web/chrome.py``) is written from parts kept per revision, language
and rights: each user still sees their own menu, the admin link only when they may design, the
entity they are on marked, their bell, and a menu that follows the definitions at once."""
from __future__ import annotations

import re

from crm_platform.web.i18n import COOKIE
from test_screens import Pages


def menu(page: str) -> list[tuple[str, bool]]:
    nav = page.split('<nav>', 1)[1].split('</nav>', 1)[0]
    return [(label, current == ' aria-current="page"')
            for _, current, label in re.findall(r'<a href="(/app/[a-z_]+)"( aria-current="page")?>([^<]+)</a>', nav)]


def test_each_user_sees_their_own_menu_language_and_marks(app, platform, student):
    admin = Pages(app)
    page = admin.get("/app/student").get_data(as_text=True)
    assert menu(page) == [("Students", True)]
    assert 'data-testid="menu-admin"' in page and "admin · Sign out" in page

    # another entity: on the very next page, for the same cached parts' owner
    course = {"key": "course", "label": "Course", "plural_label": "Courses",
              "fields": [{"key": "title", "type": "text", "label": "Title"}]}
    assert admin.post("/api/meta/entities", json=course, headers={"Authorization": f"Bearer {app.config['TEST_TOKEN']}"}).status_code == 201
    assert menu(admin.get("/app/student").get_data(as_text=True)) == [("Courses", False), ("Students", True)]
    assert menu(admin.get("/app/course").get_data(as_text=True)) == [("Courses", True), ("Students", False)]

    # a clerk who may read courses only, in Chinese: their menu, their name, no admin link
    role = {"key": "clerk", "label": "Clerk", "entities": {"course": {"read": "all"}}}
    assert admin.post("/api/meta/roles", json=role, headers={"Authorization": f"Bearer {app.config['TEST_TOKEN']}"}).status_code == 201
    platform.users.create("clerk", "clerk-password", roles=["clerk"])
    clerk = Pages(app, "clerk")
    clerk.client.set_cookie(COOKIE, "zh")
    page = clerk.get("/app/course").get_data(as_text=True)
    assert menu(page) == [("Courses", True)]
    assert 'data-testid="menu-admin"' not in page
    assert "clerk · 退出" in page and 'aria-label="菜单"' in page
    # and the administrator's bar is still the administrator's
    assert 'data-testid="menu-admin"' in admin.get("/app/course").get_data(as_text=True)


def test_the_bar_carries_what_differs_per_request(app, platform, student):
    pages = Pages(app)
    page = pages.get("/app/student?page=1").get_data(as_text=True)
    # the language link returns to this very page; the search box is empty off the search page
    assert re.search(r'<a class="lang" href="/lang/zh\?next=/app/student\?page%3D1" lang="zh">', page), page[:3000]
    assert 'name="q" value="" placeholder' in page
    found = pages.get("/app/_search?q=%3Cb%3E").get_data(as_text=True)
    assert 'name="q" value="&lt;b&gt;" placeholder' in found
    # sign out carries this session's CSRF token (CSRF is off in tests: the input is there, empty or not)
    assert re.search(r'<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf_token"', page)
    # the bell counts what is unread
    user = platform.users.get_by_name("admin")
    from crm_platform import notifications
    with platform.engine.begin() as conn:
        notifications.notify(conn, [user.id], "reminder", {"en": "Call back", "zh": "回电"})
    page = pages.get("/app/student").get_data(as_text=True)
    assert re.search(r'<a class="bell" href="/app/_notifications" aria-label="[^"]*1[^"]*">.*<span class="badge">1</span></a>', page)
