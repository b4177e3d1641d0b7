"""Workspace files only their owner can read; the session key apart from backups, and
rotatable."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from accounts import post, sign_in
from conftest import grid_wards, write_workspace

from mapper.admin import backup, restore
from mapper.appdb import AppDB
from mapper.cli import main
from mapper.private_files import SECRET_FILE
from mapper.store import Workspace
from mapper.web import create_app


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """The umask most systems have (0022): without mapper's care, files come out 0644."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_everything_mapper_creates_is_owner_only(tmp_path):
    directory = write_workspace(tmp_path / "new" / "workspace")
    create_app({"TESTING": True, "WORKSPACE": str(directory)})  # app db and session key
    db = AppDB(directory)
    db.audit("tests", "view", detail="a write, so the WAL files exist")
    assert mode(directory) == 0o700
    names = {p.name for p in directory.iterdir()}
    assert {"mapper.gpkg", "mapper-app.sqlite", "mapper-app.sqlite-wal", SECRET_FILE} <= names
    for name in names:  # the import lock file too
        assert mode(directory / name) == 0o600, name
    # a change to the GeoPackage goes through an owner-only temporary copy
    ws = Workspace(directory)
    with ws.transaction() as tx:
        assert mode(tx.path) == 0o600
        tx.write_layer("wards", grid_wards())
    assert mode(ws.path) == 0o600
    target = backup(ws, tmp_path / "backups" / "today")
    assert target["integrity"] == "ok"
    assert mode(tmp_path / "backups" / "today") == 0o700
    for path in (tmp_path / "backups" / "today").iterdir():
        assert mode(path) == 0o600, path.name


def test_backups_never_hold_the_session_key(tmp_path):
    directory = write_workspace(tmp_path / "workspace")
    db = AppDB(directory)
    # a key kept in the database, as versions before the secret file did
    with db.write() as conn:
        conn.execute("INSERT INTO meta VALUES ('secret_key', ?)", ("ab12" * 16,))
    assert db.secret_key() == "ab12" * 16  # moved to the file: sessions go on
    assert (directory / SECRET_FILE).read_text().strip() == "ab12" * 16
    assert db.get_meta("secret_key") is None
    backup(Workspace(directory), tmp_path / "backup")
    for path in (tmp_path / "backup").iterdir():
        assert b"ab12" * 16 not in path.read_bytes(), path.name
    assert SECRET_FILE not in {p.name for p in (tmp_path / "backup").iterdir()}


def test_start_warns_when_others_can_read_the_workspace(tmp_path, caplog):
    directory = write_workspace(tmp_path / "workspace")
    create_app({"TESTING": True, "WORKSPACE": str(directory)})
    assert not [r for r in caplog.records if "chmod" in r.getMessage()]
    os.chmod(directory, 0o755)
    os.chmod(directory / "mapper.gpkg", 0o644)
    os.chmod(directory / SECRET_FILE, 0o640)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app({"TESTING": True, "WORKSPACE": str(directory)})
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert f"run 'chmod 700 {directory}'" in said
    assert f"{directory / 'mapper.gpkg'} can be read or changed by its group and others " \
           f"(mode 0644): it holds every group's contact details; run 'chmod 600 " in said
    assert f"{directory / SECRET_FILE} can be read or changed by its group (mode 0640)" in said
    assert "mapper-app.sqlite can" not in said


def test_rotating_the_secret_ends_every_session(tmp_path, capsys):
    directory = write_workspace(tmp_path / "workspace")
    app = create_app({"TESTING": True, "WORKSPACE": str(directory)})
    client = sign_in(app.test_client(), "officer")
    assert client.get("/account").status_code == 200
    old_key = (directory / SECRET_FILE).read_text()
    assert main(["--workspace", str(directory), "secret", "rotate"]) == 0
    assert "every session has ended" in capsys.readouterr().out
    assert (directory / SECRET_FILE).read_text() != old_key
    assert mode(directory / SECRET_FILE) == 0o600
    assert client.get("/account").status_code == 302
    # the running app signs with the new key at once: a new session works
    assert app.secret_key == (directory / SECRET_FILE).read_text().strip()
    sign_in(client, "officer")
    assert client.get("/account").status_code == 200
    audit = AppDB(directory).read_audit(register="settings", record_id="secret")
    assert audit[0]["detail"] == "session key rotated; every session ended"


def test_a_restore_ends_every_session(tmp_path):
    directory = write_workspace(tmp_path / "workspace")
    app = create_app({"TESTING": True, "WORKSPACE": str(directory)})
    before_backup = sign_in(app.test_client(), "officer")
    ws = Workspace(directory)
    backup(ws, tmp_path / "backup")
    # signed out after the backup: the backup still has the older session generation
    assert post(before_backup, "/signout").status_code == 303
    copied = sign_in(app.test_client(), "officer")
    key = (directory / SECRET_FILE).read_text()
    restore(ws, tmp_path / "backup")
    assert (directory / SECRET_FILE).read_text() != key
    assert mode(directory / SECRET_FILE) == 0o600
    assert copied.get("/account").status_code == 302
    assert before_backup.get("/account").status_code == 302
