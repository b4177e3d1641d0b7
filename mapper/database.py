"""PostgreSQL as a shared store: the URL, connections, the few dialect differences, and
versioned migrations.

The embedded workspace (a GeoPackage and an SQLite app database in one directory) is the
default. Setting ``MAPPER_DATABASE_URL=postgresql://user@host:port/dbname`` (or the
``--database`` option of every command) puts the shared state in PostgreSQL instead, so
that several ``mapper serve`` processes, on one host or several, share one truth.

This module is the one place that knows the differences between the two SQL dialects
the app speaks. Code elsewhere writes SQLite-style SQL that both understand:

* placeholders are ``?`` or ``:name``; on PostgreSQL they become ``%s`` / ``%(name)s``
  (and a literal ``%`` is doubled) in :func:`translate`;
* upserts are ``INSERT ... ON CONFLICT (key) DO UPDATE SET col = excluded.col`` (both
  dialects; never SQLite's ``INSERT OR REPLACE``);
* a new row's generated id comes from :meth:`Connection.insert` (``lastrowid`` on
  SQLite, ``RETURNING`` on PostgreSQL);
* one write transaction at a time: SQLite's ``BEGIN IMMEDIATE`` is, on PostgreSQL,
  ``BEGIN`` plus a transaction-scoped advisory lock (:data:`WRITE_LOCK`), taken by every
  writer of every process, so a read-then-write inside a transaction sees the latest
  committed data and nobody writes in between;
* rows answer both ``row["column"]`` and ``row[0]``, and ``dict(row)`` (:class:`Row`).

Schemas change through numbered migrations (:func:`apply_migrations`): each step's
statements run in one transaction and are recorded in the schema's ``schema_migrations``
table, so any process may start first and a step is never applied twice.

Passwords in URLs are never printed: every message shows :func:`redact`'s form.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from mapper.errors import MapperError

DATABASE_URL_ENV = "MAPPER_DATABASE_URL"
SCHEMES = ("postgresql", "postgres")

#: the advisory lock every writer holds for its transaction (PostgreSQL): 'mapr' in ASCII
WRITE_LOCK = 0x6D617072

SQLITE, POSTGRESQL = "sqlite", "postgresql"


@dataclass(frozen=True)
class DatabaseURL:
    """A checked ``postgresql://`` URL; ``str()`` and ``repr()`` hide the password."""

    url: str
    host: str
    port: int | None
    dbname: str
    user: str

    def __str__(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:
        return f"DatabaseURL({redact(self.url)!r})"


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        url = url.replace(f":{password}@", ":***@")
    return re.sub(r":[^:@/]*@", ":***@", url)  # and anything shaped like one


def parse_url(url: str) -> DatabaseURL:
    """Check a database URL; MapperError (naming the URL without its password) unless it
    is a ``postgresql://`` URL with a database name."""
    text = (url or "").strip()
    shown = redact(text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise MapperError(f"database URL {shown!r} cannot be read ({error}); expected "
                          "postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME") from None
    if parts.scheme not in SCHEMES:
        raise MapperError(
            f"database URL {shown!r} is not a PostgreSQL URL: expected "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME (set by --database or "
            f"${DATABASE_URL_ENV}; leave both unset for the embedded SQLite store)")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise MapperError(f"database URL {shown!r} names no database: expected "
                          "postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME")
    return DatabaseURL(text, parts.hostname or "", port, dbname, unquote(parts.username or ""))


def configured_url(url: str | None = None) -> DatabaseURL | None:
    """`url`, else ``$MAPPER_DATABASE_URL``, checked; None when neither is set (the
    embedded store)."""
    text = url if url is not None else os.environ.get(DATABASE_URL_ENV, "")
    if not text or not text.strip():
        return None
    return parse_url(text)


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the installation
        raise MapperError(
            "a PostgreSQL database needs psycopg: pip install 'neighbourhood-mapper[postgres]'"
        ) from None
    return psycopg


class Row:
    """A result row: ``row["name"]``, ``row[0]``, ``dict(row)``, ``tuple(row)`` (as
    :class:`sqlite3.Row`)."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: Sequence[str], values: Sequence[Any]):
        self._names, self._values = names, tuple(values)

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._names.index(key)]
            except ValueError:
                raise IndexError(f"no column {key!r}") from None
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor):
    names = [c.name for c in cursor.description or ()]

    def make(values: Sequence[Any]) -> Row:
        return Row(names, values)
    return make


def connect(url: str | DatabaseURL, *, schema: str | None = None, autocommit: bool = True):
    """A psycopg 3 connection to `url` (rows as :class:`Row`); `schema` first on the
    search path (then ``public``, where PostGIS lives). MapperError, without the
    password, when the server cannot be reached."""
    psycopg = _psycopg()
    checked = url if isinstance(url, DatabaseURL) else parse_url(url)
    options = {"application_name": "mapper", "connect_timeout": 10}
    if schema:
        _check_identifier(schema)
        options["options"] = f"-c search_path={schema},public"
    try:
        conn = psycopg.connect(checked.url, autocommit=autocommit,
                               row_factory=_row_factory, **options)
    except psycopg.Error as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise MapperError(f"cannot connect to the database {checked}: "
                          f"{_scrub(str(message), checked.url)}") from None
    return conn


# -- pooled connections --------------------------------------------------------------------

#: connections a process keeps open to one database for its readers: several requests of
#: a threaded server read at once (README: "The shared store: PostgreSQL" gives the
#: benchmark), without opening a connection per request
POOL_MIN, POOL_MAX = 1, 4
#: seconds a reader waits for a pooled connection before giving up with a message
POOL_WAIT_S = 15.0

_POOLS: dict[tuple[str, int], Any] = {}
_POOLS_LOCK = threading.Lock()


def _pool(url: DatabaseURL, prepare: Callable[[Any], object] | None):
    key = (url.url, os.getpid())  # a forked child makes its own (never its parent's)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is not None and not pool.closed:
            return pool
        first = connect(url)  # a clear message when the server cannot be reached
        try:
            if prepare is not None:
                prepare(first)  # e.g. the schema's migrations, once per process
        finally:
            first.close()
        from psycopg_pool import ConnectionPool

        pool = _POOLS[key] = ConnectionPool(
            url.url, min_size=POOL_MIN, max_size=POOL_MAX, timeout=POOL_WAIT_S,
            name=f"mapper-{url.dbname}", open=True,
            check=_check_idle,
            kwargs={"autocommit": True, "row_factory": _row_factory,
                    "application_name": "mapper", "connect_timeout": 10})
        return pool


#: a pooled connection idle longer than this is checked (one round trip) before use: the
#: server may have dropped it (a restart, an idle timeout); it is replaced if so
POOL_CHECK_IDLE_S = 2.0
_LAST_USED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _check_idle(conn) -> None:
    if time.monotonic() - _LAST_USED.get(conn, 0.0) > POOL_CHECK_IDLE_S:
        from psycopg_pool import ConnectionPool

        ConnectionPool.check_connection(conn)


@contextmanager
def pooled(url: DatabaseURL, *, prepare: Callable[[Any], object] | None = None
           ) -> Iterator[Any]:
    """A connection (autocommit, rows as :class:`Row`) from this process's pool for
    `url`, given back afterwards; `prepare(connection)` runs once, when the pool is made.
    MapperError, without the password, when none comes within :data:`POOL_WAIT_S`."""
    from psycopg_pool import PoolTimeout

    pool = _pool(url, prepare)
    try:
        conn = pool.getconn()
    except PoolTimeout:
        raise MapperError(f"no connection to the database {url} within {POOL_WAIT_S:g} s "
                          "(is the server up, and are its connections used up?)") from None
    try:
        yield conn
    finally:
        _LAST_USED[conn] = time.monotonic()
        pool.putconn(conn)  # a broken one is thrown away, and replaced when needed


def close_pools() -> None:
    """Close this process's pools (at exit; tests, before dropping a database)."""
    with _POOLS_LOCK:
        mine = [k for k in _POOLS if k[1] == os.getpid()]
        for key in mine:
            _POOLS.pop(key).close()
        _POOLS.clear()  # a parent's pools: forgotten, never closed here


atexit.register(close_pools)


def _scrub(message: str, url: str) -> str:
    password = urlsplit(url).password
    return message.replace(password, "***") if password else message


def _check_identifier(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


# -- the dialect differences ---------------------------------------------------------------

_TOKENS = re.compile(r"""('(?:[^']|'')*')|("(?:[^"]|"")*")|(\?)|(?<!:):([A-Za-z_]\w*)|(%)""")


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite-style placeholders (``?``, ``:name``) as psycopg's (``%s``, ``%(name)s``),
    every literal ``%`` doubled; placeholder-like text in quoted strings and names is
    left alone."""
    def swap(match: re.Match) -> str:
        if match.group(3):
            return "%s"
        if match.group(4):
            return f"%({match.group(4)})s"
        # psycopg reads % everywhere, quoted text too
        return match.group(0).replace("%", "%%")
    return _TOKENS.sub(swap, sql)


class Connection:
    """One connection of either dialect, speaking SQLite-style SQL (see the module's
    notes). ``raw`` is the driver's connection."""

    def __init__(self, raw, dialect: str):
        self.raw, self.dialect = raw, dialect

    @property
    def postgres(self) -> bool:
        return self.dialect == POSTGRESQL

    def execute(self, sql: str, params: Sequence | Mapping = ()) -> Any:
        """Run one statement; returns the cursor (``fetchone``, ``fetchall``,
        ``rowcount``, iteration)."""
        if not self.postgres:
            return self.raw.execute(sql, params)
        if params:
            return self.raw.execute(translate(sql), params)
        return self.raw.execute(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence | Mapping]) -> Any:
        if not self.postgres:
            return self.raw.executemany(sql, rows)
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), list(rows))
        return cursor

    def insert(self, sql: str, params: Sequence | Mapping, key: str) -> int:
        """Run one INSERT of one row; the value its `key` column was given (an
        autoincrement id, or SQLite's rowid)."""
        if not self.postgres:
            cursor = self.raw.execute(sql, params)
            if cursor.lastrowid is None:
                raise RuntimeError("the INSERT added no row")
            return int(cursor.lastrowid)
        row = self.raw.execute(translate(f"{sql} RETURNING {_check_identifier(key)}"),
                               params).fetchone()
        if row is None:
            raise RuntimeError("the INSERT added no row")
        return int(row[0])

    def begin_write(self) -> None:
        """Start the one write transaction (waits for any other writer to finish)."""
        if self.postgres:
            self.raw.execute("BEGIN")
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        else:
            self.raw.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


# -- versioned migrations (PostgreSQL) --------------------------------------------------------

_MIGRATION_LOCK = threading.Lock()


def schema_version(conn, schema: str) -> int:
    """The last migration applied to `schema` (0: none; the schema may not exist)."""
    _check_identifier(schema)
    row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.schema_migrations",)).fetchone()
    if row is None or row[0] is None:
        return 0
    found = conn.execute(f"SELECT max(version) FROM {schema}.schema_migrations").fetchone()
    return int(found[0] or 0)


@contextmanager
def _privileges_said(conn, schema: str) -> Iterator[None]:
    """A schema change the database user may not make, said as what an administrator
    must grant (the one-off set-up README's "The shared store" section gives)."""
    psycopg = _psycopg()
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as error:
        info = conn.info
        raise MapperError(
            f"The database user {info.user!r} may not set up schema {schema} in database "
            f"{info.dbname!r} ({str(error).splitlines()[0]}). A database administrator "
            "must run, once, connected to that database: CREATE EXTENSION IF NOT EXISTS "
            f"postgis; GRANT CREATE ON DATABASE {info.dbname} TO {info.user}; "
            "(see README, 'The shared store: PostgreSQL').") from None


def apply_migrations(conn, schema: str, steps: Mapping[int, Sequence[str]]) -> list[int]:
    """Bring `schema` up to the last of the numbered `steps` (1, 2, ...): each step's
    statements in one transaction, recorded in ``schema.schema_migrations``; returns the
    steps applied now. `conn` is a psycopg connection in autocommit mode. Processes
    starting together take turns (an advisory lock), so each step runs once."""
    _check_identifier(schema)
    numbers = sorted(steps)
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"migration steps must be numbered 1..n, got {numbers}")
    if numbers and schema_version(conn, schema) >= numbers[-1]:
        return []  # the common case: up to date, no lock needed
    applied = []
    lock_key = WRITE_LOCK ^ (hash_name(schema) & 0xFFFFFFF)
    with _MIGRATION_LOCK, _privileges_said(conn, schema):
        for number in numbers:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                             "version INTEGER PRIMARY KEY, "
                             "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
                done = conn.execute(f"SELECT 1 FROM {schema}.schema_migrations WHERE "
                                    "version = %s", (number,)).fetchone()
                if done:
                    continue
                conn.execute(f"SET LOCAL search_path TO {schema}, public")
                for statement in steps[number]:
                    conn.execute(statement)
                conn.execute(f"INSERT INTO {schema}.schema_migrations (version) VALUES (%s)",
                             (number,))
                applied.append(number)
    return applied


#: SQLite's words for a type or key -> PostgreSQL's (64-bit integers, as SQLite's are)
_PG_TYPES = ((re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"),
              "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
             (re.compile(r"\bINTEGER\b"), "BIGINT"),
             (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
             (re.compile(r"\b(CREATE (?:TABLE|INDEX)) IF NOT EXISTS\b"), r"\1"))
_CREATE_TABLE = re.compile(r"^CREATE TABLE (\w+) \((.*)\)$", re.S)


def postgres_ddl(statement: str, *, rowid_tables: frozenset[str] = frozenset()) -> str:
    """A schema statement written for SQLite, said in PostgreSQL's dialect: types and
    autoincrementing keys translated, and for a table of `rowid_tables` (whose implicit
    SQLite ``rowid`` the code reads) a ``rowid`` identity column."""
    for pattern, replacement in _PG_TYPES:
        statement = pattern.sub(replacement, statement)
    table = _CREATE_TABLE.match(statement.strip())
    if table is not None and table.group(1) in rowid_tables:
        statement = (f"CREATE TABLE {table.group(1)} ({table.group(2).rstrip()},\n"
                     "    rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE\n)")
    return statement


def hash_name(name: str) -> int:
    """A stable small number for a name (Python's hash() changes between runs)."""
    value = 0
    for char in name.encode():
        value = (value * 131 + char) % (1 << 31)
    return value
