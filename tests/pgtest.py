"""The PostgreSQL the tests use: ``MAPPER_TEST_DATABASE_URL`` (``.ci/postgres`` starts a
throwaway cluster and sets it). Without it the PostgreSQL tests skip with a reason,
except under CI (``CI`` set to anything but ""/"0"/"false"), where they fail: there the
shared store is tested on every run.

:func:`fresh_database` makes a new database (PostGIS enabled) and yields its URL; it is
dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from realdata import on_ci

TEST_DATABASE_ENV = "MAPPER_TEST_DATABASE_URL"


def server_url() -> str:
    """The test server's URL, or skip (fail under CI) with the reason."""
    url = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not url:
        reason = (f"no PostgreSQL for the tests: set {TEST_DATABASE_ENV} "
                  "(`. .ci/postgres` starts a throwaway cluster and sets it)")
        if on_ci():
            pytest.fail(f"PostgreSQL tests are mandatory under CI but {reason}")
        pytest.skip(reason)
    return url


@contextmanager
def fresh_database(prefix: str = "mapper_test") -> Iterator[str]:
    """A new, empty database with PostGIS on the test server; its URL, dropped after."""
    import psycopg

    url = server_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    new_url = urlsplit(url)._replace(path=f"/{name}").geturl()
    try:
        with psycopg.connect(new_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield new_url
    finally:
        from mapper import appdb

        appdb.close_all()  # the process's own connections to it
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
