"""The administrators' commands: users, audit trail, backup and restore, subject access
export, erasure and retention, run through ``mapper`` as a user would."""

from __future__ import annotations

import io
import json
import sqlite3
import sys

import pytest

from mapper import overlay
from mapper.admin import _cutoff, plan_retention
from mapper.appdb import APP_DB_FILE
from mapper.cli import main
from mapper.editing import save_record
from mapper.store import STORE_FILE, Workspace
from mapper.users import authenticate, get_user


def run(workspace, *args, stdin: str | None = None, capsys=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["--workspace", str(workspace), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli(demo_copy, capsys, monkeypatch):
    def invoke(*args, stdin=None):
        return run(demo_copy, *args, stdin=stdin, capsys=capsys, monkeypatch=monkeypatch)

    invoke.workspace = Workspace(demo_copy)
    return invoke


def test_create_the_first_admin_and_manage_users(cli):
    code, out, _ = cli("user", "list")
    assert code == 0 and "mapper user add NAME --role admin" in out
    code, out, _ = cli("user", "add", "alice", "--role", "admin", "--password-stdin",
                       stdin="a long passphrase\n")
    assert code == 0 and "Added alice (admin)" in out
    db = cli.workspace.appdb
    stored = db.query("SELECT password_hash FROM users WHERE username = 'alice'")[0][0]
    assert stored.startswith("scrypt:") and "a long passphrase" not in stored
    assert authenticate(db, "alice", "a long passphrase").role == "admin"
    assert authenticate(db, "alice", "wrong password!") is None
    code, _, err = cli("user", "add", "bob", "--role", "officer", "--password-stdin",
                       stdin="short\n")
    assert code == 1 and "at least 10 characters (got 5)" in err
    code, _, err = cli("user", "add", "alice", "--role", "officer", "--password-stdin",
                       stdin="another passphrase\n")
    assert code == 1 and "already a user called 'alice'" in err
    code, _, err = cli("user", "add", "<b>", "--role", "officer", "--password-stdin",
                       stdin="another passphrase\n")
    assert code == 1 and "is not allowed" in err
    can_wards = cli.workspace.read_layer("neighbourhoods").set_index("can_id").loc[
        "CAN-01", "ward_codes"].replace(";", ",")
    code, out, _ = cli("user", "add", "jo", "--role", "partner", "--area", "CAN-01",
                       "--password-stdin", stdin="partner passphrase\n")
    assert code == 0 and f"wards {can_wards} (granted as CAN-01 (" in out
    assert get_user(db, "jo").wards == tuple(can_wards.split(", "))
    code, out, _ = cli("user", "list")
    assert "jo" in out and "partner" in out and f"wards {can_wards}" in out
    code, _, err = cli("user", "add", "sam", "--role", "partner", "--area", "CAN-999",
                       "--password-stdin", stdin="partner passphrase\n")
    can_ids = ", ".join(sorted(cli.workspace.read_layer("neighbourhoods")["can_id"]))
    assert code == 1 and "unknown area 'CAN-999'" in err and f"CAN ids: {can_ids}." in err
    assert get_user(db, "sam") is None
    code, out, _ = cli("user", "set", "jo", "--disable")
    assert code == 0 and get_user(db, "jo") is None
    code, out, _ = cli("audit", "--register", "users")
    assert "created with role admin" in out and "disabled" in out
    assert "passphrase" not in out


def test_audit_lists_fields_but_never_values(cli):
    ws = cli.workspace
    gid = overlay.read_layer(ws, "groups")["group_id"].iloc[0]
    save_record(ws, "groups", {"phone": "020 7946 0999", "email": "new@example.org"},
                actor="alice", record_id=gid, expected_version=1)
    code, out, _ = cli("audit", "--record", gid)
    assert code == 0 and "alice" in out and "update" in out
    assert "fields: email, phone" in out
    assert "0999" not in out and "new@example.org" not in out
    code, out, _ = cli("audit", "--json", "--user", "alice")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and rows[0]["fields"] == ["email", "phone"]
    table = sqlite3.connect(ws.directory / APP_DB_FILE).execute(
        "SELECT * FROM audit").fetchall()
    assert "0999" not in repr(table) and "new@example.org" not in repr(table)


def test_backup_and_restore_round_trip(app_backend, cli, tmp_path):  # SQLite and PostgreSQL
    ws = cli.workspace
    local = ws.directory / APP_DB_FILE  # (the demo's, made when it was built)
    untouched = local.read_bytes() if local.exists() else None
    gid = overlay.read_layer(ws, "groups")["group_id"].iloc[0]
    save_record(ws, "groups", {"name": "Before the backup"}, actor="alice", record_id=gid,
                expected_version=1)
    code, out, _ = cli("backup", str(tmp_path / "bk"))
    assert code == 0 and "integrity check ok" in out
    assert {p.name for p in (tmp_path / "bk").iterdir()} == {
        STORE_FILE, APP_DB_FILE, "manifest.json"}
    save_record(ws, "groups", {"name": "After the backup"}, actor="alice", record_id=gid,
                expected_version=2)
    ws.appdb.close()
    code, out, _ = cli("restore", str(tmp_path / "bk"), "--yes")
    assert code == 0 and "Restored" in out
    after = Workspace(ws.directory)
    names = overlay.read_layer(after, "groups").set_index("group_id")["name"]
    assert names[gid] == "Before the backup"
    assert after.appdb.integrity_check() == "ok"
    if app_backend == "postgresql":  # the edits went to PostgreSQL, not the local file
        assert (local.read_bytes() if local.exists() else None) == untouched
    # a damaged backup is refused and the workspace left alone
    (tmp_path / "bk" / STORE_FILE).write_bytes(b"not a database")
    code, _, err = cli("restore", str(tmp_path / "bk"), "--yes")
    assert code == 1 and "mapper.gpkg has changed since the backup was made" in err
    assert overlay.read_layer(Workspace(ws.directory), "groups").set_index(
        "group_id")["name"][gid] == "Before the backup"
    code, _, err = cli("backup", str(tmp_path / "bk"))
    assert code == 1 and "not empty" in err
    code, _, err = cli("restore", str(tmp_path))
    assert code == 1 and "not a mapper backup" in err


def test_export_and_erase_one_groups_personal_data(cli, tmp_path):
    ws = cli.workspace
    groups = overlay.read_layer(ws, "groups").set_index("group_id")
    gid = groups.index[0]
    phone, email = groups.loc[gid, "phone"], groups.loc[gid, "email"]
    assert phone and email
    save_record(ws, "groups", {"contact_name": "Pat"}, actor="alice", record_id=gid,
                expected_version=1)
    code, _, _ = cli("group", "export", gid, "--output", str(tmp_path / "sar.json"))
    exported = json.loads((tmp_path / "sar.json").read_text())
    assert exported["group"]["phone"] == phone and exported["group"]["contact_name"] == "Pat"
    assert [a["action"] for a in exported["audit"]] == ["update"]
    code, out, _ = cli("group", "erase", gid, "--yes")
    assert code == 0 and "contact_name, email, phone" in out
    after = Workspace(ws.directory)
    row = overlay.read_layer(after, "groups").set_index("group_id").loc[gid]
    assert all(row[c] is None or row[c] != row[c] for c in ("phone", "email", "contact_name"))
    raw = after.read_layer("groups").set_index("group_id").loc[gid]
    assert raw["phone"] is None or raw["phone"] != raw["phone"]
    # nowhere in either database file any more
    for name in (STORE_FILE, APP_DB_FILE):
        conn = sqlite3.connect(ws.directory / name)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        blob = (ws.directory / name).read_bytes()
        assert email.encode() not in blob and b"Pat" not in blob.replace(b"Path", b"")
    code, out, _ = cli("audit", "--record", gid)
    assert "erase" in out and "export" in out
    code, _, err = cli("group", "erase", "no-such-group", "--yes")
    assert code == 1 and "no group no-such-group" in err


def test_retention_deletes_only_old_reports_people_entered(cli):
    ws = cli.workspace
    incidents = overlay.read_layer(ws, "incidents")
    assert set(incidents["source"]) == {"synthetic demo"}
    code, out, _ = cli("retention")
    plan = plan_retention(ws)
    assert f"Would delete {plan.count:,}" in out and plan.months == 24
    expected = int((incidents["date"] < _cutoff(6)).sum())
    code, out, _ = cli("retention", "--months", "6", "--apply")
    assert code == 0 and f"Deleted {expected:,}" in out
    left = overlay.read_layer(Workspace(ws.directory), "incidents")
    assert len(left) == len(incidents) - expected
    assert (left["date"] >= _cutoff(6)).all()
    code, _, err = cli("retention", "--months", "0")
    assert code == 1 and "1 to 600 months" in err


def test_retention_cutoff_is_calendar_months():
    from datetime import date

    assert _cutoff(24, date(2026, 12, 5)) == "2024-12-05"
    assert _cutoff(3, date(2026, 1, 31)) == "2025-10-28"


def test_exports_of_personal_data_are_audited(cli, tmp_path):
    code, _, _ = cli("export", "groups", "-o", str(tmp_path / "open.csv"))
    assert code == 0 and cli.workspace.appdb.read_audit(register="groups") == []
    code, _, _ = cli("export", "groups", "-o", str(tmp_path / "all.csv"),
                     "--include-personal-data")
    rows = cli.workspace.appdb.read_audit(register="groups")
    assert code == 0 and [r["action"] for r in rows] == ["export"]
    assert rows[0]["fields"] == ["contact_name", "email", "phone", "website"]
    assert "all.csv" in rows[0]["detail"]


def test_imports_of_personal_data_are_audited(cli, tmp_path):
    ws = cli.workspace
    groups = overlay.read_layer(ws, "groups").head(3)
    csv = tmp_path / "more_groups.csv"
    from mapper.geo import to_display

    shown = to_display(groups)
    table = groups.drop(columns=["geometry", "version"]).assign(
        name=groups["name"] + " (copy)", group_id=["x1", "x2", "x3"],
        latitude=shown.geometry.y.round(6), longitude=shown.geometry.x.round(6))
    table[["group_id", "name", "category", "phone", "email", "latitude",
           "longitude"]].to_csv(csv, index=False)
    code, out, err = cli("import", str(csv), "--as", "groups")
    assert code == 0, err
    rows = ws.appdb.read_audit(register="groups")
    assert [r["action"] for r in rows] == ["import"]
    assert rows[0]["fields"] == ["email", "phone"] and "more_groups.csv" in rows[0]["detail"]


def test_a_backup_of_the_embedded_store_restores_into_postgresql(cli, tmp_path, pg_url,
                                                                 monkeypatch):
    """Moving a workspace's app database to PostgreSQL: back up, then restore with a
    database URL set (README, "Backing up and restoring")."""
    from mapper import appdb
    from mapper.database import DATABASE_URL_ENV
    from mapper.users import create_user

    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    appdb.close_all()
    ws = cli.workspace
    create_user(ws.appdb, "mover", "correct horse battery", "officer")
    gid = overlay.read_layer(ws, "groups")["group_id"].iloc[0]
    save_record(ws, "groups", {"name": "Edited on SQLite"}, actor="mover", record_id=gid,
                expected_version=1)
    assert cli("backup", str(tmp_path / "bk"))[0] == 0
    monkeypatch.setenv(DATABASE_URL_ENV, pg_url)
    appdb.close_all()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {appdb.PG_SCHEMA} CASCADE")
    code, out, err = cli("restore", str(tmp_path / "bk"), "--yes")
    assert code == 0, err
    moved = Workspace(ws.directory)
    assert moved.appdb.postgres
    assert authenticate(moved.appdb, "mover", "correct horse battery") is not None
    names = overlay.read_layer(moved, "groups").set_index("group_id")["name"]
    assert names[gid] == "Edited on SQLite"
    # the next edit gets the next version, and new audit rows follow the restored ones
    assert save_record(moved, "groups", {"name": "Edited on PostgreSQL"}, actor="mover",
                       record_id=gid, expected_version=2)[1] == 3
    trail = moved.appdb.read_audit(limit=5)
    assert trail[0]["record_id"] == gid and trail[0]["id"] > trail[1]["id"]
    appdb.close_all()
