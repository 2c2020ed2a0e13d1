"""The top bar of every signed-in screen, written in Python from parts kept per revision, language and rights.

Rendering the top bar in Jinja cost as much as a record form's twenty controls: two dozen calls from
the template into Python (translations, ``url_for``, the menu and its rights), the same on every page
(``bench/bench_list_page.py``). What depends only on the site's address, the revision, the language,
the user's rights and the screen shown (the menu with its current entry, the admin link, the fixed
links and texts) is written once per revision and kept (``_parts``, ``display.per_revision``: a
site has a few languages, roles and entities); what differs per request is joined here: the
bell's count, the CSRF token of *sign out*, the page the language link returns to, the search typed
on the search page, the user's name.
"""
from __future__ import annotations

from flask import current_app, g, request, url_for
from markupsafe import Markup, escape

from ..auth.csrf import csrf_token
from ..http.context import access, platform
from .display import per_revision
from .i18n import translate
from .pages import menu

_assets: dict[tuple[str, str], str] = {}

CURRENT = ' aria-current="page"'
BELL_PATH = ("M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 "
             "0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z")


def bell_icon(size: int = 20) -> Markup:
    """The bell as an inline SVG: drawn the same on every device (an emoji needs a font that has it)."""
    return Markup(f'<svg aria-hidden="true" viewBox="0 0 24 24" width="{size}" height="{size}">'
                  f'<path fill="currentColor" d="{BELL_PATH}"/></svg>')


BELL_ICON = bell_icon()


def topbar(lang: str, unread: int, screen=None) -> Markup:
    """The signed-in top bar; ``screen``: the entity's screen this page is (marked in the menu), if any."""
    design = current_app.jinja_env.globals.get("can_design")
    may_design = bool(design and design())
    model = getattr(screen, "model", None) or platform().records.runtime.current()
    current = getattr(screen, "key", None)
    key = ("topbar", request.script_root, lang, access().rights_key, may_design, current)
    kept = per_revision(model)
    parts = kept.get(key)
    if parts is None:
        parts = kept[key] = _parts(lang, model, current, may_design)
    t = parts["t"]
    searched = escape(request.args.get("q", "")) if request.endpoint == "screens.search_page" else ""
    bell = escape(translate("notifications_unread", lang, n=unread)) if unread else t["notifications"]
    badge = f'<span class="badge">{unread if unread < 100 else "99+"}</span>' if unread else ""
    other = "en" if lang == "zh" else "zh"
    switch = escape(url_for("screens.switch_language", code=other, next=request.full_path))
    user = g.get("user")
    return Markup(
        f'{parts["nav"]}'
        f'<form class="global-search" method="get" action="{parts["search_url"]}" role="search">'
        f'<input type="search" name="q" value="{searched}" placeholder="{t["search_everything"]}" '
        f'aria-label="{t["search"]}" data-testid="global-search" maxlength="100">'
        f'<button type="submit" aria-label="{t["search"]}">⌕</button></form>'
        f'<div class="topbar-right">'
        f'<a class="bell" href="{parts["bell_url"]}" aria-label="{bell}">{BELL_ICON}{badge}</a>'
        f'<a class="lang" href="{switch}" lang="{other}">{t["language"]}</a>'
        f'<a class="totp" href="{parts["totp_url"]}">{t["two_step"]}</a>'
        f'<form method="post" action="{parts["logout_url"]}" class="inline">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">'
        f'<button type="submit" class="link">{escape(user.username)} · {t["sign_out"]}</button></form>'
        f'</div>')


def asset(filename: str) -> str:
    """The address of one of the screens' static files, built once per site address."""
    key = (request.script_root, filename)
    found = _assets.get(key)
    if found is None:
        found = _assets[key] = url_for("screens.static", filename=filename)
    return found


def _parts(lang: str, model, current: str | None, may_design: bool) -> dict:
    t = {k: escape(translate(k, lang)) for k in ("menu", "app", "home", "admin", "search", "search_everything",
                                                  "notifications", "language", "two_step", "sign_out")}
    items = "".join(
        f'<li><a href="{escape(url_for("screens.list_page", entity=item["key"]))}"'
        f'{CURRENT if item["key"] == current else ""}>{escape(item["label"])}</a></li>'
        for item in menu(lang, model))
    admin = (f'<li class="nav-admin"><a href="{escape(url_for("admin.index"))}" data-testid="menu-admin">{t["admin"]}</a></li>'
             if may_design else "")
    nav = (f'<details class="nav" id="nav"><summary aria-label="{t["menu"]}">☰ <span class="brand">{t["app"]}</span>'
           f'</summary><nav><ul><li><a href="{escape(url_for("screens.index"))}">{t["home"]}</a></li>{items}{admin}'
           f'</ul></nav></details>')
    return {"t": t, "nav": Markup(nav), "search_url": escape(url_for("screens.search_page")),
            "bell_url": escape(url_for("screens.notifications_page")), "totp_url": escape(url_for("auth.account_totp")),
            "logout_url": escape(url_for("auth.logout"))}
