"""Acknowledged edits survive a killed process; backups and restores are consistent.

A child process writes edits through the app database and prints ``ACK n`` after each
write returns (an acknowledged edit). The test kills it with SIGKILL part-way, 24 times
at different points, then checks SQLite's integrity check and that every acknowledged
edit is there with its data and version.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from mapper.appdb import APP_DB_FILE, AppDB, integrity

WRITER = textwrap.dedent("""
    import sys
    from mapper.appdb import AppDB
    db = AppDB(sys.argv[1])
    start = int(sys.argv[2])
    n = start
    while True:
        rid = f"g{n}"
        db.put_record("groups", rid, {"name": f"group {n}", "note": "x" * (n % 500)},
                      actor="writer", expected_version=None, action="create")
        # every third edit also updates an older record: a second version
        if n % 3 == 0 and n > start:
            old = f"g{n - 1}"
            db.put_record("groups", old, {"name": f"group {n - 1} v2"}, actor="writer",
                          expected_version=1)
            print(f"ACK {n - 1} 2", flush=True)
        print(f"ACK {n} 1", flush=True)
        n += 1
""")

KILLS = 24


def _run_and_kill(directory, start: int, acks_before_kill: int) -> dict[str, int]:
    """Start a writer, kill it after it acknowledged `acks_before_kill` edits."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(directory), str(start)],
                             stdout=subprocess.PIPE, text=True)
    acked: dict[str, int] = {}
    assert child.stdout is not None
    try:
        while len(acked) < acks_before_kill:
            line = child.stdout.readline()
            if not line:
                break
            _, n, version = line.split()
            acked[f"g{n}"] = max(acked.get(f"g{n}", 0), int(version))
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    for line in rest.splitlines():  # acknowledged before the kill landed
        _, n, version = line.split()
        acked[f"g{n}"] = max(acked.get(f"g{n}", 0), int(version))
    assert child.returncode == -signal.SIGKILL
    return acked


@pytest.mark.slow
def test_killing_a_writer_never_loses_an_acknowledged_edit(tmp_path):
    rng = random.Random(20261205)
    acked: dict[str, int] = {}
    start = 0
    for _ in range(KILLS):
        got = _run_and_kill(tmp_path, start, rng.randint(1, 40))
        acked.update(got)
        start += 1000  # the next writer uses fresh ids
        assert integrity(tmp_path / APP_DB_FILE) == "ok"
    db = AppDB(tmp_path)
    assert db.integrity_check() == "ok"
    stored = {r.record_id: r for r in db.records("groups")}
    lost = [rid for rid in acked if rid not in stored]
    assert not lost, f"acknowledged edits lost after SIGKILL: {lost[:10]}"
    for rid, version in acked.items():
        assert stored[rid].version >= version
        n = int(rid[1:])
        expected = f"group {n} v2" if stored[rid].version == 2 else f"group {n}"
        assert stored[rid].data["name"] == expected
    # every acknowledged create is in the audit trail too (same transaction)
    audited = {r["record_id"] for r in db.read_audit(register="groups", limit=100_000)}
    assert set(acked) <= audited
    assert len(acked) >= KILLS


def test_the_app_database_is_wal_with_full_sync(tmp_path):
    conn = AppDB(tmp_path).connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_failed_write_rolls_back_everything(tmp_path):
    db = AppDB(tmp_path)
    db.put_record("groups", "a", {"name": "A"}, actor="t", expected_version=None)
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute("UPDATE records SET data = ? WHERE record_id = 'a'",
                     (json.dumps({"name": "B"}),))
        raise RuntimeError("boom")
    assert db.get_record("groups", "a").data == {"name": "A"}
