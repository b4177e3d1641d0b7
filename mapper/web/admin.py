"""Administration pages: users and the audit trail (administrators only).

Routes
------
``GET /admin/users``            every user, their role, granted wards and status
``POST /admin/users``           add a user (user name, role, areas, password)
``POST /admin/users/<name>``    change a user's role or areas, or disable/enable

Areas are ward codes or CAN ids, resolved to wards when granted
(:func:`mapper.users.resolve_grant`).
``GET /admin/audit``            the audit trail, newest first, filtered by register,
                                record, user and date (field names only, never values)
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from mapper.errors import MapperError
from mapper.users import (
    ROLE_HELP,
    ROLES,
    count_admins,
    create_user,
    get_user,
    list_users,
    resolve_grant,
    update_user,
)
from mapper.web import data
from mapper.web.auth import app_db, app_workspace, current_user, require_role
from mapper.web.security import never_cached

bp = Blueprint("admin", __name__, url_prefix="/admin")
never_cached(bp)  # its pages show personal data

AUDIT_PAGE = 200


def _areas(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _users_page(*, error: str = "", done: str = "", form: dict | None = None,
                status: int = 200):
    return render_template(
        "admin_users.html", users=list_users(app_db()), roles=ROLES[1:], role_help=ROLE_HELP,
        error=error, done=done, form=form or {}, example=data.example_place(),
    ), status


@bp.get("/users")
@require_role("admin")
def users():
    """The user list (admin only)."""
    return _users_page(done=request.args.get("done", ""))


@bp.post("/users")
@require_role("admin")
def add_user():
    """Create a user from the form (admin only); back to the list with what was done."""
    form = {k: (request.form.get(k) or "").strip() for k in ("username", "role", "areas")}
    try:
        grant = resolve_grant(app_workspace(), _areas(form["areas"]))
        create_user(app_db(), form["username"], request.form.get("password") or "",
                    form["role"], grant=grant, actor=current_user().username)
    except MapperError as error:
        return _users_page(error=str(error), form=form, status=400)
    return redirect(url_for("admin.users", done=f"Added {form['username']}."), 303)


@bp.post("/users/<username>")
@require_role("admin")
def change_user(username: str):
    """Disable or enable a user, or change their role and granted areas (admin only)."""
    db = app_db()
    action = request.form.get("action", "")
    me = current_user().username
    try:
        if action in ("disable", "enable"):
            if action == "disable" and username == me:
                raise MapperError("you cannot disable your own account")
            update_user(db, username, disabled=action == "disable", actor=me)
        elif action == "update":
            role = request.form.get("role") or None
            if username == me and role != "admin" and count_admins(db) <= 1:
                raise MapperError("you are the only administrator: add another before "
                                  "changing your own role")
            areas = _areas(request.form.get("areas", ""))
            user = get_user(db, username)
            # the form shows the granted wards: unchanged, they keep how they were granted
            same = user is not None and sorted(set(areas)) == list(user.wards)
            update_user(db, username, role=role, actor=me,
                        grant=None if same else resolve_grant(app_workspace(), areas))
        else:
            raise MapperError(f"unknown action {action!r}: expected update, disable or enable")
    except MapperError as error:
        return _users_page(error=str(error), status=400)
    return redirect(url_for("admin.users", done=f"Updated {username}."), 303)


@bp.get("/audit")
@require_role("admin")
def audit():
    """The audit log, filtered by register, record, user and date (admin only)."""
    filters = {k: (request.args.get(k) or "").strip() for k in ("register", "record",
                                                               "user", "since")}
    rows = app_db().read_audit(register=filters["register"] or None,
                               record_id=filters["record"] or None,
                               actor=filters["user"] or None,
                               since=filters["since"] or None, limit=AUDIT_PAGE)
    return render_template("admin_audit.html", rows=rows, filters=filters, limit=AUDIT_PAGE)
