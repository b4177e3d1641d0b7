"""Sign-in throttling: per user name, per address and in all, exact under concurrency,
and the client address behind a trusted reverse proxy."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from accounts import PASSWORD, ensure_user

import mapper.web.signin as signin
from mapper.errors import MapperError
from mapper.web import create_app

WRONG = "not the right password"


@pytest.fixture
def app(tiny_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace), "CSRF_DISABLED": True,
                      "SIGNIN_MAX_FAILURES": 5, "SIGNIN_MAX_ADDRESS_FAILURES": 6,
                      "SIGNIN_MAX_TOTAL_FAILURES": 40})
    for name in ("olu", "ada", "kim"):
        ensure_user(tiny_workspace, "officer", username=name)
    return app


def attempt(app, username: str, password: str, address: str, **headers) -> int:
    client = app.test_client()
    response = client.post("/signin", data={"username": username, "password": password},
                           environ_base={"REMOTE_ADDR": address}, headers=headers)
    return response.status_code


@pytest.fixture
def checks(monkeypatch):
    """Counts the passwords actually checked."""
    counter = Counter()
    real = signin.authenticate

    def counting(db, username, password):
        counter["checked"] += 1
        return real(db, username, password)

    monkeypatch.setattr(signin, "authenticate", counting)
    return counter


def at_once(app, tries: list[tuple[str, str, str]]) -> Counter:
    """Run every (user name, password, address) try in its own thread, all released at
    the same moment; counts the status codes."""
    barrier = threading.Barrier(len(tries))
    codes: list[int] = []

    def run(username, password, address):
        barrier.wait()
        codes.append(attempt(app, username, password, address))

    threads = [threading.Thread(target=run, args=t) for t in tries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(codes)


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_96_concurrent_wrong_passwords_for_one_name_check_exactly_the_limit(app, checks):
    codes = at_once(app, [("olu", WRONG, f"10.0.{i // 200}.{i % 200 + 1}") for i in range(96)])
    assert checks["checked"] == 5
    assert codes == {401: 5, 429: 91}


def test_96_concurrent_wrong_passwords_from_one_address_check_exactly_the_limit(app, checks):
    codes = at_once(app, [(f"name-{i}", WRONG, "10.9.9.9") for i in range(96)])
    assert checks["checked"] == 6
    assert codes == {401: 6, 429: 90}


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_a_failing_address_is_throttled_but_others_still_sign_in(app):
    for i in range(6):
        assert attempt(app, f"guess-{i}", WRONG, "10.0.0.66") == 401
    assert attempt(app, "olu", PASSWORD, "10.0.0.66") == 429  # that address waits
    assert attempt(app, "olu", PASSWORD, "10.0.0.7") == 303  # olu elsewhere does not
    # a name under attack waits wherever it signs in from; other names do not
    for i in range(5):
        assert attempt(app, "ada", WRONG, f"10.1.0.{i + 1}") == 401
    assert attempt(app, "ada", PASSWORD, "10.1.0.99") == 429
    assert attempt(app, "kim", PASSWORD, "10.1.0.1") == 303


def test_the_total_bound_never_locks_out_everyone(app, checks):
    app.config["SIGNIN_MAX_TOTAL_FAILURES"] = 12
    for i in range(12):  # a guessing attack from many addresses under many names
        assert attempt(app, f"guess-{i}", WRONG, f"10.2.0.{i + 1}") == 401
    assert checks["checked"] == 12
    # under attack: a name or an address that failed at all waits...
    assert attempt(app, "guess-3", PASSWORD, "10.3.0.1") == 429
    assert attempt(app, "olu", PASSWORD, "10.2.0.5") == 429
    # ...while people who have not failed still sign in (and wrong passwords are checked)
    assert attempt(app, "olu", PASSWORD, "10.3.0.2") == 303
    assert attempt(app, "ada", WRONG, "10.3.0.3") == 401
    assert checks["checked"] == 14


def test_a_trusted_proxy_gives_each_client_its_own_address(tiny_workspace, monkeypatch):
    ensure_user(tiny_workspace, "officer", username="olu")
    settings = {"TESTING": True, "WORKSPACE": str(tiny_workspace), "CSRF_DISABLED": True,
                "SIGNIN_MAX_ADDRESS_FAILURES": 3}
    # behind a proxy every client comes from the proxy's address: trust it (one proxy)
    monkeypatch.setenv("MAPPER_TRUSTED_PROXIES", "1")
    trusting = create_app(settings)
    for i in range(3):
        assert attempt(trusting, f"guess-{i}", WRONG, "127.0.0.1",
                       **{"X-Forwarded-For": "198.51.100.7"}) == 401
    assert attempt(trusting, "olu", PASSWORD, "127.0.0.1",
                   **{"X-Forwarded-For": "198.51.100.7"}) == 429
    assert attempt(trusting, "olu", PASSWORD, "127.0.0.1",
                   **{"X-Forwarded-For": "203.0.113.9"}) == 303
    # off by default: a client cannot escape its throttle by claiming another address
    monkeypatch.delenv("MAPPER_TRUSTED_PROXIES")
    plain = create_app(settings)
    for i in range(3):
        assert attempt(plain, f"other-{i}", WRONG, "10.5.5.5",
                       **{"X-Forwarded-For": f"192.0.2.{i + 1}"}) == 401
    assert attempt(plain, "olu", PASSWORD, "10.5.5.5",
                   **{"X-Forwarded-For": "192.0.2.200"}) == 429
    monkeypatch.setenv("MAPPER_TRUSTED_PROXIES", "lots")
    with pytest.raises(MapperError, match="MAPPER_TRUSTED_PROXIES must be a whole number "
                                          "0-5 .* got 'lots'"):
        create_app(settings)
