"""Roles, CSRF protection and session hygiene for the web app (not a blueprint: the
sign-in pages are :mod:`mapper.web.signin`).

Every view states the least role it needs with :func:`require_role` (views without it are
public). Anonymous visitors asking for more are sent to the sign-in page (HTML) or get
401 (``/api/``); signed-in users without the role get 403.

CSRF: every POST, PUT, PATCH and DELETE must carry the session's token, as the form field
``csrf_token`` (templates: ``{{ csrf_field() }}``) or the header ``X-CSRF-Token`` (scripts
read it from ``<meta name="csrf-token">``). Requests without it get 400.

Sessions are signed cookies (HttpOnly, SameSite=Lax, Secure when ``COOKIE_SECURE``)
checked against the server on every request: each carries the user's session generation
(:attr:`mapper.users.User.session_gen`), which signing out and every change to the
account (password, role, wards, disabled) bump, so a copied cookie is dead after either.
A session also ends ``IDLE_TIMEOUT_S`` seconds after its last request and
``SESSION_LIFETIME_S`` seconds after sign-in, however busy it is.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable
from functools import wraps

from flask import (
    Flask,
    abort,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix

from mapper.appdb import AppDB, open_appdb
from mapper.errors import MapperError
from mapper.private_files import exposed, read_secret, secret_version
from mapper.store import Workspace
from mapper.users import (
    ANONYMOUS,
    ROLE_HELP,
    ROLES,
    User,
    get_user,
    migrate_grants,
    rank,
)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

DEFAULTS = {
    "IDLE_TIMEOUT_S": 30 * 60,
    "SESSION_LIFETIME_S": 12 * 3600,
    # sign-in throttling, per SIGNIN_WINDOW_S seconds: failures for one user name, from
    # one address, and in all (above which names and addresses that failed at all wait)
    "SIGNIN_MAX_FAILURES": 5,
    "SIGNIN_MAX_ADDRESS_FAILURES": 10,
    "SIGNIN_MAX_TOTAL_FAILURES": 100,
    "SIGNIN_WINDOW_S": 15 * 60,
    "COOKIE_SECURE": False,
    # reverse proxies in front of the app whose X-Forwarded-For/-Proto to believe (0: none)
    "TRUSTED_PROXIES": 0,
}
MAX_TRUSTED_PROXIES = 5


def init_app(app: Flask) -> None:
    """Sessions, the current user and CSRF checks (the sign-in routes are
    :mod:`mapper.web.signin`'s blueprint)."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    if os.environ.get("MAPPER_COOKIE_SECURE") == "1":
        app.config["COOKIE_SECURE"] = True
    _trust_proxies(app)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(app.config["COOKIE_SECURE"]),
        SESSION_COOKIE_NAME="mapper_session",
        PERMANENT_SESSION_LIFETIME=int(app.config["SESSION_LIFETIME_S"]),
    )
    if not app.config.get("SECRET_KEY"):
        if os.environ.get("MAPPER_SECRET_KEY"):
            app.config["SECRET_KEY"] = os.environ["MAPPER_SECRET_KEY"]
        else:
            app.config["SECRET_KEY"] = app_db(app).secret_key()
            app.extensions["mapper_secret"] = secret_version(app.config["WORKSPACE"])
            app.session_interface = _FollowingKey()
    for line in exposed(app.config["WORKSPACE"]):
        app.logger.warning("%s", line)
    for line in migrate_grants(app_workspace(app)):  # grants of CAN ids made before v2
        app.logger.warning("%s", line)
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_field"] = csrf_field
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"current_user": current_user()})


def _trust_proxies(app: Flask) -> None:
    """Believe the client address (and scheme) that `TRUSTED_PROXIES` reverse proxies
    add to X-Forwarded-For (-Proto): sign-in throttling then counts each client, not the
    proxy. Off by default: without a proxy, anyone could claim any address."""
    setting = os.environ.get("MAPPER_TRUSTED_PROXIES", app.config["TRUSTED_PROXIES"])
    try:
        count = int(setting)
    except (TypeError, ValueError):
        count = -1
    if not 0 <= count <= MAX_TRUSTED_PROXIES:
        raise MapperError(
            f"MAPPER_TRUSTED_PROXIES must be a whole number 0-{MAX_TRUSTED_PROXIES} (how "
            f"many reverse proxies stand in front of the app; 0 trusts none), got "
            f"{setting!r}")
    app.config["TRUSTED_PROXIES"] = count
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


def app_db(app: Flask | None = None) -> AppDB:
    """The app database of the configured workspace (one object per app)."""
    app = app or current_app
    return open_appdb(app.config["WORKSPACE"])


def app_workspace(app: Flask | None = None) -> Workspace:
    """The configured workspace (it may not exist yet)."""
    return Workspace((app or current_app).config["WORKSPACE"])


class _FollowingKey(SecureCookieSessionInterface):
    """Signed-cookie sessions with the workspace's key as it is now (one stat a request):
    after 'mapper secret rotate' or a restore, the very next request reads its cookie
    with the new key, without a restart."""

    def open_session(self, app: Flask, request):
        directory = app.config["WORKSPACE"]
        version = secret_version(directory)
        if version != app.extensions.get("mapper_secret"):
            app.secret_key = read_secret(directory)
            app.extensions["mapper_secret"] = version
        return super().open_session(app, request)


# -- the current user -------------------------------------------------------------------


def current_user() -> User:
    """The signed-in user of this request (anonymous when nobody is)."""
    return getattr(g, "user", ANONYMOUS)


#: why a session ended: shown on the sign-in page and in 401 answers
ENDED = {
    "idle": "Your session ended after a period without activity.",
    "expired": "Your session reached its time limit.",
    "ended": "Your session was ended: you signed out (here or elsewhere) or your account "
             "was changed.",
}


def _load_user() -> None:
    g.user = ANONYMOUS
    name = session.get("user")
    if not name:
        return
    now = time.time()
    user = get_user(app_db(), name)
    reason = _session_over(user, now)
    if reason:
        end_session(keep_csrf=True)
        session["ended"] = reason
        g.session_ended = reason
        return
    session["seen"] = now
    g.user = user


def _session_over(user: User | None, now: float) -> str:
    """Why the current session may not go on ('' when it may)."""
    if user is None or session.get("gen") != user.session_gen:
        return "ended"  # signed out, the account changed or was disabled
    if now - float(session.get("since", 0)) > current_app.config["SESSION_LIFETIME_S"]:
        return "expired"
    if now - float(session.get("seen", 0)) > current_app.config["IDLE_TIMEOUT_S"]:
        return "idle"
    return ""


def end_session(*, keep_csrf: bool = False) -> None:
    """Forget the session (its CSRF token kept with `keep_csrf`)."""
    token = session.get(CSRF_FIELD)
    session.clear()
    if keep_csrf and token:
        session[CSRF_FIELD] = token


def require_role(role: str) -> Callable:
    """Decorator: the view needs at least `role` (public, partner, officer, admin)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def inner(*args, **kwargs):
            deny_unless(role)
            return view(*args, **kwargs)

        inner.required_role = role  # read by the authorisation-matrix test
        return inner

    return wrap


def deny_unless(role: str) -> None:
    """401/redirect (anonymous) or 403 (signed in) unless the user has `role`."""
    user = current_user()
    if rank(user.role) >= rank(role):
        return
    if not user.signed_in:
        if _is_api() or request.method != "GET":
            abort(401, description=_signed_out_reason() + f"Sign in as {_a(role)} to do this.")
        abort(redirect(url_for("auth.signin", next=request.full_path.rstrip("?"))))
    abort(403, description=(
        f"This needs the {role} role ({ROLE_HELP[role]}); you are signed in as "
        f"{user.username} ({user.role}). Ask an administrator if you need it."
    ))


def _a(role: str) -> str:
    return ("an " if role[0] in "aeiou" else "a ") + role


def _signed_out_reason() -> str:
    return ENDED.get(getattr(g, "session_ended", ""), "You are not signed in.") + " "


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


# -- CSRF -----------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_field() -> Markup:
    """The hidden form field carrying the session's CSRF token (for templates)."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">')


def _check_csrf() -> None:
    if request.method not in STATE_CHANGING or request.routing_exception is not None:
        return  # reads change nothing; unknown routes and methods get their 404/405
    if current_app.config.get("CSRF_DISABLED"):  # only for tests that say so
        return
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or (
        request.form.get(CSRF_FIELD) if request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data") else None)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        abort(400, description=(
            "This form has expired or did not come from this site (missing or wrong CSRF "
            "token). Reload the page and try again."
        ))


# -- the client -------------------------------------------------------------------


def client_address() -> str:
    """The client's address (as the trusted proxies report it), for throttling."""
    return request.remote_addr or "unknown"
