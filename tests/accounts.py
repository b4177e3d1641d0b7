"""Helpers for tests that sign in: users of each role and the session's CSRF token."""

from __future__ import annotations

import secrets

from mapper.appdb import AppDB
from mapper.store import Workspace
from mapper.users import create_user, get_user, resolve_grant

PASSWORD = "correct horse battery"


def csrf_token(client) -> str:
    """The CSRF token of the test client's session (created when there is none)."""
    with client.session_transaction() as session:
        token = session.get("csrf_token")
        if not token:
            token = secrets.token_urlsafe(32)
            session["csrf_token"] = token
    return token


def ensure_user(workspace_dir, role: str, *, username: str | None = None,
                areas=()) -> str:
    """Create (once) a user; `areas` (ward codes or CAN ids) are resolved to wards now."""
    db = AppDB(workspace_dir)
    username = username or f"test-{role}"
    if get_user(db, username) is None:
        create_user(db, username, PASSWORD, role,
                    grant=resolve_grant(Workspace(workspace_dir), areas), actor="tests")
    db.close()
    return username


def sign_in(client, role: str = "officer", *, username: str | None = None, areas=()):
    """Create (once) a user with `role` in the client's workspace and sign the client in."""
    if role == "public":
        return client
    username = ensure_user(client.application.config["WORKSPACE"], role, username=username,
                           areas=areas)
    response = client.post("/signin", data={"username": username, "password": PASSWORD,
                                            "csrf_token": csrf_token(client)})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def post(client, url: str, data: dict | None = None, **kwargs):
    """POST a form with the session's CSRF token."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


def browser_sign_in(page, base_url: str, workspace_dir, role: str = "officer") -> str:
    """Sign a Playwright page in through the real sign-in form; returns the user name."""
    username = ensure_user(workspace_dir, role)
    page.goto(base_url + "/signin", wait_until="networkidle")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return username
