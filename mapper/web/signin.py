"""Signing in and out.

Routes
------
``GET/POST /signin``   the sign-in form, throttled (see :func:`_reserve_attempt`)
``POST /signout``      end every session of the signed-in user
``GET /account``       who you are and what your role allows

Sessions, roles and CSRF checks are :mod:`mapper.web.auth`'s.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from mapper.appdb import AppDB
from mapper.users import ROLE_HELP, ROLES, authenticate, end_sessions, rank, ward_names
from mapper.web.auth import (
    ENDED,
    app_db,
    app_workspace,
    client_address,
    csrf_token,
    current_user,
    end_session,
    require_role,
)

bp = Blueprint("auth", __name__)


# -- sign-in throttling -------------------------------------------------------------------


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
            f"addr:{client_address()}": int(config["SIGNIN_MAX_ADDRESS_FAILURES"])}
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
        rows = [conn.insert("INSERT INTO sign_in_failures (key, at) VALUES (?, ?)",
                            (key, now), "rowid") for key in keys]
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
    end_session()
    return redirect(url_for("overview.index"), 303)


@bp.get("/account")
@require_role("partner")
def account():
    """Who you are, your role and what it allows, and your wards."""
    user = current_user()
    names = ward_names(app_workspace()) if user.wards else {}
    return render_template("account.html", user=user, role_help=ROLE_HELP,
                           ward_names=names,
                           roles=[r for r in ROLES if rank(r) <= rank(user.role)])
