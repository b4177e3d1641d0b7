"""The commands on the PostGIS store: ``mapper demo`` builds into PostgreSQL (no
GeoPackage is written), and ``mapper serve`` serves /priority and /api/wards from it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import requests

from mapper import appdb, pgstore
from mapper.database import DATABASE_URL_ENV

ROOT = Path(__file__).resolve().parents[2]


def _mapper(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), DATABASE_URL_ENV: url}
    return subprocess.run([sys.executable, "-m", "mapper", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_demo_builds_into_postgis_and_serve_reads_it(pg_url, tmp_path):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {pgstore.SCHEMA} CASCADE")
        conn.execute(f"DROP SCHEMA IF EXISTS {appdb.PG_SCHEMA} CASCADE")
    pgstore.close_all()
    workspace = tmp_path / "ws"
    # an empty database: serve says to build, and fills it with nothing (no demo)
    refused = _mapper("--workspace", str(workspace), "serve", "--port", "0", url=pg_url)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "holds no workspace yet" in refused.stderr and "build --from DIR" in refused.stderr
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (f"{pgstore.SCHEMA}.wards",)
                            ).fetchone()[0] is None
    built = _mapper("--workspace", str(workspace), "demo", url=pg_url)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "Demo workspace ready: PostgreSQL" in built.stdout
    assert "schema mapper_data" in built.stdout
    assert not (workspace / "mapper.gpkg").exists()
    info = _mapper("--workspace", str(workspace), "info", url=pg_url)
    assert info.returncode == 0, info.stderr[-2000:]
    assert re.search(r"^wards\s+20\b", info.stdout, re.M), info.stdout
    with psycopg.connect(pg_url) as conn:
        wards = conn.execute(f"SELECT count(*) FROM {pgstore.SCHEMA}.wards").fetchone()[0]
    assert wards == 20

    env = {**os.environ, "PYTHONPATH": str(ROOT), DATABASE_URL_ENV: pg_url}
    child = subprocess.Popen(
        [sys.executable, "-m", "mapper", "--workspace", str(workspace), "serve",
         "--host", "127.0.0.1", "--port", "0", "--threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert child.stdout is not None
        base = None
        seen = []
        for line in child.stdout:
            seen.append(line)
            found = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
            if found:
                base = found.group(1)
                break
        assert base, "mapper serve did not start:\n" + "".join(seen[-30:])
        page = requests.get(base + "/priority", timeout=120)
        assert page.status_code == 200
        assert "Demoborough" in page.text
        answer = requests.get(base + "/api/wards", timeout=120)
        assert answer.status_code == 200
        body = answer.json()
        features = body.get("features", body)
        assert len(features) == 20
        codes = {f["properties"]["ward_code"] for f in features}
        with psycopg.connect(pg_url) as conn:
            stored = {r[0] for r in conn.execute(
                f"SELECT ward_code FROM {pgstore.SCHEMA}.wards")}
        assert codes == stored
    finally:
        child.terminate()
        try:
            child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
