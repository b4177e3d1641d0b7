"""Sign-in, roles, CSRF protection and session hygiene for the web app.

Routes
------
``GET/POST /signin``   the sign-in form, throttled (see :func:`_reserve_attempt`)
``POST /signout``      end every session of the signed-in user
``GET /account``       who you are and what your role allows

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
import math
import os
import secrets
import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix

from mapper.appdb import AppDB, inserted_id, open_appdb
from mapper.errors import MapperError
from mapper.private_files import exposed, read_secret, secret_version
from mapper.store import Workspace
from mapper.users import (
    ANONYMOUS,
    ROLE_HELP,
    ROLES,
    User,
    authenticate,
    end_sessions,
    get_user,
    migrate_grants,
    rank,
    ward_names,
)

bp = Blueprint("auth", __name__)

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
    """Sessions, the current user, CSRF checks and the sign-in routes."""
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
    app.register_blueprint(bp)


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
        # Flask's documented way to add WSGI middleware; its types call wsgi_app a method
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


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
    """The signed-in user of this request, or the anonymous (public) user."""
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
        _end_session(keep_csrf=True)
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


def _end_session(*, keep_csrf: bool = False) -> None:
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

        # read by the authorisation-matrix test; mypy knows no attributes of a function
        inner.required_role = role  # type: ignore[attr-defined]
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
    """The hidden form field that carries this session's CSRF token."""
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


# -- sign-in throttling -------------------------------------------------------------------


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _reserve_attempt(db: AppDB, username: str) -> tuple[int, list[int]]:
    """Throttle sign-in: (seconds to wait, []) or (0, the failure rows recorded for this
    attempt in advance, which a right password takes back).

    Within ``SIGNIN_WINDOW_S`` seconds, a user name with ``SIGNIN_MAX_FAILURES`` failures
    and an address with ``SIGNIN_MAX_ADDRESS_FAILURES`` wait. Above
    ``SIGNIN_MAX_TOTAL_FAILURES`` failures in all (a guessing attack from many
    addresses), any name or address with a failure at all waits, while people with
    none still sign in: the bound never locks everyone out. The check and the record are
    one write transaction, so concurrent tries (threads or worker processes) cannot
    slip past the limits: exactly the limit's worth of passwords is checked.
    """
    config = current_app.config
    window, now = float(config["SIGNIN_WINDOW_S"]), time.time()
    keys = {f"user:{username.lower()}": int(config["SIGNIN_MAX_FAILURES"]),
            f"addr:{_client_address()}": int(config["SIGNIN_MAX_ADDRESS_FAILURES"])}
    with db.write() as conn:
        conn.execute("DELETE FROM sign_in_failures WHERE at <= ?", (now - window,))
        total = conn.execute("SELECT COUNT(*) FROM sign_in_failures WHERE key LIKE "
                             "'addr:%'").fetchone()[0]
        under_attack = total >= int(config["SIGNIN_MAX_TOTAL_FAILURES"])
        waits = []
        for key, limit in keys.items():
            limit = 1 if under_attack else limit
            times = [r[0] for r in conn.execute(
                "SELECT at FROM sign_in_failures WHERE key = ? ORDER BY at", (key,))]
            if len(times) >= limit:  # wait until enough of them are out of the window
                waits.append(times[len(times) - limit] + window - now)
        if waits:
            return max(1, math.ceil(max(waits))), []
        rows = [inserted_id(conn.execute("INSERT INTO sign_in_failures VALUES (?, ?)",
                                         (key, now))) for key in keys]
    return 0, rows


def _signed_in_clears(db: AppDB, username: str, reserved: list[int]) -> None:
    """A right password: this attempt was no failure, and the name's failures go."""
    with db.write() as conn:
        conn.executemany("DELETE FROM sign_in_failures WHERE rowid = ?",
                         [(r,) for r in reserved])
        conn.execute("DELETE FROM sign_in_failures WHERE key = ?",
                     (f"user:{username.lower()}",))


# -- routes ---------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target:
        return url_for("overview.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("overview.index")
    return target


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """The sign-in form."""
    db = app_db()
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        ended = session.pop("ended", None)
        notice = ENDED[ended] + " Sign in again to carry on." if ended in ENDED else ""
        return render_template("signin.html", next_url=next_url, error="", username="",
                               notice=notice)
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    problems = []
    if not username:
        problems.append("Enter your user name")
    if not password:
        problems.append("Enter your password")
    if problems:
        body = render_template("signin.html", next_url=next_url, username=username,
                               error=". ".join(problems) + ".", notice="")
        return body, 400
    wait, reserved = _reserve_attempt(db, username)
    if wait:
        minutes = max(1, round(wait / 60))
        body = render_template(
            "signin.html", next_url=next_url, username=username, notice="",
            error=f"Too many failed sign-ins. Try again in about {minutes} minute"
                  f"{'s' if minutes != 1 else ''}.",
        )
        return body, 429, {"Retry-After": str(wait)}
    user = authenticate(db, username, password)
    if user is None:  # the failure is already recorded
        body = render_template("signin.html", next_url=next_url, username=username,
                               error="The user name or password is not right.", notice="")
        return body, 401
    _signed_in_clears(db, username, reserved)
    session.clear()  # a new session (and CSRF token) on sign-in: no fixation
    session.permanent = True
    session["user"] = user.username
    session["gen"] = user.session_gen
    session["since"] = session["seen"] = time.time()
    csrf_token()
    current_app.logger.info("sign-in: %s (%s)", user.username, user.role)
    return redirect(next_url, 303)


@bp.post("/signout")
def signout():
    """End the session, and every other session of the same user (a copied cookie too)."""
    if current_user().signed_in:
        end_sessions(app_db(), current_user().username)
    _end_session()
    return redirect(url_for("overview.index"), 303)


@bp.get("/account")
@require_role("partner")
def account():
    """The signed-in user's account page: role, granted wards and what each role may do."""
    user = current_user()
    names = ward_names(app_workspace()) if user.wards else {}
    return render_template("account.html", user=user, role_help=ROLE_HELP,
                           ward_names=names,
                           roles=[r for r in ROLES if rank(r) <= rank(user.role)])
