"""The app database: users, edits to the registers, the audit trail, staged uploads.

It sits beside the GeoPackage in the workspace directory as ``mapper-app.sqlite``, or,
when a database URL is set (``--database`` / ``$MAPPER_DATABASE_URL``), in the
``mapper_app`` schema of that PostgreSQL database, shared by every app server
(:mod:`mapper.database` holds the few dialect differences). The
GeoPackage holds what was *imported* (replaced whole, atomically, by ``mapper build`` and
imports); this database holds what people *change* through the web app, one acknowledged
edit at a time, so it must never lose one:

* SQLite in WAL mode with ``synchronous=FULL``: when :meth:`AppDB.put_record` returns,
  the edit is on disk and survives a crash or power cut;
* every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``);
* :func:`backup` and :func:`restore` use SQLite's online backup API, so a consistent copy
  is taken while the app keeps serving.

On PostgreSQL every write is one transaction too, holding the database-wide write lock
(:meth:`mapper.database.Connection.begin_write`), so optimistic concurrency, sign-in
throttling and sessions hold across processes and hosts; the schema is migrated by
numbered steps (:data:`PG_MIGRATIONS`, recorded in ``mapper_app.schema_migrations``).

Tables
------
``users``       username, password hash (werkzeug scrypt), role; a partner's grant: ``wards``
                (JSON ward codes, fixed when granted) and ``grant_labels`` (how it was
                granted, e.g. a CAN id and its date: display only); ``neighbourhoods``
                holds CAN ids of grants made before version 2, until
                :func:`mapper.users.migrate_grants` turns them into wards;
                ``session_gen`` (sessions carry it: a new random one ends them all)
``records``     the current version of every edited register record (an *overlay* on the
                imported layer: see :func:`mapper.store.Workspace.read_layer`)
``audit``       one row per create, update, retire, erase, import and export touching
                personal data: who, when, which record, which fields (never the values)
``meta``        key/value: the edits counter, settings (the session key is not here: it
                is the workspace's ``secret`` file, so backups never hold it)
``sign_in_failures`` recent failed sign-ins, for rate limiting
``can_history`` every Community Action Neighbourhood id ever issued: its name, wards,
                population, first and last run, and when it was retired and replaced by
                which CANs (:mod:`mapper.analysis.can_identity`); kept here, beside the
                grants and the audit trail, so a rebuild of the GeoPackage keeps the ids
``selection_versions`` every published CAN selection (one per analysis run): number, when,
                who, how, settings and a snapshot of its CANs and wards
                (:mod:`mapper.analysis.selections`), so each version's decision record
                stays available after later runs
``drafts``      officers' what-ifs: a name, the owner, when, the settings and the selection
                they give (computed in memory, never published unless an administrator
                publishes the draft: ``published_version``)
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mapper import database
from mapper.can_history import id_order
from mapper.database import Connection, DatabaseURL
from mapper.errors import MapperError
from mapper.private_files import private_dir, private_file, read_secret

APP_DB_FILE = "mapper-app.sqlite"

#: the base tables (schema version 1), in SQLite's dialect like every step here:
#: :func:`mapper.database.postgres_ddl` says them in PostgreSQL's
_BASE = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    neighbourhoods TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
)""",
    """CREATE TABLE IF NOT EXISTS records (
    register TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    retired INTEGER NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (register, record_id)
)""",
    """CREATE TABLE IF NOT EXISTS record_history (
    register TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (register, record_id, version)
)""",
    """CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    register TEXT NOT NULL DEFAULT '',
    record_id TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT ''
)""",
    "CREATE INDEX IF NOT EXISTS audit_record ON audit (register, record_id)",
    "CREATE TABLE IF NOT EXISTS sign_in_failures (key TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sign_in_failures_key ON sign_in_failures (key, at)",
)

CAN_HISTORY_TABLE = """CREATE TABLE IF NOT EXISTS can_history (
    can_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    named INTEGER NOT NULL,
    ward_codes TEXT NOT NULL,
    population REAL NOT NULL,
    first_run TEXT NOT NULL,
    last_run TEXT NOT NULL,
    retired_at TEXT NOT NULL DEFAULT '',
    replaced_by TEXT NOT NULL DEFAULT ''
)"""

SELECTIONS_TABLES = (
    """CREATE TABLE IF NOT EXISTS selection_versions (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    via TEXT NOT NULL,
    settings TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    draft_id INTEGER
)""",
    """CREATE TABLE IF NOT EXISTS drafts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    settings TEXT NOT NULL,
    results TEXT NOT NULL,
    published_version INTEGER
)""",
)

#: schema version -> the statements taking a database from the version before to it (the
#: one list of the app database's tables, for both stores)
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: _BASE,
    2: ("ALTER TABLE users ADD COLUMN wards TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE users ADD COLUMN grant_labels TEXT NOT NULL DEFAULT '[]'"),
    3: ("ALTER TABLE users ADD COLUMN session_gen INTEGER NOT NULL DEFAULT 0",),
    4: (CAN_HISTORY_TABLE,),
    5: SELECTIONS_TABLES,
}
SCHEMA_VERSION = max(_MIGRATIONS)

#: the PostgreSQL schema of the app database (layers live elsewhere)
PG_SCHEMA = "mapper_app"

#: tables whose SQLite ``rowid`` the code reads: on PostgreSQL a column of that name
ROWID_TABLES = frozenset({"records", "record_history", "sign_in_failures"})

#: the app database on PostgreSQL: the same numbered steps in its dialect (recorded in
#: ``mapper_app.schema_migrations``)
PG_MIGRATIONS: dict[int, tuple[str, ...]] = {
    version: tuple(database.postgres_ddl(statement, rowid_tables=ROWID_TABLES)
                   for statement in statements)
    for version, statements in _MIGRATIONS.items()
}

#: tables of the app database, in the order a copy fills them (backup and restore)
APP_TABLES = ("meta", "users", "records", "record_history", "audit", "sign_in_failures",
              "can_history", "selection_versions", "drafts")

#: how long (seconds) a server trusts the shared edits counter before asking again: edits
#: through another server reach this one's caches within this time (PostgreSQL)
EDITS_POLL_S = 0.25

#: audit actions
AUDIT_ACTIONS = ("create", "update", "verify", "retire", "erase", "import", "export", "view",
                 "user", "restore", "analysis", "publish")


def now() -> str:
    """The current UTC time as an ISO 8601 string, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class Conflict(MapperError):
    """Saving over a newer version of a record. `changed` lists the fields that differ."""

    def __init__(self, register: str, record_id: str, expected: int, current: int,
                 changed: list[str], by: str, at: str):
        self.register, self.record_id = register, record_id
        self.expected, self.current, self.changed = expected, current, changed
        self.by, self.at = by, at
        fields = ", ".join(changed) if changed else "no field values (only its version)"
        super().__init__(
            f"{register} record {record_id} was changed by {by} at {at} since you opened it "
            f"(your version {expected}, now version {current}); changed: {fields}. "
            "Reload it, check the changes and save again."
        )


@dataclass(frozen=True)
class StoredRecord:
    """One version of an edited record as the app database keeps it."""

    register: str
    record_id: str
    version: int
    data: dict
    retired: bool
    updated_by: str
    updated_at: str


class AppDB:
    """The app database of one workspace directory: its SQLite file, or the PostgreSQL
    database of `url` (default ``$MAPPER_DATABASE_URL``; "" forces SQLite)."""

    def __init__(self, directory: str | os.PathLike, url: str | DatabaseURL | None = None):
        self.directory = Path(directory)
        self.path = self.directory / APP_DB_FILE
        self.url: DatabaseURL | None = (url if isinstance(url, DatabaseURL)
                                        else database.configured_url(url))
        self.dialect = database.POSTGRESQL if self.url else database.SQLITE
        # one connection per AppDB, shared by the threads of the web server and used
        # under a lock: opening one per request (thread) costs more than the query
        self._lock = threading.RLock()
        self._shared: Connection | None = None
        self._pid = os.getpid()
        self._edits: tuple[float, int] | None = None  # (when asked, value): PostgreSQL

    def __del__(self) -> None:
        shared = getattr(self, "_shared", None)
        if shared is not None and shared.postgres and self._pid == os.getpid():
            with suppress(Exception):  # nothing to do about it while collecting
                shared.close()  # a dropped AppDB ends its session at the server

    def __repr__(self) -> str:
        return f"AppDB({str(self.url or self.path)!r})"

    @property
    def postgres(self) -> bool:
        return self.url is not None

    # -- connections --------------------------------------------------------------

    def connect(self):
        """A new connection of the driver (sqlite3 or psycopg), schema in place. SQLite:
        WAL, synchronous=FULL, secure_delete."""
        if self.url is not None:
            conn = database.connect(self.url, schema=PG_SCHEMA)
            try:
                database.apply_migrations(conn, PG_SCHEMA, PG_MIGRATIONS)
            except BaseException:
                conn.close()
                raise
            return conn
        private_dir(self.directory)
        if not self.path.exists():
            private_file(self.path)  # owner-only: its -wal and -shm files take its mode
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - only on odd file systems
            raise MapperError(f"{self.path}: cannot switch the app database to WAL mode")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")  # deleted values do not linger on disk
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            _migrate(conn)
        return conn

    def _conn(self) -> Connection:
        if self._shared is not None and self._pid != os.getpid():
            # a forked child never uses, nor closes, its parent's connection: closing
            # would end the parent's session through the socket they share
            _INHERITED.append(self._shared)
            self._shared = None
        if (self._shared is not None and self.url is None
                and not self.path.exists()):
            self._shared = None  # the file was removed (a test, a restore): start afresh
        if self._shared is not None and self.url is not None and self._shared.raw.closed:
            self._shared = None  # the server closed it: connect again
        if self._shared is None:
            self._shared = Connection(self.connect(), self.dialect)
            self._pid = os.getpid()
        return self._shared

    def close(self) -> None:
        with self._lock:
            if self._shared is not None and self._pid == os.getpid():
                self._shared.close()
            self._shared = None
            self._edits = None

    def _pg_errors(self) -> tuple[type[Exception], ...]:
        """psycopg's errors that may mean a lost connection (none on SQLite; psycopg is
        imported only when PostgreSQL is used)."""
        if not self.postgres:
            return ()
        import psycopg

        return (psycopg.OperationalError, psycopg.InterfaceError)

    def _dropped(self) -> bool:
        """Whether the shared PostgreSQL connection is closed or broken."""
        raw = self._shared.raw if self._shared is not None else None
        return raw is None or bool(raw.closed or raw.broken)

    def _lost(self, error: Exception) -> MapperError:
        """Forget a broken PostgreSQL connection (the next call connects again)."""
        self._shared = None
        return MapperError(f"the database {self.url} stopped answering "
                           f"({str(error).strip().splitlines()[0] if str(error) else error}); "
                           "try again")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE, or the PostgreSQL write lock, ...
        COMMIT; rolled back on error)."""
        with self._lock:
            conn = self._conn()
            try:
                conn.begin_write()
            except self._pg_errors():  # dropped by the server: once more, on a new connection
                if not self._dropped():
                    raise
                self._shared = None
                conn = self._conn()
                try:
                    conn.begin_write()
                except self._pg_errors() as error:
                    raise self._lost(error) from None
            try:
                yield conn
            except BaseException:
                if not (self.postgres and self._dropped()):
                    conn.rollback()
                raise
            conn.commit()
            self._edits = None  # this process sees its own edits at once

    def query(self, sql: str, params: tuple | dict = ()) -> list:
        """Rows of one read (``row["column"]``, ``row[0]``, ``dict(row)``)."""
        with self._lock:
            if not self.postgres:
                return self._conn().execute(sql, params).fetchall()
            try:
                return self._conn().execute(sql, params).fetchall()
            except self._pg_errors():
                if not self._dropped():
                    raise
                self._shared = None  # the server dropped it: once more, on a new one
            try:
                return self._conn().execute(sql, params).fetchall()
            except self._pg_errors() as error:
                raise self._lost(error) from None

    def exists(self) -> bool:
        """Whether there is an app database yet (PostgreSQL: always; it is made on use)."""
        return True if self.postgres else self.path.is_file()

    # -- meta ---------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def put_meta(self, key: str, value: str) -> None:
        """Set one ``meta`` value (its own write transaction)."""
        with self.write() as conn:
            set_meta(conn, key, value)

    def secret_key(self) -> str:
        """The key signing session cookies: the workspace's ``secret`` file, apart from
        this database so that backups never hold it (see :mod:`mapper.private_files`).

        A key kept in this database by older versions (or brought back by restoring an
        old backup) is moved to the file when there is none, and erased from here."""
        legacy = self.get_meta("secret_key")
        key = read_secret(self.directory, initial=legacy)
        if legacy is not None:
            with self.write() as conn:
                conn.execute("DELETE FROM meta WHERE key = 'secret_key'")
            if not self.postgres:  # (erased from the WAL file too)
                with self._lock:
                    self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return key

    def edits_version(self) -> int:
        """A counter bumped by every change to the records overlay (for caches).

        On PostgreSQL, the one place several servers learn of each other's edits: the
        shared counter is asked again once :data:`EDITS_POLL_S` has passed (and after
        every write of this process), so a cache keyed on it is stale for at most that
        long on any server."""
        if not self.exists():
            return 0
        if not self.postgres:
            return int(self.get_meta("edits_version", "0") or 0)
        clock = time.monotonic()
        known = self._edits
        if known is not None and clock - known[0] < EDITS_POLL_S:
            return known[1]
        value = int(self.get_meta("edits_version", "0") or 0)
        self._edits = (clock, value)
        return value

    # -- the records overlay ---------------------------------------------------------

    def get_record(self, register: str, record_id: str) -> StoredRecord | None:
        rows = self.query("SELECT * FROM records WHERE register = ? AND record_id = ?",
                          (register, record_id))
        return _stored(rows[0]) if rows else None

    def records(self, register: str) -> list[StoredRecord]:
        if not self.exists():
            return []
        rows = self.query("SELECT * FROM records WHERE register = ? ORDER BY record_id",
                          (register,))
        return [_stored(r) for r in rows]

    def put_record(self, register: str, record_id: str, data: dict, *, actor: str,
                   expected_version: int | None, base: dict | None = None,
                   action: str = "update", retired: bool = False,
                   audit_fields: list[str] | None = None) -> int:
        """Store a new version of a record; returns its version once it is on disk.

        Parameters
        ----------
        expected_version : the version the editor started from (None: a new record,
            which must not exist yet). A mismatch raises :class:`Conflict` naming the
            fields that changed since.
        base : the record's current values when it is not in the overlay yet (the
            imported row); its version counts as 1.
        audit_fields : the field names written to the audit trail (default: every
            field whose value changed).
        """
        with self.write() as conn:
            row = conn.execute("SELECT * FROM records WHERE register = ? AND record_id = ?",
                               (register, record_id)).fetchone()
            current = _stored(row) if row else None
            if current is not None:
                version, previous = current.version, current.data
            elif base is not None:
                version, previous = 1, base
            else:
                version, previous = 0, {}
            if expected_version is None and version != 0:
                raise MapperError(f"{register} record {record_id} already exists")
            if expected_version is not None and expected_version != version:
                then = _version_data(conn, register, record_id, expected_version, base)
                by = current.updated_by if current else "an import"
                at = current.updated_at if current else "?"
                raise Conflict(register, record_id, expected_version, version,
                               _diff(then, previous), by, at)
            new_version = version + 1
            stamp = now()
            text = json.dumps(data, ensure_ascii=False, default=str)
            conn.execute(
                "INSERT INTO records (register, record_id, version, data, retired, "
                "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (register, record_id) DO UPDATE SET version = excluded.version, "
                "data = excluded.data, retired = excluded.retired, "
                "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (register, record_id, new_version, text, int(retired), actor, stamp),
            )
            if version == 1 and current is None and base is not None:
                _put_history(conn, register, record_id, 1,
                             json.dumps(base, ensure_ascii=False, default=str))
            _put_history(conn, register, record_id, new_version, text)
            fields = audit_fields if audit_fields is not None else sorted(
                k for k in set(previous) | set(data) if previous.get(k) != data.get(k))
            write_audit(conn, actor, action, register, record_id, fields, "")
            bump_edits(conn)
        return new_version

    # -- audit --------------------------------------------------------------------

    def audit(self, actor: str, action: str, *, register: str = "", record_id: str = "",
              fields: list[str] | tuple[str, ...] = (), detail: str = "") -> None:
        """Record who did what to which record and which fields (never the values)."""
        with self.write() as conn:
            write_audit(conn, actor, action, register, record_id, list(fields), detail)

    def read_audit(self, *, register: str | None = None, record_id: str | None = None,
                   actor: str | None = None, since: str | None = None,
                   limit: int = 1000) -> list[dict]:
        if not self.exists():
            return []
        where, params = [], []
        for column, value in (("register", register), ("record_id", record_id),
                              ("actor", actor)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if since:
            where.append("at >= ?")
            params.append(since)
        sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self.query(sql, (*params, int(limit)))
        out = []
        for r in rows:
            item = dict(r)
            item["fields"] = json.loads(item["fields"] or "[]")
            out.append(item)
        return out

    # -- CAN history ----------------------------------------------------------------

    def can_history(self) -> list[dict]:
        """Every CAN id ever issued (see :mod:`mapper.analysis.can_identity`)."""
        if not self.exists():
            return []
        rows = [dict(r) for r in self.query("SELECT * FROM can_history")]
        return sorted(rows, key=lambda r: id_order(r["can_id"]))  # CAN-100 after CAN-99

    def save_can_history(self, rows: list[dict], settings: str, *, actor: str,
                         fields: list[str], detail: str) -> None:
        """Store the CAN history and the settings of an analysis run, and audit the
        run, in one transaction."""
        with self.write() as conn:
            set_meta(conn, "analysis_settings", settings)
            conn.executemany(
                "INSERT INTO can_history (can_id, name, named, ward_codes, "
                "population, first_run, last_run, retired_at, replaced_by) VALUES "
                "(:can_id, :name, :named, :ward_codes, :population, :first_run, :last_run, "
                ":retired_at, :replaced_by) ON CONFLICT (can_id) DO UPDATE SET "
                "name = excluded.name, named = excluded.named, "
                "ward_codes = excluded.ward_codes, population = excluded.population, "
                "first_run = excluded.first_run, last_run = excluded.last_run, "
                "retired_at = excluded.retired_at, replaced_by = excluded.replaced_by",
                rows)
            write_audit(conn, actor, "analysis", "analysis", "", fields, detail)

    # -- published versions and drafts -------------------------------------------------

    def save_version(self, *, at: str, actor: str, via: str, settings: str, snapshot: dict,
                     draft_id: int | None = None) -> int:
        """Record a published selection; returns its version number (1, 2, ...)."""
        with self.write() as conn:
            version = conn.insert(
                "INSERT INTO selection_versions (at, actor, via, settings, snapshot, draft_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (at, actor, via, settings, json.dumps(snapshot), draft_id), "version")
            if draft_id is not None:
                conn.execute("UPDATE drafts SET published_version = ? WHERE id = ?",
                             (version, draft_id))
                write_audit(conn, actor, "publish", "drafts", str(draft_id), [],
                            f"draft {draft_id} published as version {version}")
        return version

    def versions(self) -> list[dict]:
        """Every published version, newest first (without the snapshots)."""
        if not self.exists():
            return []
        return [dict(r) for r in self.query(
            "SELECT version, at, actor, via, settings, draft_id FROM selection_versions "
            "ORDER BY version DESC")]

    def version(self, number: int) -> dict | None:
        rows = self.query("SELECT * FROM selection_versions WHERE version = ?", (number,)) \
            if self.exists() else []
        if not rows:
            return None
        return dict(rows[0]) | {"snapshot": json.loads(rows[0]["snapshot"])}

    def save_draft(self, *, owner: str, name: str, settings: str, results: dict,
                   detail: str) -> int:
        """Store an officer's draft and audit its creation (one transaction)."""
        with self.write() as conn:
            draft_id = conn.insert(
                "INSERT INTO drafts (owner, name, created, settings, results) "
                "VALUES (?, ?, ?, ?, ?)", (owner, name, now(), settings, json.dumps(results)),
                "id")
            write_audit(conn, owner, "create", "drafts", str(draft_id), [], detail)
        return draft_id

    def draft(self, draft_id: int) -> dict | None:
        rows = self.query("SELECT * FROM drafts WHERE id = ?", (draft_id,)) \
            if self.exists() else []
        if not rows:
            return None
        return dict(rows[0]) | {"results": json.loads(rows[0]["results"])}

    def drafts(self, owner: str | None = None) -> list[dict]:
        """Drafts newest first (without their results): `owner`'s, or everyone's."""
        if not self.exists():
            return []
        sql = "SELECT id, owner, name, created, settings, published_version FROM drafts"
        rows = self.query(sql + (" WHERE owner = ?" if owner else "") + " ORDER BY id DESC",
                          (owner,) if owner else ())
        return [dict(r) for r in rows]

    def integrity_check(self) -> str:
        """'ok' or SQLite's first problem (PostgreSQL checks its own pages: 'ok' when it
        answers)."""
        if self.postgres:
            self.query("SELECT 1")
            return "ok"
        return str(self.query("PRAGMA integrity_check")[0][0])


def _migrate(conn: sqlite3.Connection) -> None:
    """Create the schema, or bring an older one up to :data:`SCHEMA_VERSION` (one
    transaction; another process doing the same at once waits, then finds it done)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _put_history(conn: Connection, register: str, record_id: str, version: int,
                 text: str) -> None:
    conn.execute("INSERT INTO record_history (register, record_id, version, data) VALUES "
                 "(?, ?, ?, ?) ON CONFLICT (register, record_id, version) DO UPDATE SET "
                 "data = excluded.data", (register, record_id, version, text))


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Set one ``meta`` value (inside the caller's transaction)."""
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                 "SET value = excluded.value", (key, value))


def _version_data(conn: Connection, register: str, record_id: str, version: int,
                  base: dict | None) -> dict:
    """The values of one earlier version of a record ({} when unknown)."""
    if not 0 < version < 2**63:  # beyond SQLite's integers: no such version
        return {}
    row = conn.execute("SELECT data FROM record_history WHERE register = ? AND "
                       "record_id = ? AND version = ?", (register, record_id, version)
                       ).fetchone()
    if row is not None:
        return json.loads(row["data"])
    return dict(base or {}) if version == 1 else {}


def _diff(before: dict, after: dict) -> list[str]:
    """Names of the fields whose values differ."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _stored(row) -> StoredRecord:
    return StoredRecord(row["register"], row["record_id"], int(row["version"]),
                        json.loads(row["data"]), bool(row["retired"]), row["updated_by"],
                        row["updated_at"])


def write_audit(conn: Connection | sqlite3.Connection, actor: str, action: str, register: str,
           record_id: str, fields: list[str], detail: str) -> None:
    """Add a row to the audit log (inside the caller's transaction)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    conn.execute(
        "INSERT INTO audit (at, actor, action, register, record_id, fields, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now(), actor, action, register, record_id, json.dumps(sorted(fields)), detail),
    )


def bump_edits(conn: Connection | sqlite3.Connection) -> None:
    """Count one more change to the records overlay (caches keyed on it go stale, on
    every server: :meth:`AppDB.edits_version`)."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('edits_version', '1') ON CONFLICT (key) DO "
        "UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
    )


_OPEN: dict[str, AppDB] = {}
#: connections a forked process inherited: kept (never used) so that collecting them
#: does not end the parent's session
_INHERITED: list[Connection] = []
_OPEN_LOCK = threading.Lock()


def open_appdb(directory: str | os.PathLike, url: str | None = None) -> AppDB:
    """The process's one :class:`AppDB` of a workspace directory (one connection): on
    the PostgreSQL database of `url` (default ``$MAPPER_DATABASE_URL``), else SQLite."""
    checked = database.configured_url(url)
    key = f"{Path(directory).resolve()}\n{checked.url if checked else ''}"
    with _OPEN_LOCK:
        db = _OPEN.get(key)
        if db is None:
            db = _OPEN[key] = AppDB(directory, checked or "")
        return db


def close_all() -> None:
    """Close every app database this process opened (tests, before dropping one)."""
    with _OPEN_LOCK:
        for db in _OPEN.values():
            db.close()
        _OPEN.clear()


# -- backup and restore ------------------------------------------------------------------


def sqlite_backup(source: Path, target: Path) -> None:
    """Copy one SQLite database (a GeoPackage too) with the online backup API, into an
    owner-only file."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        private_file(target)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


#: PostgreSQL's generated columns: set past the largest value after rows are copied in
_PG_IDENTITIES = (("audit", "id"), ("selection_versions", "version"), ("drafts", "id"),
                  ("records", "rowid"), ("record_history", "rowid"),
                  ("sign_in_failures", "rowid"))


def _sqlite_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def dump_to_sqlite(db: AppDB, target: Path) -> None:
    """Copy a PostgreSQL app database into a new SQLite file of the embedded store's
    format (owner-only): one consistent snapshot (a repeatable-read transaction), so
    backups of either store look alike and restore into either."""
    if not db.postgres:
        raise ValueError("dump_to_sqlite copies a PostgreSQL app database")
    private_file(target)
    sqlite = sqlite3.connect(target, isolation_level=None)
    _migrate(sqlite)  # the schema of this version
    source = db.connect()
    try:
        with source.transaction():
            source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            sqlite.execute("BEGIN")
            for table in APP_TABLES:
                columns = ", ".join(_sqlite_columns(sqlite, table))
                rows = source.execute(f"SELECT {columns} FROM {table}").fetchall()
                marks = ", ".join("?" * len(rows[0])) if rows else ""
                if rows:
                    sqlite.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                                       [tuple(r) for r in rows])
            sqlite.execute("COMMIT")
        sqlite.execute("PRAGMA journal_mode = DELETE")
    finally:
        source.close()
        sqlite.close()


def load_from_sqlite(db: AppDB, source: Path) -> None:
    """Replace every row of a PostgreSQL app database with those of an SQLite app
    database file (brought up to this version first), in one transaction: other servers
    see the old rows or the new, never a mix."""
    if not db.postgres:
        raise ValueError("load_from_sqlite fills a PostgreSQL app database")
    sqlite = sqlite3.connect(source, isolation_level=None)
    try:
        if sqlite.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            _migrate(sqlite)
        with db.write() as conn:
            counter = conn.execute("SELECT value FROM meta WHERE key = 'edits_version'"
                                   ).fetchone()
            for table in APP_TABLES:
                columns = _sqlite_columns(sqlite, table)
                names = ", ".join(columns)
                conn.execute(f"DELETE FROM {table}")
                rows = sqlite.execute(f"SELECT {names} FROM {table}").fetchall()
                if rows:
                    conn.executemany(f"INSERT INTO {table} ({names}) VALUES "
                                     f"({', '.join('?' * len(columns))})", rows)
            for table, column in _PG_IDENTITIES:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{PG_SCHEMA}.{table}', "
                             f"'{column}'), COALESCE((SELECT max({column}) FROM {table}), "
                             "0) + 1, false)")
            # the edits counter only grows: every server's caches see a new version
            loaded = conn.execute("SELECT value FROM meta WHERE key = 'edits_version'"
                                  ).fetchone()
            highest = max(int(r[0]) for r in (counter, loaded, ("0",)) if r is not None)
            set_meta(conn, "edits_version", str(highest + 1))
    finally:
        sqlite.close()


def integrity(path: Path) -> str:
    """SQLite's integrity check of a database file: 'ok' or the first problem."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        return str(error)
