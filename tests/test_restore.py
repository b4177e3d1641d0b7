"""`mapper restore` never silently undoes security changes (issue 13, item 8): it lists
what it would undo (users, passwords, roles, disabled accounts, partner access, erasures
and edits since the backup) and asks; the audit trail is kept whole across the restore
(append-only) and the restore itself is recorded in it; every session ends; contact
details erased since the backup stay erased."""

from __future__ import annotations

import io
import sys

import pytest

from mapper import overlay
from mapper.admin import plan_restore
from mapper.cli import main
from mapper.editing import erase_personal_data, save_record
from mapper.store import Workspace
from mapper.users import authenticate, create_user, get_user, update_user

OLD, NEW = "the old passphrase", "the new passphrase"


def run(workspace, *args, stdin: str = "", capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["--workspace", str(workspace.directory), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def changed(demo_copy, tmp_path, capsys, monkeypatch):
    """A workspace backed up, then changed: a new user, a changed password, a promotion,
    a disabled account, an erasure and an edit."""
    ws = Workspace(demo_copy)
    db = ws.appdb
    for name, role in (("ollie", "officer"), ("vic", "officer"), ("ada", "admin")):
        create_user(db, name, OLD, role, actor="tests")
    code, _, err = run(ws, "backup", str(tmp_path / "bk"), capsys=capsys,
                       monkeypatch=monkeypatch)
    assert code == 0, err
    groups = overlay.read_layer(ws, "groups")
    with_contacts = groups[groups["email"].notna()]
    erased = str(with_contacts["group_id"].iloc[0])
    edited = str(with_contacts["group_id"].iloc[1])
    create_user(db, "newbie", OLD, "officer", actor="ada")
    update_user(db, "ollie", password=NEW, actor="ada")
    update_user(db, "vic", role="admin", actor="ada")
    update_user(db, "ada", disabled=True, actor="ollie")
    erase_personal_data(ws, erased, actor="ollie")
    save_record(ws, "groups", {"name": "Renamed since"}, actor="ollie", record_id=edited,
                expected_version=1)
    return ws, tmp_path / "bk", erased, edited


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_the_plan_lists_every_security_change_since_the_backup(changed):
    ws, backup, erased, _ = changed
    plan = plan_restore(ws, backup)
    assert plan.users_added == ["newbie"]
    assert plan.passwords == ["ollie"]
    assert plan.roles == [("vic", "admin", "officer")]
    assert plan.disabled == [("ada", "disabled", "enabled")]
    assert plan.erasures == [erased]
    assert plan.edits == 1
    text = "\n".join(plan.lines())
    for expected in ("1 user(s) created since are removed: newbie",
                     "1 password change(s) are undone (the old password works again): ollie",
                     "vic's role goes back from admin to officer",
                     "ada goes back from disabled to enabled",
                     "1 group(s) had contact details erased since",
                     "1 record edit(s) and 0 import(s) since are undone",
                     "everyone signs in again"):
        assert expected in text, text
    assert OLD not in text and NEW not in text


def test_restore_asks_and_a_no_changes_nothing(changed, capsys, monkeypatch):
    ws, backup, _, _ = changed
    before = (ws.path.read_bytes(), ws.appdb.read_audit(limit=10_000))
    code, out, err = run(ws, "restore", str(backup), stdin="n\n", capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code != 0
    assert "newbie" in out and "Replace everything" in out
    assert (ws.path.read_bytes(), ws.appdb.read_audit(limit=10_000)) == before
    assert get_user(ws.appdb, "newbie") is not None


def test_restore_without_an_answer_says_to_pass_yes(changed, capsys, monkeypatch):
    ws, backup, _, _ = changed
    before = ws.path.read_bytes()
    code, out, err = run(ws, "restore", str(backup), stdin="", capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code == 1 and "no answer came on standard input" in err and "--yes" in err, err
    assert "Interrupted" not in err and "Traceback" not in err
    assert ws.path.read_bytes() == before


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_restore_keeps_the_audit_trail_records_itself_and_keeps_erasures(changed, capsys,
                                                                          monkeypatch):
    ws, backup, erased, edited = changed
    trail = ws.appdb.read_audit(limit=10_000)
    generations = {u: get_user(ws.appdb, u).session_gen for u in ("ollie", "vic")}
    code, out, err = run(ws, "restore", str(backup), stdin="y\n", capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code == 0, err
    assert "Restored" in out and "ada goes back from disabled to enabled" in out
    after = Workspace(ws.directory)
    db = after.appdb
    kept = db.read_audit(limit=10_000)
    # append-only: every row there was is still there, unchanged; then the restore and
    # the erasure applied again
    new = [r for r in kept if r["id"] > trail[0]["id"]]
    assert kept[len(new):] == trail
    assert [(r["action"], r["record_id"]) for r in reversed(new)] == [
        ("restore", ""), ("erase", erased)]
    restored = new[-1]
    assert "1 users created, 1 password changes, 1 role changes" in restored["detail"]
    assert "every session ended" in restored["detail"]
    # the backup's users and passwords are back (as the plan said) ...
    assert get_user(db, "newbie") is None
    assert authenticate(db, "ollie", OLD) is not None
    assert get_user(db, "vic").role == "officer"
    # ... every session has ended ...
    for name, gen in generations.items():
        assert get_user(db, name).session_gen != gen
    # ... the edit is undone, and the erased contacts stay erased
    groups = overlay.read_layer(after, "groups").set_index("group_id")
    assert groups.loc[edited, "name"] != "Renamed since"
    assert groups.loc[erased, ["contact_name", "phone", "email", "website"]].isna().all()


def test_restore_yes_skips_the_question(changed, capsys, monkeypatch):
    ws, backup, _, _ = changed
    code, out, _ = run(ws, "restore", str(backup), "--yes", capsys=capsys,
                       monkeypatch=monkeypatch)
    assert code == 0 and "Replace everything" not in out and "newbie" in out
