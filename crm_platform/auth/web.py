"""Sign-in for people (Flask-Login session, /login) and for programs (Bearer tokens on /api).

Every path requires a signed-in user except /login, /api/auth/token, public web forms (/f/), the
health checks (/healthz, /readyz) and /metrics (which asks for its own token).
The REST API accepts only Bearer tokens, never the session cookie, so no page of another site can
make a signed-in browser call it (no CSRF exposure); browser forms carry a CSRF token instead.
"""
from __future__ import annotations

import time

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect, csrf_meta_tag
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from ..errors import BadRequest, Forbidden, Unauthorized, error
from ..http.context import access
from ..http.errors import json_object
from . import totp
from .csrf import csrf_token
from .redirects import local_path
from .sessions import HttpsAwareSessions
from .users import UserService

auth_bp = Blueprint("auth", __name__)
# Counters live in memory (per worker process) unless CRM_RATE_LIMIT_STORAGE names a shared store
# such as redis://127.0.0.1:6379 (needs the redis package), which makes the limit exact across workers.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
csrf = CSRFProtect()
PUBLIC_PREFIXES = ("/login", "/api/auth/token", "/f/", "/static/", "/healthz", "/readyz", "/metrics")
#: The session key holding the user's session generation at sign-in (``UserService.end_sessions``).
SESSION_GENERATION = "_crm_generation"
#: Between a right password and the second factor's code (auth/totp.py): who, since when, where to
#: go next, and the secret being enrolled. Nobody is signed in until the code is right.
TOTP_USER, TOTP_SINCE, TOTP_NEXT, TOTP_SECRET = "_crm_totp_user", "_crm_totp_since", "_crm_totp_next", "_crm_totp_secret"
#: Seconds a right password waits for its code before the user must start again.
TOTP_WAIT = 300


class LoginForm(FlaskForm):
    # No length limits here: UserService.authenticate applies the same ones to /login and to
    # /api/auth/token (users.PASSWORD_MAX, names.USERNAME_MAX).
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def retry_after() -> str:
    """Whole seconds until the limit that refused this request lets the client in again: the
    Retry-After of every 429 (RFC 6585), so a client waits as long as it must and no longer."""
    import math
    import time
    current = limiter.current_limit
    return str(max(1, math.ceil(current.reset_at - time.time()))) if current is not None else "60"


def users() -> UserService:
    return current_app.extensions["crm"].users


def _bearer_user():
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized([error(None, "unauthorized", "send Authorization: Bearer <token>")])
    user = users().by_token(token.strip())
    if user is None:
        raise Unauthorized([error(None, "unauthorized", "the token is not valid")])
    return user


def require_user():
    """before_request: who is calling, or 401 (API) / a redirect to /login (pages)."""
    path = request.path
    is_api = path.startswith("/api/") or path == "/api"
    if not is_api and request.method not in ("GET", "HEAD", "OPTIONS") and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # every browser form post, public forms and /login included
    if path.startswith(PUBLIC_PREFIXES):
        return None
    if is_api:
        user = _bearer_user()
        if user is None:
            raise Unauthorized([error(None, "unauthorized", "sign in: POST /api/auth/token, then send "
                                                            "Authorization: Bearer <token>")])
        g.user = user
        if path.startswith("/api/meta/") and request.method not in ("GET", "HEAD", "OPTIONS") and not _is_admin(user):
            raise Forbidden([error(None, "forbidden", "only administrators change definitions")])
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=path))
    g.user = current_user._get_current_object()
    return None


def _is_admin(user) -> bool:
    """The user's own flag, or a role with the administrator flag."""
    return user.is_admin or access().admin


@auth_bp.post("/api/auth/token")
@limiter.limit(lambda: current_app.config["CRM_SIGNIN_RATE"])
def issue_token():
    body = json_object()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest([error("username", "required", "send {\"username\": ..., \"password\": ...}")])
    user = users().authenticate(username, password)
    if user is None:
        raise Unauthorized([error(None, "unauthorized", "wrong user name or password")])
    if user.totp:
        code = body.get("totp")
        if code is None:
            raise Unauthorized([error("totp", "totp_required", "this user signs in with a second factor: send "
                                                               "\"totp\": the 6-digit code of their authenticator app")])
        if not users().check_totp(user.id, code):
            raise Unauthorized([error("totp", "totp_invalid", "the code is wrong or was used already")])
    elif totp_required(user):
        raise Unauthorized([error("totp", "totp_enrolment_required", "a role of this user requires a second factor: "
                                                                     "sign in at /login once to set it up")])
    return jsonify({"token": users().issue_token(user)}), 201


def totp_required(user) -> bool:
    """Whether a role of the user requires the second factor (``require_totp``)."""
    return bool(user.roles) and totp.role_requires(current_app.extensions["crm"].runtime.current().state, user.roles)


#: The sign-in page speaks both languages side by side (no one is known yet), its messages too.
SIGN_IN_MESSAGES = {
    "wrong": "Wrong user name or password. / 用户名或密码错误。",
    "missing": "Please fill in both fields. / 请填写用户名和密码。",
    "too_many": "Too many attempts; wait a minute. / 尝试次数过多，请一分钟后再试。",
    "wrong_code": "Wrong or used code; try the next one. / 验证码错误或已使用，请输入下一个。",
}


@auth_bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CRM_SIGNIN_RATE"], methods=["POST"])
def login():
    form = LoginForm()
    message = None
    if form.validate_on_submit():
        user = users().authenticate(form.username.data, form.password.data)
        if user is not None:
            # Only local paths: an open redirect would let a link send people elsewhere after sign-in.
            next_ = local_path(request.args.get("next"), "/")
            if user.totp or totp_required(user):  # the password was right; now the code
                session.clear()
                session.update({TOTP_USER: user.id, TOTP_SINCE: int(time.time()), TOTP_NEXT: next_})
                return redirect(url_for("auth.login_totp"))
            _sign_in(user)
            return redirect(next_)
        message = SIGN_IN_MESSAGES["wrong"]
    elif request.method == "POST":
        message = SIGN_IN_MESSAGES["missing"]
    return render_template("login.html", form=form, message=message), 200 if request.method == "GET" or not message else 401


def _sign_in(user) -> None:
    # A fresh session: nothing a visitor (or someone who planted a cookie) put in it before signing
    # in carries over, and it carries the user's current session generation.
    session.clear()
    login_user(user)
    session[SESSION_GENERATION] = user.session_generation


def _totp_page(user, *, message: str | None = None, status: int = 200):
    """The code page: enrolment (the secret, its otpauth URI and QR code) when the user has none yet."""
    enrol = not user.totp
    context = {}
    if enrol:
        secret = session.get(TOTP_SECRET) or totp.new_secret()
        session[TOTP_SECRET] = secret
        link = totp.uri(secret, user.username)
        context = {"secret": secret, "uri": link, "qr_svg": _qr_svg(link)}
    return render_template("login_totp.html", enrol=enrol, message=message, **context), status


def _qr_svg(text: str) -> str:
    import io

    import segno
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", xmldecl=False, svgns=True, scale=4, omitsize=True)
    return out.getvalue().decode()


def _check_code(user) -> bool:
    code = request.form.get("code")
    if user.totp:
        return users().check_totp(user.id, code)
    return users().enrol_totp(user.id, session.get(TOTP_SECRET, ""), code) if session.get(TOTP_SECRET) else False


@auth_bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CRM_SIGNIN_RATE"], methods=["POST"])
def login_totp():
    """The second step of signing in: the code (or enrolling, when a role requires it)."""
    pending = session.get(TOTP_USER)
    fresh = time.time() - float(session.get(TOTP_SINCE, 0)) < TOTP_WAIT
    user = users().get(pending) if isinstance(pending, int) and fresh else None
    if user is None:
        session.clear()
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        if _check_code(user):
            next_ = session.get(TOTP_NEXT, "/")
            _sign_in(users().get(user.id))
            return redirect(local_path(next_, "/"))
        return _totp_page(user, message=SIGN_IN_MESSAGES["wrong_code"], status=401)
    return _totp_page(user)


@auth_bp.route("/account/totp", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CRM_SIGNIN_RATE"], methods=["POST"])
def account_totp():
    """A signed-in user turns the second factor on (an administrator resets it)."""
    user = users().get(current_user.id)
    if user.totp:
        return render_template("login_totp.html", enrolled=True)
    if request.method == "POST":
        if _check_code(user):
            session.pop(TOTP_SECRET, None)
            return redirect("/")
        return _totp_page(user, message=SIGN_IN_MESSAGES["wrong_code"], status=422)
    return _totp_page(user)


@auth_bp.post("/logout")
def logout():
    # Ends every session of this user, not only this cookie: a copy of it replayed later (or a
    # session left open on another computer) no longer signs anyone in.
    if current_user.is_authenticated:
        users().end_sessions(current_user.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def security_headers(response):
    """Headers every answer carries: no MIME sniffing (a JSON value is never run as HTML), no
    referrer leaving the site, and no framing by other sites, except public web forms, which
    businesses embed in their own pages."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/f/"):
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_auth(app: Flask) -> None:
    import os
    app.session_interface = HttpsAwareSessions()
    app.config.setdefault("RATELIMIT_STORAGE_URI", os.environ.get("CRM_RATE_LIMIT_STORAGE", "memory://"))
    app.config.setdefault("CRM_SIGNIN_RATE", os.environ.get("CRM_SIGNIN_RATE", "10 per minute"))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # The API is Bearer-only, so CSRF is checked in require_user for browser posts, not app-wide.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    manager = LoginManager(app)
    manager.login_view = "auth.login"

    @manager.user_loader
    def load_user(user_id):
        try:
            user = app.extensions["crm"].users.get(int(user_id))
        except ValueError:
            return None
        # A session from before the user's last sign-out or password change is over.
        if user is None or session.get(SESSION_GENERATION) != user.session_generation:
            return None
        return user

    csrf.init_app(app)
    # Templates get the token signed once per session (auth/csrf.py) in place of Flask-WTF's.
    app.jinja_env.globals["csrf_token"] = csrf_token
    processors = app.template_context_processors[None]
    processors[:] = [p for p in processors if getattr(p, "__module__", None) != "flask_wtf.csrf"]
    processors.append(lambda: {"csrf_token": csrf_token, "csrf_meta_tag": csrf_meta_tag})
    limiter.init_app(app)
    # Only the sign-in views carry limits, and their decorators check them; the extension's
    # before-request hook would otherwise cost every request a quarter of a millisecond.
    app.before_request_funcs[None] = [f for f in app.before_request_funcs.get(None, [])
                                      if getattr(f, "__self__", None) is not limiter]
    app.after_request_funcs[None] = [f for f in app.after_request_funcs.get(None, [])
                                     if getattr(f, "args", (None,))[0] is not limiter]
    app.teardown_request_funcs[None] = [f for f in app.teardown_request_funcs.get(None, [])
                                        if getattr(f, "__self__", None) is not limiter]
    app.register_blueprint(auth_bp)
    app.before_request(require_user)
    app.after_request(security_headers)

    @app.errorhandler(429)
    def too_many(exc):
        wait = {"Retry-After": retry_after()}
        if request.path.startswith("/api/"):
            return jsonify({"errors": [error(None, "rate_limited", "too many sign-in attempts; wait a minute")]}), 429, wait
        return render_template("login.html", form=LoginForm(), message=SIGN_IN_MESSAGES["too_many"]), 429, wait
