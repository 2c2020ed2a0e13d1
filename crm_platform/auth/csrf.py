"""The CSRF token of a page, signed once per session and worker.

Flask-WTF signs the session's secret token anew for every request (an HMAC and a timestamp), which
cost a record form about a twentieth of its time. While tokens have no time limit
(``WTF_CSRF_TIME_LIMIT`` is None, as ``init_auth`` sets it), the timestamp is never checked, so a
token signed once is as good as one signed now: a worker keeps it per session token and secret and
hands it to Flask-WTF for the request (``g``), where its own forms and checks find it. With a time
limit configured, every request signs afresh, as Flask-WTF does.
"""
from __future__ import annotations

from flask import current_app, g, session
from flask_wtf.csrf import generate_csrf

from ..kept import Kept

#: Signed tokens a worker keeps (one per session seen lately).
_signed = Kept(4096)


def csrf_token() -> str:
    """This request's CSRF token, as ``flask_wtf.csrf.generate_csrf`` gives it."""
    config = current_app.config
    name = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if name in g or config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    found = _signed.get((session[name], secret)) if name in session else None
    if found is None:  # a new session gets its secret token here, then the token is kept for it
        found = generate_csrf()
        return _signed.put((session[name], secret), found)
    setattr(g, name, found)
    return found
