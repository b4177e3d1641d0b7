"""Keeping a workspace safe: backup, restore and the retention of incident reports.

``backup`` copies both databases of a workspace (the GeoPackage and the app database,
owner-only; never the session key, which is a file of its own) with SQLite's online
backup API, so it is consistent even while the app is serving and
people are editing, then checks each copy's integrity and writes a manifest.
``restore`` checks a backup the same way and puts it back: the GeoPackage through a
temporary file swapped in atomically, the app database through the backup API into the
live file (other connections see the old or the new data, never a mix); then every
session ends (a new key: the backup's older session generations must not revive cookies
ended since it was made).

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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from mapper.appdb import APP_DB_FILE, bump_edits, integrity, now, sqlite_backup
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


def restore(workspace: Workspace, source: Path, *, actor: str = "cli") -> dict:
    """Replace the workspace's data with a checked backup."""
    manifest = check_backup(source)
    source = Path(source)
    private_dir(workspace.directory)
    with _exclusive_lock(workspace.directory / LOCK_FILE):
        tmp = workspace.directory / f"{TMP_PREFIX}restore-{os.getpid()}.gpkg"
        try:
            sqlite_backup(source / STORE_FILE, tmp)
            _fsync(tmp)
            os.replace(tmp, workspace.path)
            _fsync_dir(workspace.directory)
        finally:
            tmp.unlink(missing_ok=True)
        src = sqlite3.connect(f"file:{source / APP_DB_FILE}?mode=ro", uri=True)
        live = workspace.appdb.connect()
        try:
            src.backup(live)
        finally:
            src.close()
            live.close()
    workspace.appdb.close()
    workspace.appdb.audit(actor, "restore", register="workspace",
                          detail=f"restored from backup made {manifest['created_at']}")
    with workspace.appdb.write() as conn:
        bump_edits(conn)  # running apps drop their caches
    end_every_session(workspace)
    return manifest


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
    return int(workspace.appdb.get_meta("incident_retention_months",
                                        str(DEFAULT_RETENTION_MONTHS)) or 0)


def set_retention_months(workspace: Workspace, months: int, *, actor: str = "cli") -> None:
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
        frame = workspace.read_layer("incidents", edits=False)
        imported = frame.loc[_expired(frame, cutoff), "incident_id"].astype(str).tolist()
    edited = [r.record_id for r in workspace.appdb.records("incidents")
              if _expired(pd.DataFrame([r.data]), cutoff).iloc[0]]
    return RetentionPlan(months, cutoff, imported, edited)


def apply_retention(workspace: Workspace, *, actor: str = "cli",
                    today: date | None = None) -> RetentionPlan:
    """Delete the incident reports past the retention period, everywhere."""
    plan = plan_retention(workspace, today=today)
    if plan.imported_ids:
        frame = workspace.read_layer("incidents", edits=False)
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
