"""Keeping a workspace safe: backup, restore and the retention of incident reports.

``backup`` copies both databases of a workspace (the GeoPackage and the app database,
owner-only; never the session key, which is a file of its own) with SQLite's online
backup API, so it is consistent even while the app is serving and
people are editing, then checks each copy's integrity and writes a manifest.
``restore`` checks a backup the same way, says what it would undo (:func:`plan_restore`:
users, passwords, roles, partner access, erasures and edits since the backup) and puts
it back: the GeoPackage through a temporary file swapped in atomically, the app database
through the backup API into the live file (other connections see the old or the new
data, never a mix). The audit trail is never rewound: the live one is kept, with the
restore added to it; erasures made since are applied again; then every session ends (a
new key: the backup's older session generations must not revive cookies ended since it
was made).

Retention: incident reports people enter or upload (tension reports, council incident
logs) may hold personal data; police.uk's open data does not. Records of incidents not
from police.uk whose date is older than the retention period are deleted by
:func:`apply_retention` (``mapper retention --apply``; the period is kept in the app
database, default :data:`DEFAULT_RETENTION_MONTHS`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from mapper.appdb import (
    APP_DB_FILE,
    CAN_HISTORY_TABLE,
    bump_edits,
    dump_to_sqlite,
    integrity,
    load_from_sqlite,
    now,
    sqlite_backup,
    write_audit,
)
from mapper.errors import MapperError
from mapper.private_files import private_dir, private_file, rotate_secret
from mapper.store import (
    LOCK_FILE,
    STORE_FILE,
    TMP_PREFIX,
    Workspace,
    _exclusive_lock,
    _fsync,
    _fsync_dir,
)
from mapper.users import end_sessions

MANIFEST = "manifest.json"
DEFAULT_RETENTION_MONTHS = 24
OPEN_DATA_SOURCES = ("police.uk",)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(workspace: Workspace, destination: Path, *, actor: str = "cli") -> dict:
    """Copy the workspace into the new directory `destination`; returns the manifest."""
    destination = Path(destination)
    if not workspace.exists():
        raise MapperError(f"no workspace at {workspace.directory} to back up")
    if destination.exists() and any(destination.iterdir()):
        raise MapperError(f"{destination} exists and is not empty: choose a new directory")
    private_dir(destination)
    files = {}
    workspace.appdb.connect().close()  # make sure the app database exists
    for name in (STORE_FILE, APP_DB_FILE):
        target = destination / name
        if name == APP_DB_FILE and workspace.appdb.postgres:
            dump_to_sqlite(workspace.appdb, target)  # one snapshot, the same format
        elif name == STORE_FILE and workspace.url is not None:
            # the layers in PostGIS, written as the embedded store's GeoPackage
            Workspace(destination, url="").copy_from(workspace)
            (destination / LOCK_FILE).unlink(missing_ok=True)
        else:
            sqlite_backup(workspace.directory / name, target)
        check = integrity(target)
        if check != "ok":
            raise MapperError(f"the backup copy of {name} failed SQLite's integrity check: "
                              f"{check}")
        files[name] = {"bytes": target.stat().st_size, "sha256": _sha256(target)}
    manifest = {"created_at": now(), "workspace": str(workspace.directory),
                "files": files, "integrity": "ok"}
    private_file(destination / MANIFEST).write_text(json.dumps(manifest, indent=2),
                                                    encoding="utf-8")
    workspace.appdb.audit(actor, "export", register="workspace", detail=f"backup to "
                          f"{destination.name} (all registers, personal data included)")
    return manifest


def check_backup(source: Path) -> dict:
    """The manifest of a backup directory, after checking every file against it."""
    source = Path(source)
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise MapperError(f"{source} is not a mapper backup (no {MANIFEST}); make one with "
                          "'mapper backup DIR'")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError) as error:
        raise MapperError(f"{manifest_path}: not a valid backup manifest ({error})") from None
    problems = []
    for name in (STORE_FILE, APP_DB_FILE):
        path = source / name
        if name not in files or not path.is_file():
            problems.append(f"{name} is missing")
            continue
        if _sha256(path) != files[name]["sha256"]:
            problems.append(f"{name} has changed since the backup was made (checksum)")
        elif (check := integrity(path)) != "ok":
            problems.append(f"{name} fails SQLite's integrity check: {check}")
    if problems:
        raise MapperError(f"cannot restore from {source}: " + "; ".join(problems))
    return manifest


@dataclass
class RestorePlan:
    """What restoring a backup would undo, compared with the workspace as it is now."""

    manifest: dict
    #: users created since the backup: they disappear
    users_added: list[str] = field(default_factory=list)
    #: users deleted since the backup: they come back
    users_removed: list[str] = field(default_factory=list)
    #: users whose password changed since: their old password works again
    passwords: list[str] = field(default_factory=list)
    #: (user, role now, role then)
    roles: list[tuple[str, str, str]] = field(default_factory=list)
    #: (user, now, then): "disabled" or "enabled"
    disabled: list[tuple[str, str, str]] = field(default_factory=list)
    #: users whose partner access (wards, neighbourhoods) differs
    grants: list[str] = field(default_factory=list)
    #: groups whose contact details were erased since: erased again after the restore
    erasures: list[str] = field(default_factory=list)
    #: record edits (create, update, verify, retire) and imports since: undone
    edits: int = 0
    imports: int = 0
    #: audit rows since the backup: kept (the audit trail is never rewound)
    audit_rows: int = 0

    def lines(self) -> list[str]:
        """What a person is shown before being asked to go on."""
        made = self.manifest.get("created_at", "?")
        out = [f"Restoring the backup made {made} undoes everything since then:"]

        def names(users) -> str:
            return ", ".join(users[:20]) + (f" and {len(users) - 20} more" if len(users) > 20
                                            else "")

        if self.users_added:
            out.append(f"  - {len(self.users_added)} user(s) created since are removed: "
                       f"{names(self.users_added)}")
        if self.users_removed:
            out.append(f"  - {len(self.users_removed)} user(s) the workspace does not have "
                       f"now come back: {names(self.users_removed)}")
        if self.passwords:
            out.append(f"  - {len(self.passwords)} password change(s) are undone (the old "
                       f"password works again): {names(self.passwords)}")
        for user, then, before in self.roles:
            out.append(f"  - {user}'s role goes back from {then} to {before}")
        for user, then, before in self.disabled:
            out.append(f"  - {user} goes back from {then} to {before}")
        if self.grants:
            out.append(f"  - partner access (wards, neighbourhoods) goes back for: "
                       f"{names(self.grants)}")
        if self.erasures:
            out.append(f"  - {len(self.erasures)} group(s) had contact details erased since: "
                       "the backup holds them, so they are erased again after the restore")
        if self.edits or self.imports:
            out.append(f"  - {self.edits:,} record edit(s) and {self.imports:,} import(s) "
                       "since are undone")
        if len(out) == 1:
            out.append("  - nothing recorded in the audit trail or the user list")
        out.append(f"The audit trail is kept as it is ({self.audit_rows:,} row(s) since the "
                   "backup), the restore is recorded in it, and everyone signs in again.")
        return out


def _rows(path: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # a table the database does not have (yet)
        return []
    finally:
        conn.close()


class _Live:
    """The workspace's live app database, to read: its SQLite file, or PostgreSQL."""

    def __init__(self, workspace: Workspace):
        self.db = workspace.appdb
        self.file = workspace.directory / APP_DB_FILE

    def exists(self) -> bool:
        return self.db.postgres or self.file.is_file()

    def rows(self, sql: str) -> list:
        return self.db.query(sql) if self.db.postgres else _rows(self.file, sql)


def plan_restore(workspace: Workspace, source: Path) -> RestorePlan:
    """Check a backup and say what restoring it would undo (nothing is changed)."""
    manifest = check_backup(source)
    plan = RestorePlan(manifest)
    live = _Live(workspace)
    if not live.exists():
        return plan
    then = {r["username"]: dict(r) for r in _rows(Path(source) / APP_DB_FILE,
                                                  "SELECT * FROM users")}
    now_ = {r["username"]: dict(r) for r in live.rows("SELECT * FROM users")}
    plan.users_added = sorted(set(now_) - set(then))
    plan.users_removed = sorted(set(then) - set(now_))
    for name in sorted(set(now_) & set(then)):
        a, b = now_[name], then[name]
        if a["password_hash"] != b["password_hash"]:
            plan.passwords.append(name)
        if a["role"] != b["role"]:
            plan.roles.append((name, a["role"], b["role"]))
        if bool(a["disabled"]) != bool(b["disabled"]):
            word = {True: "disabled", False: "enabled"}
            plan.disabled.append((name, word[bool(a["disabled"])], word[bool(b["disabled"])]))
        if any(a.get(k) != b.get(k) for k in ("wards", "neighbourhoods")):
            plan.grants.append(name)
    # rows since the backup: after the last one it holds (ids only grow, restores keep them)
    last = max((r[0] or 0 for r in _rows(Path(source) / APP_DB_FILE,
                                         "SELECT max(id) FROM audit")), default=0)
    since = [dict(r) for r in live.rows(f"SELECT * FROM audit WHERE id > {int(last)} "
                                        "ORDER BY id")]
    plan.audit_rows = len(since)
    plan.erasures = sorted({r["record_id"] for r in since
                            if r["action"] == "erase" and r["register"] == "groups"})
    plan.edits = sum(r["action"] in ("create", "update", "verify", "retire") for r in since)
    plan.imports = sum(r["action"] == "import" for r in since)
    return plan


def restore(workspace: Workspace, source: Path, *, actor: str = "cli") -> dict:
    """Replace the workspace's data, users and edits with a checked backup.

    The audit trail is not rewound: the rows written since the backup are kept, and the
    restore is added to them. Contact details erased since the backup are erased again,
    then every session ends (:func:`end_every_session`). The app database changes in one
    step (the backup API writes a prepared copy into the live file).
    """
    plan = plan_restore(workspace, source)
    manifest = plan.manifest
    source = Path(source)
    private_dir(workspace.directory)
    live = _Live(workspace)
    with _exclusive_lock(workspace.directory / LOCK_FILE):
        tmp = workspace.directory / f"{TMP_PREFIX}restore-{os.getpid()}.gpkg"
        ready = workspace.directory / f"{TMP_PREFIX}restore-{os.getpid()}.sqlite"
        try:
            sqlite_backup(source / APP_DB_FILE, ready)
            _prepare_app_db(ready, live, actor, plan)
            if workspace.url is not None:  # the layers into PostGIS, one transaction
                workspace.copy_from(Workspace(source, url=""))
            else:
                sqlite_backup(source / STORE_FILE, tmp)
                _fsync(tmp)
                os.replace(tmp, workspace.path)
                _fsync_dir(workspace.directory)
            if live.db.postgres:  # the prepared copy, in one transaction
                load_from_sqlite(live.db, ready)
            else:
                src = sqlite3.connect(ready)
                target = workspace.appdb.connect()
                try:
                    src.backup(target)
                finally:
                    src.close()
                    target.close()
        finally:
            tmp.unlink(missing_ok=True)
            ready.unlink(missing_ok=True)
    workspace.appdb.close()
    if plan.erasures:
        from mapper.editing import erase_personal_data

        for group_id in plan.erasures:
            try:
                erase_personal_data(workspace, group_id, actor=actor)
            except MapperError:  # not in the backup at all: nothing to erase
                pass
    end_every_session(workspace)
    return manifest


def _prepare_app_db(ready: Path, live: _Live, actor: str, plan: RestorePlan) -> None:
    """Make the backup's app database what the workspace gets: the live audit trail (and
    the restore's own row), caches' edit counter moved on (sessions end after it:
    :func:`end_every_session`)."""
    audit = [tuple(r) for r in live.rows("SELECT id, at, actor, action, register, "
                                         "record_id, fields, detail FROM audit ORDER BY id")
             ] if live.exists() else []
    issued = _can_ids_issued_since(ready, live)
    conn = sqlite3.connect(ready)
    try:
        with conn:
            if issued:
                # CAN ids issued since the backup stay issued (retired now): never reused
                conn.execute(CAN_HISTORY_TABLE)
                conn.executemany(
                    "INSERT INTO can_history (can_id, name, named, ward_codes, population, "
                    "first_run, last_run, retired_at, replaced_by) VALUES (?, ?, ?, ?, ?, ?, "
                    "?, ?, '')", [(*row[:7], row[7] or now()) for row in issued])
            if live.exists():
                conn.execute("DELETE FROM audit")
                conn.executemany("INSERT INTO audit (id, at, actor, action, register, "
                                 "record_id, fields, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 audit)
            undone = [f"{len(plan.users_added)} users created",
                      f"{len(plan.passwords)} password changes",
                      f"{len(plan.roles)} role changes",
                      f"{len(plan.disabled)} accounts disabled or enabled",
                      f"{plan.edits} record edits", f"{plan.imports} imports"]
            write_audit(conn, actor, "restore", "workspace", "", [],
                        f"restored from backup made {plan.manifest.get('created_at', '?')}; "
                        f"undone since: {', '.join(undone)}; {len(plan.erasures)} erasures "
                        "applied again; every session ended")
            bump_edits(conn)  # running apps drop their caches
    finally:
        conn.close()


def _can_ids_issued_since(ready: Path, live_db: _Live) -> list[tuple]:
    """History rows of the live database whose CAN ids the backup never issued."""
    if not live_db.exists():
        return []
    live = live_db.rows("SELECT can_id, name, named, ward_codes, population, first_run, "
                          "last_run, retired_at FROM can_history")
    known = {r[0] for r in _rows(ready, "SELECT can_id FROM can_history")}
    return [tuple(r) for r in live if r[0] not in known]


def end_every_session(workspace: Workspace) -> None:
    """A new session key, and every user's session generation bumped: after a restore
    (whose older generations could revive cookies ended since the backup) or when the
    key may be known (``mapper secret rotate``)."""
    db = workspace.appdb
    db.secret_key()  # a key kept in the database by older versions leaves it first
    rotate_secret(workspace.directory)
    end_sessions(db)


# -- retention ------------------------------------------------------------------------


def retention_months(workspace: Workspace) -> int:
    """How many months incident reports are kept (the workspace's setting, or the default)."""
    return int(workspace.appdb.get_meta("incident_retention_months",
                                        str(DEFAULT_RETENTION_MONTHS)) or 0)


def set_retention_months(workspace: Workspace, months: int, *, actor: str = "cli") -> None:
    """Set how many months incident reports are kept (1 to 600), and audit the change."""
    if months < 1 or months > 600:
        raise MapperError(f"the retention period must be 1 to 600 months (got {months})")
    with workspace.appdb.write() as conn:
        conn.execute("INSERT INTO meta VALUES ('incident_retention_months', ?) ON "
                     "CONFLICT(key) DO UPDATE SET value = excluded.value", (str(months),))
    workspace.appdb.audit(actor, "update", register="settings",
                          record_id="incident_retention_months", fields=["months"],
                          detail=f"incident reports kept {months} months")


def _cutoff(months: int, today: date | None = None) -> str:
    today = today or date.today()
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return f"{year:04d}-{month + 1:02d}-{min(today.day, 28):02d}"


@dataclass
class RetentionPlan:
    """What applying the retention period would delete: the cutoff and the reports before it."""

    months: int
    cutoff: str
    imported_ids: list[str]
    edited_ids: list[str]

    @property
    def count(self) -> int:
        return len(set(self.imported_ids) | set(self.edited_ids))


def _expired(frame: pd.DataFrame, cutoff: str) -> pd.Series:
    dated = frame["date"].astype("string").fillna(frame["month"].astype("string") + "-28")
    personal = ~frame["source"].astype("string").fillna("").isin(OPEN_DATA_SOURCES)
    return (dated < cutoff).fillna(False) & personal


def plan_retention(workspace: Workspace, *, today: date | None = None) -> RetentionPlan:
    """Which incident reports are past the retention period (nothing is deleted)."""
    months = retention_months(workspace)
    cutoff = _cutoff(months, today)
    imported: list[str] = []
    if workspace.has_layer("incidents"):
        frame = workspace.read_layer("incidents")
        imported = frame.loc[_expired(frame, cutoff), "incident_id"].astype(str).tolist()
    edited = [r.record_id for r in workspace.appdb.records("incidents")
              if _expired(pd.DataFrame([r.data]), cutoff).iloc[0]]
    return RetentionPlan(months, cutoff, imported, edited)


def apply_retention(workspace: Workspace, *, actor: str = "cli",
                    today: date | None = None) -> RetentionPlan:
    """Delete the incident reports past the retention period, everywhere."""
    plan = plan_retention(workspace, today=today)
    if plan.imported_ids:
        frame = workspace.read_layer("incidents")
        keep = frame[~frame["incident_id"].astype(str).isin(set(plan.imported_ids))]
        with workspace.transaction() as tx:  # provenance kept as it was
            tx.write_layer("incidents", keep.reset_index(drop=True))
    ids = sorted(set(plan.imported_ids) | set(plan.edited_ids))
    if ids:
        with workspace.appdb.write() as conn:
            for table in ("records", "record_history"):
                conn.executemany(f"DELETE FROM {table} WHERE register = 'incidents' AND "
                                 "record_id = ?", [(i,) for i in ids])
            bump_edits(conn)
    workspace.appdb.audit(actor, "erase", register="incidents",
                          detail=f"retention: {len(ids)} incident reports dated before "
                                 f"{plan.cutoff} deleted ({plan.months} months)")
    return plan
