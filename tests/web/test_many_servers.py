"""Many app servers, one truth: two ``mapper serve`` processes on different ports share
one PostgreSQL database (and, until the layers move there, one workspace directory).

An edit through one is seen through the other within a second (the shared edits counter,
:meth:`mapper.appdb.AppDB.edits_version`), a stale edit through the other is a 409, and a
session begun on one is good on the other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from accounts import PASSWORD, ensure_user

from mapper.database import DATABASE_URL_ENV

ROOT = Path(__file__).resolve().parents[2]
GROUP = "demo-g012"


def _launch(workspace: Path, url: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), DATABASE_URL_ENV: url}
    return subprocess.Popen(
        [sys.executable, "-m", "mapper", "--workspace", str(workspace), "serve",
         "--host", "127.0.0.1", "--port", "0", "--threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _address(child: subprocess.Popen) -> str:
    """The base URL a starting server prints ("Serving ... at http://127.0.0.1:PORT/")."""
    assert child.stdout is not None
    seen = []
    for line in child.stdout:
        seen.append(line)
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        if found:
            return found.group(1)
    child.wait(timeout=10)
    raise AssertionError("mapper serve did not start:\n" + "".join(seen[-30:]))


@pytest.fixture
def two_servers(demo_copy, pg_url):
    from mapper import appdb

    appdb.close_all()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {appdb.PG_SCHEMA} CASCADE")
    children = []
    try:
        for _ in range(2):  # both start (and warm up) at once
            children.append(_launch(demo_copy, pg_url))
        yield demo_copy, [_address(child) for child in children]
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()


def _meta_token(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert found, page[:300]
    return found.group(1)


def _csrf(session: requests.Session, base: str) -> str:
    return _meta_token(session.get(base + "/signin", timeout=60).text)


def _name_in_list(base: str) -> str:
    answer = requests.get(base + "/api/groups", params={"q": "", "limit": 1000}, timeout=60)
    assert answer.status_code == 200
    body = answer.json()
    rows = body.get("features") or body.get("items") or body.get("groups") or body
    for row in rows:
        props = row.get("properties", row)
        if props.get("group_id") == GROUP:
            return props["name"]
    raise AssertionError(f"{GROUP} not in /api/groups of {base}")


@pytest.mark.slow
def test_two_servers_share_edits_sessions_and_conflicts(two_servers, monkeypatch, pg_url):
    workspace, (first, second) = two_servers
    monkeypatch.setenv(DATABASE_URL_ENV, pg_url)
    username = ensure_user(workspace, "officer", username="olive")

    # a session begun on the first server ...
    alice = requests.Session()
    token = _csrf(alice, first)
    signed = alice.post(first + "/signin", data={"username": username, "password": PASSWORD,
                                                 "csrf_token": token},
                        allow_redirects=False, timeout=60)
    assert signed.status_code == 303, signed.text[:300]
    cookie = alice.cookies.get("mapper_session")
    token = _meta_token(alice.get(first + "/", timeout=60).text)  # (a new one at sign-in)
    # ... is good on the second (the same cookie, sent to the other port)
    bob = requests.Session()
    bob.cookies.set("mapper_session", cookie)
    assert requests.get(second + f"/api/groups/{GROUP}", timeout=60).status_code in (401, 403)
    seen = bob.get(second + f"/api/groups/{GROUP}", timeout=60)
    assert seen.status_code == 200 and seen.headers["ETag"] == '"v1"'
    # the CSRF token travels in the shared session
    assert _meta_token(bob.get(second + "/", timeout=60).text) == token

    before = _name_in_list(second)  # the second server's caches hold the old name
    assert before != "Renamed through the first server"
    # an edit through the first server ...
    edited = alice.patch(first + f"/api/groups/{GROUP}",
                         json={"name": "Renamed through the first server"},
                         headers={"X-CSRF-Token": token, "If-Match": '"v1"'}, timeout=60)
    assert edited.status_code == 200, edited.text[:300]
    acknowledged = time.monotonic()
    # ... is seen through the second by any request begun a second later at most
    time.sleep(max(0.0, 1.0 - (time.monotonic() - acknowledged)))
    assert _name_in_list(second) == "Renamed through the first server"
    assert bob.get(second + f"/api/groups/{GROUP}", timeout=60).headers["ETag"] == '"v2"'
    # a stale edit through the second server is refused, naming what changed
    stale = bob.patch(second + f"/api/groups/{GROUP}", json={"description": "B"},
                      headers={"X-CSRF-Token": token, "If-Match": '"v1"'}, timeout=60)
    assert stale.status_code == 409, stale.text[:300]
    assert stale.json()["changed"] == ["name"] and stale.json()["current_version"] == 2

    # signing out on the second server ends the session on the first too
    bob.post(second + "/signout", data={"csrf_token": token}, timeout=60)
    assert alice.get(first + f"/api/groups/{GROUP}", timeout=60).status_code in (401, 403)
