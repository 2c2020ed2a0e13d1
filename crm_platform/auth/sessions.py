"""Session cookies of the pages: Secure over HTTPS, none on the API, and each cookie verified once.

``CRM_HTTPS=1`` forces Secure. Behind a TLS proxy, gunicorn takes the scheme from X-Forwarded-Proto
of the proxies it trusts (``--forwarded-allow-ips``, loopback by default), so ``request.is_secure``
is true there too. The REST API is Bearer-only: its requests get a null session, so a session cookie
is neither read nor written there (and no request pays for it).

A signed-in person sends the same cookie with every page until the session changes. Checking its
signature and decoding it cost about a tenth of a record form (``bench/bench_list_page.py``), so a
worker keeps what a cookie held once its signature was checked, keyed by the whole cookie (signature
included) and the keys that checked it: a changed, forged or truncated cookie is a different key and
is checked in full. The cookie's age is still checked on every request against its signed time.
"""
from __future__ import annotations

import copy
import time

from flask import request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

from ..kept import Kept


class HttpsAwareSessions(SecureCookieSessionInterface):
    def __init__(self):
        self._verified = Kept(4096)  # cookies whose content this worker checked lately

    def open_session(self, app, request):
        if request.path.startswith("/api/") or request.path == "/api":
            return self.make_null_session(app)
        if not app.secret_key:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (cookie, app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        found = self._verified.get(key)
        if found is None:
            try:
                found = self._verified.put(key, self.get_signing_serializer(app).loads(
                    cookie, max_age=max_age, return_timestamp=True))
            except BadSignature:  # expired ones included
                return self.session_class()
        data, signed_at = found
        if int(time.time()) - int(signed_at.timestamp()) > max_age:  # as itsdangerous counts age
            return self.session_class()
        return self.session_class(copy.deepcopy(data))  # the session may change; what is kept may not

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
