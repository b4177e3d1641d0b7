"""Sign-in, sessions, CSRF and rate limiting, through the real app."""

from __future__ import annotations

import re

import pytest
from accounts import PASSWORD, csrf_token, ensure_user, post, sign_in

from mapper.users import update_user
from mapper.web import create_app


@pytest.fixture
def app(tiny_workspace):
    return create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace),
                       "SIGNIN_MAX_FAILURES": 3, "SIGNIN_WINDOW_S": 600})


def _signin(client, username, password, **extra):
    return client.post("/signin", data={"username": username, "password": password,
                                        "csrf_token": csrf_token(client), **extra})


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_sign_in_and_out(app):
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert ">Sign in</a>" in page and "Sign out" not in page
    ensure_user(app.config["WORKSPACE"], "officer", username="olu")
    response = _signin(client, "olu", PASSWORD, next="/priority")
    assert response.status_code == 303 and response.headers["Location"].endswith("/priority")
    page = client.get("/").get_data(as_text=True)
    assert "olu (officer)" in page and "Sign out" in page
    assert client.get("/account").status_code == 200
    response = post(client, "/signout")
    assert response.status_code == 303
    assert client.get("/account").status_code == 302  # to the sign-in page again


def test_wrong_password_and_unknown_user_say_the_same(app):
    client = app.test_client()
    ensure_user(app.config["WORKSPACE"], "officer", username="olu")
    wrong = _signin(client, "olu", "not the password")
    unknown = _signin(client, "nobody", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "The user name or password is not right" in response.get_data(as_text=True)
    empty = _signin(client, "", "")
    assert empty.status_code == 400
    text = empty.get_data(as_text=True)
    assert "Enter your user name" in text and "Enter your password" in text


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_sign_in_is_rate_limited(app):
    client = app.test_client()
    ensure_user(app.config["WORKSPACE"], "officer", username="olu")
    for _ in range(3):
        assert _signin(client, "olu", "guess guess guess").status_code == 401
    blocked = _signin(client, "olu", PASSWORD)  # even the right password, for now
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 500
    assert "Too many failed sign-ins" in blocked.get_data(as_text=True)
    assert "user" not in _session(client)


def _session(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def test_session_cookie_flags(tiny_workspace):
    for secure in (False, True):
        app = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace),
                          "COOKIE_SECURE": secure})
        client = app.test_client()
        ensure_user(app.config["WORKSPACE"], "officer", username="olu")
        client.get("/signin")
        response = _signin(client, "olu", PASSWORD)
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


def test_idle_sessions_end(app, monkeypatch):
    import time

    client = sign_in(app.test_client(), "officer")
    assert client.get("/account").status_code == 200
    later = time.time() + app.config["IDLE_TIMEOUT_S"] + 5
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.get("/account")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ended after a period without activity" in page


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_changing_the_account_ends_its_sessions(app):
    from mapper.appdb import AppDB

    db = AppDB(app.config["WORKSPACE"])
    ensure_user(app.config["WORKSPACE"], "officer", username="olu")
    for change in ({"role": "partner"}, {"password": "a brand new passphrase"},
                   {"disabled": True}):
        update_user(db, "olu", role="officer", disabled=False, password=PASSWORD)
        laptop = sign_in(app.test_client(), "officer", username="olu")
        phone = sign_in(app.test_client(), "officer", username="olu")
        assert laptop.get("/account").status_code == phone.get("/account").status_code == 200
        update_user(db, "olu", **change)
        for client in (laptop, phone):  # every session of the user, not only one
            response = client.get("/account")
            assert response.status_code == 302, change
            page = client.get(response.headers["Location"]).get_data(as_text=True)
            assert "your account was changed" in page


def _copy_cookie(source, target) -> None:
    cookie = source.get_cookie("mapper_session")
    target.set_cookie("mapper_session", cookie.value, domain=cookie.domain)


def test_a_copied_cookie_is_dead_after_sign_out(demo_copy):
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)})
    officer = sign_in(app.test_client(), "officer", username="olu")
    other_device = sign_in(app.test_client(), "officer", username="olu")
    thief = app.test_client()
    _copy_cookie(officer, thief)
    token = csrf_token(officer)
    phone = thief.get("/api/groups/demo-g001").get_json()["phone"]
    assert phone
    assert thief.patch("/api/groups/demo-g010", json={"name": "Stolen edit", "version": 1},
                       headers={"X-CSRF-Token": token}).status_code == 200
    assert post(officer, "/signout").status_code == 303
    read = thief.get("/api/groups/demo-g001")
    assert read.status_code == 401 and "signed out" in read.get_json()["error"]
    write = thief.patch("/api/groups/demo-g010", json={"name": "Again", "version": 2},
                        headers={"X-CSRF-Token": token})
    assert write.status_code == 401
    assert thief.get("/account").status_code == 302
    assert phone not in thief.get("/api/groups").get_data(as_text=True)
    # signing out ends the user's other sessions too
    assert other_device.get("/account").status_code == 302
    # and signing in again starts afresh
    sign_in(officer, "officer", username="olu")
    assert officer.get("/account").status_code == 200


def test_sessions_have_an_absolute_lifetime(app, monkeypatch):
    import time

    client = sign_in(app.test_client(), "officer")
    start = _session(client)["since"]  # when the session began
    step = app.config["IDLE_TIMEOUT_S"] - 60  # busy: never idle for long
    clock = start
    while clock + step < start + app.config["SESSION_LIFETIME_S"]:
        clock += step
        monkeypatch.setattr(time, "time", lambda at=clock: at)
        assert client.get("/account").status_code == 200, (clock - start) / 3600
    monkeypatch.setattr(time, "time", lambda: start + app.config["SESSION_LIFETIME_S"] + 1)
    response = client.get("/account")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "reached its time limit" in page
    assert app.config["SESSION_LIFETIME_S"] == 12 * 3600


def test_no_open_redirect_after_sign_in(app):
    ensure_user(app.config["WORKSPACE"], "officer", username="olu")
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        client = app.test_client()
        response = _signin(client, "olu", PASSWORD, next=target)
        assert response.status_code == 303
        assert response.headers["Location"] in ("/", "http://localhost/")


def test_every_form_needs_the_csrf_token(app):
    ensure_user(app.config["WORKSPACE"], "officer", username="olu")
    client = app.test_client()
    response = client.post("/signin", data={"username": "olu", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    sign_in(client, "officer", username="olu")
    response = client.post("/signout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/account").status_code == 200  # still signed in
    # the header works for scripts
    response = client.post("/signout", headers={"X-CSRF-Token": csrf_token(client)})
    assert response.status_code == 303


def test_new_session_on_sign_in(app):
    client = app.test_client()
    client.get("/signin")
    before = csrf_token(client)
    sign_in(client, "officer")
    assert csrf_token(client) != before  # no session fixation


def test_signin_page_has_labels_and_autocomplete(app):
    page = app.test_client().get("/signin").get_data(as_text=True)
    assert re.search(r'<label class="label" for="username">', page)
    assert 'autocomplete="current-password"' in page
    assert 'name="csrf_token"' in page
